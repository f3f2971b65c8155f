//! The `git` forge: no forge API, a proposal is its branch. Offline, and the default.
//!
//! - For a URL, the repository is ladder's mirror of it: proposals are the mirror's
//!   `ladder/...` branches (as of the last fetch), and writes go to the remote in ONE
//!   `git push`, each branch under its own lease (`Repo::push_refs`).
//! - For a folder, the repository is the folder's own: writes are local compare-and-swap
//!   updates (`Repo::update_branch`), and a branch checked out in one of its worktrees is
//!   never moved.
//!
//! Comments, labels, reviewers and closed-proposal lookup are
//! [`ForgeError::Unsupported`]: a branch has no place for them.

use ladder_git::{Lease, ObjectId, RefPush, Repo};

use crate::forge::{
    BranchWrite, Checks, ClosedProposal, Forge, ForgeError, MergeState, Proposal, ProposalText,
};
use crate::reconcile::FOREIGN_LABEL;

const NAME: &str = "git";

/// The `git` forge over a mirror (`remote: true`) or a local repository.
pub struct GitForge<'a> {
    repo: &'a Repo,
    /// A web page of the repository (`https://github.com/acme/config`) for compare URLs,
    /// when the remote is a host whose URL scheme is known.
    web: Option<String>,
}

impl<'a> GitForge<'a> {
    pub fn new(repo: &'a Repo) -> Self {
        let web = repo.remote_url().and_then(|u| web_page(&u.to_string()));
        GitForge { repo, web }
    }

    fn is_remote(&self) -> bool {
        self.repo.remote_url().is_some()
    }

    /// The web page comparing `branch` with `base`, for remotes on known hosts.
    pub fn compare_url(&self, base: &str, branch: &str) -> Option<String> {
        self.web
            .as_ref()
            .map(|web| format!("{web}/compare/{base}...{branch}"))
    }

    /// The foreign commit on `branch` ladder last reported, kept in this repository
    /// (the folder's own, or the mirror: never pushed) under `refs/ladder/reported/`.
    /// A new foreign push moves the branch away from it and is reported again.
    fn reported_at(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.repo
            .branch_tip(&format!("{REPORTED}{branch}"))
            .map_err(|source| ForgeError::Git {
                context: format!("reading ladder's mark on {branch}"),
                source: Box::new(source),
            })
    }

    fn mark_reported(&self, branch: &str, at: Option<ObjectId>) -> Result<(), ForgeError> {
        let name = format!("{REPORTED}{branch}");
        let lease = match self.reported_at(branch)? {
            Some(id) => Lease::At(id),
            None if at.is_none() => return Ok(()),
            None => Lease::Absent,
        };
        self.repo
            .update_branch(&name, at, lease)
            .map_err(|source| moved_or(&name, source, "marking"))
    }

    fn unsupported(what: &'static str) -> ForgeError {
        ForgeError::Unsupported { forge: NAME, what }
    }

    fn branches_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, ForgeError> {
        self.repo
            .branches_under(prefix)
            .map_err(|source| ForgeError::Git {
                context: "listing proposal branches".into(),
                source: Box::new(source),
            })
    }

    fn checked_out(&self) -> Result<Vec<String>, ForgeError> {
        if self.is_remote() {
            return Ok(Vec::new());
        }
        self.repo
            .checked_out_branches()
            .map_err(|source| ForgeError::Git {
                context: "listing the branches checked out in the repo".into(),
                source: Box::new(source),
            })
    }

    fn local_write(&self, write: &BranchWrite, checked_out: &[String]) -> Result<(), ForgeError> {
        if checked_out.contains(&write.branch) {
            return Err(ForgeError::CheckedOut {
                branch: write.branch.clone(),
                repo: self.repo.git_dir().display().to_string(),
            });
        }
        self.repo
            .update_branch(&write.branch, write.new, write.lease)
            .map_err(|source| moved_or(&write.branch, source, "updating a branch"))
    }
}

/// Where the git forge keeps its marks that a foreign push was reported.
const REPORTED: &str = "refs/ladder/reported/";

/// Pushes `writes` from `repo` in one `git push`, each branch under its own lease: for
/// each write, its new tip or why not (`Moved` when its lease no longer held). The
/// outer error is the push's as a whole. For every forge that pushes.
pub fn push_branch_writes<'w>(
    repo: &Repo,
    writes: impl IntoIterator<Item = &'w BranchWrite>,
) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ladder_git::Error> {
    let writes: Vec<&BranchWrite> = writes.into_iter().collect();
    let pushes: Vec<RefPush> = writes
        .iter()
        .map(|w| RefPush {
            branch: w.branch.clone(),
            new: w.new,
            lease: w.lease,
        })
        .collect();
    let results = repo.push_refs(&pushes)?;
    Ok(results
        .into_iter()
        .zip(writes)
        .map(|(r, w)| {
            r.map(|()| w.new)
                .map_err(|source| moved_or(&w.branch, source, "pushing"))
        })
        .collect())
}

fn moved_or(branch: &str, source: ladder_git::Error, context: &str) -> ForgeError {
    if matches!(
        source,
        ladder_git::Error::RefMoved { .. } | ladder_git::Error::RemoteMoved { .. }
    ) {
        ForgeError::Moved {
            branch: branch.to_string(),
            source: Some(Box::new(source)),
        }
    } else {
        ForgeError::Git {
            context: format!("{context} {branch}"),
            source: Box::new(source),
        }
    }
}

/// `https://github.com/acme/config` for remotes on hosts with a known compare view.
fn web_page(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("ssh://git@"))
        .or_else(|| url.strip_prefix("git@"))?;
    let rest = rest.replacen(':', "/", usize::from(url.starts_with("git@")));
    let (host, path) = rest.split_once('/')?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if !matches!(host, "github.com" | "gitlab.com") {
        return None;
    }
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    Some(format!("https://{host}/{path}"))
}

impl Forge for GitForge<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        self.branches_under(prefix)?
            .into_iter()
            .map(|(branch, head)| {
                let labels = if self.reported_at(&branch)? == Some(head) {
                    vec![FOREIGN_LABEL.to_string()]
                } else {
                    Vec::new()
                };
                Ok(Proposal {
                    url: None,
                    branch,
                    head,
                    number: None,
                    title: None,
                    body: None,
                    base: None,
                    labels,
                })
            })
            .collect()
    }

    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.repo
            .branch_tip(branch)
            .map_err(|source| ForgeError::Git {
                context: format!("reading {branch}"),
                source: Box::new(source),
            })
    }

    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        if !self.is_remote() {
            let checked_out = self.checked_out()?;
            return Ok(writes
                .iter()
                .map(|w| self.local_write(w, &checked_out).map(|()| w.new))
                .collect());
        }
        push_branch_writes(self.repo, writes).map_err(|source| ForgeError::Git {
            context: "pushing proposal branches".into(),
            source: Box::new(source),
        })
    }

    fn open(&self, branch: &str, base: &str, _text: &ProposalText) -> Result<Proposal, ForgeError> {
        // The branch is the proposal: it exists once written.
        let head = self.branch_tip(branch)?.ok_or_else(|| ForgeError::Moved {
            branch: branch.to_string(),
            source: None,
        })?;
        Ok(Proposal {
            branch: branch.to_string(),
            head,
            number: None,
            url: self.compare_url(base, branch),
            title: None,
            body: None,
            base: None,
            labels: Vec::new(),
        })
    }

    fn update(&self, proposal: &Proposal, _text: &ProposalText) -> Result<Proposal, ForgeError> {
        let head = self
            .branch_tip(&proposal.branch)?
            .ok_or_else(|| ForgeError::Moved {
                branch: proposal.branch.clone(),
                source: None,
            })?;
        Ok(Proposal {
            head,
            ..proposal.clone()
        })
    }

    fn close(&self, _proposal: &Proposal, _reason: &str) -> Result<(), ForgeError> {
        // Nothing beyond the branch, which the reconcile deletes.
        Ok(())
    }

    fn comment(&self, _proposal: &Proposal, _text: &str) -> Result<(), ForgeError> {
        Err(Self::unsupported("comment"))
    }

    /// A branch has no labels, but ladder's mark that it reported a foreign push is
    /// kept (see [`GitForge::reported_at`]), so it says so once.
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        if labels != [FOREIGN_LABEL] {
            return Err(Self::unsupported("label"));
        }
        self.mark_reported(&proposal.branch, Some(proposal.head))
    }

    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        if labels != [FOREIGN_LABEL] {
            return Err(Self::unsupported("unlabel"));
        }
        self.mark_reported(&proposal.branch, None)
    }

    fn request_reviewers(
        &self,
        _proposal: &Proposal,
        _reviewers: &[String],
    ) -> Result<(), ForgeError> {
        Err(Self::unsupported("request reviewers"))
    }

    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError> {
        let Some(base_tip) = self.branch_tip(base)? else {
            return Ok(MergeState::Blocked {
                reason: format!("{base} does not exist"),
            });
        };
        // Fast-forward only: mergeable when the base is an ancestor of the proposal.
        let ancestor = self
            .repo
            .is_ancestor(base_tip, proposal.head)
            .map_err(|source| ForgeError::Git {
                context: format!("comparing {} with {base}", proposal.branch),
                source: Box::new(source),
            })?;
        Ok(if ancestor {
            MergeState::Mergeable {
                checks: Checks::None,
            }
        } else {
            MergeState::Blocked {
                reason: format!("{base} moved on: it does not fast-forward"),
            }
        })
    }

    fn merge(&self, proposal: &Proposal, base: &str, base_tip: ObjectId) -> Result<(), ForgeError> {
        let write = BranchWrite {
            branch: base.to_string(),
            new: Some(proposal.head),
            lease: Lease::At(base_tip),
            content: None,
        };
        self.write_branches(std::slice::from_ref(&write))?
            .pop()
            .expect("one result per write")
            .map(|_| ())
    }

    fn closed_proposal(&self, _branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        Err(Self::unsupported("look up closed proposals"))
    }
}

#[cfg(test)]
mod tests {
    use super::web_page;

    #[test]
    fn compare_pages_of_known_hosts() {
        assert_eq!(
            web_page("https://github.com/acme/config.git").as_deref(),
            Some("https://github.com/acme/config")
        );
        assert_eq!(
            web_page("git@github.com:acme/config.git").as_deref(),
            Some("https://github.com/acme/config")
        );
        assert_eq!(
            web_page("ssh://git@gitlab.com/acme/config").as_deref(),
            Some("https://gitlab.com/acme/config")
        );
        assert_eq!(web_page("git://127.0.0.1:9418/acme.git"), None);
    }
}

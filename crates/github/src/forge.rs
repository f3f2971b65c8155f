//! [`GitHubForge`]: the [`Forge`] trait over the GitHub API and the local mirror.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

use ladder_git::{Cancel, Credentials, Lease, ObjectId, Repo, Scheme};
use ladder_promote::forge::{
    BranchWrite, ClosedProposal, Forge, ForgeError, MergeState, Proposal, ProposalText,
};
use ladder_promote::git_forge::push_branch_writes;

use crate::auth::Authenticator;
use crate::client::{CallStats, Client};
use crate::error::GitHubError;
use crate::options::{CommitMode, GitHubOptions, MergeMethod, RepoName};
use crate::{gitdata, pulls};

const NAME: &str = "github";
/// The user name GitHub takes with a token as the password.
const TOKEN_USER: &str = "x-access-token";

/// The GitHub (or GitHub Enterprise Server) forge of one repository.
pub struct GitHubForge {
    client: Client,
    /// The mirror ladder builds commits in and pushes from.
    repo: Repo,
    merge_method: MergeMethod,
    commit_mode: CommitMode,
    /// Labels known to exist in the repository.
    labels: Mutex<HashSet<String>>,
    /// Branches written, and pull requests opened or updated, since the last listing of
    /// the proposals (the start of a run): not merged before a later run, since their
    /// checks may not be registered yet (no checks would count as passed).
    written: Mutex<HashSet<String>>,
    // Dropped last: the client's connections and request worker live on it.
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for GitHubForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubForge")
            .field("api", &self.client.api_url())
            .field("repository", &self.client.repo.to_string())
            .field("commit_mode", &self.commit_mode)
            .finish_non_exhaustive()
    }
}

impl GitHubForge {
    /// The forge of `options.repository`, publishing branches from `repo` (the mirror of
    /// that same repository). Makes no API call yet.
    pub fn new(options: GitHubOptions, repo: &Repo) -> Result<GitHubForge, GitHubError> {
        if let Some(url) = repo.remote_url()
            && let Some(name) = RepoName::from_url(url.as_str())
            && !options.repository.same_as(&name.to_string())
        {
            // The token is for one repository; a mirror of another must not get it.
            return Err(GitHubError::Options(format!(
                "the mirror is of {name}, not of {}",
                options.repository
            )));
        }
        // The mirror's cancel flag stops the API calls too: a daemon that lost its
        // leadership, or reached its shutdown bound, makes no further call.
        let (runtime, client) = runtime_and_client(&options, repo.limits().cancel.clone())?;
        Ok(GitHubForge {
            client,
            repo: repo.with_limits(repo.limits().clone()),
            merge_method: options.merge_method,
            commit_mode: options.commit_mode,
            labels: Mutex::new(HashSet::new()),
            written: Mutex::new(HashSet::new()),
            runtime,
        })
    }

    /// API calls made so far.
    pub fn stats(&self) -> CallStats {
        self.client.stats()
    }

    fn block_on<T>(
        &self,
        call: impl Future<Output = Result<T, GitHubError>>,
    ) -> Result<T, ForgeError> {
        self.runtime
            .block_on(call)
            .map_err(|e| e.into_forge(&self.client.auth.secrets()))
    }

    fn note_written(&self, branch: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(branch.to_string());
    }

    /// The mirror with the forge's token, unless it carries credentials of its own (the
    /// operator's win), its transport takes none (ssh), or it is on a host the token is
    /// not for ([`token_may_go_to`]).
    async fn push_repo(&self) -> Result<Repo, GitHubError> {
        let allowed = self
            .repo
            .remote_url()
            .is_some_and(|u| token_may_go_to(&self.client.api_url(), u.as_str()));
        if !allowed || self.repo.has_credentials() {
            return Ok(self.repo.with_limits(self.repo.limits().clone()));
        }
        let token = self.client.auth.token(&self.client).await?;
        self.repo
            .with_credentials(Credentials::new(TOKEN_USER, token.expose()))
            .map_err(|source| GitHubError::Git {
                context: "handing the token to the mirror".into(),
                source: Box::new(source),
            })
    }

    async fn push(
        &self,
        writes: &[&BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, GitHubError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let repo = self.push_repo().await?;
        push_branch_writes(&repo, writes.iter().copied()).map_err(|source| GitHubError::Git {
            context: "pushing proposal branches".into(),
            source: Box::new(source),
        })
    }

    async fn api_write(&self, write: &BranchWrite) -> Result<Option<ObjectId>, GitHubError> {
        match (&write.new, &write.content, write.lease) {
            (None, _, Lease::At(expected)) => {
                gitdata::delete_ref(&self.client, &write.branch, expected).await?;
                Ok(None)
            }
            (None, _, Lease::Absent) => {
                match gitdata::branch_tip(&self.client, &write.branch, true).await? {
                    None => Ok(None),
                    Some(_) => Err(GitHubError::Moved {
                        branch: write.branch.clone(),
                    }),
                }
            }
            (Some(_), Some(content), lease) => {
                let commit = gitdata::create_commit(&self.client, content).await?;
                gitdata::move_ref(&self.client, &write.branch, commit, lease).await?;
                Ok(Some(commit))
            }
            (Some(_), None, _) => unreachable!("writes without content are pushed"),
        }
    }

    async fn write_all(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, GitHubError> {
        if self.commit_mode == CommitMode::Push {
            let all: Vec<&BranchWrite> = writes.iter().collect();
            return self.push(&all).await;
        }
        // API mode: commits through the API; a write that carries no content (a merge
        // done by hand, say) can only be pushed, all of them in one batch.
        let pushed: Vec<&BranchWrite> = writes
            .iter()
            .filter(|w| w.new.is_some() && w.content.is_none())
            .collect();
        let mut pushed_results = self.push(&pushed).await?.into_iter();
        let secrets = self.client.auth.secrets();
        let mut out = Vec::with_capacity(writes.len());
        for write in writes {
            if write.new.is_some() && write.content.is_none() {
                out.push(pushed_results.next().expect("one result per push"));
                continue;
            }
            let result = self.api_write(write).await;
            match result {
                Ok(tip) => out.push(Ok(tip)),
                // Credentials or a missing repository fail every write alike.
                Err(e @ (GitHubError::Unauthorized { .. } | GitHubError::NotFound { .. })) => {
                    return Err(e);
                }
                Err(e) => out.push(Err(e.into_forge(&secrets))),
            }
        }
        Ok(out)
    }
}

impl Forge for GitHubForge {
    fn name(&self) -> &'static str {
        NAME
    }

    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        // A new run: what the last one wrote may be merged now.
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.block_on(pulls::proposals(&self.client, prefix))
    }

    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.block_on(gitdata::branch_tip(&self.client, branch, false))
    }

    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        for w in writes.iter().filter(|w| w.new.is_some()) {
            self.note_written(&w.branch);
        }
        self.block_on(self.write_all(writes))
    }

    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.note_written(branch);
        self.block_on(pulls::open(&self.client, branch, base, text))
    }

    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.note_written(&proposal.branch);
        self.block_on(pulls::update(&self.client, proposal, text))
    }

    fn close(&self, proposal: &Proposal, reason: &str) -> Result<(), ForgeError> {
        self.block_on(pulls::close(&self.client, proposal, reason))
    }

    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError> {
        self.block_on(pulls::comment(&self.client, proposal, text))
    }

    fn comments(&self, proposal: &Proposal) -> Result<Vec<String>, ForgeError> {
        self.block_on(pulls::comments(&self.client, proposal))
    }

    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.block_on(pulls::label(&self.client, &self.labels, proposal, labels))
    }

    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.block_on(pulls::unlabel(&self.client, proposal, labels))
    }

    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError> {
        self.block_on(pulls::request_reviewers(&self.client, proposal, reviewers))
    }

    fn merge_state(&self, proposal: &Proposal, _base: &str) -> Result<MergeState, ForgeError> {
        let written = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&proposal.branch);
        if written {
            // Right after a push GitHub has registered no check yet, and "no checks"
            // would pass: wait for a later run.
            return Ok(MergeState::Blocked {
                reason: "opened or updated in this run: merged by a later run, once its checks are registered".into(),
            });
        }
        self.block_on(pulls::merge_state(&self.client, proposal))
    }

    fn merge(&self, proposal: &Proposal, base: &str, base_tip: ObjectId) -> Result<(), ForgeError> {
        self.block_on(async {
            // GitHub's merge checks the head (`sha`) but not the base: check it first.
            // A base that moves after this read is merged onto, as GitHub would for a
            // person pressing the button.
            if gitdata::branch_tip(&self.client, base, true).await? != Some(base_tip) {
                return Err(GitHubError::Moved {
                    branch: base.to_string(),
                });
            }
            pulls::merge(&self.client, proposal, self.merge_method).await
        })
    }

    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        self.block_on(pulls::closed_proposal(&self.client, branch))
    }

    fn rate_limit_remaining(&self) -> Option<u64> {
        self.client.rate_limit_remaining()
    }
}

/// Whether the forge's token may go, as git credentials, to the repository at
/// `repo_url`, given the API at `api_url`: only over http(s), and only to the API's own
/// host (GitHub Enterprise: `https://HOST/api/v3` and `https://HOST/...`) or to
/// `github.com` for `api.github.com`. The one rule for the fetch of `--repo` and the
/// pushes of the forge alike.
pub fn token_may_go_to(api_url: &str, repo_url: &str) -> bool {
    let parse = |url: &str| ladder_git::url::RemoteUrl::parse(url).ok().map(|(u, _)| u);
    let (Some(api), Some(repo)) = (parse(api_url), parse(repo_url)) else {
        return false;
    };
    if !matches!(repo.scheme(), Scheme::Http | Scheme::Https) {
        return false;
    }
    let host = |u: &ladder_git::url::RemoteUrl| u.host().map(|h| h.to_ascii_lowercase());
    match (host(&api), host(&repo)) {
        (Some(api), Some(repo)) => api == repo || (api == "api.github.com" && repo == "github.com"),
        _ => false,
    }
}

/// A runtime of its own and the API client on it. Current-thread: a forge is called from
/// blocking threads, one call at a time, and must not assume (or nest in) anyone else's
/// runtime.
fn runtime_and_client(
    options: &GitHubOptions,
    cancel: Cancel,
) -> Result<(tokio::runtime::Runtime, Client), GitHubError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| GitHubError::Options(format!("cannot start a runtime: {e}")))?;
    let auth = {
        // octocrab starts its request buffer's worker on the current runtime.
        let _entered = runtime.enter();
        Authenticator::new(options)?
    };
    let client = Client::new(options, auth, cancel)?;
    Ok((runtime, client))
}

/// The git credentials (`x-access-token` and a token) for fetching and pushing
/// `repo_url` with `options`' credentials: the token itself, or a GitHub App's
/// installation token for `options.repository` (which costs a call or two). `None` when
/// [`token_may_go_to`] refuses the repository's host. For the first fetch of a
/// repository, before the forge (which needs its mirror) exists.
pub fn git_credentials(
    options: &GitHubOptions,
    repo_url: &str,
) -> Result<Option<Credentials>, GitHubError> {
    if !token_may_go_to(&options.api_url, repo_url) {
        return Ok(None);
    }
    if let crate::options::Auth::Token(token) = &options.auth {
        return Ok(Some(Credentials::new(TOKEN_USER, token.expose())));
    }
    let (runtime, client) = runtime_and_client(options, Cancel::new())?;
    let token = runtime.block_on(client.auth.token(&client))?;
    Ok(Some(Credentials::new(TOKEN_USER, token.expose())))
}

#[cfg(test)]
mod tests {
    use super::token_may_go_to;

    #[test]
    fn the_token_goes_only_to_the_apis_host() {
        let gh = "https://api.github.com";
        assert!(token_may_go_to(gh, "https://github.com/acme/config.git"));
        assert!(!token_may_go_to(gh, "https://gitlab.com/acme/config.git"));
        assert!(!token_may_go_to(
            gh,
            "https://evil.example.com/acme/config.git"
        ));
        assert!(!token_may_go_to(gh, "ssh://git@github.com/acme/config.git"));
        let ghe = "https://ghe.example.com/api/v3";
        assert!(token_may_go_to(
            ghe,
            "https://ghe.example.com/acme/config.git"
        ));
        assert!(!token_may_go_to(ghe, "https://github.com/acme/config.git"));
        // api.X is github.com's convention only.
        assert!(!token_may_go_to(
            "https://api.evil.com",
            "https://evil.com/a/b.git"
        ));
        assert!(token_may_go_to(
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9001/acme/config.git"
        ));
    }
}

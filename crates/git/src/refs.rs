//! Reading refs and commits for callers that reason about branches: the promoter lists
//! its own branches, reads the one commit a proposal holds, and asks whether a branch
//! still sits on the target branch.

use gix::ObjectId;

use crate::error::{Error, Result};
use crate::repo::Repo;

/// A commit as git stores it: its tree, its parents (first parent first) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitData {
    pub id: ObjectId,
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub message: String,
    /// Committer time, seconds since the Unix epoch.
    pub time: i64,
}

impl Repo {
    /// The branches whose names start with `prefix` (e.g. `ladder/`), with their tips,
    /// sorted by name.
    pub fn branches_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let _guard = self.lock.read();
        let repo = self.local();
        let err =
            |e: gix::Error| Error::gix(format!("cannot list the branches of {}", self.name()), e);
        let platform = repo.references().map_err(err)?;
        let mut out = Vec::new();
        for reference in platform
            .prefixed(format!("refs/heads/{prefix}").as_str())
            .map_err(err)?
        {
            let mut reference = reference
                .map_err(|e| Error::gix(format!("cannot read a branch of {}", self.name()), e))?;
            let name = reference.name().as_bstr().to_string();
            let Some(short) = name.strip_prefix("refs/heads/") else {
                continue;
            };
            let id = reference
                .peel_to_id()
                .map_err(|e| Error::gix(format!("cannot peel {name}"), e))?
                .detach();
            out.push((short.to_string(), id));
        }
        out.sort();
        Ok(out)
    }

    /// The commit `id`; `None` when the repository does not have it.
    pub fn read_commit(&self, id: ObjectId) -> Result<Option<CommitData>> {
        let repo = self.local();
        let Ok(commit) = repo.find_commit(id) else {
            return Ok(None);
        };
        let decoded = commit
            .decode()
            .map_err(|e| Error::gix(format!("cannot decode commit {id}"), e))?;
        let time = decoded
            .committer()
            .ok()
            .and_then(|c| c.time().ok())
            .map(|t| t.seconds)
            .unwrap_or(0);
        Ok(Some(CommitData {
            id,
            tree: decoded.tree(),
            parents: decoded.parents().collect(),
            message: decoded.message.to_string(),
            time,
        }))
    }

    /// Whether `ancestor` is `commit` or one of its ancestors (any parent, as
    /// `git merge-base --is-ancestor` answers). The walk goes newest first and stops at
    /// commits a day older than `ancestor` (committer clocks may be off by that much),
    /// so a "no" costs the history since `ancestor`, not the whole repository.
    pub fn is_ancestor(&self, ancestor: ObjectId, commit: ObjectId) -> Result<bool> {
        use gix::revision::walk::Sorting;
        use gix::traverse::commit::simple::CommitTimeOrder;
        const CLOCK_SKEW: i64 = 86_400;
        if ancestor == commit {
            return Ok(true);
        }
        let Some(target) = self.read_commit(ancestor)? else {
            return Ok(false);
        };
        let repo = self.local();
        let walk_err =
            |e: gix::Error| Error::gix(format!("cannot walk the history of {commit}"), e);
        let walk = repo
            .rev_walk([commit])
            .sorting(Sorting::ByCommitTimeCutoff {
                order: CommitTimeOrder::NewestFirst,
                seconds: target.time - CLOCK_SKEW,
            })
            .all()
            .map_err(&walk_err)?;
        for info in walk {
            if info.map_err(&walk_err)?.id == ancestor {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

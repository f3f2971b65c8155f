//! Commits whose tree is given whole (every file), rather than as edits of the parent's:
//! what publishing a rendered folder to a branch needs. The first commit of a branch has
//! no parent.

use std::collections::BTreeMap;

use gix::ObjectId;
use gix::objs::tree::EntryKind as GitKind;

use crate::commit::{CommitOutcome, Identity, compose_message, write_commit};
use crate::error::{Error, Result};
use crate::read::split_path;
use crate::repo::Repo;

/// A commit holding exactly `files`.
#[derive(Debug, Clone)]
pub struct SnapshotRequest<'a> {
    /// The commit it follows (the branch's tip), or `None` for a branch's first commit.
    pub parent: Option<ObjectId>,
    /// Every file of the tree, by path from the root.
    pub files: &'a BTreeMap<String, Vec<u8>>,
    pub author: Identity,
    pub committer: Identity,
    pub message: String,
    pub trailers: Vec<(String, String)>,
    /// As in [`crate::CommitRequest::time`].
    pub time: Option<(i64, i32)>,
}

impl Repo {
    /// Writes the tree of `request.files` and a commit of it (no ref moves).
    /// [`CommitOutcome::Unchanged`] when the parent already has exactly that tree, so
    /// publishing the same files twice makes no commit.
    pub fn build_snapshot(&self, request: &SnapshotRequest) -> Result<CommitOutcome> {
        let message = compose_message(&request.message, &request.trailers)?;
        let _guard = self.lock.write(&self.limits)?;
        let repo = self.local();
        let gix_err = |what: &'static str| move |e: gix::Error| Error::gix(what, e);
        let parent_tree = match request.parent {
            Some(parent) => Some(
                repo.find_commit(parent)
                    .map_err(|_| Error::RevisionNotFound {
                        repo: self.name(),
                        rev: parent.to_string(),
                    })?
                    .tree_id()
                    .map_err(|e| Error::gix("cannot read the parent tree", e))?
                    .detach(),
            ),
            None => None,
        };
        let mut editor = repo
            .empty_tree()
            .edit()
            .map_err(gix_err("cannot start a tree"))?;
        for (path, bytes) in request.files {
            let components = split_path(path)?;
            if components.is_empty() || components.contains(&".git") {
                return Err(Error::InvalidPath {
                    path: path.clone(),
                    reason: "not a file path that git can hold",
                });
            }
            let blob = repo
                .write_blob(bytes)
                .map_err(gix_err("cannot write a blob"))?;
            editor
                .upsert(components.join("/").as_str(), GitKind::Blob, blob.detach())
                .map_err(gix_err("cannot build the tree"))?;
        }
        let tree = editor
            .write()
            .map_err(gix_err("cannot write the tree"))?
            .detach();
        if parent_tree == Some(tree) {
            return Ok(CommitOutcome::Unchanged);
        }
        let id = write_commit(
            &repo,
            tree,
            request.parent,
            (&request.author, &request.committer),
            request.time,
            message,
        )?;
        Ok(CommitOutcome::Created { commit: id, tree })
    }
}

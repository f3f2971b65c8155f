//! Building commits from in-memory edits, without a worktree or an index.

use std::collections::BTreeMap;

use gix::ObjectId;
use gix::objs::tree::EntryKind as GitKind;

use crate::error::{Error, Result};
use crate::read::split_path;
use crate::repo::Repo;

/// Who wrote or committed a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Identity {
            name: name.into(),
            email: email.into(),
        }
    }
}

/// A set of file writes and deletions, applied together. Later calls for the same path
/// replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    changes: BTreeMap<String, Option<Vec<u8>>>,
}

impl Edits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates or replaces the file at `path`. An existing file keeps its executable bit.
    pub fn write(&mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.changes.insert(path.into(), Some(contents.into()));
        self
    }

    /// Deletes the file at `path`; deleting a missing file is not an error. Folders left
    /// empty disappear, as they do in git.
    pub fn delete(&mut self, path: impl Into<String>) -> &mut Self {
        self.changes.insert(path.into(), None);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every change, by path: the new contents, or `None` for a deletion.
    pub fn changes(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.changes
            .iter()
            .map(|(path, change)| (path.as_str(), change.as_deref()))
    }
}

/// Everything needed to make one commit.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// The commit the edits apply to, which becomes the only parent.
    pub parent: ObjectId,
    pub edits: Edits,
    pub author: Identity,
    pub committer: Identity,
    /// Subject and optional body.
    pub message: String,
    /// Appended as a trailer block, e.g. `("Ladder-Source-Commit", sha)`.
    pub trailers: Vec<(String, String)>,
    /// Commit time as (seconds since epoch, UTC offset in seconds); `None` means now, UTC.
    /// Fixing it makes commits reproducible.
    pub time: Option<(i64, i32)>,
}

impl CommitRequest {
    /// The whole message the commit gets: the message, then the trailer block.
    pub fn full_message(&self) -> Result<String> {
        compose_message(&self.message, &self.trailers)
    }
}

/// Result of [`Repo::build_commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// A new commit was written to the object database (no ref was changed).
    Created { commit: ObjectId, tree: ObjectId },
    /// The edits leave the parent's tree as it was, so no commit was made.
    Unchanged,
}

impl Repo {
    /// Applies `request.edits` to the parent's tree and writes a commit object. No ref
    /// moves: publish it with [`Repo::push_branch`].
    pub fn build_commit(&self, request: &CommitRequest) -> Result<CommitOutcome> {
        let message = compose_message(&request.message, &request.trailers)?;
        let _guard = self.lock.write(&self.limits)?;
        let repo = self.local();
        let gix_err = |what: &str| {
            let what = what.to_string();
            move |e: gix::Error| Error::gix(what.clone(), e)
        };
        let parent = repo
            .find_commit(request.parent)
            .map_err(|_| Error::RevisionNotFound {
                repo: self.name(),
                rev: request.parent.to_string(),
            })?;
        let parent_tree = parent
            .tree()
            .map_err(gix_err("cannot read the parent tree"))?;
        let parent_tree_id = parent_tree.id;
        let mut editor = parent_tree
            .edit()
            .map_err(gix_err("cannot start editing the tree"))?;
        for (path, change) in &request.edits.changes {
            let components = split_path(path)?;
            if components.is_empty() {
                return Err(Error::InvalidPath {
                    path: path.clone(),
                    reason: "empty path",
                });
            }
            if components.contains(&".git") {
                return Err(Error::InvalidPath {
                    path: path.clone(),
                    reason: "'.git' cannot be written",
                });
            }
            match change {
                Some(bytes) => {
                    let kind = match parent_tree
                        .lookup_entry(components.iter().map(|c| c.as_bytes()))
                        .map_err(gix_err("cannot look up an edited path"))?
                    {
                        Some(e) if e.mode().kind() == GitKind::BlobExecutable => {
                            GitKind::BlobExecutable
                        }
                        _ => GitKind::Blob,
                    };
                    let blob = repo
                        .write_blob(bytes)
                        .map_err(gix_err("cannot write a blob"))?;
                    editor
                        .upsert(components.join("/").as_str(), kind, blob.detach())
                        .map_err(gix_err("cannot edit the tree"))?;
                }
                None => {
                    editor
                        .remove(components.join("/").as_str())
                        .map_err(gix_err("cannot edit the tree"))?;
                }
            }
        }
        let tree = editor
            .write()
            .map_err(gix_err("cannot write the tree"))?
            .detach();
        if tree == parent_tree_id {
            return Ok(CommitOutcome::Unchanged);
        }
        let id = write_commit(
            &repo,
            tree,
            Some(request.parent),
            (&request.author, &request.committer),
            request.time,
            message,
        )?;
        tracing::debug!(commit = %id, parent = %request.parent, "built commit");
        Ok(CommitOutcome::Created { commit: id, tree })
    }
}

impl Repo {
    /// The id of the tree [`Repo::build_commit`] would build from the commit `parent`
    /// and `edits`, computed in memory: blobs and trees are hashed, nothing is written.
    /// Comparing it with a commit's tree tells whether building the commit again would
    /// give the same tree, without writing a single object.
    pub fn tree_after_edits(&self, parent: ObjectId, edits: &Edits) -> Result<ObjectId> {
        use gix::objs::WriteTo;
        let _guard = self.lock.read();
        let repo = self.local();
        let gix_err = |what: &str| {
            let what = what.to_string();
            move |e: gix::Error| Error::gix(what.clone(), e)
        };
        let hash = repo.object_hash();
        let parent_commit = repo
            .find_commit(parent)
            .map_err(|_| Error::RevisionNotFound {
                repo: self.name(),
                rev: parent.to_string(),
            })?;
        let parent_tree = parent_commit
            .tree()
            .map_err(gix_err("cannot read the parent tree"))?;
        let mut editor = parent_tree
            .edit()
            .map_err(gix_err("cannot start editing the tree"))?
            .detach();
        for (path, change) in &edits.changes {
            let components = split_path(path)?;
            if components.is_empty() {
                return Err(Error::InvalidPath {
                    path: path.clone(),
                    reason: "empty path",
                });
            }
            if components.contains(&".git") {
                return Err(Error::InvalidPath {
                    path: path.clone(),
                    reason: "'.git' cannot be written",
                });
            }
            match change {
                Some(bytes) => {
                    let kind = match parent_tree
                        .lookup_entry(components.iter().map(|c| c.as_bytes()))
                        .map_err(gix_err("cannot look up an edited path"))?
                    {
                        Some(e) if e.mode().kind() == GitKind::BlobExecutable => {
                            GitKind::BlobExecutable
                        }
                        _ => GitKind::Blob,
                    };
                    let blob = gix::objs::compute_hash(hash, gix::objs::Kind::Blob, bytes)
                        .map_err(|e| Error::gix("cannot hash a blob", e))?;
                    editor
                        .upsert(components.iter().copied(), kind, blob)
                        .map_err(|e| Error::gix("cannot edit the tree", e))?;
                }
                None => {
                    editor
                        .remove(components.iter().copied())
                        .map_err(|e| Error::gix("cannot edit the tree", e))?;
                }
            }
        }
        editor.write(|tree| {
            let mut bytes = Vec::new();
            tree.write_to(&mut bytes)
                .map_err(|e| Error::gix("cannot encode a tree", e))?;
            gix::objs::compute_hash(hash, gix::objs::Kind::Tree, &bytes)
                .map_err(|e| Error::gix("cannot hash a tree", e))
        })
    }
}

/// Message, a blank line, then `Key: value` trailers, as `git interpret-trailers` reads them.
/// Writes the commit of `tree` on `parent` by `(author, committer)`, at `time`
/// (`(seconds, offset)`; now when `None`): for [`Repo::build_commit`] and snapshots.
pub(crate) fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parent: Option<ObjectId>,
    (author, committer): (&Identity, &Identity),
    time: Option<(i64, i32)>,
    message: String,
) -> Result<ObjectId> {
    let (seconds, offset) = time.unwrap_or_else(|| (now_seconds(), 0));
    let time = gix::date::Time { seconds, offset };
    let signature = |who: &Identity| gix::actor::Signature {
        name: who.name.as_str().into(),
        email: who.email.as_str().into(),
        time,
    };
    let commit = gix::objs::Commit {
        tree,
        parents: parent.into_iter().collect(),
        author: signature(author),
        committer: signature(committer),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo
        .write_object(&commit)
        .map_err(|e| Error::gix("cannot write the commit", e))?
        .detach())
}

pub(crate) fn compose_message(message: &str, trailers: &[(String, String)]) -> Result<String> {
    let mut out = message.trim_end().to_string();
    if out.is_empty() {
        return Err(Error::InvalidCommit {
            reason: "a commit message is required".into(),
        });
    }
    if !trailers.is_empty() {
        out.push_str("\n\n");
        for (key, value) in trailers {
            let bad_key = key.is_empty() || key.contains(|c: char| c == ':' || c.is_whitespace());
            if bad_key || value.contains('\n') {
                return Err(Error::InvalidCommit {
                    reason: format!(
                        "trailer {key:?}: keys must be single words and values single lines"
                    ),
                });
            }
            out.push_str(&format!("{key}: {value}\n"));
        }
    } else {
        out.push('\n');
    }
    Ok(out)
}

pub(crate) fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_follow_a_blank_line() {
        let msg = compose_message(
            "Promote api to prod\n",
            &[("Ladder-Source-Commit".into(), "abc".into())],
        )
        .unwrap();
        assert_eq!(msg, "Promote api to prod\n\nLadder-Source-Commit: abc\n");
        assert!(compose_message("x", &[("Bad Key".into(), "v".into())]).is_err());
        assert!(compose_message("  ", &[]).is_err());
    }
}

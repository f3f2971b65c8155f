//! Reading files and folders at a commit straight from the object database.

use std::sync::Mutex;

use gix::ObjectId;
use gix::objs::tree::EntryKind as GitKind;

use crate::error::{Error, Result};
use crate::repo::Repo;

/// Kind of a folder entry, as the renderer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// A regular or executable file, or a symbolic link (read as its target text).
    File,
    Dir,
}

/// One entry of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

/// Read-only view of the tree of one commit. `Send + Sync`: the gix handle inside is
/// not `Sync`, so calls are serialised by a mutex, which costs nothing uncontended.
pub struct TreeAtCommit {
    repo: Mutex<gix::Repository>,
    commit: ObjectId,
    tree: ObjectId,
    name: String,
}

impl Repo {
    /// A reader for the tree of `commit` (which may also be a tag pointing to a commit).
    pub fn tree_at(&self, commit: ObjectId) -> Result<TreeAtCommit> {
        let repo = self.local();
        let object = repo
            .find_object(commit)
            .map_err(|_| Error::RevisionNotFound {
                repo: self.name(),
                rev: commit.to_string(),
            })?;
        let kind = object.kind;
        let commit_obj = object
            .peel_to_commit()
            .map_err(|_| Error::WrongObjectKind {
                repo: self.name(),
                id: commit.to_string(),
                actual: kind.to_string(),
                expected: "commit",
            })?;
        let tree = commit_obj
            .tree_id()
            .map_err(|e| Error::gix(format!("cannot read commit {commit}"), e))?
            .detach();
        let commit = commit_obj.id;
        drop(commit_obj);
        Ok(TreeAtCommit {
            repo: Mutex::new(repo),
            commit,
            tree,
            name: self.name(),
        })
    }

    /// Resolves `rev` (branch, tag or sha) and returns a reader for its tree.
    pub fn tree_at_rev(&self, rev: &str) -> Result<TreeAtCommit> {
        self.tree_at(self.resolve(rev)?)
    }
}

impl TreeAtCommit {
    /// The commit this view reads.
    pub fn commit_id(&self) -> ObjectId {
        self.commit
    }

    /// The contents of the file at `path` (`/`-separated, relative to the repository
    /// root), or `None` if nothing or a folder is there.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let components = split_path(path)?;
        if components.is_empty() {
            return Ok(None);
        }
        let repo = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        let Some((kind, id)) = self.lookup(&repo, &components)? else {
            return Ok(None);
        };
        match kind {
            GitKind::Blob | GitKind::BlobExecutable | GitKind::Link => {
                let blob = repo.find_blob(id).map_err(|e| {
                    Error::gix(
                        format!("cannot read {path} at {} in {}", self.commit, self.name),
                        e,
                    )
                })?;
                Ok(Some(blob.data.clone()))
            }
            GitKind::Tree | GitKind::Commit => Ok(None),
        }
    }

    /// The entries of the folder at `path` sorted by name, or `None` if there is no
    /// folder there. `""` (or `"."`) is the repository root. Submodules are left out:
    /// their content is not in this repository.
    pub fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>> {
        let components = split_path(path)?;
        let repo = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        let tree_id = if components.is_empty() {
            self.tree
        } else {
            match self.lookup(&repo, &components)? {
                Some((GitKind::Tree, id)) => id,
                _ => return Ok(None),
            }
        };
        let tree = repo.find_tree(tree_id).map_err(|e| {
            Error::gix(format!("cannot read folder {path:?} at {}", self.commit), e)
        })?;
        let decoded = tree.decode().map_err(|e| {
            Error::gix(
                format!("cannot decode folder {path:?} at {}", self.commit),
                e,
            )
        })?;
        let mut entries: Vec<DirEntry> = decoded
            .entries
            .iter()
            .filter_map(|e| {
                let kind = match e.mode.kind() {
                    GitKind::Tree => EntryKind::Dir,
                    GitKind::Blob | GitKind::BlobExecutable | GitKind::Link => EntryKind::File,
                    GitKind::Commit => return None,
                };
                Some(DirEntry {
                    name: String::from_utf8_lossy(e.filename).into_owned(),
                    kind,
                })
            })
            .collect();
        // Git orders folders as if their name ended in '/'; callers want plain names.
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(entries))
    }

    fn lookup(
        &self,
        repo: &gix::Repository,
        components: &[&str],
    ) -> Result<Option<(GitKind, ObjectId)>> {
        let tree = repo
            .find_tree(self.tree)
            .map_err(|e| Error::gix(format!("cannot read the tree of {}", self.commit), e))?;
        let entry = tree
            .lookup_entry(components.iter().map(|c| c.as_bytes()))
            .map_err(|e| {
                Error::gix(
                    format!("cannot look up {} at {}", components.join("/"), self.commit),
                    e,
                )
            })?;
        Ok(entry.map(|e| (e.mode().kind(), e.object_id())))
    }
}

/// Splits a repository path into components, refusing anything that could escape or is
/// ambiguous (`..`, NUL). Leading, trailing and doubled slashes and `.` are ignored.
pub(crate) fn split_path(path: &str) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::InvalidPath {
                    path: path.to_string(),
                    reason: "'..' is not allowed",
                });
            }
            c if c.contains('\0') => {
                return Err(Error::InvalidPath {
                    path: path.to_string(),
                    reason: "NUL byte",
                });
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

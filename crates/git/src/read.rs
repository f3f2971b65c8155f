//! Reading files and folders at a commit straight from the object database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gix::ObjectId;
use gix::objs::tree::EntryKind as GitKind;

use ladder_tree::{ConfigTree, DirEntry, EntryKind, TreeError};

use crate::error::{Error, Result};
use crate::repo::Repo;

/// Read-only view of the tree of one commit. `Send + Sync`: the gix handle inside is
/// not `Sync`, so calls are serialised by a mutex, which costs nothing uncontended.
///
/// Folders are decoded once and kept (sorted, for binary search): a renderer reading
/// every file of a wide folder would otherwise re-scan it linearly for each file.
pub struct TreeAtCommit {
    inner: Mutex<Inner>,
    commit: ObjectId,
    tree: ObjectId,
    name: String,
}

struct Inner {
    repo: gix::Repository,
    dirs: HashMap<String, Arc<Vec<Item>>>,
}

struct Item {
    name: String,
    kind: GitKind,
    id: ObjectId,
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
            inner: Mutex::new(Inner {
                repo,
                dirs: HashMap::new(),
            }),
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
        let Some((last, parents)) = components.split_last() else {
            return Ok(None);
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(dir) = self.dir(&mut inner, parents)? else {
            return Ok(None);
        };
        let Some(item) = find(&dir, last) else {
            return Ok(None);
        };
        match item.kind {
            GitKind::Blob | GitKind::BlobExecutable | GitKind::Link => {
                let blob = inner.repo.find_blob(item.id).map_err(|e| {
                    Error::gix(
                        format!("cannot read {path} at {} in {}", self.commit, self.name),
                        e,
                    )
                })?;
                Ok(Some(blob.detach().data))
            }
            GitKind::Tree | GitKind::Commit => Ok(None),
        }
    }

    /// The entries of the folder at `path` sorted by name, or `None` if there is no
    /// folder there. `""` (or `"."`) is the repository root. Submodules are left out:
    /// their content is not in this repository.
    pub fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>> {
        let components = split_path(path)?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(dir) = self.dir(&mut inner, &components)? else {
            return Ok(None);
        };
        Ok(Some(
            dir.iter()
                .filter_map(|item| {
                    let kind = match item.kind {
                        GitKind::Tree => EntryKind::Dir,
                        GitKind::Blob | GitKind::BlobExecutable | GitKind::Link => EntryKind::File,
                        GitKind::Commit => return None,
                    };
                    Some(DirEntry {
                        name: item.name.clone(),
                        kind,
                    })
                })
                .collect(),
        ))
    }

    /// The decoded folder at `components`, from the cache or read (with its parents).
    fn dir(&self, inner: &mut Inner, components: &[&str]) -> Result<Option<Arc<Vec<Item>>>> {
        let key = components.join("/");
        if let Some(dir) = inner.dirs.get(&key) {
            return Ok(Some(dir.clone()));
        }
        let id = match components.split_last() {
            None => self.tree,
            Some((last, parents)) => {
                let Some(parent) = self.dir(inner, parents)? else {
                    return Ok(None);
                };
                match find(&parent, last) {
                    Some(item) if item.kind == GitKind::Tree => item.id,
                    _ => return Ok(None),
                }
            }
        };
        let tree = inner
            .repo
            .find_tree(id)
            .map_err(|e| Error::gix(format!("cannot read folder {key:?} at {}", self.commit), e))?;
        let decoded = tree.decode().map_err(|e| {
            Error::gix(
                format!("cannot decode folder {key:?} at {}", self.commit),
                e,
            )
        })?;
        let mut items: Vec<Item> = decoded
            .entries
            .iter()
            .map(|e| Item {
                name: String::from_utf8_lossy(e.filename).into_owned(),
                kind: e.mode.kind(),
                id: e.oid.to_owned(),
            })
            .collect();
        // Git orders folders as if their name ended in '/'; callers want plain names.
        items.sort_by(|a, b| a.name.cmp(&b.name));
        let items = Arc::new(items);
        inner.dirs.insert(key, items.clone());
        Ok(Some(items))
    }
}

/// A commit's tree is a [`ConfigTree`]: the model loads a tenant config from it without a
/// checkout.
impl ConfigTree for TreeAtCommit {
    fn read_file(&self, path: &str) -> std::result::Result<Option<Vec<u8>>, TreeError> {
        TreeAtCommit::read_file(self, path).map_err(|e| tree_error(path, e))
    }

    fn list_dir(&self, path: &str) -> std::result::Result<Option<Vec<DirEntry>>, TreeError> {
        TreeAtCommit::list_dir(self, path).map_err(|e| tree_error(path, e))
    }
}

fn tree_error(path: &str, e: Error) -> TreeError {
    match e {
        Error::InvalidPath { .. } => TreeError::OutsideRepo { path: path.into() },
        other => TreeError::Backend {
            path: path.to_string(),
            message: other.to_string(),
        },
    }
}

fn find<'a>(dir: &'a [Item], name: &str) -> Option<&'a Item> {
    dir.binary_search_by(|i| i.name.as_str().cmp(name))
        .ok()
        .map(|i| &dir[i])
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

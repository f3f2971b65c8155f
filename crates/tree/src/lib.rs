//! A read-only view of a tree of files at one state: a folder on disk, the tree of a
//! commit (the git layer implements [`ConfigTree`] for it), or a subfolder of either
//! ([`SubTree`]). The model loads a tenant config only through this trait, so all of them
//! load the same way. One definition of a folder entry serves every implementation.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Kind of a folder entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// A regular or executable file, or a symbolic link (read as what it points to on
    /// disk, as its target text in a commit).
    File,
    Dir,
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is not a path inside the repo")]
    OutsideRepo { path: String },
    #[error("cannot read `{path}`: {message}")]
    Backend { path: String, message: String },
}

/// A read-only view of a tenant config repo at one state.
///
/// Paths are relative to the repo root and `/`-separated. The loader reads only through
/// this trait, so a folder on disk and a commit in a bare mirror load the same way. It
/// is `Sync` because apps load in parallel.
pub trait ConfigTree: Sync {
    /// The bytes of the file at `path`, or `None` when there is no file there.
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError>;

    /// The entries directly under `path`, sorted by name, or `None` when it is no folder.
    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError>;

    fn is_file(&self, path: &str) -> Result<bool, TreeError> {
        Ok(self.read_file(path)?.is_some())
    }

    fn is_dir(&self, path: &str) -> Result<bool, TreeError> {
        Ok(self.list_dir(path)?.is_some())
    }
}

/// A tenant config repo checked out in a folder.
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsTree { root: root.into() }
    }

    fn resolve(&self, path: &str) -> Result<PathBuf, TreeError> {
        let relative = Path::new(path);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(TreeError::OutsideRepo { path: path.into() });
        }
        Ok(self.root.join(relative))
    }
}

fn io_error(path: &str, source: io::Error) -> TreeError {
    TreeError::Io {
        path: path.to_string(),
        source,
    }
}

impl ConfigTree for FsTree {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let full = self.resolve(path)?;
        match std::fs::read(&full) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                ) =>
            {
                Ok(None)
            }
            // Reading a folder as a file fails with EISDIR on Linux; treat it as "no file".
            Err(_) if full.is_dir() => Ok(None),
            Err(e) => Err(io_error(path, e)),
        }
    }

    fn is_file(&self, path: &str) -> Result<bool, TreeError> {
        // Checking existence is most of what the loader does with value files: no read.
        Ok(self.resolve(path)?.is_file())
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        let full = self.resolve(path)?;
        let reader = match std::fs::read_dir(&full) {
            Ok(reader) => reader,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(_) if full.is_file() => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let mut entries = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|e| io_error(path, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // Follow symlinks as git checkouts present them.
            let kind = if entry.path().is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            entries.push(DirEntry { name, kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(entries))
    }
}

impl<T: ConfigTree + ?Sized> ConfigTree for Box<T> {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        (**self).read_file(path)
    }
    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        (**self).list_dir(path)
    }
    fn is_file(&self, path: &str) -> Result<bool, TreeError> {
        (**self).is_file(path)
    }
    fn is_dir(&self, path: &str) -> Result<bool, TreeError> {
        (**self).is_dir(path)
    }
}

/// The subfolder `prefix` of another tree, seen as a tree of its own: a tenant config
/// kept in a folder of a larger repository (a platform monorepo). Paths inside it are
/// relative to the subfolder, so the same config loads alone or inside a monorepo.
pub struct SubTree<T> {
    inner: T,
    prefix: String,
}

impl<T: ConfigTree> SubTree<T> {
    /// `prefix` is `/`-separated and relative to `inner`'s root; `""` is the root itself.
    /// `None` when it climbs out of the root with `..`.
    pub fn new(inner: T, prefix: &str) -> Option<Self> {
        let prefix = join_repo_path("", prefix)?;
        Some(SubTree { inner, prefix })
    }

    /// The subfolder, normalised (`""` for the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn full(&self, path: &str) -> Result<String, TreeError> {
        if path.split('/').any(|c| c == "..") {
            return Err(TreeError::OutsideRepo { path: path.into() });
        }
        Ok(join_repo_path(&self.prefix, path).expect("no `..` in either part"))
    }
}

impl<T: ConfigTree> ConfigTree for SubTree<T> {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        self.inner.read_file(&self.full(path)?)
    }
    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        self.inner.list_dir(&self.full(path)?)
    }
    fn is_file(&self, path: &str) -> Result<bool, TreeError> {
        self.inner.is_file(&self.full(path)?)
    }
    fn is_dir(&self, path: &str) -> Result<bool, TreeError> {
        self.inner.is_dir(&self.full(path)?)
    }
}

/// Joins and normalises a repo path lexically; `None` when `..` climbs above the root.
pub fn join_repo_path(base: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(relative.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths() {
        assert_eq!(
            join_repo_path("apps/web", "values.yaml").unwrap(),
            "apps/web/values.yaml"
        );
        assert_eq!(
            join_repo_path("apps/web", "../common/v.yaml").unwrap(),
            "apps/common/v.yaml"
        );
        assert_eq!(
            join_repo_path("apps/web", "./env/dev.yaml").unwrap(),
            "apps/web/env/dev.yaml"
        );
        assert!(join_repo_path("apps", "../../x").is_none());
    }

    #[test]
    fn fs_tree_reads_and_lists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps/web")).unwrap();
        std::fs::write(dir.path().join("apps/web/app.yaml"), "x").unwrap();
        let tree = FsTree::new(dir.path());
        assert_eq!(tree.read_file("apps/web/app.yaml").unwrap().unwrap(), b"x");
        assert_eq!(tree.read_file("apps/web").unwrap(), None);
        assert_eq!(tree.read_file("nope").unwrap(), None);
        let listed = tree.list_dir("apps").unwrap().unwrap();
        assert_eq!(
            listed,
            vec![DirEntry {
                name: "web".into(),
                kind: EntryKind::Dir
            }]
        );
        assert!(matches!(
            tree.read_file("../etc/passwd"),
            Err(TreeError::OutsideRepo { .. })
        ));
    }

    #[test]
    fn sub_tree_reads_below_its_prefix_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tenants/acme/apps")).unwrap();
        std::fs::write(dir.path().join("tenants/acme/ladder.yaml"), "t").unwrap();
        std::fs::write(dir.path().join("top.yaml"), "x").unwrap();
        let sub = SubTree::new(FsTree::new(dir.path()), "./tenants/acme/").unwrap();
        assert_eq!(sub.prefix(), "tenants/acme");
        assert_eq!(sub.read_file("ladder.yaml").unwrap().unwrap(), b"t");
        assert!(sub.is_dir("apps").unwrap());
        assert_eq!(sub.read_file("top.yaml").unwrap(), None);
        assert!(matches!(
            sub.read_file("../../top.yaml"),
            Err(TreeError::OutsideRepo { .. })
        ));
        assert!(SubTree::new(FsTree::new(dir.path()), "../x").is_none());
    }
}

//! A tenant config repo held in memory.

use std::collections::BTreeMap;
use std::path::Path;

use ladder_tree::{ConfigTree, DirEntry, EntryKind, TreeError, join_repo_path};

/// Files by `/`-separated path; folders exist implicitly, as in git.
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every file under `root` on disk (for starting from the bundled example).
    pub fn from_dir(root: &Path) -> Self {
        fn walk(root: &Path, dir: &Path, tree: &mut MemTree) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .map(|e| e.expect("folder entry").path())
                .collect();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    walk(root, &path, tree);
                } else {
                    let rel = path.strip_prefix(root).expect("below root");
                    let rel = rel.to_str().expect("UTF-8 path").replace('\\', "/");
                    let bytes = std::fs::read(&path).expect("readable file");
                    tree.files.insert(rel, bytes);
                }
            }
        }
        let mut tree = MemTree::new();
        walk(root, root, &mut tree);
        tree
    }

    /// Adds or replaces a file.
    pub fn with(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.write(path, contents);
        self
    }

    pub fn write(&mut self, path: &str, contents: impl AsRef<[u8]>) {
        let path = join_repo_path("", path).expect("path inside the tree");
        self.files.insert(path, contents.as_ref().to_vec());
    }

    /// Removes a file, or every file below a folder.
    pub fn remove(&mut self, path: &str) {
        let path = join_repo_path("", path).expect("path inside the tree");
        let prefix = format!("{path}/");
        self.files
            .retain(|p, _| *p != path && !p.starts_with(&prefix));
    }

    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    fn normal(path: &str) -> Result<String, TreeError> {
        join_repo_path("", path).ok_or_else(|| TreeError::OutsideRepo { path: path.into() })
    }
}

impl ConfigTree for MemTree {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(self.files.get(&Self::normal(path)?).cloned())
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        let path = Self::normal(path)?;
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut entries: BTreeMap<String, EntryKind> = BTreeMap::new();
        for file in self.files.keys().filter(|f| f.starts_with(&prefix)) {
            let rest = &file[prefix.len()..];
            match rest.split_once('/') {
                Some((dir, _)) => entries.insert(dir.to_string(), EntryKind::Dir),
                None => entries.insert(rest.to_string(), EntryKind::File),
            };
        }
        if entries.is_empty() && !path.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            entries
                .into_iter()
                .map(|(name, kind)| DirEntry { name, kind })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_implicit_folders_and_reads_files() {
        let tree = MemTree::new()
            .with("ladder.yaml", "tenant: acme\n")
            .with("apps/web/app.yaml", "name: web\n")
            .with("apps/web/values.yaml", "image: {}\n");
        let root = tree.list_dir("").unwrap().unwrap();
        assert_eq!(
            root,
            vec![
                DirEntry {
                    name: "apps".into(),
                    kind: EntryKind::Dir
                },
                DirEntry {
                    name: "ladder.yaml".into(),
                    kind: EntryKind::File
                },
            ]
        );
        assert_eq!(
            tree.read_file("./apps/web/app.yaml").unwrap().unwrap(),
            b"name: web\n"
        );
        assert_eq!(tree.read_file("apps/web").unwrap(), None);
        assert_eq!(tree.list_dir("apps/nope").unwrap(), None);
        assert!(tree.read_file("../x").is_err());
    }
}

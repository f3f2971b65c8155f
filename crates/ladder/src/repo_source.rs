//! Where `--repo` points: a folder read as it is, or a Git repo (a URL, or a local repo
//! with `--ref`) read at one commit straight from its object database.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ladder_model::{ConfigTree, DirEntry, EntryKind, FsTree, TreeError};

/// A tenant config repo opened for reading.
pub enum RepoSource {
    Folder(FsTree),
    Commit {
        tree: Box<GitTree>,
        /// What to call it in messages: the credential-free URL or the folder, and the ref.
        description: String,
    },
}

impl RepoSource {
    /// Opens `--repo` (a folder or URL) at `--ref`. Remote repos are mirrored into
    /// `cache_dir`, cloned on first use and fetched afterwards.
    pub fn open(repo: &str, git_ref: Option<&str>, cache_dir: &Path) -> anyhow::Result<Self> {
        if looks_like_url(repo) {
            let git_ref = git_ref.unwrap_or("main");
            // Never print `repo` itself: it may carry credentials.
            let mirror = ladder_git::Repo::mirror(repo, cache_dir, Default::default())?;
            let name = mirror
                .remote_url()
                .map(|u| u.to_string())
                .unwrap_or_else(|| "the remote repo".into());
            let tree = mirror.tree_at_rev(git_ref).with_context(|| {
                format!("reading {name} at `{git_ref}`; pass the branch, tag or commit with --ref")
            })?;
            let description = format!(
                "{name} at {git_ref} ({})",
                short(&tree.commit_id().to_string())
            );
            return Ok(RepoSource::Commit {
                tree: Box::new(GitTree(tree)),
                description,
            });
        }
        let path = Path::new(repo);
        if !path.is_dir() {
            anyhow::bail!(
                "--repo `{repo}` is not a folder or a Git URL; give the root of a tenant config repo"
            );
        }
        match git_ref {
            None => Ok(RepoSource::Folder(FsTree::new(path))),
            Some(git_ref) => {
                let local = ladder_git::Repo::open_local(path)?;
                let tree = local
                    .tree_at_rev(git_ref)
                    .with_context(|| format!("reading {repo} at `{git_ref}`"))?;
                let description = format!(
                    "{repo} at {git_ref} ({})",
                    short(&tree.commit_id().to_string())
                );
                Ok(RepoSource::Commit {
                    tree: Box::new(GitTree(tree)),
                    description,
                })
            }
        }
    }

    pub fn tree(&self) -> &dyn ConfigTree {
        match self {
            RepoSource::Folder(tree) => tree,
            RepoSource::Commit { tree, .. } => tree.as_ref(),
        }
    }

    /// A line saying what is being read, for remote or committed sources.
    pub fn description(&self) -> Option<&str> {
        match self {
            RepoSource::Folder(_) => None,
            RepoSource::Commit { description, .. } => Some(description),
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `scheme://...` or scp-like `user@host:path`.
fn looks_like_url(repo: &str) -> bool {
    if repo.contains("://") {
        return true;
    }
    match repo.split_once(':') {
        Some((host, _)) => host.contains('@') && !host.contains('/'),
        None => false,
    }
}

/// The default mirror cache: `$XDG_CACHE_HOME/ladder`, else `~/.cache/ladder`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("ladder");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/ladder"),
        None => std::env::temp_dir().join("ladder-cache"),
    }
}

/// A commit's tree as a [`ConfigTree`].
pub struct GitTree(ladder_git::TreeAtCommit);

fn backend(path: &str, e: ladder_git::Error) -> TreeError {
    TreeError::Backend {
        path: path.to_string(),
        message: e.to_string(),
    }
}

impl ConfigTree for GitTree {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        self.0.read_file(path).map_err(|e| backend(path, e))
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        let entries = self.0.list_dir(path).map_err(|e| backend(path, e))?;
        Ok(entries.map(|list| {
            list.into_iter()
                .map(|e| DirEntry {
                    name: e.name,
                    kind: match e.kind {
                        ladder_git::EntryKind::File => EntryKind::File,
                        ladder_git::EntryKind::Dir => EntryKind::Dir,
                    },
                })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_url;

    #[test]
    fn tells_urls_from_folders() {
        for url in [
            "https://h/x.git",
            "ssh://git@h/x",
            "git://h/x",
            "file:///tmp/x",
            "git@github.com:acme/x.git",
        ] {
            assert!(looks_like_url(url), "{url}");
        }
        for dir in ["examples/acme", "/tmp/x", "./a:b", "C"] {
            assert!(!looks_like_url(dir), "{dir}");
        }
    }
}

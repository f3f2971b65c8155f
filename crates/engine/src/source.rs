//! Where a tenant config repo is, and opening it as one tree.

use std::path::{Path, PathBuf};

use ladder_git::{ObjectId, RemoteOptions, Repo, TreeAtCommit};
use ladder_tree::{ConfigTree, FsTree, SubTree};

use crate::error::Error;

/// A tenant config repo as the user names it: a folder, or a Git URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoSpec {
    Folder(PathBuf),
    /// The URL as given; it may carry credentials, so it is never printed.
    Url(String),
}

impl RepoSpec {
    /// An existing folder is a folder; otherwise `scheme://...` and scp-like
    /// `[user@]host:path` (a colon before any slash, as git reads it) are URLs; anything
    /// else is a folder (which then does not exist, and says so).
    pub fn parse(text: &str) -> RepoSpec {
        if Path::new(text).is_dir() {
            return RepoSpec::Folder(PathBuf::from(text));
        }
        let scp_like = text
            .split_once(':')
            .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'));
        if text.contains("://") || scp_like {
            RepoSpec::Url(text.to_string())
        } else {
            RepoSpec::Folder(PathBuf::from(text))
        }
    }
}

/// How to open a repo: everything explicit, for this one repo.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// A branch, tag or commit. `None`: a folder is read as it is on disk; a URL at the
    /// remote's default branch (its HEAD).
    pub git_ref: Option<String>,
    /// The tenant's folder inside the repo (a platform monorepo); `None` is the root.
    /// For a folder, the folder's own place in its Git repo is found automatically.
    pub subfolder: Option<String>,
    /// Where mirrors of remote repos live.
    pub cache_dir: PathBuf,
    /// Credentials, ssh command and limits for this repo's remote.
    pub remote: RemoteOptions,
}

/// A tenant config repo opened for reading at one state.
pub struct OpenedRepo {
    tree: Box<dyn ConfigTree + Send>,
    /// The commit read, when reading from Git rather than a folder on disk.
    commit: Option<ObjectId>,
    /// The ref that was resolved, when reading from Git.
    git_ref: Option<String>,
    /// The tenant's folder inside what was read (`""`: the root): the mirror or local
    /// repository, or the folder on disk.
    subfolder: String,
    /// For a folder given as `--repo`: where it sits in the Git checkout around it.
    checkout: Option<Checkout>,
    /// The credential-free URL or the folder, for messages.
    name: String,
    /// The mirror or local repository, for callers that go on to fetch, read history or
    /// push (the promoter, the daemon).
    repo: Option<Repo>,
}

/// A folder's place in the Git checkout that contains it, and where that checkout
/// came from.
struct Checkout {
    /// The folder given (not the tenant subfolder inside it), from the checkout's root.
    place: String,
    /// The checkout's remote URLs, credential-free.
    remotes: Vec<String>,
    /// The subfolder asked for inside the folder given.
    extra: String,
}

impl OpenedRepo {
    /// The tenant's folder inside the repository Argo CD reads, the config repo at
    /// `config_repo_url`, which rendered paths start from. For a URL: the subfolder asked
    /// for. For a folder inside a Git checkout of the config repo (one of its remotes is
    /// that URL): the folder's place in the checkout, found by itself. Any other folder
    /// is a config repo of its own: the bundled example lives inside ladder's own
    /// repository, which is not the repo its Applications name.
    pub fn repo_subfolder(&self, config_repo_url: &str) -> String {
        match &self.checkout {
            Some(c)
                if c.remotes
                    .iter()
                    .any(|r| ladder_model::same_repo(r, config_repo_url)) =>
            {
                ladder_tree::join_repo_path(&c.place, &c.extra).unwrap_or_default()
            }
            Some(c) => c.extra.clone(),
            None => self.subfolder.clone(),
        }
    }

    pub fn tree(&self) -> &dyn ConfigTree {
        self.tree.as_ref()
    }

    pub fn commit(&self) -> Option<ObjectId> {
        self.commit
    }

    pub fn git_ref(&self) -> Option<&str> {
        self.git_ref.as_deref()
    }

    pub fn subfolder(&self) -> &str {
        &self.subfolder
    }

    pub fn repo(&self) -> Option<&Repo> {
        self.repo.as_ref()
    }

    /// What is being read, safe to print: `<url> at <ref> (<short sha>)`, with the
    /// subfolder when there is one. `None` for a folder read as it is on disk.
    pub fn description(&self) -> Option<String> {
        let commit = self.commit?;
        let at = self.git_ref.as_deref().unwrap_or("HEAD");
        let sub = if self.subfolder.is_empty() {
            String::new()
        } else {
            format!(", folder {}", self.subfolder)
        };
        let sha = commit.to_string();
        Some(format!("{} at {at} ({}){sub}", self.name, &sha[..12]))
    }
}

/// Opens `spec` as `options` say. A remote repo is mirrored into `options.cache_dir`
/// (cloned on first use, fetched afterwards); nothing is checked out anywhere.
pub fn open(spec: &RepoSpec, options: &OpenOptions) -> Result<OpenedRepo, Error> {
    match spec {
        RepoSpec::Url(url) => open_url(url, options),
        RepoSpec::Folder(path) => open_folder(path, options),
    }
}

fn open_url(url: &str, options: &OpenOptions) -> Result<OpenedRepo, Error> {
    let mirror =
        Repo::mirror(url, &options.cache_dir, options.remote.clone()).map_err(|source| {
            Error::Git {
                context: "mirroring the tenant config repo".into(),
                source: Box::new(source),
            }
        })?;
    // Never the URL as given: it may carry credentials.
    let name = mirror
        .remote_url()
        .map(|u| u.to_string())
        .unwrap_or_else(|| "the remote repo".into());
    let git_ref = match &options.git_ref {
        Some(r) => r.clone(),
        None => mirror
            .default_branch()
            .map_err(|source| Error::Git {
                context: format!("reading the default branch of {name}"),
                source: Box::new(source),
            })?
            .unwrap_or_else(|| "main".into()),
    };
    let subfolder = normal_subfolder(&name, options.subfolder.as_deref().unwrap_or(""))?;
    let tree = tree_at(&mirror, &name, &git_ref)?;
    finish(tree, Some(git_ref), subfolder, name, mirror)
}

fn open_folder(path: &Path, options: &OpenOptions) -> Result<OpenedRepo, Error> {
    let name = path.display().to_string();
    if !path.is_dir() {
        return Err(Error::NotARepo { repo: name });
    }
    let extra = options.subfolder.as_deref().unwrap_or("");
    let Some(git_ref) = &options.git_ref else {
        // The files on disk, as they are: no Git involved.
        let subfolder = normal_subfolder(&name, extra)?;
        let tree =
            SubTree::new(FsTree::new(path), &subfolder).ok_or_else(|| Error::BadSubfolder {
                repo: name.clone(),
                subfolder: subfolder.clone(),
            })?;
        let checkout = checkout_of(path, &subfolder);
        return Ok(OpenedRepo {
            tree: Box::new(tree),
            commit: None,
            git_ref: None,
            subfolder,
            checkout,
            name,
            repo: None,
        });
    };
    let (repo, place) = Repo::discover(path).map_err(|source| Error::Git {
        context: format!("opening the Git repository of {name}"),
        source: Box::new(source),
    })?;
    let subfolder = normal_subfolder(&name, &format!("{place}/{extra}"))?;
    let tree = tree_at(&repo, &name, git_ref)?;
    let checkout = Checkout {
        place,
        remotes: repo.remote_urls(),
        extra: normal_subfolder(&name, extra)?,
    };
    let mut opened = finish(tree, Some(git_ref.clone()), subfolder, name, repo)?;
    opened.checkout = Some(checkout);
    Ok(opened)
}

fn tree_at(repo: &Repo, name: &str, git_ref: &str) -> Result<TreeAtCommit, Error> {
    repo.tree_at_rev(git_ref).map_err(|source| match source {
        ladder_git::Error::RevisionNotFound { .. } | ladder_git::Error::WrongObjectKind { .. } => {
            Error::RefNotFound {
                repo: name.to_string(),
                git_ref: git_ref.to_string(),
                source: Box::new(source),
            }
        }
        source => Error::Git {
            context: format!("reading {name} at {git_ref}"),
            source: Box::new(source),
        },
    })
}

fn finish(
    tree: TreeAtCommit,
    git_ref: Option<String>,
    subfolder: String,
    name: String,
    repo: Repo,
) -> Result<OpenedRepo, Error> {
    let commit = tree.commit_id();
    if !subfolder.is_empty() && !tree.is_dir(&subfolder)? {
        return Err(Error::BadSubfolder {
            repo: name,
            subfolder,
        });
    }
    let tree = SubTree::new(tree, &subfolder).ok_or_else(|| Error::BadSubfolder {
        repo: name.clone(),
        subfolder: subfolder.clone(),
    })?;
    Ok(OpenedRepo {
        tree: Box::new(tree),
        commit: Some(commit),
        git_ref,
        subfolder,
        checkout: None,
        name,
        repo: Some(repo),
    })
}

/// The Git checkout around a folder read from disk, if there is one.
fn checkout_of(path: &Path, extra: &str) -> Option<Checkout> {
    let (repo, place) = Repo::discover(path).ok()?;
    Some(Checkout {
        place,
        remotes: repo.remote_urls(),
        extra: extra.to_string(),
    })
}

/// `a/./b/` -> `a/b`; `..` that climbs out is an error.
fn normal_subfolder(repo: &str, subfolder: &str) -> Result<String, Error> {
    ladder_tree::join_repo_path("", subfolder).ok_or_else(|| Error::BadSubfolder {
        repo: repo.to_string(),
        subfolder: subfolder.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_urls_from_folders() {
        for url in [
            "https://h/x.git",
            "ssh://git@h/x",
            "git://h/x",
            "file:///tmp/x",
            "git@github.com:acme/x.git",
            "github.com:acme/x.git",
        ] {
            assert_eq!(RepoSpec::parse(url), RepoSpec::Url(url.into()), "{url}");
        }
        for dir in ["examples/acme", "/tmp/x", "./a:b", "C"] {
            assert_eq!(RepoSpec::parse(dir), RepoSpec::Folder(dir.into()), "{dir}");
        }
    }
}

//! Writing to a repository in place: a folder given as `--repo`, which ladder updates
//! without a remote, and keeping the mirror cache small.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::ObjectId;

use crate::child::{RunError, hermetic, run_bounded};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::lock::RepoLock;
use crate::push::Lease;
use crate::repo::{Repo, full_branch_name};
use crate::url::RemoteUrl;

impl Repo {
    /// Compare-and-swap update of a branch in this repository itself: set it to `new`
    /// (`None` deletes it) if and only if it is where `lease` says. A mismatch is
    /// [`Error::RefMoved`], naming what was found.
    pub fn update_branch(&self, branch: &str, new: Option<ObjectId>, lease: Lease) -> Result<()> {
        use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
        let full = full_branch_name(branch);
        let _guard = self.lock.write(&self.limits)?;
        let repo = self.local();
        let name: gix::refs::FullName = full
            .as_str()
            .try_into()
            .map_err(|e| Error::gix(format!("invalid branch name {branch:?}"), e))?;
        let expected = match lease {
            Lease::Absent => PreviousValue::MustNotExist,
            Lease::At(id) => PreviousValue::MustExistAndMatch(gix::refs::Target::Object(id)),
        };
        let current = self.branch_tip_unlocked(&repo, &full)?;
        let matches = match lease {
            Lease::Absent => current.is_none(),
            Lease::At(id) => current == Some(id),
        };
        let moved = |found: Option<ObjectId>| Error::RefMoved {
            repo: self.name(),
            name: full.clone(),
            expected: match lease {
                Lease::Absent => None,
                Lease::At(id) => Some(id.to_string()),
            },
            found: found.map(|id| id.to_string()),
        };
        if !matches {
            return Err(moved(current));
        }
        let change = match new {
            Some(id) => Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: "ladder: compare-and-swap update".into(),
                },
                expected,
                new: gix::refs::Target::Object(id),
            },
            None => Change::Delete {
                expected,
                log: RefLog::AndReference,
            },
        };
        // The transaction checks `expected` again under git's own ref lock, so a writer
        // outside ladder (a person running `git commit`) between our read and the write
        // still makes it fail rather than be overwritten.
        repo.edit_reference(RefEdit {
            change,
            name,
            deref: false,
        })
        .map_err(|e| {
            let found = self.branch_tip_unlocked(&repo, &full).ok().flatten();
            if found != current {
                moved(found)
            } else {
                Error::gix(format!("cannot update {full} in {}", self.name()), e)
            }
        })?;
        Ok(())
    }

    fn branch_tip_unlocked(&self, repo: &gix::Repository, full: &str) -> Result<Option<ObjectId>> {
        match repo
            .try_find_reference(full)
            .map_err(|e| Error::gix(format!("cannot read {full} in {}", self.name()), e))?
        {
            None => Ok(None),
            Some(mut r) => Ok(Some(
                r.peel_to_id()
                    .map_err(|e| Error::gix(format!("cannot peel {full}"), e))?
                    .detach(),
            )),
        }
    }

    /// The fetch URLs of this repository's configured remotes (`origin` and any other),
    /// credential-free: where a checkout came from.
    pub fn remote_urls(&self) -> Vec<String> {
        let repo = self.local();
        let mut urls: Vec<String> = repo
            .remote_names()
            .iter()
            .filter_map(|name| {
                repo.find_remote(AsRef::<gix::bstr::BStr>::as_ref(name))
                    .ok()
            })
            .filter_map(|remote| {
                remote
                    .url(gix::remote::Direction::Fetch)
                    .map(|u| u.to_bstring().to_string())
            })
            .filter_map(|u| RemoteUrl::parse(&u).ok().map(|(url, _)| url.to_string()))
            .collect();
        urls.sort();
        urls.dedup();
        urls
    }

    /// The branches checked out in this repository's worktrees (the main one and any
    /// linked ones): a branch a person has checked out is never moved under them.
    pub fn checked_out_branches(&self) -> Result<Vec<String>> {
        let repo = self.local();
        let mut heads = Vec::new();
        if repo.workdir().is_some() {
            heads.extend(self.default_branch()?);
        }
        let worktrees = self.git_dir.join("worktrees");
        if let Ok(entries) = std::fs::read_dir(&worktrees) {
            for entry in entries.flatten() {
                let head = std::fs::read_to_string(entry.path().join("HEAD")).unwrap_or_default();
                if let Some(target) = head.trim().strip_prefix("ref: refs/heads/") {
                    heads.push(target.to_string());
                }
            }
        }
        heads.sort();
        heads.dedup();
        Ok(heads)
    }

    /// Packs loose objects and drops unreachable ones when git thinks it worthwhile
    /// (`git gc --auto`): every fetch and every commit ladder builds adds objects, and a
    /// daemon that never collects them grows without bound. Bounded by the deadline and
    /// the cancel flag, not by the idle limit (gc prints nothing while it works).
    pub fn maintain(&self) -> Result<()> {
        let _guard = self.lock.write(&self.limits)?;
        let mut cmd = Command::new("git");
        hermetic(&mut cmd, &self.child_env);
        cmd.arg("--git-dir")
            .arg(&self.git_dir)
            // gc detaches into the background by default, which would run it outside
            // our lock and our limits, and hide its failures in gc.log.
            .args([
                "-c",
                "gc.autoDetach=false",
                "-c",
                "maintenance.autoDetach=false",
            ])
            .args(["gc", "--auto", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = run_bounded(cmd, &self.limits, None).map_err(|e| match e {
            RunError::Spawn(e) => Error::GitCli {
                command: "gc".into(),
                detail: format!("cannot run git: {e}; is git installed and on PATH?"),
            },
            RunError::Expired => self
                .limits
                .timed_out(format!("collecting garbage in {}", self.name())),
        })?;
        if !output.success {
            return Err(Error::GitCli {
                command: "gc".into(),
                detail: output.stderr.trim().to_string(),
            });
        }
        Ok(())
    }
}

/// How old a half-created mirror must be before pruning takes it for a crash's leftover.
const STALE_INIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes every mirror in `cache_dir` that is not the mirror of one of `keep`, each
/// under its own write lock (so a process fetching or pushing with it finishes first),
/// and returns the folders removed, with any leftovers of a crash. A mirror is moved
/// aside with one rename before it is deleted, so a crash never leaves a half-deleted
/// mirror under its real name. Readers take no lock: a caller prunes only mirrors of
/// repos it no longer serves, never one an open `Repo` still reads.
pub fn prune_cache(cache_dir: &Path, keep: &[RemoteUrl], limits: &Limits) -> Result<Vec<PathBuf>> {
    let kept: Vec<String> = keep
        .iter()
        .map(|u| format!("{}.git", u.cache_key()))
        .collect();
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("cannot list the cache folder", cache_dir, e)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list the cache folder", cache_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Leftovers of a crash: a mirror being removed, or being created long ago (a
        // recent `.init-` folder may be another process creating a mirror right now).
        let stale = || {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_INIT)
        };
        if name.starts_with(".remove-") || (name.starts_with(".init-") && stale()) {
            let path = entry.path();
            std::fs::remove_dir_all(&path)
                .map_err(|e| Error::io("cannot delete a leftover folder", &path, e))?;
            removed.push(path);
            continue;
        }
        let Some(key) = name.strip_suffix(".git") else {
            continue;
        };
        if kept.contains(&name) || !entry.path().join("HEAD").exists() {
            continue;
        }
        let lock_path = cache_dir.join(format!("{key}.lock"));
        let lock = RepoLock::new(&lock_path)?;
        let _guard = lock.write(limits)?;
        let aside = cache_dir.join(format!(".remove-{key}-{}", std::process::id()));
        std::fs::rename(entry.path(), &aside)
            .map_err(|e| Error::io("cannot move an unused mirror aside", entry.path(), e))?;
        std::fs::remove_dir_all(&aside)
            .map_err(|e| Error::io("cannot delete an unused mirror", &aside, e))?;
        removed.push(entry.path());
    }
    Ok(removed)
}

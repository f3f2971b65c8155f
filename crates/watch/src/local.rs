//! Watching a local checkout for commits.
//!
//! ladder reads a local tenant's commits, not its working tree, so only a change of refs
//! can change what it reads: a ref under `refs/`, `packed-refs` (after `git gc` or
//! `pack-refs`), or `HEAD` (a branch switch). Edits in the working tree, the index and
//! the object store are ignored; an untracked file never triggers a run.
//!
//! Debouncing is done here rather than with `notify-debouncer-mini`, which keeps only
//! event paths and so drops the path-less "rescan" event notify sends when the kernel's
//! queue overflowed: after an overflow we cannot know what changed, so we must trigger.

use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::schedule::{Cause, Triggers};

/// Quiet time after the last relevant event before triggering: one `git commit` writes
/// a lock file, renames it and may touch HEAD's ref; wait for the whole of it.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// Upper bound on the wait, so a long stream of ref updates (a big fetch) still triggers.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Why a checkout could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The folder is not a Git work tree, a linked worktree or a bare repository.
    #[error("{0} is not a Git checkout (no .git folder or file)")]
    NotAGitCheckout(PathBuf),
    /// A file that locates the Git folder (a `.git` file, `commondir`) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The operating system refused the watch (for example the inotify watch limit).
    #[error("cannot watch {path}: {source}")]
    Notify {
        /// The folder that could not be watched.
        path: PathBuf,
        /// notify's error.
        source: notify::Error,
    },
}

/// Watches a checkout while alive; dropping it stops the watch and its thread.
pub struct LocalWatch {
    // Dropping the watcher drops its event handler and so the debounce thread's channel,
    // which ends that thread: no explicit shutdown is needed.
    _watcher: RecommendedWatcher,
    git_dir: PathBuf,
    common_dir: PathBuf,
}

impl LocalWatch {
    /// The checkout's own Git folder (`.git`, or `.git/worktrees/<name>` for a linked
    /// worktree), where its `HEAD` lives.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The folder holding the refs and `packed-refs`: the main repository's Git folder
    /// for a linked worktree, else the same as [`git_dir`](Self::git_dir).
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }
}

impl std::fmt::Debug for LocalWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWatch")
            .field("git_dir", &self.git_dir)
            .field("common_dir", &self.common_dir)
            .finish_non_exhaustive()
    }
}

/// Watches the Git folder of `checkout` (a work tree, a linked worktree whose `.git` is a
/// `gitdir:` file, or a bare repository) and triggers [`Cause::LocalChange`] for `key`
/// when its refs, `packed-refs` or `HEAD` change, debounced. An event-queue overflow or
/// a watch error triggers too: the daemon re-reads, which is cheap, and a missed commit
/// is not.
///
/// Needs no tokio runtime: a small thread debounces and calls [`Triggers::trigger`],
/// inside the tracing span current at the call.
pub fn watch_git_dir<K>(
    triggers: Triggers<K>,
    key: K,
    checkout: &Path,
) -> Result<LocalWatch, WatchError>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    let git_dir = find_git_dir(checkout)?;
    let common_dir = find_common_dir(&git_dir)?;
    let filter = RefFilter {
        head: git_dir.join("HEAD"),
        packed_refs: common_dir.join("packed-refs"),
        refs: common_dir.join("refs"),
    };

    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let relevant = match &event {
            Ok(event) => filter.relevant(event),
            Err(error) => {
                tracing::warn!(%error, "watching the checkout failed; re-reading it");
                true
            }
        };
        if relevant {
            // The receiver only goes away after the watcher: nothing to do if it has.
            let _ = tx.send(());
        }
    })
    .map_err(|source| WatchError::Notify {
        path: git_dir.clone(),
        source,
    })?;

    // The folders themselves (not each file): git replaces HEAD and packed-refs by
    // renaming a lock file over them, which a watch on the old file would not see.
    let mut dirs = vec![
        (git_dir.clone(), RecursiveMode::NonRecursive),
        (common_dir.join("refs"), RecursiveMode::Recursive),
    ];
    if common_dir != git_dir {
        dirs.push((common_dir.clone(), RecursiveMode::NonRecursive));
    }
    for (dir, mode) in dirs {
        watcher
            .watch(&dir, mode)
            .map_err(|source| WatchError::Notify { path: dir, source })?;
    }

    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("ladder-watch-local".into())
        .spawn(move || {
            let _entered = span.enter();
            debounce(rx, || triggers.trigger(&key, Cause::LocalChange));
        })
        .map_err(|source| WatchError::Io {
            path: checkout.to_path_buf(),
            source,
        })?;

    Ok(LocalWatch {
        _watcher: watcher,
        git_dir,
        common_dir,
    })
}

/// Calls `fire` once per burst of signals: after [`DEBOUNCE`] of quiet, or at most
/// [`MAX_DELAY`] after the burst began. Returns when the sender is gone.
fn debounce(rx: mpsc::Receiver<()>, fire: impl Fn()) {
    while rx.recv().is_ok() {
        let deadline = Instant::now() + MAX_DELAY;
        loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(DEBOUNCE);
            match rx.recv_timeout(wait) {
                Ok(()) if Instant::now() < deadline => continue,
                Ok(()) | Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        fire();
    }
}

/// Which paths in an event are ones ladder reads.
struct RefFilter {
    head: PathBuf,
    packed_refs: PathBuf,
    refs: PathBuf,
}

impl RefFilter {
    fn relevant(&self, event: &Event) -> bool {
        if event.need_rescan() {
            return true;
        }
        // Reads and metadata-only changes (atime) cannot move a ref.
        if matches!(
            event.kind,
            EventKind::Access(_) | EventKind::Modify(notify::event::ModifyKind::Metadata(_))
        ) {
            return false;
        }
        event.paths.iter().any(|p| self.matches(p))
    }

    fn matches(&self, path: &Path) -> bool {
        // Lock files come and go on every update; the rename onto the real name that
        // completes an update is what counts (an aborted update changes nothing).
        if path.extension().is_some_and(|e| e == "lock") {
            return false;
        }
        path == self.head || path == self.packed_refs || path.starts_with(&self.refs)
    }
}

/// The Git folder of a checkout: `<checkout>/.git` as a folder, the `gitdir:` a `.git`
/// file names (linked worktrees, submodules), or the checkout itself when it is a bare
/// repository. Canonical, so that it compares equal to the paths notify reports.
fn find_git_dir(checkout: &Path) -> Result<PathBuf, WatchError> {
    let dot_git = checkout.join(".git");
    let dir = if dot_git.is_dir() {
        dot_git
    } else if dot_git.is_file() {
        let text = read(&dot_git)?;
        let target = text
            .lines()
            .find_map(|l| l.strip_prefix("gitdir:"))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WatchError::NotAGitCheckout(checkout.to_path_buf()))?;
        checkout.join(target)
    } else if checkout.join("HEAD").is_file() && checkout.join("refs").is_dir() {
        checkout.to_path_buf()
    } else {
        return Err(WatchError::NotAGitCheckout(checkout.to_path_buf()));
    };
    canonical(&dir)
}

/// Where refs live: the folder named by `<git_dir>/commondir` for a linked worktree,
/// else the Git folder itself.
fn find_common_dir(git_dir: &Path) -> Result<PathBuf, WatchError> {
    let file = git_dir.join("commondir");
    if !file.is_file() {
        return Ok(git_dir.to_path_buf());
    }
    let text = read(&file)?;
    canonical(&git_dir.join(text.trim()))
}

fn read(path: &Path) -> Result<String, WatchError> {
    std::fs::read_to_string(path).map_err(|source| WatchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn canonical(path: &Path) -> Result<PathBuf, WatchError> {
    path.canonicalize().map_err(|source| WatchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> RefFilter {
        RefFilter {
            head: "/r/.git/HEAD".into(),
            packed_refs: "/r/.git/packed-refs".into(),
            refs: "/r/.git/refs".into(),
        }
    }

    fn event(path: &str) -> Event {
        Event::new(EventKind::Create(notify::event::CreateKind::File)).add_path(path.into())
    }

    #[test]
    fn only_refs_head_and_packed_refs_count() {
        let f = filter();
        assert!(f.relevant(&event("/r/.git/HEAD")));
        assert!(f.relevant(&event("/r/.git/packed-refs")));
        assert!(f.relevant(&event("/r/.git/refs/heads/main")));
        assert!(!f.relevant(&event("/r/.git/refs/heads/main.lock")));
        assert!(!f.relevant(&event("/r/.git/index")));
        assert!(!f.relevant(&event("/r/.git/logs/refs/heads/main")));
        assert!(!f.relevant(&event("/r/.git/refsx")));
        assert!(!f.relevant(&event("/r/file.txt")));
    }

    #[test]
    fn a_rescan_always_counts() {
        let rescan = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert!(filter().relevant(&rescan));
    }

    #[test]
    fn debounce_collapses_each_burst() {
        let (tx, rx) = mpsc::channel();
        let sender = std::thread::spawn(move || {
            for _ in 0..2 {
                for _ in 0..50 {
                    tx.send(()).unwrap();
                }
                // Well past DEBOUNCE, so the two bursts stay apart even on a busy machine.
                std::thread::sleep(Duration::from_millis(800));
            }
        });
        let fired = std::cell::Cell::new(0);
        debounce(rx, || fired.set(fired.get() + 1));
        sender.join().unwrap();
        assert_eq!(fired.get(), 2);
    }
}

//! Locking around a repository.
//!
//! Git's on-disk formats make readers safe against a concurrent writer (packs and refs
//! are written to temporary files and renamed), but two writers — two fetches, or a
//! fetch racing a ref update — can lose updates or leave a half-initialised mirror. So:
//! inside a process, one `RwLock` per repository folder (shared by every handle on that
//! folder), and across processes an exclusive `flock` on a lock file next to it, taken
//! only by writers.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustix::fs::{FlockOperation, flock};

use crate::error::{Error, Result};

/// Per-repository lock: any number of readers, one writer per process, and one writer
/// across processes.
#[derive(Clone)]
pub struct RepoLock {
    local: Arc<RwLock<()>>,
    file: PathBuf,
}

/// Held while writing; releases both locks on drop.
pub struct WriteGuard<'a> {
    _local: RwLockWriteGuard<'a, ()>,
    // Closing the descriptor releases the flock.
    _file: File,
}

/// Held while reading refs that must be consistent with each other.
pub struct ReadGuard<'a> {
    _local: RwLockReadGuard<'a, ()>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<RwLock<()>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<RwLock<()>>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl RepoLock {
    /// The lock for the repository identified by `lock_file` (a path that need not exist
    /// yet; its parent must). Two calls with the same path share the in-process lock.
    pub fn new(lock_file: &Path) -> Result<RepoLock> {
        let parent = lock_file.parent().unwrap_or(Path::new("."));
        let parent = parent
            .canonicalize()
            .map_err(|e| Error::io("cannot resolve the lock folder", parent, e))?;
        let file = parent.join(lock_file.file_name().unwrap_or_default());
        // A poisoned map only means another thread panicked while inserting; the map
        // itself is still consistent.
        let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
        let local = map.entry(file.clone()).or_default().clone();
        Ok(RepoLock { local, file })
    }

    /// Exclusive access: blocks until no other thread of this process and no other
    /// process holds the write lock.
    pub fn write(&self) -> Result<WriteGuard<'_>> {
        let local = self.local.write().unwrap_or_else(|p| p.into_inner());
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.file)
            .map_err(|e| Error::io("cannot open the repository lock file", &self.file, e))?;
        flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| Error::io("cannot lock the repository", &self.file, e.into()))?;
        Ok(WriteGuard {
            _local: local,
            _file: file,
        })
    }

    /// Shared access within this process.
    pub fn read(&self) -> ReadGuard<'_> {
        ReadGuard {
            _local: self.local.read().unwrap_or_else(|p| p.into_inner()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn handles_on_one_path_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = RepoLock::new(&dir.path().join("r.lock")).unwrap();
        let b = RepoLock::new(&dir.path().join("r.lock")).unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = [a, b]
            .into_iter()
            .cycle()
            .take(8)
            .map(|lock| {
                let (inside, max_seen) = (inside.clone(), max_seen.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _g = lock.write().unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn flock_excludes_another_open_file_description() {
        // flock locks belong to open file descriptions, so a second open() in this
        // process behaves like another process would.
        let dir = tempfile::tempdir().unwrap();
        let lock = RepoLock::new(&dir.path().join("r.lock")).unwrap();
        let _held = lock.write().unwrap();
        let other = File::open(lock.path()).unwrap();
        let err = flock(&other, FlockOperation::NonBlockingLockExclusive).unwrap_err();
        assert_eq!(err, rustix::io::Errno::WOULDBLOCK);
    }
}

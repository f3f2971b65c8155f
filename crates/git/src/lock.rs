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
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

use crate::error::{Error, Result};
use crate::limits::Limits;

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

    /// Exclusive access: waits until no other thread of this process and no other
    /// process holds the write lock, for at most `limits.wait_bound()` (the idle limit,
    /// cut short by the deadline) and never past a cancel.
    pub fn write(&self, limits: &Limits) -> Result<WriteGuard<'_>> {
        let started = Instant::now();
        let bound = limits.wait_bound();
        let what = || format!("waiting for the lock {}", self.file.display());
        let mut pause = Duration::from_millis(1);
        let wait = |pause: &mut Duration| -> Result<()> {
            limits.check(&what())?;
            if started.elapsed() >= bound {
                return Err(limits.timed_out(what()));
            }
            std::thread::sleep(*pause);
            *pause = (*pause * 2).min(Duration::from_millis(50));
            Ok(())
        };
        let local = loop {
            match self.local.try_write() {
                Ok(guard) => break guard,
                // A panic while holding the lock leaves nothing half-written on disk
                // that the next writer cannot cope with: git writes are atomic renames.
                Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(TryLockError::WouldBlock) => wait(&mut pause)?,
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.file)
            .map_err(|e| Error::io("cannot open the repository lock file", &self.file, e))?;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {
                    wait(&mut pause)?
                }
                Err(e) => {
                    return Err(Error::io(
                        "cannot lock the repository",
                        &self.file,
                        e.into(),
                    ));
                }
            }
        }
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
                        let _g = lock.write(&Limits::default()).unwrap();
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
        let _held = lock.write(&Limits::default()).unwrap();
        let other = File::open(lock.path()).unwrap();
        let err = flock(&other, FlockOperation::NonBlockingLockExclusive).unwrap_err();
        assert_eq!(err, rustix::io::Errno::WOULDBLOCK);
    }

    #[test]
    fn a_lock_held_by_another_process_times_out_and_cancels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.lock");
        let lock = RepoLock::new(&path).unwrap();
        // Another open file description stands for another process holding the lock.
        let holder = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        flock(&holder, FlockOperation::LockExclusive).unwrap();

        let started = Instant::now();
        let err = lock
            .write(&Limits::idle(Duration::from_millis(300)))
            .map(|_| ())
            .unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(err, Error::TimedOut { .. }), "{err}");
        assert!(err.is_transient());
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "{waited:?}"
        );

        let limits = Limits::idle(Duration::from_secs(60));
        let cancel = limits.cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        });
        let started = Instant::now();
        let err = lock.write(&limits).map(|_| ()).unwrap_err();
        canceller.join().unwrap();
        assert!(matches!(err, Error::Cancelled { .. }), "{err}");
        assert!(!err.is_transient());
        assert!(started.elapsed() < Duration::from_secs(5));

        drop(holder);
        assert!(
            lock.write(&Limits::idle(Duration::from_millis(300)))
                .is_ok()
        );
    }
}

//! The budget itself: permits, the wait for one, and the worker counters.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a new fan-out waits for a permit before it runs on its own thread anyway.
/// Helpers hand their permits over between chunks, so a wait is normally one chunk
/// long; the bound only matters when every permit is held by a long fan-out (or by a
/// thread that waits for something the new caller holds: the bound is what makes
/// that a delay instead of a deadlock).
const PATIENCE: Duration = Duration::from_secs(2);

/// The most workers the process default allows, whatever the core count: what the
/// widest fan-out (rendering) used before the budget existed.
const DEFAULT_MAX: usize = 8;

/// A shared limit on the threads working inside fan-outs. Cloning is cheap and every
/// clone shares the same permits and counters.
#[derive(Clone)]
pub struct ThreadBudget {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    limit: AtomicUsize,
    permits: Mutex<Permits>,
    freed: Condvar,
    /// Mirrors `Permits::waiting` so that helpers can check it between chunks without
    /// taking the lock.
    waiting: AtomicUsize,
    live: AtomicUsize,
    peak: AtomicUsize,
    spawned: AtomicU64,
    overdrafts: AtomicU64,
    fan_outs: AtomicU64,
}

struct Permits {
    held: usize,
    waiting: usize,
}

/// What a budget has done, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    /// The current limit.
    pub limit: usize,
    /// Threads working inside fan-outs right now (callers and helpers).
    pub workers: usize,
    /// The most threads that worked inside fan-outs at once since creation or the
    /// last [`ThreadBudget::reset_peak`].
    pub peak_workers: usize,
    /// Helper threads started, in total.
    pub helpers_spawned: u64,
    /// Fan-outs that found no permit within the wait and ran anyway.
    pub overdrafts: u64,
    /// Fan-outs run with more than one worker possible, in total.
    pub fan_outs: u64,
}

impl ThreadBudget {
    /// A budget of `limit` workers (at least 1), shared by its clones only.
    pub fn new(limit: usize) -> ThreadBudget {
        ThreadBudget {
            inner: Arc::new(Inner {
                limit: AtomicUsize::new(limit.max(1)),
                permits: Mutex::new(Permits {
                    held: 0,
                    waiting: 0,
                }),
                freed: Condvar::new(),
                waiting: AtomicUsize::new(0),
                live: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                spawned: AtomicU64::new(0),
                overdrafts: AtomicU64::new(0),
                fan_outs: AtomicU64::new(0),
            }),
        }
    }

    /// The budget every library uses unless given another: one per process, limited to
    /// [`ThreadBudget::default_limit`] until someone calls [`ThreadBudget::set_limit`]
    /// on it.
    pub fn process_default() -> ThreadBudget {
        static DEFAULT: OnceLock<ThreadBudget> = OnceLock::new();
        DEFAULT
            .get_or_init(|| ThreadBudget::new(ThreadBudget::default_limit()))
            .clone()
    }

    /// The cores available to the process, at most 8: what the CLI's widest fan-out
    /// used before there was a budget.
    pub fn default_limit() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(DEFAULT_MAX)
    }

    pub fn limit(&self) -> usize {
        self.inner.limit.load(Ordering::Relaxed)
    }

    /// Changes the limit for every clone. Fan-outs already running keep their threads
    /// until their next chunk, when helpers above the new limit stop.
    pub fn set_limit(&self, limit: usize) {
        self.inner.limit.store(limit.max(1), Ordering::Relaxed);
        // A larger limit may let a waiting caller in.
        self.inner.freed.notify_all();
    }

    /// Whether two handles share one budget.
    pub fn same_as(&self, other: &ThreadBudget) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn stats(&self) -> BudgetStats {
        let i = &self.inner;
        BudgetStats {
            limit: self.limit(),
            workers: i.live.load(Ordering::Relaxed),
            peak_workers: i.peak.load(Ordering::Relaxed),
            helpers_spawned: i.spawned.load(Ordering::Relaxed),
            overdrafts: i.overdrafts.load(Ordering::Relaxed),
            fan_outs: i.fan_outs.load(Ordering::Relaxed),
        }
    }

    /// Starts a new high-water mark from the workers running now.
    pub fn reset_peak(&self) {
        let live = self.inner.live.load(Ordering::Relaxed);
        self.inner.peak.store(live, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Permits> {
        // The counters stay consistent even if a holder panicked: every change is one
        // statement.
        self.inner.permits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit for a helper thread, only if one is free and no caller is waiting for
    /// it (callers first: they are already running).
    pub(crate) fn try_acquire_helper(&self) -> bool {
        let mut p = self.lock();
        if p.waiting == 0 && p.held < self.limit() {
            p.held += 1;
            true
        } else {
            false
        }
    }

    /// A permit for the thread that starts a fan-out: waits up to [`PATIENCE`] for one.
    /// False: none came, and the caller runs without one (an overdraft).
    pub(crate) fn acquire_caller(&self) -> bool {
        let mut p = self.lock();
        if p.held < self.limit() {
            p.held += 1;
            return true;
        }
        p.waiting += 1;
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + PATIENCE;
        let got = loop {
            if p.held < self.limit() {
                p.held += 1;
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            p = self
                .inner
                .freed
                .wait_timeout(p, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        p.waiting -= 1;
        self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
        if !got {
            self.inner.overdrafts.fetch_add(1, Ordering::Relaxed);
        }
        got
    }

    pub(crate) fn release(&self) {
        let mut p = self.lock();
        p.held = p.held.saturating_sub(1);
        drop(p);
        self.inner.freed.notify_one();
    }

    /// A helper should stop taking chunks: a caller waits for its permit, or the limit
    /// was lowered below the permits held.
    pub(crate) fn helper_should_yield(&self) -> bool {
        if self.inner.waiting.load(Ordering::Relaxed) > 0 {
            return true;
        }
        self.lock().held > self.limit()
    }

    pub(crate) fn worker_started(&self) {
        let live = self.inner.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.peak.fetch_max(live, Ordering::SeqCst);
    }

    pub(crate) fn worker_stopped(&self) {
        self.inner.live.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn helper_spawned(&self) {
        self.inner.spawned.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fan_out_started(&self) {
        self.inner.fan_outs.fetch_add(1, Ordering::Relaxed);
    }
}

impl Default for ThreadBudget {
    /// The process default, shared.
    fn default() -> Self {
        ThreadBudget::process_default()
    }
}

impl std::fmt::Debug for ThreadBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadBudget")
            .field("limit", &self.limit())
            .field("workers", &self.inner.live.load(Ordering::Relaxed))
            .finish()
    }
}

//! Coalescing triggers: what tells a tenant's worker to reconcile.
//!
//! Every source of work (a poll that saw the branch move, a webhook, a local commit, a
//! soak ending, a retry after an error) only marks its tenant dirty. The tenant's one
//! worker loops on [`Triggers::next`], so however many triggers arrive while it runs,
//! it runs once more afterwards, never concurrently with itself and never once per
//! trigger: a reconcile reads the whole current state, so one run after a burst does
//! all the work the burst asked for.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Why a run was asked for. A run gets every distinct cause since the previous one, for
/// logs and metrics; the reconcile itself does the same work whatever the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The poller saw the remote branch move.
    Poll,
    /// A signed webhook delivery named the tenant's repository.
    Webhook,
    /// A local checkout's refs changed (a commit, a fetch, a branch switch).
    LocalChange,
    /// A time asked for with [`Triggers::wake_at`] (a soak ending) has come.
    WakeUp,
    /// The daemon started (or the tenant was added): reconcile once unconditionally.
    Start,
    /// A previous run failed and the daemon's backoff asks for another.
    Retry,
}

/// Per-tenant dirty flags shared by every trigger source and the tenant's worker.
///
/// Cloning is cheap and every clone shares the same state, so each source (the HTTP
/// server, pollers, local watchers, the workers themselves) holds its own clone.
/// Expected use: one worker per key calling [`next`](Self::next) in a loop; several
/// concurrent `next` calls on one key would each get a share of the triggers.
pub struct Triggers<K> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    state: Mutex<State<K>>,
    // A watch channel rather than a flag: pollers and waiting workers need to *await*
    // shutdown, and a watch channel never misses the change however late they subscribe.
    closed: watch::Sender<bool>,
}

struct State<K> {
    closed: bool,
    keys: HashMap<K, Slot>,
}

#[derive(Default)]
struct Slot {
    /// Distinct causes since the last `next`, in order of arrival; non-empty = dirty.
    /// A set rather than a log so that an endless burst cannot grow it.
    causes: Vec<Cause>,
    /// Wake-ups not yet due, each time kept so that each fires once.
    wakeups: BTreeMap<Instant, Vec<Cause>>,
    /// Wakes the key's worker. `notify_one` stores a permit when nobody waits, so a
    /// trigger between the worker's check and its wait is never lost.
    notify: Arc<Notify>,
}

impl Slot {
    fn add(&mut self, cause: Cause) {
        if !self.causes.contains(&cause) {
            self.causes.push(cause);
        }
    }
}

impl<K> Clone for Triggers<K> {
    // Manual impl: a derive would require `K: Clone` for cloning an `Arc`.
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K> Default for Triggers<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Triggers<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// An empty set of triggers: no key is dirty until triggered.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    closed: false,
                    keys: HashMap::new(),
                }),
                closed: watch::Sender::new(false),
            }),
        }
    }

    /// Marks `key` dirty for `cause` and wakes its worker. Never blocks (beyond a short
    /// lock), so it is safe from an HTTP handler, a notify callback or a blocking thread.
    /// After [`close`](Self::close) it does nothing.
    pub fn trigger(&self, key: &K, cause: Cause) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let slot = state.keys.entry(key.clone()).or_default();
        slot.add(cause);
        slot.notify.notify_one();
    }

    /// Asks for a run of `key` at `at` (a soak that ends then), reported as `cause`.
    ///
    /// Each distinct time fires once; asking twice for the same time fires once. Nothing
    /// runs in the background: the key's worker waits for the earliest wake-up inside
    /// [`next`](Self::next), so a wake-up that comes due during a run makes that run's
    /// follow-up, like any other trigger. A time already past fires at the next `next`.
    pub fn wake_at(&self, key: &K, at: Instant, cause: Cause) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let slot = state.keys.entry(key.clone()).or_default();
        let causes = slot.wakeups.entry(at).or_default();
        if !causes.contains(&cause) {
            causes.push(cause);
        }
        // The worker may be sleeping towards a later wake-up: make it look again.
        slot.notify.notify_one();
    }

    /// Waits until `key` is dirty, clears it, and returns every distinct cause collected
    /// since the previous call (in order of first arrival).
    ///
    /// A burst of triggers before the call gives one return; triggers that arrive while
    /// the worker runs (between two calls) give exactly one more. After
    /// [`close`](Self::close) it returns an empty Vec at once: the worker's signal to
    /// stop. Cancel-safe: dropping the future loses no trigger.
    pub async fn next(&self, key: &K) -> Vec<Cause> {
        let mut closed = self.inner.closed.subscribe();
        loop {
            let (notify, deadline) = {
                let mut state = self.lock();
                if state.closed {
                    return Vec::new();
                }
                let slot = state.keys.entry(key.clone()).or_default();
                fire_due_wakeups(slot, Instant::now());
                if !slot.causes.is_empty() {
                    return std::mem::take(&mut slot.causes);
                }
                let deadline = slot.wakeups.keys().next().copied();
                (Arc::clone(&slot.notify), deadline)
            };
            // Each wake-up below only means "look again": the loop re-reads the state.
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep_until_opt(deadline) => {}
                _ = closed.wait_for(|c| *c) => {}
            }
        }
    }

    /// Shuts down: every waiting and future [`next`](Self::next) returns an empty Vec at
    /// once, [`trigger`](Self::trigger) and [`wake_at`](Self::wake_at) do nothing, and
    /// pollers stop. Pending causes and wake-ups are dropped: the daemon is exiting.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for slot in state.keys.values_mut() {
            slot.causes.clear();
            slot.wakeups.clear();
        }
        drop(state);
        self.inner.closed.send_replace(true);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Completes once [`close`](Self::close) is called (at once if it was), so that
    /// long-lived tasks (pollers, the HTTP server) can stop with the workers.
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this cannot fail.
        let _ = rx.wait_for(|c| *c).await;
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // No code panics while holding the lock, and the state stays consistent even if
        // it did: keep going rather than take every tenant down.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Moves every wake-up at or before `now` into the slot's causes.
fn fire_due_wakeups(slot: &mut Slot, now: Instant) {
    // split_off keeps keys >= its argument; one nanosecond past `now` makes `now` due.
    let later = slot.wakeups.split_off(&(now + Duration::from_nanos(1)));
    let due = std::mem::replace(&mut slot.wakeups, later);
    for cause in due.into_values().flatten() {
        slot.add(cause);
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

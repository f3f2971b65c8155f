//! Fan-outs on a budget: chunks of a slice, or two closures.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ThreadBudget;
use crate::context::{self, Restore};

/// Chunks per possible worker. More than one, so that a helper that hands its permit to
/// a waiting caller leaves work behind for the others, and an uneven chunk does not
/// keep everyone waiting for one thread.
const CHUNKS_PER_WORKER: usize = 4;

/// How a [`ThreadBudget::map_chunks_with`] splits its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The fewest items worth a chunk of their own: below twice this, everything runs on
    /// the calling thread.
    pub min_chunk: usize,
    /// The most workers this fan-out uses, caller included, even if the budget allows
    /// more (for work that stops scaling).
    pub max_workers: usize,
}

impl Split {
    pub const fn new(min_chunk: usize) -> Split {
        Split {
            min_chunk,
            max_workers: usize::MAX,
        }
    }

    pub const fn max_workers(self, max_workers: usize) -> Split {
        Split {
            max_workers,
            ..self
        }
    }
}

/// The calling thread's part in a fan-out: its permit (if it took one) and the context
/// to restore.
struct Caller<'b> {
    budget: &'b ThreadBudget,
    /// None: a nested fan-out, which runs on the permit of the fan-out around it.
    held: Option<(bool, Restore)>,
}

impl<'b> Caller<'b> {
    fn enter(budget: &'b ThreadBudget) -> Caller<'b> {
        budget.fan_out_started();
        if context::is_worker_of(budget) {
            return Caller { budget, held: None };
        }
        let permit = budget.acquire_caller();
        budget.worker_started();
        Caller {
            budget,
            held: Some((permit, context::enter_worker(budget))),
        }
    }
}

impl Drop for Caller<'_> {
    fn drop(&mut self) {
        if let Some((permit, restore)) = self.held.take() {
            drop(restore);
            self.budget.worker_stopped();
            if permit {
                self.budget.release();
            }
        }
    }
}

/// A helper thread's hold on its permit, released when the thread ends (panics too).
struct Helper<'b> {
    budget: &'b ThreadBudget,
    _restore: Restore,
}

impl<'b> Helper<'b> {
    /// Called on the helper thread; the permit was taken before it was spawned.
    fn start(budget: &'b ThreadBudget) -> Helper<'b> {
        budget.worker_started();
        Helper {
            budget,
            _restore: context::enter_worker(budget),
        }
    }
}

impl Drop for Helper<'_> {
    fn drop(&mut self) {
        self.budget.worker_stopped();
        self.budget.release();
    }
}

impl ThreadBudget {
    /// `f` on consecutive chunks of `items`, in as many threads as the budget allows
    /// (the caller being one), results in chunk order. Chunks are at least `min_chunk`
    /// items long; fewer than `2 * min_chunk` items run on the calling thread.
    pub fn map_chunks<T, R, F>(&self, items: &[T], min_chunk: usize, f: F) -> Vec<R>
    where
        T: Sync,
        R: Send,
        F: Fn(&[T]) -> R + Sync,
    {
        self.map_chunks_with(items, Split::new(min_chunk), || (), |(), chunk| f(chunk))
    }

    /// Like [`ThreadBudget::map_chunks`], with per-worker state: each worker calls
    /// `init` once, before its first chunk, and passes the state to every chunk it runs
    /// (a cache, a repository handle).
    pub fn map_chunks_with<T, S, R, I, F>(&self, items: &[T], split: Split, init: I, f: F) -> Vec<R>
    where
        T: Sync,
        R: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &[T]) -> R + Sync,
    {
        let min_chunk = split.min_chunk.max(1);
        let workers = self
            .limit()
            .min(split.max_workers)
            .min(items.len() / min_chunk);
        if workers < 2 {
            if items.is_empty() {
                return Vec::new();
            }
            return vec![f(&mut init(), items)];
        }
        let caller = Caller::enter(self);
        let size = items
            .len()
            .div_ceil(workers * CHUNKS_PER_WORKER)
            .max(min_chunk);
        let chunks: Vec<&[T]> = items.chunks(size).collect();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<R>>> =
            Mutex::new(std::iter::repeat_with(|| None).take(chunks.len()).collect());
        // Takes chunks until none is left; a helper also stops when it should hand its
        // permit over. Results go to their chunk's slot, so order never depends on
        // scheduling.
        let work = |helper: bool| {
            let mut state = None;
            loop {
                if helper && self.helper_should_yield() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else { break };
                let state = state.get_or_insert_with(&init);
                let r = f(state, chunk);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            }
        };
        std::thread::scope(|scope| {
            let mut helpers = Vec::new();
            for _ in 1..workers.min(chunks.len()) {
                if !self.try_acquire_helper() {
                    break;
                }
                let work = &work;
                let spawned = std::thread::Builder::new()
                    .name("ladder-worker".into())
                    .spawn_scoped(scope, move || {
                        let _helper = Helper::start(self);
                        work(true);
                    });
                match spawned {
                    Ok(h) => {
                        self.helper_spawned();
                        helpers.push(h);
                    }
                    Err(_) => {
                        // No thread: the caller does the work.
                        self.release();
                        break;
                    }
                }
            }
            work(false);
            for h in helpers {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
        drop(caller);
        results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|r| r.expect("every chunk ran: the caller takes what helpers left"))
            .collect()
    }

    /// `a` and `b`, `b` on a helper thread when the budget has a free permit, else one
    /// after the other on the calling thread.
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        if self.limit() < 2 {
            return (a(), b());
        }
        let _caller = Caller::enter(self);
        if !self.try_acquire_helper() {
            return (a(), b());
        }
        // `b` stays outside the thread's closure until the thread runs: if it cannot
        // start, `b` runs here.
        let b = Mutex::new(Some(b));
        let take_b = || b.lock().unwrap_or_else(|p| p.into_inner()).take();
        std::thread::scope(|scope| {
            let spawned = std::thread::Builder::new()
                .name("ladder-worker".into())
                .spawn_scoped(scope, || {
                    let _helper = Helper::start(self);
                    take_b().map(|b| b())
                });
            match spawned {
                Ok(h) => {
                    self.helper_spawned();
                    let ra = a();
                    match h.join() {
                        Ok(Some(rb)) => (ra, rb),
                        Ok(None) => unreachable!("only the helper takes b once it started"),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                Err(_) => {
                    self.release();
                    let b = take_b().expect("b is still here: its thread did not start");
                    (a(), b())
                }
            }
        })
    }
}

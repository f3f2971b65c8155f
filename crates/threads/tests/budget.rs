//! The budget's promises: results in order, never more workers than the limit, and no
//! deadlock when every permit is taken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use ladder_threads::{Split, ThreadBudget};

/// Counts the threads inside a closure at once, independently of the budget's own count.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        let r = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

#[test]
fn results_come_back_in_chunk_order() {
    let budget = ThreadBudget::new(4);
    let items: Vec<u32> = (0..10_000).collect();
    let sums = budget.map_chunks(&items, 100, |chunk| chunk.to_vec());
    assert!(sums.len() > 1, "the work was split");
    assert_eq!(sums.concat(), items);
    // Too few items for two chunks: one call on the calling thread.
    assert_eq!(
        budget.map_chunks(&items[..150], 100, |c| c.len()),
        vec![150]
    );
    assert!(budget.map_chunks(&[] as &[u32], 1, |c| c.len()).is_empty());
}

#[test]
fn per_worker_state_is_made_once_per_worker() {
    let budget = ThreadBudget::new(3);
    let inits = AtomicUsize::new(0);
    let items: Vec<u32> = (0..3_000).collect();
    let out = budget.map_chunks_with(
        &items,
        Split::new(10).max_workers(2),
        || inits.fetch_add(1, Ordering::SeqCst),
        |_, chunk| {
            thread::sleep(Duration::from_millis(1));
            chunk.len()
        },
    );
    assert_eq!(out.iter().sum::<usize>(), 3_000);
    assert!(out.len() >= 2);
    let inits = inits.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&inits),
        "{inits} workers for max_workers 2"
    );
}

#[test]
fn concurrent_fan_outs_never_exceed_the_limit() {
    let budget = ThreadBudget::new(2);
    let gauge = Arc::new(Gauge::default());
    let items: Vec<u32> = (0..64).collect();
    thread::scope(|s| {
        for _ in 0..4 {
            let (budget, gauge, items) = (budget.clone(), gauge.clone(), &items);
            s.spawn(move || {
                for _ in 0..3 {
                    let out = budget.map_chunks(items, 2, |chunk| {
                        gauge.run(|| {
                            thread::sleep(Duration::from_millis(2));
                            chunk.iter().sum::<u32>()
                        })
                    });
                    assert_eq!(out.iter().sum::<u32>(), items.iter().sum());
                }
            });
        }
    });
    let stats = budget.stats();
    // (Whether helpers start depends on timing: four callers may hold or wait for both
    // permits all along. The limit must hold either way.)
    assert!(gauge.peak.load(Ordering::SeqCst) <= 2, "{stats:?}");
    assert!(stats.peak_workers <= 2, "{stats:?}");
    assert_eq!(stats.overdrafts, 0, "{stats:?}");
    assert_eq!(stats.fan_outs, 12, "{stats:?}");
    assert_eq!(stats.workers, 0);
}

#[test]
fn a_nested_fan_out_on_a_full_budget_runs_on_its_worker() {
    let budget = ThreadBudget::new(2);
    let items: Vec<u32> = (0..8).collect();
    let started = Instant::now();
    let out = budget.map_chunks(&items, 1, |chunk| {
        // Both permits are held by this fan-out; the inner one must not wait for one.
        let inner: Vec<u32> = (0..100).collect();
        let sums = budget.map_chunks(&inner, 10, |c| c.iter().sum::<u32>());
        chunk.len() as u32 * sums.iter().sum::<u32>()
    });
    assert_eq!(out.iter().sum::<u32>(), 8 * 4950);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "nested fan-outs waited"
    );
    assert_eq!(budget.stats().overdrafts, 0);
    assert!(budget.stats().peak_workers <= 2);
}

#[test]
fn a_caller_that_permit_holders_wait_for_still_runs() {
    // Two threads hold both permits and wait for a message that the third thread sends
    // only after its own fan-out: blocking for a permit would deadlock.
    let budget = ThreadBudget::new(2);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let done_rx = std::sync::Mutex::new(done_rx);
    thread::scope(|s| {
        let holder = {
            let budget = budget.clone();
            let (held_tx, done_rx) = (held_tx.clone(), &done_rx);
            s.spawn(move || {
                let items = [0u8; 2];
                budget.map_chunks(&items, 1, |_| {
                    held_tx.send(()).unwrap();
                    // Each worker waits for the end of the third thread's fan-out.
                    let _ = done_rx
                        .lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(30));
                });
            })
        };
        held_rx.recv().unwrap();
        held_rx.recv().unwrap();
        assert_eq!(budget.stats().workers, 2);
        let started = Instant::now();
        let items: Vec<u32> = (0..10).collect();
        let out = budget.map_chunks(&items, 1, |c| c.iter().sum::<u32>());
        assert_eq!(out.iter().sum::<u32>(), 45);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(budget.stats().overdrafts, 1, "ran without a permit");
        done_tx.send(()).unwrap();
        done_tx.send(()).unwrap();
        holder.join().unwrap();
    });
    assert_eq!(budget.stats().workers, 0);
    // The permits came back: a later fan-out gets both workers again.
    budget.reset_peak();
    let gauge = Gauge::default();
    let items: Vec<u32> = (0..8).collect();
    budget.map_chunks(&items, 1, |_| {
        gauge.run(|| thread::sleep(Duration::from_millis(20)))
    });
    assert_eq!(budget.stats().peak_workers, 2);
}

#[test]
fn join_uses_a_free_permit_and_falls_back_when_none_is() {
    let budget = ThreadBudget::new(2);
    let (a, b) = budget.join(|| thread::current().id(), || thread::current().id());
    assert_ne!(a, b, "b ran on a helper");
    assert_eq!(budget.stats().helpers_spawned, 1);
    // Inside a fan-out that holds both permits, join runs both halves here.
    let items = [0u8; 2];
    let ids = budget.map_chunks(&items, 1, |_| {
        thread::sleep(Duration::from_millis(20));
        let (a, b) = budget.join(|| thread::current().id(), || thread::current().id());
        a == b
    });
    assert!(ids.iter().any(|same| *same), "{ids:?}");
    let one = ThreadBudget::new(1);
    let (a, b) = one.join(|| thread::current().id(), || thread::current().id());
    assert_eq!(a, b);
    assert_eq!(one.stats().helpers_spawned, 0);
}

#[test]
fn current_is_the_installed_or_worked_for_budget() {
    assert!(ThreadBudget::current().same_as(&ThreadBudget::process_default()));
    assert!(ThreadBudget::default().same_as(&ThreadBudget::process_default()));
    let mine = ThreadBudget::new(3);
    mine.install(|| {
        assert!(ThreadBudget::current().same_as(&mine));
        let items = [0u8; 4];
        let inside = mine.map_chunks(&items, 1, |_| ThreadBudget::current().same_as(&mine));
        assert!(inside.iter().all(|x| *x));
    });
    assert!(ThreadBudget::current().same_as(&ThreadBudget::process_default()));
    assert_eq!(ThreadBudget::new(0).limit(), 1);
    let limit = ThreadBudget::default_limit();
    assert!((1..=8).contains(&limit));
}

#[test]
fn a_lowered_limit_applies_to_running_and_later_fan_outs() {
    let budget = ThreadBudget::new(4);
    let items: Vec<u32> = (0..400).collect();
    let lowered = std::sync::Once::new();
    let out = budget.map_chunks(&items, 1, |chunk| {
        lowered.call_once(|| budget.set_limit(1));
        thread::sleep(Duration::from_millis(1));
        chunk.len()
    });
    assert_eq!(
        out.iter().sum::<usize>(),
        400,
        "helpers that stop leave their work"
    );
    let gauge = Gauge::default();
    budget.map_chunks(&items, 1, |_| gauge.run(|| ()));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
    assert_eq!(budget.limit(), 1);
}

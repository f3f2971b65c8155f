//! The poller, on tokio's paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ladder_watch::{Cause, Triggers, spawn_poller};
use tokio::time::{Instant, timeout};

const INTERVAL: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn one_move_gives_one_trigger() {
    let triggers = Triggers::<&'static str>::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let poller = spawn_poller(triggers.clone(), "acme", INTERVAL, move || {
        // Moved on the first check only.
        Ok(counter.fetch_add(1, Ordering::SeqCst) == 0)
    });

    let causes = timeout(INTERVAL * 2, triggers.next(&"acme")).await.unwrap();
    assert_eq!(causes, [Cause::Poll]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Ten more intervals: more checks, no more triggers.
    assert!(
        timeout(INTERVAL * 10, triggers.next(&"acme"))
            .await
            .is_err()
    );
    let later = calls.load(Ordering::SeqCst);
    assert!((9..=12).contains(&later), "{later} checks in ~11 intervals");

    triggers.close();
    timeout(Duration::from_secs(1), poller)
        .await
        .expect("the poller stops on close")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn polls_are_spread_and_jittered() {
    let triggers = Triggers::<u8>::new();
    let times = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = spawn_poller(triggers.clone(), 1, INTERVAL, move || {
        tx.send(()).unwrap();
        Ok(false)
    });
    // Timestamps are taken here, on the runtime's paused clock.
    for _ in 0..20 {
        rx.recv().await.unwrap();
        times.lock().unwrap().push(start.elapsed());
    }
    poller.abort();
    let times = times.lock().unwrap();
    assert!(times[0] <= INTERVAL, "first poll after {:?}", times[0]);
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= INTERVAL.mul_f64(0.9) && gap <= INTERVAL.mul_f64(1.1),
            "gap {gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn errors_are_retried_next_interval() {
    let triggers = Triggers::<u8>::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let _poller = spawn_poller(triggers.clone(), 1, INTERVAL, move || {
        match counter.fetch_add(1, Ordering::SeqCst) {
            0..=2 => Err("remote unreachable".to_string()),
            _ => Ok(true),
        }
    });
    assert_eq!(
        timeout(INTERVAL * 10, triggers.next(&1)).await.unwrap(),
        [Cause::Poll]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn zero_interval_never_checks() {
    let triggers = Triggers::<u8>::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let poller = spawn_poller(triggers.clone(), 1, Duration::ZERO, move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    });
    timeout(Duration::from_secs(1), poller)
        .await
        .expect("a disabled poller returns at once")
        .unwrap();
    assert!(timeout(INTERVAL * 10, triggers.next(&1)).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

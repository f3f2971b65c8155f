//! Coalescing triggers, on tokio's paused clock so that time-based cases are exact.

use std::time::Duration;

use ladder_watch::{Cause, Triggers};
use tokio::time::{Instant, timeout};

/// Long enough that, on the paused clock, "nothing came" is certain: the clock only
/// jumps ahead once every task is idle.
const QUIET: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn a_burst_during_a_run_makes_exactly_one_follow_up() {
    let triggers = Triggers::<String>::new();
    let key = "acme".to_string();
    triggers.trigger(&key, Cause::Start);
    assert_eq!(triggers.next(&key).await, [Cause::Start]);

    // The "run": 100 triggers arrive from another task while the worker is busy.
    let sources = triggers.clone();
    let burst_key = key.clone();
    let burst = tokio::spawn(async move {
        for i in 0..100 {
            let cause = if i % 2 == 0 {
                Cause::Webhook
            } else {
                Cause::Poll
            };
            sources.trigger(&burst_key, cause);
            tokio::task::yield_now().await;
        }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    burst.await.unwrap();

    // One follow-up, with each distinct cause once, in order of arrival...
    assert_eq!(triggers.next(&key).await, [Cause::Webhook, Cause::Poll]);
    // ...and no second one.
    assert!(timeout(QUIET, triggers.next(&key)).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_trigger_while_waiting_wakes_the_worker() {
    let triggers = Triggers::<u32>::new();
    let worker = {
        let triggers = triggers.clone();
        tokio::spawn(async move { triggers.next(&7).await })
    };
    tokio::task::yield_now().await;
    triggers.trigger(&7, Cause::LocalChange);
    assert_eq!(worker.await.unwrap(), [Cause::LocalChange]);
}

#[tokio::test(start_paused = true)]
async fn keys_are_independent() {
    let triggers = Triggers::<&'static str>::new();
    triggers.trigger(&"a", Cause::Webhook);
    assert!(timeout(QUIET, triggers.next(&"b")).await.is_err());
    assert_eq!(triggers.next(&"a").await, [Cause::Webhook]);
    triggers.trigger(&"b", Cause::Retry);
    assert!(timeout(QUIET, triggers.next(&"a")).await.is_err());
    assert_eq!(triggers.next(&"b").await, [Cause::Retry]);
}

#[tokio::test(start_paused = true)]
async fn wake_at_fires_at_its_time() {
    let triggers = Triggers::<&'static str>::new();
    let start = Instant::now();
    triggers.wake_at(&"acme", start + Duration::from_secs(600), Cause::WakeUp);

    let worker = {
        let triggers = triggers.clone();
        tokio::spawn(async move {
            let causes = triggers.next(&"acme").await;
            (causes, Instant::now())
        })
    };
    tokio::time::advance(Duration::from_secs(599)).await;
    tokio::task::yield_now().await;
    assert!(!worker.is_finished(), "woke before its time");
    tokio::time::advance(Duration::from_secs(1)).await;
    let (causes, at) = worker.await.unwrap();
    assert_eq!(causes, [Cause::WakeUp]);
    assert_eq!(at - start, Duration::from_secs(600));
    // Fired once.
    assert!(timeout(QUIET, triggers.next(&"acme")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn each_distinct_wake_up_fires_once() {
    let triggers = Triggers::<&'static str>::new();
    let start = Instant::now();
    let k = "acme";
    triggers.wake_at(&k, start + Duration::from_secs(20), Cause::WakeUp);
    triggers.wake_at(&k, start + Duration::from_secs(10), Cause::WakeUp);
    triggers.wake_at(&k, start + Duration::from_secs(10), Cause::WakeUp);

    assert_eq!(triggers.next(&k).await, [Cause::WakeUp]);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(triggers.next(&k).await, [Cause::WakeUp]);
    assert_eq!(start.elapsed(), Duration::from_secs(20));
    assert!(timeout(QUIET, triggers.next(&k)).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn an_earlier_wake_up_set_while_waiting_is_honoured() {
    let triggers = Triggers::<&'static str>::new();
    let start = Instant::now();
    triggers.wake_at(&"k", start + Duration::from_secs(100), Cause::WakeUp);
    let worker = {
        let triggers = triggers.clone();
        tokio::spawn(async move { triggers.next(&"k").await })
    };
    tokio::task::yield_now().await;
    triggers.wake_at(&"k", start + Duration::from_secs(5), Cause::Retry);
    assert_eq!(worker.await.unwrap(), [Cause::Retry]);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(triggers.next(&"k").await, [Cause::WakeUp]);
    assert_eq!(start.elapsed(), Duration::from_secs(100));
}

#[tokio::test(start_paused = true)]
async fn a_wake_up_due_during_a_run_joins_the_follow_up() {
    let triggers = Triggers::<&'static str>::new();
    let start = Instant::now();
    triggers.trigger(&"k", Cause::Start);
    triggers.wake_at(&"k", start + Duration::from_secs(1), Cause::WakeUp);
    assert_eq!(triggers.next(&"k").await, [Cause::Start]);
    // The run takes 10 s; the wake-up and a webhook both come during it.
    tokio::time::sleep(Duration::from_secs(10)).await;
    triggers.trigger(&"k", Cause::Webhook);
    assert_eq!(triggers.next(&"k").await, [Cause::Webhook, Cause::WakeUp]);
    assert!(timeout(QUIET, triggers.next(&"k")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn close_releases_waiting_workers_and_stops_triggers() {
    let triggers = Triggers::<u8>::new();
    let workers: Vec<_> = (0..3u8)
        .map(|k| {
            let triggers = triggers.clone();
            tokio::spawn(async move { triggers.next(&k).await })
        })
        .collect();
    triggers.wake_at(&0, Instant::now() + Duration::from_secs(60), Cause::WakeUp);
    tokio::task::yield_now().await;
    triggers.close();
    for worker in workers {
        let causes = timeout(Duration::from_secs(1), worker)
            .await
            .expect("released at once")
            .unwrap();
        assert!(causes.is_empty());
    }
    assert!(triggers.is_closed());
    triggers.trigger(&1, Cause::Webhook);
    assert!(triggers.next(&1).await.is_empty());
    // closed() completes at once now.
    timeout(Duration::from_secs(1), triggers.closed())
        .await
        .unwrap();
}

#[test]
fn trigger_works_without_a_runtime() {
    // HTTP handlers and notify callbacks may call it from any thread.
    let triggers = Triggers::<u8>::new();
    let t = triggers.clone();
    std::thread::spawn(move || t.trigger(&1, Cause::LocalChange))
        .join()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(triggers.next(&1)), [Cause::LocalChange]);
}

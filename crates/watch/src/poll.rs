//! Polling a remote for a moved branch.
//!
//! Webhooks are the fast path, but a forge may not be able to reach the daemon (a
//! private cluster, a misconfigured hook, a delivery lost), so each tenant is also
//! polled. A poll is the git layer's cheap remote check (advertised refs only); the
//! fetch happens in the reconcile it triggers, and only when the branch moved.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::schedule::{Cause, Triggers};

/// Starts polling `key` every `interval`, with +-10 % jitter on each interval.
///
/// The first poll comes after a random fraction of the interval, and the jitter keeps
/// tenants from falling back into step: 50 tenants configured alike would otherwise
/// hit the same forge in the same second, every minute, for the life of the process.
///
/// `moved` runs on tokio's blocking pool because it does network I/O through the
/// synchronous git layer; it returns whether the branch moved since the last reconcile.
/// `Ok(true)` triggers [`Cause::Poll`]; an `Err` is logged (so its text must carry no
/// secret, the git layer's errors already do not) and the poll is simply tried again
/// at the next interval: the reconcile has its own retry policy, a poll needs none.
///
/// An `interval` of zero disables polling: the task ends at once and `moved` is never
/// called. The task stops when [`Triggers::close`] is called or the handle is aborted.
/// Dropping the handle detaches the task as usual in tokio (it keeps polling), so keep
/// the handle and abort it to stop one tenant's poller alone. The task runs in the
/// tracing span current at the call, so its logs carry the caller's tenant fields.
///
/// Must be called within a tokio runtime.
pub fn spawn_poller<K, F>(
    triggers: Triggers<K>,
    key: K,
    interval: Duration,
    moved: F,
) -> JoinHandle<()>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    F: Fn() -> Result<bool, String> + Send + Sync + 'static,
{
    let span = tracing::Span::current();
    tokio::spawn(poll_loop(triggers, key, interval, Arc::new(moved)).instrument(span))
}

async fn poll_loop<K, F>(triggers: Triggers<K>, key: K, interval: Duration, moved: Arc<F>)
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    F: Fn() -> Result<bool, String> + Send + Sync + 'static,
{
    if interval.is_zero() {
        return;
    }
    let mut delay = interval.mul_f64(fastrand::f64());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = triggers.closed() => return,
        }
        let check = Arc::clone(&moved);
        match tokio::task::spawn_blocking(move || check()).await {
            Ok(Ok(true)) => triggers.trigger(&key, Cause::Poll),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "remote check failed; trying again next interval");
            }
            // A panic in the check is a bug, but one tenant's bug must not stop its
            // polling for good: log it and carry on.
            Err(join) => tracing::error!(error = %join, "remote check panicked"),
        }
        // Timed from the end of the check, so a slow remote is never polled twice at once.
        delay = interval.mul_f64(0.9 + 0.2 * fastrand::f64());
    }
}

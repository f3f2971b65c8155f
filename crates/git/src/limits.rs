//! Bounds on calls that wait on something outside the process: a remote, or another
//! process holding a repository lock.
//!
//! A daemon serving many tenants cannot let one hung server (it accepts the connection
//! and never answers) hold a worker forever, and it must be able to stop work on shutdown.
//! So every network call and every lock wait runs under [`Limits`]: an idle limit (how
//! long the remote may send nothing), an optional overall deadline, and a [`Cancel`] flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The idle limit when the caller sets none: a remote that sends nothing for this long
/// has failed.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

/// A flag that stops the calls watching it. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every call watching this flag to stop as soon as it can.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How long a call may wait, and what stops it early.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The longest a remote may send nothing (and the longest a connection may take).
    pub idle: Duration,
    /// When the whole call must be over, whatever the remote does.
    pub deadline: Option<Instant>,
    pub cancel: Cancel,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: DEFAULT_IDLE,
            deadline: None,
            cancel: Cancel::default(),
        }
    }
}

impl Limits {
    /// Limits with this idle limit, no deadline and a fresh cancel flag.
    pub fn idle(idle: Duration) -> Self {
        Limits {
            idle,
            ..Limits::default()
        }
    }

    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// The time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The longest one wait may take: the idle limit, cut short by the deadline. Never
    /// zero, since a zero timeout means "no timeout" to several APIs.
    pub fn wait_bound(&self) -> Duration {
        let bound = match self.remaining() {
            Some(left) => left.min(self.idle),
            None => self.idle,
        };
        bound.max(Duration::from_millis(1))
    }

    /// `Err` when the call must stop now: cancelled, or past its deadline.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled { what: what.into() });
        }
        if self.remaining().is_some_and(|left| left.is_zero()) {
            return Err(Error::TimedOut {
                what: what.into(),
                after: self.idle,
                deadline: true,
            });
        }
        Ok(())
    }

    /// True once the call must stop (for watchdogs that poll).
    pub(crate) fn expired(&self) -> bool {
        self.check("").is_err()
    }

    /// The error for a wait that ran out: the deadline if it has passed, else the idle
    /// limit.
    pub(crate) fn timed_out(&self, what: impl Into<String>) -> Error {
        let what = what.into();
        if self.cancel.is_cancelled() {
            return Error::Cancelled { what };
        }
        Error::TimedOut {
            what,
            after: self.idle,
            deadline: self.remaining().is_some_and(|left| left.is_zero()),
        }
    }
}

/// Why a watchdog fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Cancelled, or past the deadline.
    Expired,
    /// The call's own stall check said it has waited longer than the idle limit.
    Stalled,
}

/// Runs `on_fire` once if `limits` expire (cancel or deadline), or `stalled()` says
/// true, before the returned guard is dropped. Used to break blocking reads that no
/// timeout covers, by closing the socket or killing the process they wait on.
pub(crate) struct Watchdog {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn start(
        limits: &Limits,
        stalled: impl Fn() -> bool + Send + 'static,
        on_fire: impl FnOnce(Fired) + Send + 'static,
    ) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (limits, done) = (limits.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    if limits.expired() {
                        on_fire(Fired::Expired);
                        return;
                    }
                    if stalled() {
                        on_fire(Fired::Stalled);
                        return;
                    }
                    std::thread::park_timeout(Duration::from_millis(20));
                }
            })
        };
        Watchdog {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_cancel_then_deadline() {
        let limits = Limits::idle(Duration::from_secs(5));
        assert!(limits.check("x").is_ok());
        let past = Limits::idle(Duration::from_secs(5)).with_deadline(Instant::now());
        assert!(matches!(
            past.check("x"),
            Err(Error::TimedOut { deadline: true, .. })
        ));
        limits.cancel.cancel();
        assert!(matches!(limits.check("x"), Err(Error::Cancelled { .. })));
    }

    #[test]
    fn wait_bound_is_cut_by_the_deadline() {
        let limits = Limits::idle(Duration::from_secs(30))
            .with_deadline(Instant::now() + Duration::from_secs(2));
        assert!(limits.wait_bound() <= Duration::from_secs(2));
        assert_eq!(
            Limits::idle(Duration::from_secs(3)).wait_bound(),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn watchdog_fires_on_cancel_and_not_after_drop() {
        let fired = Arc::new(AtomicBool::new(false));
        let limits = Limits::default();
        let f = fired.clone();
        let dog = Watchdog::start(
            &limits,
            || false,
            move |why| {
                assert_eq!(why, Fired::Expired);
                f.store(true, Ordering::SeqCst)
            },
        );
        limits.cancel.cancel();
        let until = Instant::now() + Duration::from_secs(5);
        while !fired.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(dog);
        assert!(fired.load(Ordering::SeqCst));

        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let limits = Limits::default();
        drop(Watchdog::start(
            &limits,
            || false,
            move |_| f.store(true, Ordering::SeqCst),
        ));
        limits.cancel.cancel();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!fired.load(Ordering::SeqCst));

        let (tx, rx) = std::sync::mpsc::channel();
        let _dog = Watchdog::start(
            &Limits::default(),
            || true,
            move |why| {
                let _ = tx.send(why);
            },
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(Fired::Stalled));
    }
}

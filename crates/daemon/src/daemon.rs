//! The running daemon: one worker per tenant looping on its triggers, the triggers'
//! sources (pollers, local watchers, webhooks, wake-ups), and the HTTP server. A
//! tenant's failure is its own: it shows in its status, metrics and logs and is retried
//! with backoff, while the other tenants go on.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ladder_git::{Cancel, Limits};
use ladder_lease::Leadership;
use ladder_watch::{Cause, Triggers};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::DaemonConfig;
use crate::metrics::Metrics;
use crate::status::{Status, TenantStatus};
use crate::sync::{PausePoint, TenantRuntime, sync_tenant};

/// How long one reconcile of one tenant may take, all git and forge calls included.
const RECONCILE_DEADLINE: Duration = Duration::from_secs(600);
/// A failed reconcile is retried after this, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// One tenant as the daemon holds it.
pub(crate) struct Tenant {
    pub runtime: TenantRuntime,
    pub status: Mutex<TenantStatus>,
}

/// What the workers, the pollers and the HTTP server share.
pub(crate) struct Shared {
    pub tenants: Vec<Tenant>,
    pub triggers: Triggers<String>,
    pub metrics: Metrics,
    /// Cancels every git and forge call in flight when the shutdown bound passes.
    pub cancel: Cancel,
    /// The current term of leadership: what workers check before each reconcile.
    pub term: Mutex<Term>,
    /// Reconciles running at once, across tenants ([`reconcile_slots`]): each holds a
    /// blocking thread for its whole run, and their fan-outs share the process's one
    /// thread budget.
    pub running: tokio::sync::Semaphore,
    pub stopping: AtomicBool,
    /// Whether this replica leads (always without leader election), and where the
    /// leader is when another replica does.
    pub leading: tokio::sync::watch::Receiver<Leadership>,
    /// Whether leader election is on (a standby is then ready, and says so).
    pub elected: bool,
}

/// Whether this replica acts, and the cancel flag of the reconciles it begins while it
/// does. The leadership watcher changes both at once (under one lock), so that a worker
/// never begins a reconcile under a term that has ended, nor under a new term with the
/// old, cancelled flag. The flag is raised when this replica stops leading (so that one
/// which lost the Lease stops writing at its next git or forge call, instead of
/// finishing beside the new leader), and at the shutdown bound.
pub(crate) struct Term {
    pub leading: bool,
    pub cancel: Cancel,
}

impl Shared {
    fn term(&self) -> std::sync::MutexGuard<'_, Term> {
        self.term.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current term's cancel flag if this replica acts now; `None` on a standby.
    fn acting(&self) -> Option<Cancel> {
        let term = self.term();
        term.leading.then(|| term.cancel.clone())
    }

    pub fn leads(&self) -> bool {
        self.leading.borrow().leading
    }

    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.runtime.config.name == name)
    }

    pub fn status(&self) -> Status {
        Status {
            leader: self.leads(),
            tenants: self
                .tenants
                .iter()
                .map(|t| t.status.lock().unwrap_or_else(|e| e.into_inner()).clone())
                .collect(),
        }
    }
}

/// Everything the daemon is started with. The caller (the binary) reads the
/// environment; the daemon reads none.
pub struct DaemonOptions {
    pub config: DaemonConfig,
    /// One runtime per configured tenant, in the configuration's order.
    pub tenants: Vec<TenantRuntime>,
    /// A test's hold inside the reconcile; `None` in production.
    pub pause: Option<Arc<dyn PausePoint>>,
    /// Leader election on a Kubernetes Lease, when several replicas run: only the
    /// leader reconciles; `None`: this process always acts.
    pub election: Option<ladder_lease::LeaseConfig>,
    /// This replica's host as the others reach it (the pod's IP). With leader election
    /// the leader writes `http://HOST:PORT` (the port it listens on) on the Lease, and a
    /// standby passes the webhooks it receives on to it. `None`: a standby cannot, and
    /// answers them with 503.
    pub advertise_host: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("watching the checkout of tenant `{tenant}`: {source}")]
    Watch {
        tenant: String,
        #[source]
        source: ladder_watch::WatchError,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("leader election: {0}")]
    Election(#[source] ladder_lease::Error),
}

/// How many reconciles may run at once on `cores` cores. A reconcile mostly waits on
/// its servers (a fetch, a push, API calls), and a hung server holds its slot until the
/// call's idle bound (30 s) gives up: with as many slots as cores, two hung servers on
/// two cores would hold every tenant up. Four per core (at least eight) leave room for
/// several; the CPU-heavy part, rendering, shares the process's thread budget anyway.
fn reconcile_slots(cores: usize) -> usize {
    (4 * cores).max(8)
}

/// `http://HOST:PORT`, an IPv6 host in brackets.
fn advertised_url(host: &str, port: u16) -> String {
    let host = host.trim();
    if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs the daemon until `shutdown` resolves (SIGTERM, SIGINT), then stops taking
/// triggers, lets each reconcile in flight finish within `shutdownTimeout` (cancelling
/// what is left after it), and returns. `ready` is told the address it listens on.
pub async fn run(
    options: DaemonOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), DaemonError> {
    let DaemonOptions {
        config,
        tenants,
        pause,
        mut election,
        advertise_host,
    } = options;
    if let Some(lease) = &election {
        lease.validate().map_err(DaemonError::Election)?;
    }
    let (lead, leading) = tokio::sync::watch::channel(if election.is_none() {
        Leadership::leading()
    } else {
        Leadership::standing_by(None)
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(DaemonError::Serve)?;
    if let (Some(lease), Some(host)) = (&mut election, &advertise_host) {
        lease.address = Some(advertised_url(host, addr.port()));
    }
    let shared = Arc::new(Shared {
        tenants: tenants
            .into_iter()
            .map(|runtime| Tenant {
                status: Mutex::new(TenantStatus {
                    name: runtime.config.name.clone(),
                    repo: runtime.config.repo_text(),
                    ..Default::default()
                }),
                runtime,
            })
            .collect(),
        triggers: Triggers::new(),
        metrics: Metrics::new(),
        cancel: Cancel::new(),
        term: Mutex::new(Term {
            leading: election.is_none(),
            cancel: Cancel::new(),
        }),
        running: tokio::sync::Semaphore::new(config.reconcile_slots.map_or_else(
            || reconcile_slots(std::thread::available_parallelism().map_or(2, |n| n.get())),
            |n| n.get(),
        )),
        stopping: AtomicBool::new(false),
        leading,
        elected: election.is_some(),
    });
    // The election runs until the workers are done, then releases the Lease.
    let (drained, workers_done) = tokio::sync::oneshot::channel::<()>();
    let mut elector = election.map(|lease| {
        tokio::spawn(ladder_lease::run_election(lease, lead, async {
            let _ = workers_done.await;
        }))
    });
    // A new leader reconciles every tenant at once: the old one may have left work.
    if elector.is_some() {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut leading = shared.leading.clone();
            let mut was_leading = false;
            while leading.changed().await.is_ok() {
                let now_leading = leading.borrow_and_update().leading;
                // The channel also says where the leader is: act on changes of leading.
                if now_leading == was_leading {
                    continue;
                }
                was_leading = now_leading;
                shared.metrics.leader(now_leading);
                if now_leading {
                    *shared.term() = Term {
                        leading: true,
                        cancel: Cancel::new(),
                    };
                    tracing::info!("leading: reconciling every tenant");
                    for tenant in &shared.tenants {
                        shared
                            .triggers
                            .trigger(&tenant.runtime.config.name, Cause::Start);
                    }
                } else {
                    let mut term = shared.term();
                    term.leading = false;
                    term.cancel.cancel();
                    drop(term);
                    tracing::warn!(
                        "no longer leading: the reconciles in flight are cancelled, and none starts until leadership returns"
                    );
                }
            }
        });
    }
    shared.metrics.leader(shared.leads());

    let mut workers = JoinSet::new();
    let mut pollers = Vec::new();
    let mut watches = Vec::new();
    for tenant in &shared.tenants {
        let name = tenant.runtime.config.name.clone();
        let span = tracing::info_span!("tenant", tenant = %name);
        if let Some(path) = &tenant.runtime.config.path {
            let watch = ladder_watch::watch_git_dir(shared.triggers.clone(), name.clone(), path)
                .map_err(|source| DaemonError::Watch {
                    tenant: name.clone(),
                    source,
                })?;
            watches.push(watch);
        } else if !tenant.runtime.config.poll_interval.is_zero() {
            let _entered = span.enter();
            pollers.push(crate::poll::spawn(&shared, tenant));
        }
        shared.triggers.trigger(&name, Cause::Start);
        workers.spawn(worker(shared.clone(), name, pause.clone()).instrument(span));
    }

    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let router = crate::server::router(shared.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = server_stopped.await;
            })
            .await
    });
    ready(addr);
    tracing::info!(%addr, tenants = shared.tenants.len(), "ladder is running");

    // An election that ends before shutdown cannot work (a CA that does not load, say):
    // this replica would stand by forever while looking ready. Stop, and say why.
    let mut failure = None;
    match elector.as_mut() {
        Some(task) => tokio::select! {
            () = shutdown => {}
            ended = task => {
                failure = Some(match ended {
                    Ok(Err(e)) => DaemonError::Election(e),
                    _ => DaemonError::Election(ladder_lease::Error::Config(
                        "the leader election stopped".into(),
                    )),
                });
                elector = None;
            }
        },
        None => shutdown.await,
    }
    tracing::info!("stopping: no new triggers; waiting for the reconciles in flight");
    shared.stopping.store(true, Ordering::SeqCst);
    shared.triggers.close();
    for poller in &pollers {
        poller.abort();
    }
    drop(watches);
    let bound = config.shutdown_timeout;
    if tokio::time::timeout(bound, async {
        while workers.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            ?bound,
            "reconciles still running at the shutdown bound: cancelling them"
        );
        shared.cancel.cancel();
        shared.term().cancel.cancel();
        // Cancelled git and forge calls return promptly; give them a moment.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        workers.abort_all();
    }
    let _ = drained.send(());
    if let Some(elector) = elector {
        match tokio::time::timeout(Duration::from_secs(10), elector).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "leader election"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the Lease was not released in time"),
        }
    }
    let _ = stop_server.send(());
    // Graceful shutdown waits for requests in flight; a client that holds one open
    // (or trickles a body) must not keep the process past the bound.
    let served = match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) | Ok(Err(_)) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(DaemonError::Serve(e)),
    };
    match failure {
        Some(e) => Err(e),
        None => served,
    }
}

/// A tenant's one worker: each time its triggers fire, one reconcile on the blocking
/// pool; afterwards, a wake-up when a soak ends, or a retry with backoff after a failure.
async fn worker(shared: Arc<Shared>, name: String, pause: Option<Arc<dyn PausePoint>>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let causes = shared.triggers.next(&name).await;
        if causes.is_empty() {
            return;
        }
        // A standby does nothing; when it leads, every tenant is triggered anew.
        if shared.acting().is_none() {
            continue;
        }
        let Some(tenant) = shared.tenant(&name) else {
            return;
        };
        let Ok(_permit) = shared.running.acquire().await else {
            return;
        };
        // The wait for a permit may have outlasted the process's will to act: a
        // shutdown takes no new work, and a replica that lost the Lease does nothing.
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Some(cancel) = shared.acting() else {
            continue;
        };
        tenant
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .syncing = true;
        let runtime = tenant.runtime.clone();
        let limits = Limits::default()
            .with_deadline(Instant::now() + RECONCILE_DEADLINE)
            .with_cancel(cancel);
        let pause = pause.clone();
        let started = Instant::now();
        let span = tracing::info_span!(
            "reconcile",
            tenant = %name,
            causes = ?causes,
            commit = tracing::field::Empty
        );
        let result = tokio::task::spawn_blocking({
            let span = span.clone();
            move || {
                let _entered = span.enter();
                sync_tenant(&runtime, limits, now(), pause.as_deref())
            }
        })
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let now = now();
        let mut status = tenant.status.lock().unwrap_or_else(|e| e.into_inner());
        status.syncing = false;
        // A failure's message and whether the configuration is at fault.
        let failure = match result {
            Ok(Ok(report)) => {
                span.record("commit", tracing::field::display(&report.commit));
                tracing::info!(
                    parent: &span,
                    commit = %report.commit,
                    writes = report.outcome.writes,
                    seconds,
                    "reconciled"
                );
                shared.metrics.reconciled(&name, seconds, Ok(&report), now);
                status.succeeded(&report, now);
                backoff = FIRST_BACKOFF;
                if let Some(at) = report.wake_at {
                    let wait = Duration::from_secs(u64::try_from(at - now).unwrap_or(0) + 1);
                    shared.triggers.wake_at(
                        &name,
                        tokio::time::Instant::now() + wait,
                        Cause::WakeUp,
                    );
                }
                None
            }
            Ok(Err(error)) => {
                let config = error.is_config();
                tracing::warn!(parent: &span, %error, config, "reconcile failed");
                Some((error.to_string(), config))
            }
            Err(panic) => {
                tracing::error!(parent: &span, error = %panic, "reconcile panicked");
                Some((format!("internal error: {panic}"), false))
            }
        };
        if let Some((message, config)) = failure {
            shared.metrics.reconciled(&name, seconds, Err(config), now);
            status.failed(message, config, now);
            if !shared.stopping.load(Ordering::SeqCst) {
                shared
                    .triggers
                    .wake_at(&name, tokio::time::Instant::now() + backoff, Cause::Retry);
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_leave_room_for_hung_servers() {
        assert_eq!(reconcile_slots(1), 8);
        assert_eq!(reconcile_slots(2), 8);
        assert_eq!(reconcile_slots(16), 64);
    }

    #[test]
    fn advertised_urls_bracket_ipv6() {
        assert_eq!(advertised_url("10.1.2.3", 8080), "http://10.1.2.3:8080");
        assert_eq!(advertised_url("fd00::7", 8080), "http://[fd00::7]:8080");
        assert_eq!(advertised_url("[fd00::7]", 80), "http://[fd00::7]:80");
    }
}

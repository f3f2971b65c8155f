//! The election loop: acquire, renew, step down, release.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout, timeout_at};
use tracing::{debug, info, warn};

use crate::client::{CallError, Client};
use crate::record::{Lease, Record, new_lease};
use crate::{Error, Leadership, LeaseConfig};

/// Contends for the Lease until `shutdown` completes, saying on `leadership` whether
/// this replica leads (only between a successful acquisition and the moment it stops
/// being sure: a failed renewal past `renew_deadline`, or a 409 on renewal that a
/// re-read does not show as still ours) and, while it does not, the address the leader
/// wrote on the Lease.
///
/// - Absent Lease: created (POST); `409 AlreadyExists` means another replica created
///   it first: read it again.
/// - Held by another replica: taken over (PUT with the `resourceVersion` read,
///   `leaseTransitions` + 1, a new `acquireTime`) once released (`holderIdentity`
///   empty) or expired: its record unchanged for its `leaseDurationSeconds` as this
///   process saw it (client-go's rule, immune to clock skew), or its `renewTime` older
///   than twice `leaseDurationSeconds` by this host's clock. A 409 means another
///   replica won.
/// - Held by us: renewed every `retry_period` (PUT with the cached `resourceVersion`).
///   [`LeaseConfig::address`] is written with every acquisition and renewal.
///
/// On `shutdown`, `leading` turns false first, then a held Lease is released
/// (`holderIdentity` cleared, `leaseDurationSeconds` 1) so a standby takes over within
/// about one `retry_period`. Returns `Err` only for a config that cannot work (see
/// [`Error`]); the API server being unreachable is retried forever, logged.
pub async fn run_election(
    config: LeaseConfig,
    leadership: watch::Sender<Leadership>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    config.validate()?;
    let client = Client::new(&config)?;
    let mut elector = Elector {
        client,
        config,
        observed: None,
        held: None,
        leadership,
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            () = elector.acquire() => {}
        }
        info!(
            lease = %elector.config.name,
            namespace = %elector.config.namespace,
            identity = %elector.config.identity,
            "became the leader"
        );
        elector.leadership.send_replace(Leadership::leading());
        let lost = tokio::select! {
            _ = &mut shutdown => false,
            () = elector.keep() => true,
        };
        elector
            .leadership
            .send_replace(Leadership::standing_by(None));
        if !lost {
            break;
        }
        elector.held = None;
        warn!(
            lease = %elector.config.name,
            namespace = %elector.config.namespace,
            "stopped leading; standing by"
        );
    }
    elector
        .leadership
        .send_replace(Leadership::standing_by(None));
    elector.release().await;
    Ok(())
}

struct Elector {
    client: Client,
    config: LeaseConfig,
    /// The record last seen, and when (this process's monotonic clock) it was first seen.
    observed: Option<(Record, Instant)>,
    /// The Lease as we last wrote it while holding it.
    held: Option<Lease>,
    leadership: watch::Sender<Leadership>,
}

/// What one renewal found.
enum Renewal {
    Renewed,
    /// Someone else holds the Lease, or we cannot tell that we still do.
    Lost(String),
}

impl Elector {
    /// Returns once this replica holds the Lease.
    async fn acquire(&mut self) {
        loop {
            match timeout(self.config.renew_deadline, self.try_acquire()).await {
                Ok(Ok(true)) => return,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    warn!(lease = %self.config.name, error = %e, "leader election: acquiring the lease failed")
                }
                Err(_) => {
                    warn!(lease = %self.config.name, "leader election: acquiring the lease timed out")
                }
            }
            // client-go's jitter (up to +120 %) keeps candidates from trying in lockstep.
            let jitter = self.config.retry_period.mul_f64(1.2 * fastrand::f64());
            sleep(self.config.retry_period + jitter).await;
        }
    }

    fn observe(&mut self, record: &Record) {
        if self.observed.as_ref().map(|(r, _)| r) != Some(record) {
            self.observed = Some((record.clone(), Instant::now()));
        }
        // A standby says where the leader is (while it leads, the record is ours).
        if !self.leadership.borrow().leading {
            let leader = (!record.holder.is_empty() && record.holder != self.config.identity)
                .then(|| record.address.clone())
                .flatten();
            self.leadership
                .send_if_modified(|l| l.set_leader_address(leader));
        }
    }

    /// Whether the last observed record may be taken over.
    fn takeable(&self, record: &Record) -> bool {
        if record.holder.is_empty() || record.holder == self.config.identity {
            return true;
        }
        let seconds = record
            .duration_seconds
            .filter(|d| *d > 0)
            .unwrap_or(self.config.lease_duration_seconds());
        let duration = Duration::from_secs(seconds as u64);
        let unchanged_long_enough = self
            .observed
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() >= duration);
        let stale_by_clock = record.renew.is_some_and(|renew| {
            let age = Timestamp::now().duration_since(renew);
            age.as_secs() >= 2 * seconds
        });
        unchanged_long_enough || stale_by_clock
    }

    /// One attempt: `Ok(true)` when this replica now holds the Lease.
    async fn try_acquire(&mut self) -> Result<bool, CallError> {
        // At most two passes: a create that loses the race reads the winner's Lease.
        for _ in 0..2 {
            let now = Timestamp::now();
            let lease = match self.client.get().await {
                Ok(lease) => lease,
                Err(CallError::NotFound) => {
                    let record = Record {
                        holder: self.config.identity.clone(),
                        duration_seconds: Some(self.config.lease_duration_seconds()),
                        acquire: Some(now),
                        renew: Some(now),
                        transitions: 0,
                        address: self.config.address.clone(),
                    };
                    let object = new_lease(&self.config.namespace, &self.config.name, &record);
                    match self.client.create(&object).await {
                        Ok(lease) => {
                            self.observe(&lease.record);
                            self.held = Some(lease);
                            return Ok(true);
                        }
                        Err(CallError::Conflict(m)) => {
                            debug!(message = %m, "leader election: the lease was created by another replica");
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            self.observe(&lease.record);
            if !self.takeable(&lease.record) {
                return Ok(false);
            }
            let old = &lease.record;
            let ours = old.holder == self.config.identity;
            let record = Record {
                holder: self.config.identity.clone(),
                duration_seconds: Some(self.config.lease_duration_seconds()),
                acquire: if ours {
                    old.acquire.or(Some(now))
                } else {
                    Some(now)
                },
                renew: Some(now),
                transitions: if ours {
                    old.transitions
                } else {
                    old.transitions + 1
                },
                address: self.config.address.clone(),
            };
            return match self.client.replace(&lease.with_record(&record)).await {
                Ok(lease) => {
                    self.observe(&lease.record);
                    self.held = Some(lease);
                    Ok(true)
                }
                Err(CallError::Conflict(m)) => {
                    debug!(message = %m, "leader election: another replica took the lease first");
                    Ok(false)
                }
                Err(e) => Err(e),
            };
        }
        Ok(false)
    }

    /// Renews until leadership is lost; returns then.
    async fn keep(&mut self) {
        // Measured from before the request that succeeded: the Lease's renewTime is no
        // earlier, so a standby cannot take over before this deadline plus the margin
        // lease_duration - renew_deadline.
        let mut renewed_at = Instant::now();
        loop {
            sleep(self.config.retry_period).await;
            loop {
                let deadline = renewed_at + self.config.renew_deadline;
                let started = Instant::now();
                if started >= deadline {
                    warn!(lease = %self.config.name, "leader election: no renewal within the renew deadline");
                    return;
                }
                match timeout_at(deadline, self.try_renew()).await {
                    Ok(Ok(Renewal::Renewed)) => {
                        renewed_at = started;
                        break;
                    }
                    Ok(Ok(Renewal::Lost(why))) => {
                        warn!(lease = %self.config.name, reason = %why, "leader election: lost the lease");
                        return;
                    }
                    Ok(Err(e)) => {
                        warn!(lease = %self.config.name, error = %e, "leader election: renewing the lease failed");
                        let pause = self.config.retry_period.min(Duration::from_millis(500));
                        sleep(pause).await;
                    }
                    Err(_) => {
                        warn!(lease = %self.config.name, "leader election: renewing timed out at the renew deadline");
                        return;
                    }
                }
            }
        }
    }

    async fn try_renew(&mut self) -> Result<Renewal, CallError> {
        let held = match &self.held {
            Some(h) => h.clone(),
            None => return Ok(Renewal::Lost("no lease held".into())),
        };
        let mut record = held.record.clone();
        record.renew = Some(Timestamp::now());
        record.duration_seconds = Some(self.config.lease_duration_seconds());
        record.address = self.config.address.clone();
        match self.client.replace(&held.with_record(&record)).await {
            Ok(lease) => {
                debug!(resource_version = %lease.resource_version, "leader election: renewed");
                self.observe(&lease.record);
                self.held = Some(lease);
                Ok(Renewal::Renewed)
            }
            Err(CallError::Conflict(m)) => {
                // Someone else wrote the Lease. Still leading only if a fresh read says
                // it is still ours (a label edit, say); then renew on top of that.
                let fresh = match self.client.get().await {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        return Ok(Renewal::Lost(format!(
                            "409 on renewal ({m}) and the lease could not be read again: {e}"
                        )));
                    }
                };
                self.observe(&fresh.record);
                if fresh.record.holder != self.config.identity {
                    return Ok(Renewal::Lost(format!(
                        "409 on renewal: the lease is held by {:?}",
                        fresh.record.holder
                    )));
                }
                self.held = Some(fresh);
                Err(CallError::Conflict(m))
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this replica holds it (or may: a write cancelled by the
    /// shutdown may have landed), bounded in time.
    async fn release(&mut self) {
        let limit = self.config.renew_deadline.min(Duration::from_secs(5));
        let name = self.config.name.clone();
        match timeout(limit, self.try_release()).await {
            Ok(Ok(true)) => info!(lease = %name, "released the lease"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                warn!(lease = %name, error = %e, "leader election: releasing the lease failed")
            }
            Err(_) => warn!(lease = %name, "leader election: releasing the lease timed out"),
        }
    }

    async fn try_release(&mut self) -> Result<bool, CallError> {
        for _ in 0..2 {
            let lease = match self.held.take() {
                Some(lease) => lease,
                None => match self.client.get().await {
                    Ok(lease) => lease,
                    Err(CallError::NotFound) => return Ok(false),
                    Err(e) => return Err(e),
                },
            };
            if lease.record.holder != self.config.identity {
                return Ok(false);
            }
            let now = Timestamp::now();
            let record = Record {
                holder: String::new(),
                duration_seconds: Some(1),
                acquire: Some(now),
                renew: Some(now),
                transitions: lease.record.transitions,
                address: None,
            };
            match self.client.replace(&lease.with_record(&record)).await {
                Ok(_) => return Ok(true),
                // The cached version was stale: read it again and retry once.
                Err(CallError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}

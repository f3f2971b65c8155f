//! `/metrics`: the daemon's Prometheus metrics, through the official client
//! (`prometheus-client`). Label values are tenant names and fixed words only, never
//! anything a tenant writes in its repo, so a tenant cannot blow up the series count.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use ladder_promote::ActionKind;
use ladder_promote::plan::{GateName, State};

use crate::sync::SyncReport;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    /// `success`, `config_error` or `error`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProposalLabels {
    tenant: String,
    /// `opened`, `updated`, `merged` or `closed`.
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GateLabels {
    tenant: String,
    gate: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tenant: String,
    /// `read`, `write`, `not_modified` (a read answered 304) or `retry`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    /// `github`, `gitea` or `gitlab`.
    provider: String,
    /// `accepted`, `ignored`, `unauthorized`, `unknown_repo`, `too_large`, `bad_request`.
    result: String,
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<OutcomeLabels, Counter>,
    duration: Family<TenantLabels, Histogram>,
    proposals: Family<ProposalLabels, Counter>,
    blocked: Family<GateLabels, Gauge>,
    forge_writes: Family<TenantLabels, Counter>,
    forge_calls: Family<CallLabels, Counter>,
    rate_limit: Family<TenantLabels, Gauge>,
    webhooks: Family<WebhookLabels, Counter>,
    last_success: Family<TenantLabels, Gauge>,
    leader: Gauge,
    /// Encoding takes `&Registry`; one scrape at a time keeps the text consistent.
    encode: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ladder");
        let reconciles = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by tenant and outcome",
            reconciles.clone(),
        );
        let duration = Family::<TenantLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
            ])
        });
        registry.register(
            "reconcile_duration_seconds",
            "How long a tenant's reconcile took",
            duration.clone(),
        );
        let proposals = Family::<ProposalLabels, Counter>::default();
        registry.register(
            "proposals",
            "Promotion proposals opened, updated, merged and closed",
            proposals.clone(),
        );
        let blocked = Family::<GateLabels, Gauge>::default();
        registry.register(
            "gate_blocked_promotions",
            "Promotions a gate holds now, by gate",
            blocked.clone(),
        );
        let forge_writes = Family::<TenantLabels, Counter>::default();
        registry.register(
            "forge_writes",
            "Branch writes sent to the tenant's forge",
            forge_writes.clone(),
        );
        let forge_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "forge_api_calls",
            "Forge API calls by kind (GitHub: reads, writes, 304s, retries)",
            forge_calls.clone(),
        );
        let rate_limit = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "forge_rate_limit_remaining",
            "The forge API budget left, as the forge last reported it",
            rate_limit.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by provider and result",
            webhooks.clone(),
        );
        let last_success = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "last_successful_sync_timestamp_seconds",
            "When the tenant last reconciled successfully (Unix time)",
            last_success.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica leads (always, without leader election)",
            leader.clone(),
        );
        Metrics {
            registry,
            leader,
            reconciles,
            duration,
            proposals,
            blocked,
            forge_writes,
            forge_calls,
            rate_limit,
            webhooks,
            last_success,
            encode: Mutex::new(()),
        }
    }

    fn tenant(name: &str) -> TenantLabels {
        TenantLabels {
            tenant: name.to_string(),
        }
    }

    /// Records a reconcile: its outcome and duration, and for a successful one what it
    /// did.
    pub fn reconciled(
        &self,
        tenant: &str,
        seconds: f64,
        result: Result<&SyncReport, bool>,
        now: i64,
    ) {
        let outcome = match result {
            Ok(_) => "success",
            Err(true) => "config_error",
            Err(false) => "error",
        };
        self.reconciles
            .get_or_create(&OutcomeLabels {
                tenant: tenant.to_string(),
                outcome: outcome.into(),
            })
            .inc();
        self.duration
            .get_or_create(&Self::tenant(tenant))
            .observe(seconds);
        let Ok(report) = result else {
            return;
        };
        self.last_success
            .get_or_create(&Self::tenant(tenant))
            .set(now);
        for action in &report.outcome.actions {
            let word = match action.kind {
                ActionKind::Open if action.written => "opened",
                ActionKind::Update if action.written => "updated",
                ActionKind::Close if action.written => "closed",
                _ if action.merged => "merged",
                _ => continue,
            };
            self.proposals
                .get_or_create(&ProposalLabels {
                    tenant: tenant.to_string(),
                    action: word.into(),
                })
                .inc();
            if action.merged && word != "merged" {
                self.proposals
                    .get_or_create(&ProposalLabels {
                        tenant: tenant.to_string(),
                        action: "merged".into(),
                    })
                    .inc();
            }
        }
        for gate in [
            GateName::Soak,
            GateName::Frozen,
            GateName::SyncWindow,
            GateName::Readiness,
        ] {
            let count = report
                .plan
                .promotions
                .iter()
                .filter(|row| row.state == State::Blocked)
                .filter(|row| row.gates.iter().any(|g| g.name == gate && !g.passed))
                .count();
            self.blocked
                .get_or_create(&GateLabels {
                    tenant: tenant.to_string(),
                    gate: gate_word(gate).into(),
                })
                .set(count as i64);
        }
        self.forge_writes
            .get_or_create(&Self::tenant(tenant))
            .inc_by(report.outcome.writes as u64);
        if let Some(calls) = report.forge_calls {
            for (kind, n) in [
                ("read", calls.reads),
                ("write", calls.writes),
                ("not_modified", calls.not_modified),
                ("retry", calls.retries),
            ] {
                self.forge_calls
                    .get_or_create(&CallLabels {
                        tenant: tenant.to_string(),
                        kind: kind.into(),
                    })
                    .inc_by(n);
            }
        }
        if let Some(left) = report.rate_limit_remaining {
            self.rate_limit
                .get_or_create(&Self::tenant(tenant))
                .set(i64::try_from(left).unwrap_or(i64::MAX));
        }
    }

    /// Records whether this replica leads.
    pub fn leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Records a webhook delivery.
    pub fn webhook(&self, provider: &str, result: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                provider: provider.into(),
                result: result.into(),
            })
            .inc();
    }

    /// The metrics in the OpenMetrics text format (what the client library writes).
    pub fn encode_openmetrics(&self) -> String {
        let _one = self.encode.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The metrics in Prometheus' own text format (0.0.4), for scrapers and tools that
    /// do not ask for OpenMetrics (`promtool check metrics` among them).
    pub fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode_openmetrics())
    }
}

/// OpenMetrics text as Prometheus text: a counter family is named with its `_total`
/// suffix there (OpenMetrics names the family without it), and there is no `# EOF` or
/// `# UNIT`.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.insert(name.to_string());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn gate_word(gate: GateName) -> &'static str {
    match gate {
        GateName::Soak => "soak",
        GateName::Frozen => "frozen",
        GateName::SyncWindow => "syncWindow",
        GateName::Readiness => "readiness",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_counter_families_with_their_total_suffix() {
        let metrics = Metrics::new();
        metrics.webhook("github", "accepted");
        let text = metrics.encode_prometheus();
        assert!(
            text.contains("# HELP ladder_webhook_deliveries_total Webhook deliveries"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ladder_webhook_deliveries_total counter"),
            "{text}"
        );
        assert!(
            text.contains(
                "ladder_webhook_deliveries_total{provider=\"github\",result=\"accepted\"} 1"
            ),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
        assert!(metrics.encode_openmetrics().ends_with("# EOF\n"));
    }
}

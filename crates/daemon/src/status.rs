//! What `/api/v1/status` and `/readyz` report, per tenant. The JSON is a contract (a web
//! promotion board is built on it): docs/status-api.md documents it, and fields are only
//! ever added.

use std::collections::BTreeMap;

use ladder_promote::plan::{ProposalRef, Row, State};
use serde::Serialize;

use crate::sync::{RenderReport, SyncReport};

/// The whole status document.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Whether this replica leads (always true without leader election); a standby's
    /// tenants show what it saw while it last led, if ever.
    pub leader: bool,
    pub tenants: Vec<TenantStatus>,
}

/// One tenant.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    pub name: String,
    /// The repo as configured (a URL without credentials, or a checkout's path).
    pub repo: String,
    /// Synced successfully at least once since the daemon started.
    pub ready: bool,
    /// A reconcile is running now.
    pub syncing: bool,
    /// The end of the last successful reconcile (RFC 3339, UTC).
    pub last_sync: Option<String>,
    /// The end of the last reconcile, successful or not.
    pub last_attempt: Option<String>,
    /// Why the last reconcile failed; `null` after a success.
    pub last_error: Option<LastError>,
    /// The config branch and the commit the last successful reconcile read.
    pub branch: Option<String>,
    pub config_commit: Option<String>,
    pub render: Option<RenderStatus>,
    /// The tenant's environments, in promotion order.
    pub environments: Vec<String>,
    /// The app x environment matrix of promoted values.
    pub apps: Vec<AppValues>,
    /// Promotions that are not in sync: due, blocked, proposed, diverged or held, with
    /// their gates.
    pub pending: Vec<Row>,
    /// Open proposals.
    pub proposals: Vec<ProposalStatus>,
    pub forge: Option<ForgeStatus>,
    /// When the daemon wakes up by itself for this tenant (a soak ending), RFC 3339.
    pub next_wake_up: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    pub message: String,
    /// The tenant's own config is at fault (its people must fix it), rather than the
    /// network, a forge or the platform.
    pub config: bool,
    pub at: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderStatus {
    /// `branch`, `path` or `none`.
    pub target: String,
    /// The render branch, or for `path` the open proposal's branch (`null` once the
    /// folder holds the render).
    pub branch: Option<String>,
    /// The commit holding the last render (for `path` in place: the config commit).
    pub commit: Option<String>,
    /// The config commit it was rendered from.
    pub source_commit: String,
    pub documents: Option<usize>,
}

/// One app's promoted values in each environment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppValues {
    pub name: String,
    /// Environment name -> its promoted values.
    pub values: BTreeMap<String, Vec<PromotedValue>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotedValue {
    pub file: String,
    pub path: String,
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalStatus {
    pub app: String,
    pub env: String,
    #[serde(flatten)]
    pub proposal: ProposalRef,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgeStatus {
    #[serde(rename = "type")]
    pub kind: String,
    pub rate_limit_remaining: Option<u64>,
}

/// RFC 3339 in UTC for seconds since the Unix epoch.
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn json(value: &yamledit::Value) -> serde_json::Value {
    serde_json::from_str(&value.to_json()).unwrap_or(serde_json::Value::Null)
}

impl TenantStatus {
    /// Records a successful reconcile.
    pub fn succeeded(&mut self, report: &SyncReport, now: i64) {
        self.ready = true;
        self.last_sync = Some(rfc3339(now));
        self.last_attempt = Some(rfc3339(now));
        self.last_error = None;
        self.branch = Some(report.branch.clone());
        self.config_commit = Some(report.commit.to_string());
        self.render = Some(match &report.render {
            RenderReport::Checked { documents } => RenderStatus {
                target: "none".into(),
                branch: None,
                commit: None,
                source_commit: report.commit.to_string(),
                documents: Some(*documents),
            },
            RenderReport::Published { branch, commit }
            | RenderReport::Unchanged { branch, commit } => RenderStatus {
                target: "branch".into(),
                branch: Some(branch.clone()),
                commit: Some(commit.to_string()),
                source_commit: report.commit.to_string(),
                documents: None,
            },
            RenderReport::Proposed { branch, commit } => RenderStatus {
                target: "path".into(),
                branch: Some(branch.clone()),
                commit: Some(commit.to_string()),
                source_commit: report.commit.to_string(),
                documents: None,
            },
            RenderReport::InPlace { commit, .. } => RenderStatus {
                target: "path".into(),
                branch: None,
                commit: Some(commit.to_string()),
                source_commit: report.commit.to_string(),
                documents: None,
            },
        });
        self.environments = report.environments.clone();
        self.apps = matrix(&report.plan.promotions);
        self.pending = report
            .plan
            .promotions
            .iter()
            .filter(|row| row.state != State::InSync)
            .cloned()
            .collect();
        self.proposals = report
            .plan
            .promotions
            .iter()
            .filter_map(|row| {
                row.proposal.clone().map(|proposal| ProposalStatus {
                    app: row.app.clone(),
                    env: row.env.clone(),
                    proposal,
                })
            })
            .collect();
        self.forge = Some(ForgeStatus {
            kind: report.forge.to_string(),
            rate_limit_remaining: report.rate_limit_remaining,
        });
        self.next_wake_up = report.wake_at.map(rfc3339);
    }

    /// Records a failed reconcile; what the last good one showed stays.
    pub fn failed(&mut self, message: String, config: bool, now: i64) {
        self.last_attempt = Some(rfc3339(now));
        self.last_error = Some(LastError {
            message,
            config,
            at: rfc3339(now),
        });
    }
}

/// The promoted values of every app in every environment the plan compares: a row's
/// current values are its environment's, its upstream values the upstream's.
fn matrix(rows: &[Row]) -> Vec<AppValues> {
    let mut apps: BTreeMap<String, BTreeMap<String, Vec<PromotedValue>>> = BTreeMap::new();
    for row in rows {
        let app = apps.entry(row.app.clone()).or_default();
        let here: Vec<PromotedValue> = row
            .fields
            .iter()
            .map(|f| PromotedValue {
                file: f.file.clone(),
                path: f.path.clone(),
                value: json(&f.current),
            })
            .collect();
        app.insert(row.env.clone(), here);
        app.entry(row.from.clone()).or_insert_with(|| {
            row.fields
                .iter()
                .map(|f| PromotedValue {
                    file: f.upstream_file.clone(),
                    path: f.path.clone(),
                    value: json(&f.upstream),
                })
                .collect()
        });
    }
    apps.into_iter()
        .map(|(name, values)| AppValues { name, values })
        .collect()
}

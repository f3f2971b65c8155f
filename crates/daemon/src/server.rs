//! The HTTP server (axum): `/healthz`, `/readyz`, `/metrics`, `/api/v1/status`, and the
//! webhook endpoints. A webhook only schedules work and answers at once (202); the
//! tenant's worker does the rest.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ladder_watch::{Cause, HookError, HookEvent, SignatureError};
use serde_json::json;

use crate::daemon::Shared;
use crate::forward;

/// The largest webhook body taken; GitHub caps its payloads at 25 MB, but a push event
/// ladder cares about is a few kilobytes, and the body is read before it is verified.
pub const MAX_WEBHOOK_BODY: usize = 1 << 20;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/hooks/github", post(github))
        .route("/hooks/gitea", post(gitea))
        .route("/hooks/gitlab", post(gitlab))
        .with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let leader = shared.leads();
    // A standby is ready: it serves and stands by, and a rollout must not wait for it
    // to sync tenants it leaves to the leader.
    if shared.elected && !leader {
        return axum::Json(json!({"ready": true, "leader": false, "notReady": []})).into_response();
    }
    let status = shared.status();
    let waiting: Vec<serde_json::Value> = status
        .tenants
        .iter()
        .filter(|t| !t.ready)
        .map(|t| {
            let reason = t
                .last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "not synced yet".into());
            json!({"name": t.name, "reason": reason})
        })
        .collect();
    let code = if waiting.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(json!({"ready": waiting.is_empty(), "leader": leader, "notReady": waiting})),
    )
        .into_response()
}

/// OpenMetrics to scrapers that ask for it (Prometheus does), Prometheus text to the
/// rest.
async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            shared.metrics.encode_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            shared.metrics.encode_prometheus(),
        )
            .into_response()
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.status()).into_response()
}

async fn github(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    hook(&shared, Provider::GitHub, &headers, body).await
}

async fn gitea(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    hook(&shared, Provider::Gitea, &headers, body).await
}

async fn gitlab(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    hook(&shared, Provider::GitLab, &headers, body).await
}

#[derive(Clone, Copy)]
enum Provider {
    GitHub,
    Gitea,
    GitLab,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Gitea => "gitea",
            Provider::GitLab => "gitlab",
        }
    }

    fn parse(self, headers: &HeaderMap, body: &[u8]) -> Result<Option<HookEvent>, HookError> {
        let event = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        match self {
            Provider::GitHub => ladder_watch::parse_github(&event("x-github-event"), body),
            Provider::Gitea => ladder_watch::parse_gitea(&event("x-gitea-event"), body),
            Provider::GitLab => ladder_watch::parse_gitlab(&event("x-gitlab-event"), body),
        }
    }

    fn verify(self, secret: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match self {
            Provider::GitHub => {
                ladder_watch::verify_github(secret, body, header("x-hub-signature-256"))
            }
            Provider::Gitea => {
                ladder_watch::verify_gitea(secret, body, header("x-gitea-signature"))
            }
            Provider::GitLab => ladder_watch::verify_gitlab(secret, header("x-gitlab-token")),
        }
    }
}

fn answer(
    shared: &Shared,
    provider: Provider,
    code: StatusCode,
    result: &str,
    text: &str,
) -> Response {
    shared.metrics.webhook(provider.name(), result);
    (code, axum::Json(json!({"result": result, "message": text}))).into_response()
}

/// One delivery: bounded, verified against the tenants' secrets (in constant time),
/// parsed, matched to the verified tenants whose repo it names, and turned into
/// triggers.
async fn hook(shared: &Shared, provider: Provider, headers: &HeaderMap, body: Body) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_WEBHOOK_BODY).await else {
        return answer(
            shared,
            provider,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is over 1 MiB",
        );
    };
    // The signature first, against every tenant's secret (each comparison in constant
    // time): an unsigned or wrongly signed delivery gets 401 and learns nothing, not
    // even whether its repository is configured.
    let mut verified = Vec::new();
    for tenant in &shared.tenants {
        let Some(file) = &tenant.runtime.config.webhook_secret_file else {
            continue;
        };
        let Ok(secret) = std::fs::read(file) else {
            tracing::warn!(tenant = %tenant.runtime.config.name, file = %file.display(), "cannot read the webhook secret file");
            continue;
        };
        if provider
            .verify(trim_newline(&secret), headers, &body)
            .is_ok()
        {
            verified.push(tenant);
        }
    }
    if verified.is_empty() {
        return answer(
            shared,
            provider,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the signature is missing or wrong",
        );
    }
    let event = match provider.parse(headers, &body) {
        Ok(Some(event)) => event,
        Ok(None) => {
            return answer(
                shared,
                provider,
                StatusCode::ACCEPTED,
                "ignored",
                "an event ladder does not act on",
            );
        }
        Err(e) => {
            return answer(
                shared,
                provider,
                StatusCode::BAD_REQUEST,
                "bad_request",
                &e.to_string(),
            );
        }
    };
    // Only the tenants whose secret signed it, and whose repository it names.
    verified.retain(|t| {
        t.runtime.config.repo.as_deref().is_some_and(|configured| {
            event
                .repo_urls
                .iter()
                .any(|url| ladder_watch::same_repo(configured, url))
        })
    });
    if verified.is_empty() {
        return answer(
            shared,
            provider,
            StatusCode::NOT_FOUND,
            "unknown_repo",
            "no tenant with this secret is configured with this repository",
        );
    }
    // A standby acts on nothing: the leader gets the delivery.
    if shared.elected && !shared.leads() {
        return pass_to_leader(shared, provider, headers, body).await;
    }
    let mut triggered = 0;
    for tenant in verified {
        let name = &tenant.runtime.config.name;
        let branch = tenant
            .status
            .lock()
            .ok()
            .and_then(|s| s.branch.clone())
            .or_else(|| tenant.runtime.config.branch.clone());
        // A push to another branch (ladder's own proposal branches among them) changes
        // nothing the reconcile reads.
        if let (Some(pushed), Some(branch)) = (&event.branch, &branch)
            && pushed != branch
        {
            continue;
        }
        shared.triggers.trigger(name, Cause::Webhook);
        triggered += 1;
    }
    if triggered == 0 {
        return answer(
            shared,
            provider,
            StatusCode::ACCEPTED,
            "ignored",
            "a push to a branch ladder does not read",
        );
    }
    answer(
        shared,
        provider,
        StatusCode::ACCEPTED,
        "accepted",
        "scheduled",
    )
}

/// A delivery a standby received, passed on to the leader (see [`forward`]); the leader's
/// answer, or 503 when there is no leader to take it, so the sender may redeliver.
async fn pass_to_leader(
    shared: &Shared,
    provider: Provider,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let unavailable = |result: &str, text: &str| {
        answer(
            shared,
            provider,
            StatusCode::SERVICE_UNAVAILABLE,
            result,
            text,
        )
    };
    if headers.contains_key(forward::FORWARDED) {
        return unavailable(
            "not_leader",
            "passed on to this replica as the leader, but it does not lead (the Lease is changing hands): redeliver",
        );
    }
    let leader = shared.leading.borrow().leader_address.clone();
    let Some(leader) = leader else {
        return unavailable(
            "no_leader",
            "this replica stands by and knows no leader to pass the delivery to (a leader writes its address on the Lease when it has POD_IP): redeliver it",
        );
    };
    let path = format!("/hooks/{}", provider.name());
    match forward::to_leader(&leader, &path, headers, body).await {
        Ok((code, text)) => {
            shared.metrics.webhook(provider.name(), "forwarded");
            (code, [(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "passing a webhook on to the leader failed");
            unavailable(
                "no_leader",
                &format!("this replica stands by; {e}: redeliver it"),
            )
        }
    }
}

/// Secret files usually end with a newline the secret does not have.
fn trim_newline(secret: &[u8]) -> &[u8] {
    let mut end = secret.len();
    while end > 0 && matches!(secret[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &secret[..end]
}

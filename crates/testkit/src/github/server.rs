//! The HTTP side: axum on its own tokio runtime in a background thread, one handler for
//! every request. API requests (`/api/v3/...`) go through faults, authentication, the
//! endpoint, ETags and the rate limit, are recorded and checked against the OpenAPI
//! description; `/{owner}/{repo}.git/...` is smart HTTP on the bare repo.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::openapi::{self, Exchange};
use super::routes::{self, Call, Reply};
use super::state::{RATE_LIMIT, State, now};
use super::{ApiRequest, Fault, auth};
use crate::servers::axum_thread::AxumThread;
use crate::servers::cgi::{http_backend, parse_cgi};

pub(crate) type Shared = Arc<Mutex<State>>;

/// The running server: stops (and its runtime with it) when dropped.
pub(crate) struct Server {
    pub app: AxumThread,
}

impl Server {
    /// Serves a new state, made knowing the port it is served on.
    pub fn start(make_state: impl FnOnce(u16) -> State) -> (Server, Shared) {
        let mut shared = None;
        let app = AxumThread::start(2, |port| {
            let state: Shared = Arc::new(Mutex::new(make_state(port)));
            shared = Some(state.clone());
            axum::Router::new().fallback(move |request: Request| {
                let state = state.clone();
                async move { handle(state, request).await }
            })
        });
        let shared = shared.expect("the app was made");
        (Server { app }, shared)
    }
}

async fn handle(state: Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return plain(400, "unreadable body"),
    };
    // Endpoints run git and take the state's lock: off the async workers.
    tokio::task::spawn_blocking(move || {
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or("").to_string();
        if let Some(api_path) = path.strip_prefix("/api/v3") {
            api(
                &state,
                &parts.method,
                api_path,
                &query,
                &parts.headers,
                &body,
            )
        } else {
            git_http(&state, &parts.method, &path, &query, &parts.headers, body)
        }
    })
    .await
    .unwrap_or_else(|_| plain(500, "the fake GitHub panicked"))
}

fn plain(status: u16, text: &str) -> Response {
    Response::builder()
        .status(status)
        .body(Body::from(text.to_string()))
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `a=1&b=x%3Ay` as decoded pairs.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| routes::percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

fn api(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let method = method.as_str();
    let conditional = header(headers, "if-none-match");
    let request_json: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(body).ok()
    };
    let mut st = shared.lock().unwrap();
    st.api_count += 1;
    st.roll_rate_window();
    let auth_header = header(headers, "authorization");
    let authenticated = auth::authenticate(&st, auth_header);
    let auth_kind = match &authenticated {
        Ok(Some(auth::Actor::User { .. })) => "token",
        Ok(Some(auth::Actor::App { .. })) => "jwt",
        Ok(Some(auth::Actor::Installation { .. })) => "installation",
        Ok(None) => "none",
        // Refused credentials: say what was presented.
        Err(_) if auth_header.is_some_and(|h| h.matches('.').count() == 2) => "jwt",
        Err(_) => "token",
    };
    let n = st.api_count;
    let mut extra_rate: Option<(u64, u64)> = None;
    // A periodic fault wins; a one-shot one then waits for the next match.
    let fault = match st.fault_for(n) {
        Some(f) => Some(f),
        None => st.take_next_fault(method, path),
    };
    let lost_reply = fault == Some(Fault::LostReply);
    let mut reply = if let Some(fault) = fault.filter(|f| *f != Fault::LostReply) {
        let (reply, rate) = fault_reply(&fault);
        extra_rate = rate;
        reply
    } else if !body.is_empty() && request_json.is_none() {
        Reply::generic(400, "Problems parsing JSON")
    } else {
        match authenticated {
            Err(refused) => Reply::generic(401, refused.0),
            Ok(actor) => {
                let call = Call {
                    method,
                    path,
                    query: parse_query(query),
                    body: request_json.as_ref().unwrap_or(&Value::Null),
                    actor,
                };
                routes::dispatch(&mut st, &call)
            }
        }
    };
    // The request took effect; its answer is lost on the way: a 502 instead. What the
    // endpoint answered is still checked against the description.
    let lost = if lost_reply {
        Some(std::mem::replace(
            &mut reply,
            Reply::generic(502, "Server Error"),
        ))
    } else {
        None
    };
    let body_bytes = reply
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut status = reply.status;
    let mut etag = None;
    if method == "GET" && status == 200 {
        let tag = format!("W/\"{:016x}\"", fnv(&body_bytes));
        let matched = conditional.is_some_and(|c| {
            c.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag.trim_start_matches("W/"))
        });
        if matched {
            status = 304;
        }
        etag = Some(tag);
    }
    // GitHub does not count a 304 against the limit.
    if status != 304 {
        st.rate_used += 1;
    }
    let (remaining, reset) =
        extra_rate.unwrap_or((RATE_LIMIT.saturating_sub(st.rate_used), st.rate_reset));
    let used = st.rate_used;
    st.requests.push(ApiRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        status,
        write: matches!(method, "POST" | "PATCH" | "PUT" | "DELETE"),
        conditional: conditional.is_some(),
        auth: auth_kind.to_string(),
    });
    drop(st);

    // The check runs outside the lock: the first one loads the description.
    let response_json = if status == 304 {
        None
    } else {
        reply.body.as_ref()
    };
    let violations = match openapi::spec() {
        Ok(spec) => {
            let mut v = spec.check(&Exchange {
                method,
                path,
                request: request_json.as_ref(),
                status,
                response: response_json,
                conditional: conditional.is_some(),
                generic: reply.generic,
            });
            if let Some(lost) = &lost {
                v.extend(spec.check(&Exchange {
                    method,
                    path,
                    request: request_json.as_ref(),
                    status: lost.status,
                    response: lost.body.as_ref(),
                    conditional: conditional.is_some(),
                    generic: lost.generic,
                }));
            }
            v
        }
        Err(e) => vec![e],
    };
    if !violations.is_empty() {
        shared.lock().unwrap().violations.extend(violations);
    }

    let mut builder = Response::builder()
        .status(status)
        .header("x-ratelimit-limit", RATE_LIMIT.to_string())
        .header("x-ratelimit-remaining", remaining.to_string())
        .header("x-ratelimit-reset", reset.to_string())
        .header("x-ratelimit-used", used.to_string())
        .header("x-ratelimit-resource", "core")
        .header("x-github-api-version-selected", "2022-11-28");
    if let Some(tag) = etag {
        builder = builder.header("etag", tag);
    }
    for (k, v) in reply.headers.drain(..) {
        builder = builder.header(k, v);
    }
    if status == 304 || reply.body.is_none() {
        return builder.body(Body::empty()).unwrap();
    }
    builder
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body_bytes))
        .unwrap()
}

/// The answer a fault gives instead of the endpoint's, and the rate-limit headers it
/// carries when they differ from the real count.
fn fault_reply(fault: &Fault) -> (Reply, Option<(u64, u64)>) {
    match fault {
        Fault::SecondaryRateLimit { retry_after_secs } => {
            let mut r = Reply::generic(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
            );
            r.headers
                .push(("retry-after".into(), retry_after_secs.to_string()));
            (r, None)
        }
        Fault::PrimaryRateLimit { reset_in_secs } => (
            Reply::generic(
                403,
                "API rate limit exceeded for user. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
            ),
            Some((0, now() + reset_in_secs)),
        ),
        Fault::ServerError(status) => (Reply::generic(*status, "Server Error"), None),
        // Answered after the endpoint ran (see `api`).
        Fault::LostReply => (Reply::generic(502, "Server Error"), None),
    }
}

/// FNV-1a: a stable hash (the same in every process) for ETags.
fn fnv(bytes: &[u8]) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100000001b3);
            }
        }
    }
    let mut h = Fnv(0xcbf29ce484222325);
    h.write(bytes);
    h.finish()
}

/// Smart HTTP on a registered repo, behind basic auth: the password must be a token that
/// can see the repo (any user name; GitHub wants `x-access-token` with App tokens and
/// ignores it otherwise). Unknown tokens get 401 (git then asks for credentials), tokens
/// without access 404.
fn git_http(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Some((full_name, rest)) = path
        .trim_start_matches('/')
        .split_once(".git/")
        .map(|(name, rest)| (name.to_string(), format!("/{rest}")))
    else {
        return plain(404, "Not Found");
    };
    let key = full_name.to_ascii_lowercase();
    let bare = {
        let st = shared.lock().unwrap();
        let Some(repo) = st.repos.get(&key) else {
            return plain(404, "Repository not found.");
        };
        let password = header(headers, "authorization")
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|userpass| userpass.split_once(':').map(|(_, p)| p.to_string()));
        match password.and_then(|p| auth::token_sees(&st, &p, &key)) {
            None => {
                return Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header("www-authenticate", "Basic realm=\"GitHub\"")
                    .body(Body::empty())
                    .unwrap();
            }
            Some(false) => return plain(404, "Repository not found."),
            Some(true) => repo.bare.clone(),
        }
    };
    if method == Method::GET && rest == "/info/refs" {
        shared.lock().unwrap().ref_advertisements += 1;
    }
    let dir = bare.path();
    let (Some(root), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return plain(500, "bare repo has no parent folder");
    };
    let headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let cgi = match http_backend(
        root,
        "x-access-token",
        method.as_str(),
        &format!("/{name}{rest}"),
        query,
        &headers,
        body.to_vec(),
    ) {
        Ok(cgi) => cgi,
        Err(e) => return plain(500, &e.to_string()),
    };
    let (code, cgi_headers, payload) = parse_cgi(&cgi);
    let mut builder = Response::builder().status(code);
    for (k, v) in cgi_headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::from(payload.to_vec())).unwrap()
}

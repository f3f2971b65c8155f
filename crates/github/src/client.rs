//! HTTP to the GitHub API: octocrab for the transport, base URI and credentials; this
//! module for what ladder needs on top, because it needs the response headers:
//! retries (rate limits, server errors, connection failures) within a time budget,
//! conditional GETs (ETag + remembered body), the rate-limit budget left, pagination
//! links, and call counts.

use crate::cache::{Remembered, ResponseCache};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, StatusCode};
use ladder_git::Cancel;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;

use crate::auth::Authenticator;
use crate::error::GitHubError;
use crate::options::{GitHubOptions, RepoName};

/// One attempt may take this long before it counts as a connection failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// The first wait after a secondary rate limit that names none; it doubles per attempt
/// (with jitter) up to [`SECONDARY_CAP`], so a short retry budget still gets a few
/// tries instead of one wait as long as the whole budget.
const SECONDARY_BASE: Duration = Duration::from_secs(4);
/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_CAP: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(20);
const API_VERSION: &str = "2022-11-28";

/// API calls made so far (each HTTP request sent counts, retries included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// GET requests, `not_modified` ones included.
    pub reads: u64,
    /// Every other method.
    pub writes: u64,
    /// GETs answered 304 from a remembered ETag (free of GitHub's rate limit).
    pub not_modified: u64,
    /// Requests sent again after a rate limit, a server error or a connection failure.
    pub retries: u64,
}

#[derive(Default)]
struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
}

/// An answer, its body read.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: String,
    /// The `Link` header, for pagination.
    pub link: Option<String>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|e| GitHubError::Decode {
            what: what.to_string(),
            message: e.to_string(),
        })
    }

    /// GitHub's explanation: its `message` and each of its `errors`.
    pub fn message(&self) -> String {
        error_message(&self.body)
    }
}

/// The text of a GitHub error body (`{"message": .., "errors": [..]}`).
pub(crate) fn error_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.chars().take(200).collect();
    };
    let mut parts = Vec::new();
    if let Some(m) = value.get("message").and_then(|m| m.as_str()) {
        parts.push(m.to_string());
    }
    for e in value
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(m) = e.as_str() {
            parts.push(m.to_string());
        } else if let Some(m) = e.get("message").and_then(|m| m.as_str()) {
            parts.push(m.to_string());
        } else if let Some(code) = e.get("code").and_then(|c| c.as_str()) {
            let field = e.get("field").and_then(|f| f.as_str()).unwrap_or_default();
            parts.push(format!("{field} {code}").trim().to_string());
        }
    }
    parts.join("; ")
}

/// Why an attempt is to be repeated, and after how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A secondary rate limit (`retry-after`, or GitHub's one-minute advice).
    Secondary(Duration),
    /// The primary rate limit is spent until `reset` (seconds since the epoch).
    Primary { wait: Duration, reset: i64 },
    /// A server error or a failed connection: exponential backoff.
    Backoff(Duration),
}

impl Wait {
    fn duration(self) -> Duration {
        match self {
            Wait::Secondary(d) | Wait::Backoff(d) | Wait::Primary { wait: d, .. } => d,
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Whether (and how long) to wait before repeating a request that got this answer.
/// `jitter` is in `[0, 1)`.
pub(crate) fn retry_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now_epoch: i64,
    attempt: u32,
    jitter: f64,
) -> Option<Wait> {
    let code = status.as_u16();
    if code == 403 || code == 429 {
        if let Some(secs) = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
            return Some(Wait::Secondary(Duration::from_secs(secs)));
        }
        if header(headers, "x-ratelimit-remaining") == Some("0") {
            let reset = header(headers, "x-ratelimit-reset")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(now_epoch + 60);
            // The reset second itself may still be limited: one more to be sure.
            let wait = Duration::from_secs((reset - now_epoch).max(0) as u64 + 1);
            return Some(Wait::Primary { wait, reset });
        }
        if code == 429 || body.to_ascii_lowercase().contains("secondary rate limit") {
            return Some(Wait::Secondary(secondary_wait(attempt, jitter)));
        }
        return None;
    }
    if status.is_server_error() {
        return Some(Wait::Backoff(backoff(attempt, jitter)));
    }
    None
}

/// The wait after a secondary rate limit without `retry-after`: exponential from
/// [`SECONDARY_BASE`] to [`SECONDARY_CAP`], with equal jitter.
pub(crate) fn secondary_wait(attempt: u32, jitter: f64) -> Duration {
    let step = SECONDARY_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(SECONDARY_CAP);
    step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

/// Whether a request may be sent again after a server error or a lost answer. GET,
/// PUT and DELETE are idempotent (ladder's PUT is a merge pinned to a head `sha`); a
/// POST or PATCH may have taken effect before the error (a comment posted twice), so it
/// is repeated only when it surely had none: a rate limit refused it, or the connection
/// was never made ([`never_sent`]).
fn idempotent(method: &Method) -> bool {
    !matches!(*method, Method::POST | Method::PATCH)
}

/// Whether a transport failure happened before the request left (no connection: it
/// cannot have taken effect).
fn never_sent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "connection refused",
        "error trying to connect",
        "tcp connect error",
        "dns error",
        "failed to lookup address",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// The permission a refused call needs, from its path and method, for the message of a
/// 403 that is not a rate limit.
pub(crate) fn permission_for(method: &Method, path: &str) -> &'static str {
    let write = *method != Method::GET;
    if path.contains("/git/") || path.ends_with("/merge") {
        if write {
            "contents: write"
        } else {
            "contents: read"
        }
    } else if path.contains("/check-runs") {
        "checks: read"
    } else if path.contains("/status") {
        "commit statuses: read"
    } else if path.contains("/labels") || path.contains("/issues/") {
        if write {
            "issues: write (or pull requests: write)"
        } else {
            "issues: read"
        }
    } else if write {
        "pull requests: write"
    } else {
        "pull requests: read"
    }
}

/// Exponential backoff with equal jitter: half the step fixed, half random.
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

fn jitter() -> f64 {
    // Enough to keep promoters from retrying in lockstep; no need for a real RNG.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x % 1_000_000) as f64 / 1_000_000.0
}

fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The `rel="next"` URL of a `Link` header.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| url.to_string())
    })
}

/// Percent-encodes `s` for a URL path: `/` is kept when `keep_slash` (branch names in
/// ref paths), everything outside RFC 3986's unreserved characters is encoded.
pub(crate) fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) struct Client {
    /// The API's origin (`https://HOST[:PORT]`) and path prefix (`/api/v3` or empty).
    origin: String,
    base_path: String,
    pub repo: RepoName,
    retry_budget: Duration,
    pub auth: Authenticator,
    cache: ResponseCache,
    /// Once set, no further request is sent (nor retried).
    cancel: Cancel,
    /// `x-ratelimit-remaining` as last seen; `u64::MAX` before any.
    remaining: AtomicU64,
    counters: Counters,
}

impl Client {
    pub fn new(
        options: &GitHubOptions,
        auth: Authenticator,
        cancel: Cancel,
    ) -> Result<Client, GitHubError> {
        let (origin, base_path) = split_api_url(&options.api_url)?;
        Ok(Client {
            origin,
            base_path,
            repo: options.repository.clone(),
            retry_budget: options.retry_budget,
            auth,
            cache: options.cache.clone(),
            cancel,
            remaining: AtomicU64::new(u64::MAX),
            counters: Counters::default(),
        })
    }

    pub fn api_url(&self) -> String {
        format!("{}{}", self.origin, self.base_path)
    }

    pub fn stats(&self) -> CallStats {
        CallStats {
            reads: self.counters.reads.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            not_modified: self.counters.not_modified.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
        }
    }

    pub fn rate_limit_remaining(&self) -> Option<u64> {
        match self.remaining.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    /// `/repos/{owner}/{name}` followed by `rest`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!(
            "/repos/{}/{}{rest}",
            encode(self.repo.owner(), false),
            encode(self.repo.name(), false)
        )
    }

    /// A GET, conditional on what was remembered of `path` (a 304 answers with the
    /// remembered body).
    pub async fn get(&self, path: &str) -> Result<Reply, GitHubError> {
        self.call(Method::GET, path, None, true).await
    }

    /// A GET that always asks GitHub afresh: for the reads around a ref update, where a
    /// cached answer would hide a race.
    pub async fn get_fresh(&self, path: &str) -> Result<Reply, GitHubError> {
        self.call(Method::GET, path, None, false).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GitHubError> {
        self.call(method, path, body, false).await
    }

    /// [`send`](Self::send), with any answer but a success as the error
    /// ([`check`](Self::check)'s).
    pub async fn send_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GitHubError> {
        let reply = self.send(method.clone(), path, body).await?;
        self.check(&reply, &method, path)?;
        Ok(reply)
    }

    /// Every page of a list, following `Link: rel="next"`. `items` picks the list out of
    /// a page (the page itself, or a field of it).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        first: &str,
        what: &str,
        items: impl Fn(serde_json::Value) -> Option<serde_json::Value>,
    ) -> Result<Vec<T>, GitHubError> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(path) = next.take() {
            let reply = self.get(&path).await?;
            self.check(&reply, &Method::GET, &path)?;
            let page: serde_json::Value = reply.json(what)?;
            let list = items(page).unwrap_or(serde_json::Value::Null);
            let list: Vec<T> = serde_json::from_value(list).map_err(|e| GitHubError::Decode {
                what: what.to_string(),
                message: e.to_string(),
            })?;
            out.extend(list);
            pages += 1;
            if pages >= 1000 {
                break;
            }
            next = match reply.link.as_deref().and_then(next_link) {
                Some(url) => Some(self.relative(&url)?),
                None => None,
            };
        }
        Ok(out)
    }

    /// The path of an absolute API URL GitHub handed out (a next-page link), refusing
    /// one that points away from the API: the token goes nowhere else.
    pub fn relative(&self, url: &str) -> Result<String, GitHubError> {
        relative_path(&self.origin, &self.base_path, url)
    }

    /// Turns an unsuccessful reply into the error it means.
    pub fn check(&self, reply: &Reply, method: &Method, path: &str) -> Result<(), GitHubError> {
        if reply.is_success() {
            return Ok(());
        }
        Err(self.error(reply, method, path))
    }

    pub fn error(&self, reply: &Reply, method: &Method, path: &str) -> GitHubError {
        let repo = self.repo.to_string();
        match reply.status.as_u16() {
            401 => GitHubError::Unauthorized {
                repo,
                status: 401,
                message: reply.message(),
            },
            404 => GitHubError::NotFound { repo },
            // A 403 that is not a rate limit (those are waited for, or given up on as
            // `RateLimited`): a permission the credentials lack. Trying again does not
            // help.
            403 => GitHubError::Forbidden {
                repo,
                method: method.to_string(),
                path: path.to_string(),
                permission: permission_for(method, path),
                message: reply.message(),
            },
            code => GitHubError::Status {
                method: method.to_string(),
                path: path.to_string(),
                status: code,
                message: reply.message(),
                transient: code >= 500 || code == 429 || code == 409,
            },
        }
    }

    /// A request with the repository's credentials; an App's installation token that
    /// GitHub refuses is replaced once.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        conditional: bool,
    ) -> Result<Reply, GitHubError> {
        let crab = self.auth.repo_client(self).await?;
        let reply = self
            .send_as(&crab, method.clone(), path, body, conditional)
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED && self.auth.is_app() {
            self.auth.invalidate();
            let crab = self.auth.repo_client(self).await?;
            return self.send_as(&crab, method, path, body, conditional).await;
        }
        Ok(reply)
    }

    /// One request with `crab`'s credentials, repeated on rate limits, server errors
    /// and connection failures while the retry budget lasts.
    pub async fn send_as(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        conditional: bool,
    ) -> Result<Reply, GitHubError> {
        let deadline = Instant::now() + self.retry_budget;
        let mut attempt = 0u32;
        loop {
            if self.cancel.is_cancelled() {
                return Err(GitHubError::Cancelled);
            }
            let etag = if conditional && method == Method::GET {
                self.cache.get(path).map(|r| r.etag)
            } else {
                None
            };
            let outcome = self
                .attempt(crab, &method, path, body, etag.as_deref())
                .await;
            let (wait, failure) = match outcome {
                Ok((status, headers, body_text)) => {
                    if let Some(n) =
                        header(&headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok())
                    {
                        self.remaining.store(n, Ordering::Relaxed);
                    }
                    if status == StatusCode::NOT_MODIFIED {
                        self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                        if let Some(r) = self.cache.get(path) {
                            return Ok(Reply {
                                status: StatusCode::OK,
                                body: r.body,
                                link: r.link,
                            });
                        }
                    }
                    let link = header(&headers, "link").map(str::to_string);
                    match retry_wait(status, &headers, &body_text, now_epoch(), attempt, jitter()) {
                        None => {
                            if method == Method::GET && status == StatusCode::OK {
                                self.remember(path, &headers, &body_text, &link);
                            }
                            return Ok(Reply {
                                status,
                                body: body_text,
                                link,
                            });
                        }
                        Some(wait) => {
                            let reply = Reply {
                                status,
                                body: body_text,
                                link,
                            };
                            // A server error may come after the effect: a POST or
                            // PATCH is not sent again (see `idempotent`).
                            if matches!(wait, Wait::Backoff(_)) && !idempotent(&method) {
                                return Ok(reply);
                            }
                            (wait, self.give_up(wait, &reply, &method, path))
                        }
                    }
                }
                Err(message) => {
                    let failure = GitHubError::Transport {
                        api: self.api_url(),
                        transient: true,
                        message: message.clone(),
                    };
                    // A lost answer may hide a done request.
                    if !idempotent(&method) && !never_sent(&message) {
                        return Err(failure);
                    }
                    (Wait::Backoff(backoff(attempt, jitter())), failure)
                }
            };
            if Instant::now() + wait.duration() > deadline {
                return Err(failure);
            }
            tracing::debug!(
                method = %method,
                path,
                wait_ms = wait.duration().as_millis() as u64,
                "GitHub call to be retried: {failure}"
            );
            tokio::time::sleep(wait.duration()).await;
            attempt += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The error a call ends with when its retry budget cannot cover `wait`.
    fn give_up(&self, wait: Wait, reply: &Reply, method: &Method, path: &str) -> GitHubError {
        let repo = self.repo.to_string();
        let at = |epoch: i64| {
            jiff::Timestamp::from_second(epoch)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| format!("{epoch} (seconds since 1970)"))
        };
        match wait {
            Wait::Primary { reset, .. } => GitHubError::RateLimited {
                repo,
                limit: "primary",
                reset: at(reset),
            },
            Wait::Secondary(d) => GitHubError::RateLimited {
                repo,
                limit: "secondary",
                reset: at(now_epoch() + d.as_secs() as i64),
            },
            Wait::Backoff(_) => self.error(reply, method, path),
        }
    }

    fn remember(&self, path: &str, headers: &HeaderMap, body: &str, link: &Option<String>) {
        let Some(etag) = header(headers, "etag") else {
            return;
        };
        self.cache.put(
            path,
            Remembered {
                etag: etag.to_string(),
                body: body.to_string(),
                link: link.clone(),
            },
        );
    }

    /// Sends one request; `Err` is a failure to get any answer.
    async fn attempt(
        &self,
        crab: &Octocrab,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, HeaderMap, String), String> {
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION);
        if let Some(etag) = etag {
            builder = builder.header(http::header::IF_NONE_MATCH, etag);
        }
        let request = crab
            .build_request(builder, body)
            .map_err(|e| first_line(&e.to_string()))?;
        if *method == Method::GET {
            self.counters.reads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
        }
        let exchange = async {
            let response = crab
                .execute(request)
                .await
                .map_err(|e| first_line(&e.to_string()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let text = crab
                .body_to_string(response)
                .await
                .map_err(|e| first_line(&e.to_string()))?;
            Ok((status, headers, text))
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        }
    }
}

fn relative_path(origin: &str, base_path: &str, url: &str) -> Result<String, GitHubError> {
    let rest = if url.starts_with('/') {
        url
    } else {
        url.strip_prefix(origin)
            .filter(|r| r.starts_with('/'))
            .ok_or_else(|| GitHubError::Decode {
                what: "a next-page link".into(),
                message: format!("{url} is not on {origin}"),
            })?
    };
    Ok(rest
        .strip_prefix(base_path)
        .filter(|r| !base_path.is_empty() && r.starts_with('/'))
        .unwrap_or(rest)
        .to_string())
}

/// octocrab's messages may end in a backtrace; the first line says what happened.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// `https://HOST[:PORT]` and the path prefix of an API URL.
fn split_api_url(api_url: &str) -> Result<(String, String), GitHubError> {
    let url = api_url.trim().trim_end_matches('/');
    let uri: http::Uri = url
        .parse()
        .map_err(|_| GitHubError::Options(format!("{url:?} is not an API URL")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(GitHubError::Options(format!(
            "{url:?} is not an absolute http(s) URL"
        )));
    };
    if scheme != "https" && scheme != "http" {
        return Err(GitHubError::Options(format!(
            "{url:?} is not an http(s) URL"
        )));
    }
    if authority.as_str().contains('@') {
        return Err(GitHubError::Options(
            "the API URL must not carry credentials".into(),
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if scheme == "http" && !loopback {
        return Err(GitHubError::Options(format!(
            "{url:?} would send the token in clear text: use https"
        )));
    }
    Ok((
        format!("{scheme}://{authority}"),
        uri.path().trim_end_matches('/').to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn next_links() {
        let link = r#"<https://api.github.com/repositories/1/pulls?page=2&per_page=100>; rel="next", <https://api.github.com/repositories/1/pulls?page=5&per_page=100>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2&per_page=100")
        );
        let last = r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
        assert_eq!(
            next_link("<http://h/p?page=3>;rel=next").as_deref(),
            Some("http://h/p?page=3")
        );
    }

    #[test]
    fn api_urls() {
        assert_eq!(
            split_api_url("https://api.github.com/").unwrap(),
            ("https://api.github.com".to_string(), String::new())
        );
        assert_eq!(
            split_api_url("https://ghe.example.com/api/v3").unwrap(),
            ("https://ghe.example.com".to_string(), "/api/v3".to_string())
        );
        assert!(split_api_url("http://127.0.0.1:8080/api/v3").is_ok());
        assert!(split_api_url("http://ghe.example.com/api/v3").is_err());
        assert!(split_api_url("https://user:pw@ghe.example.com").is_err());
        assert!(split_api_url("api.github.com").is_err());
    }

    #[test]
    fn relative_links_stay_on_the_api() {
        let c = |url| relative_path("https://ghe.example.com", "/api/v3", url);
        assert_eq!(
            c("https://ghe.example.com/api/v3/repositories/1/pulls?page=2").unwrap(),
            "/repositories/1/pulls?page=2"
        );
        assert!(c("https://evil.example.com/api/v3/x").is_err());
        assert!(c("https://ghe.example.com.evil.net/x").is_err());
    }

    #[test]
    fn waits() {
        let now = 1_000;
        let ok = StatusCode::OK;
        assert_eq!(retry_wait(ok, &HeaderMap::new(), "", now, 0, 0.5), None);
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            retry_wait(StatusCode::FORBIDDEN, &h, "", now, 0, 0.5),
            Some(Wait::Secondary(Duration::from_secs(7)))
        );
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        assert_eq!(
            retry_wait(StatusCode::FORBIDDEN, &h, "", now, 0, 0.5),
            Some(Wait::Primary {
                wait: Duration::from_secs(31),
                reset: 1030
            })
        );
        // A reset already past still waits a second.
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "5")]);
        assert_eq!(
            retry_wait(StatusCode::TOO_MANY_REQUESTS, &h, "", now, 0, 0.5),
            Some(Wait::Primary {
                wait: Duration::from_secs(1),
                reset: 5
            })
        );
        // A permission 403 is not retried; a secondary limit without retry-after is.
        let h = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            retry_wait(
                StatusCode::FORBIDDEN,
                &h,
                "Resource not accessible",
                now,
                0,
                0.5
            ),
            None
        );
        assert_eq!(
            retry_wait(
                StatusCode::FORBIDDEN,
                &h,
                "You have exceeded a secondary rate limit",
                now,
                0,
                0.5
            ),
            Some(Wait::Secondary(secondary_wait(0, 0.5)))
        );
        assert!(secondary_wait(0, 0.5) < Duration::from_secs(60));
        assert_eq!(secondary_wait(0, 0.0), Duration::from_secs(2));
        assert_eq!(secondary_wait(10, 1.0), SECONDARY_CAP);
        assert!(matches!(
            retry_wait(StatusCode::BAD_GATEWAY, &h, "", now, 2, 0.0),
            Some(Wait::Backoff(d)) if d == Duration::from_millis(500)
        ));
        assert_eq!(
            retry_wait(StatusCode::UNPROCESSABLE_ENTITY, &h, "", now, 0, 0.5),
            None
        );
    }

    #[test]
    fn only_requests_without_effect_are_repeated() {
        assert!(idempotent(&Method::GET));
        assert!(idempotent(&Method::PUT));
        assert!(idempotent(&Method::DELETE));
        assert!(!idempotent(&Method::POST));
        assert!(!idempotent(&Method::PATCH));
        assert!(never_sent(
            "error trying to connect: tcp connect error: Connection refused (os error 111)"
        ));
        assert!(!never_sent("connection closed before message completed"));
        assert!(!never_sent("no answer within 60 s"));
    }

    #[test]
    fn a_permission_403_names_the_permission_and_is_not_transient() {
        assert_eq!(
            permission_for(&Method::POST, "/repos/a/b/pulls"),
            "pull requests: write"
        );
        assert_eq!(
            permission_for(&Method::POST, "/repos/a/b/git/blobs"),
            "contents: write"
        );
        assert_eq!(
            permission_for(&Method::PUT, "/repos/a/b/pulls/1/merge"),
            "contents: write"
        );
        assert_eq!(
            permission_for(&Method::POST, "/repos/a/b/issues/1/labels"),
            "issues: write (or pull requests: write)"
        );
        assert_eq!(
            permission_for(&Method::GET, "/repos/a/b/commits/x/check-runs"),
            "checks: read"
        );
        let err = GitHubError::Forbidden {
            repo: "a/b".into(),
            method: "POST".into(),
            path: "/repos/a/b/pulls".into(),
            permission: "pull requests: write",
            message: "Resource not accessible by integration".into(),
        };
        assert!(!err.is_transient());
        assert!(err.to_string().contains("`pull requests: write`"), "{err}");
    }

    #[test]
    fn backoff_grows_with_jitter_and_stops_growing() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(125));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(250));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(40, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(40, 0.0), BACKOFF_CAP / 2);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }

    #[test]
    fn error_messages() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:x."}]}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed; A pull request already exists for acme:x."
        );
        assert_eq!(
            error_message(r#"{"message":"x","errors":[{"field":"name","code":"already_exists"}]}"#),
            "x; name already_exists"
        );
        assert_eq!(error_message("oops"), "oops");
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode("ladder/dev/web", true), "ladder/dev/web");
        assert_eq!(encode("ladder:held", false), "ladder%3Aheld");
        assert_eq!(encode("a b/c#?", false), "a%20b%2Fc%23%3F");
    }
}

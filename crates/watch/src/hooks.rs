//! What a webhook delivery says.
//!
//! A delivery only tells the daemon *which* repository moved and *which* branch; the
//! daemon then fetches and reads Git itself. So only the few fields needed for routing
//! are read, and a payload is never trusted for content (commits, files, authors): that
//! keeps the parsers small and tolerant of the many payload versions forges send.
//! Signatures are checked before parsing (see [`crate::signature`]).

use serde::Deserialize;

pub use crate::repo_url::same_repo;

/// The kinds of delivery the daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// Commits (or a tag) were pushed: the config branch may have moved.
    Push,
    /// A pull request changed state; a merged one may unblock the next stage.
    PullRequest,
}

/// The routing facts of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    /// What happened.
    pub kind: HookKind,
    /// Every URL the payload gives for the repository, deduplicated, in payload order.
    /// All of them are kept because platform config may name the repo by any of them
    /// (https, ssh, git://, web page); match with [`same_repo`].
    pub repo_urls: Vec<String>,
    /// `owner/repo` (GitLab: the full `group/sub/project` path), for logs.
    pub full_name: Option<String>,
    /// Push: the branch pushed to (`refs/heads/X` gives `X`; a tag push gives None).
    /// Pull request: the base branch it targets.
    pub branch: Option<String>,
    /// A pull request that this delivery reports closed by a merge.
    pub merged: bool,
}

/// Why a delivery could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The event header is missing or empty, so the delivery cannot be interpreted: it
    /// was not sent by the forge this endpoint is for.
    #[error("unsupported webhook event {0:?}")]
    UnsupportedEvent(String),
    /// The body is not the JSON this event should carry.
    #[error("invalid webhook payload: {0}")]
    Payload(String),
}

/// Reads a GitHub delivery, given its `X-GitHub-Event` header.
///
/// `push` and `pull_request` give an event; `ping` (sent when a hook is created) and any
/// other event give `Ok(None)`: they are acknowledged and ignored, because a forge
/// subscribed to more events than needed is a harmless misconfiguration.
pub fn parse_github(event: &str, body: &[u8]) -> Result<Option<HookEvent>, HookError> {
    match known_event(event)? {
        "push" => github_like_push(body).map(Some),
        "pull_request" => github_like_pull_request(body).map(Some),
        _ => Ok(None),
    }
}

/// Reads a Gitea (or Forgejo) delivery, given its `X-Gitea-Event` header.
///
/// `push` gives an event, and so does `pull_request`, whose payload Gitea shapes like
/// GitHub's; anything else gives `Ok(None)`.
pub fn parse_gitea(event: &str, body: &[u8]) -> Result<Option<HookEvent>, HookError> {
    match known_event(event)? {
        "push" => github_like_push(body).map(Some),
        "pull_request" => github_like_pull_request(body).map(Some),
        _ => Ok(None),
    }
}

/// Reads a GitLab delivery, given its `X-Gitlab-Event` header.
///
/// `Push Hook` and `Tag Push Hook` give a push (a tag push with no branch, as on GitHub);
/// anything else gives `Ok(None)`.
pub fn parse_gitlab(event: &str, body: &[u8]) -> Result<Option<HookEvent>, HookError> {
    match known_event(event)? {
        "Push Hook" | "Tag Push Hook" => gitlab_push(body).map(Some),
        _ => Ok(None),
    }
}

fn known_event(event: &str) -> Result<&str, HookError> {
    let event = event.trim();
    if event.is_empty() {
        return Err(HookError::UnsupportedEvent(String::new()));
    }
    Ok(event)
}

/// The repository object GitHub and Gitea send with every event.
#[derive(Deserialize)]
struct GithubRepo {
    full_name: Option<String>,
    clone_url: Option<String>,
    ssh_url: Option<String>,
    git_url: Option<String>,
    html_url: Option<String>,
}

impl GithubRepo {
    fn urls(self) -> (Vec<String>, Option<String>) {
        let urls = [self.clone_url, self.ssh_url, self.git_url, self.html_url];
        (dedup(urls.into_iter().flatten()), self.full_name)
    }
}

#[derive(Deserialize)]
struct GithubPush {
    #[serde(rename = "ref")]
    git_ref: String,
    repository: GithubRepo,
}

#[derive(Deserialize)]
struct GithubPullRequestEvent {
    action: String,
    pull_request: GithubPullRequest,
    repository: GithubRepo,
}

#[derive(Deserialize)]
struct GithubPullRequest {
    // Null in some payloads of open pull requests; absent means not merged.
    merged: Option<bool>,
    base: GithubBase,
}

#[derive(Deserialize)]
struct GithubBase {
    #[serde(rename = "ref")]
    git_ref: String,
}

fn github_like_push(body: &[u8]) -> Result<HookEvent, HookError> {
    let push: GithubPush = from_json(body)?;
    let (repo_urls, full_name) = push.repository.urls();
    Ok(HookEvent {
        kind: HookKind::Push,
        repo_urls,
        full_name,
        branch: branch_of(&push.git_ref),
        merged: false,
    })
}

fn github_like_pull_request(body: &[u8]) -> Result<HookEvent, HookError> {
    let event: GithubPullRequestEvent = from_json(body)?;
    let (repo_urls, full_name) = event.repository.urls();
    Ok(HookEvent {
        kind: HookKind::PullRequest,
        repo_urls,
        full_name,
        branch: Some(event.pull_request.base.git_ref),
        // A pull request closed without merging also arrives as `closed`; only the
        // `merged` flag tells them apart.
        merged: event.action == "closed" && event.pull_request.merged == Some(true),
    })
}

#[derive(Deserialize)]
struct GitlabPush {
    #[serde(rename = "ref")]
    git_ref: String,
    project: Option<GitlabProject>,
    // Deprecated by GitLab in favour of `project`, still sent; read it for older servers.
    repository: Option<GitlabRepository>,
}

#[derive(Deserialize)]
struct GitlabProject {
    path_with_namespace: Option<String>,
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    web_url: Option<String>,
    homepage: Option<String>,
}

#[derive(Deserialize)]
struct GitlabRepository {
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    homepage: Option<String>,
}

fn gitlab_push(body: &[u8]) -> Result<HookEvent, HookError> {
    let push: GitlabPush = from_json(body)?;
    if push.project.is_none() && push.repository.is_none() {
        return Err(HookError::Payload("no project or repository".into()));
    }
    let mut urls = Vec::new();
    let mut full_name = None;
    if let Some(p) = push.project {
        full_name = p.path_with_namespace;
        urls.extend([p.git_http_url, p.git_ssh_url, p.web_url, p.homepage]);
    }
    if let Some(r) = push.repository {
        urls.extend([r.git_http_url, r.git_ssh_url, r.homepage]);
    }
    Ok(HookEvent {
        kind: HookKind::Push,
        repo_urls: dedup(urls.into_iter().flatten()),
        full_name,
        branch: branch_of(&push.git_ref),
        merged: false,
    })
}

fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, HookError> {
    // serde_json's message names the field and position and may quote a scalar of the
    // payload; a payload is no secret (its signature was already checked), so it can be
    // logged and returned to the forge.
    serde_json::from_slice(body).map_err(|e| HookError::Payload(e.to_string()))
}

/// `refs/heads/X` gives `X`; tags and other refs give None, since only a branch can be a
/// config branch.
fn branch_of(git_ref: &str) -> Option<String> {
    git_ref
        .strip_prefix("refs/heads/")
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
}

fn dedup(urls: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for url in urls {
        if !url.is_empty() && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

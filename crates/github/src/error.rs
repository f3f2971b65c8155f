//! The forge's errors, and how they reach the reconcile as [`ForgeError`]s.

use ladder_promote::forge::ForgeError;

/// What a GitHub call can fail with. Messages never carry a token: GitHub's own texts
/// do not, URLs carry none, and the forge masks its secrets again at the boundary.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The caller cancelled the forge's calls (the daemon stopping, or no longer
    /// leading): no request was sent.
    #[error("cancelled: no request sent")]
    Cancelled,
    #[error("GitHub refused the credentials for {repo} ({status} {message})")]
    Unauthorized {
        repo: String,
        status: u16,
        message: String,
    },
    #[error(
        "{repo} was not found, or the credentials cannot see it: they need read and write \
         access to contents and pull requests"
    )]
    NotFound { repo: String },
    #[error(
        "GitHub refused {method} {path} on {repo} ({message}): the credentials lack the \
         permission `{permission}`"
    )]
    Forbidden {
        repo: String,
        method: String,
        path: String,
        permission: &'static str,
        message: String,
    },
    #[error("GitHub's {limit} rate limit for {repo} holds until {reset}; retrying gave up")]
    RateLimited {
        repo: String,
        limit: &'static str,
        reset: String,
    },
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Status {
        method: String,
        path: String,
        status: u16,
        message: String,
        transient: bool,
    },
    #[error("cannot reach GitHub at {api}: {message}")]
    Transport {
        api: String,
        message: String,
        transient: bool,
    },
    #[error("unexpected answer from GitHub to {what}: {message}")]
    Decode { what: String, message: String },
    #[error("{branch} moved")]
    Moved { branch: String },
    #[error("pull request #{number} is not mergeable: {message}")]
    NotMergeable { number: u64, message: String },
    #[error("GitHub refused the reviewers {reviewers} on #{number}: {message}")]
    Reviewers {
        number: u64,
        reviewers: String,
        message: String,
    },
    #[error("no open pull request for {branch}")]
    NoPullRequest { branch: String },
    #[error("GitHub App {app_id}: {message}")]
    App { app_id: u64, message: String },
    #[error("invalid GitHub forge settings: {0}")]
    Options(String),
    #[error("{context}: {source}")]
    Git {
        context: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
}

impl GitHubError {
    pub fn is_transient(&self) -> bool {
        match self {
            GitHubError::RateLimited { .. }
            | GitHubError::Moved { .. }
            | GitHubError::NotMergeable { .. }
            | GitHubError::NoPullRequest { .. }
            | GitHubError::Cancelled => true,
            GitHubError::Status { transient, .. } | GitHubError::Transport { transient, .. } => {
                *transient
            }
            GitHubError::Git { source, .. } => source.is_transient(),
            GitHubError::Unauthorized { .. }
            | GitHubError::Forbidden { .. }
            | GitHubError::NotFound { .. }
            | GitHubError::Decode { .. }
            | GitHubError::Reviewers { .. }
            | GitHubError::App { .. }
            | GitHubError::Options(_) => false,
        }
    }

    /// Whether the forge's settings are wrong (contradictory or invalid options, such as
    /// a `forge.repository` that is not the repository of the mirror): a configuration
    /// problem, not a failure of GitHub or the network.
    pub fn is_config(&self) -> bool {
        matches!(self, GitHubError::Options(_))
    }

    /// The reconcile's view of it, with every `secret` masked from the message.
    pub(crate) fn into_forge(self, secrets: &[String]) -> ForgeError {
        match self {
            GitHubError::Moved { branch } => ForgeError::Moved {
                branch,
                source: None,
            },
            GitHubError::Git { context, source } => ForgeError::Git { context, source },
            other => ForgeError::Api {
                transient: other.is_transient(),
                message: mask(&other.to_string(), secrets),
            },
        }
    }
}

/// `text` with every secret (of four characters or more) replaced by `<redacted>`.
pub(crate) fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "<redacted>");
    }
    out
}

//! The crate's error type.
//!
//! Every message is meant to be shown to an operator as is: it names the remote by its
//! credential-free URL and says what to do next. No variant ever carries a secret: URLs
//! are stored without userinfo and text captured from `git` is passed through
//! [`crate::url::redact`] before it lands here.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the Git layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote URL could not be understood.
    #[error(transparent)]
    Url(#[from] crate::url::UrlError),

    /// The server could not be reached at all (DNS, refused connection, timeout).
    #[error("cannot reach git remote {url}: {detail}")]
    Unreachable { url: String, detail: String },

    /// The server refused the credentials, or asked for credentials we do not have.
    #[error("git remote {url} rejected the credentials ({detail})")]
    AuthFailed { url: String, detail: String },

    /// The remote sent nothing for the idle limit, or the call's deadline passed.
    #[error(
        "{what}: {}",
        if *deadline { "the deadline passed".to_string() } else { format!("no answer for {} s", after.as_secs_f32()) }
    )]
    TimedOut {
        what: String,
        after: std::time::Duration,
        /// True when the overall deadline ended the call, false for the idle limit.
        deadline: bool,
    },

    /// The caller's cancel flag stopped the call.
    #[error("{what}: cancelled")]
    Cancelled { what: String },

    /// An http(s) remote answered with a redirect to another host while credentials were
    /// configured: following it could hand them to a host they were not meant for.
    #[error(
        "git remote {url} redirected the request ({detail}); credentials are only sent to the host they were configured for, so the redirect was not followed: use the final URL"
    )]
    Redirected { url: String, detail: String },

    /// Compare-and-swap push rejected: the branch on the remote is no longer where we saw it.
    #[error(
        "branch {branch} on {url} moved (expected {}, the remote refused: {reason}); fetch again and recompute the change instead of forcing",
        expected.as_deref().unwrap_or("no branch")
    )]
    RemoteMoved {
        url: String,
        branch: String,
        /// The value we leased on: `None` means we expected the branch not to exist.
        expected: Option<String>,
        reason: String,
    },

    /// The remote refused a push for another reason than a moved branch (hook, protection).
    #[error("git remote {url} refused the push of {branch}: {reason}")]
    PushRejected {
        url: String,
        branch: String,
        reason: String,
    },

    /// A branch, tag or revision that does not exist in the repository.
    #[error("revision {rev:?} not found in {repo}")]
    RevisionNotFound { repo: String, rev: String },

    /// An object id that names something other than what the caller needs.
    #[error("{id} in {repo} is a {actual}, expected a {expected}")]
    WrongObjectKind {
        repo: String,
        id: String,
        actual: String,
        expected: &'static str,
    },

    /// A path given to a read or an edit that cannot be a path inside a tree.
    #[error("invalid path {path:?} in a git tree: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    /// A commit request that cannot be turned into a commit (empty message, bad trailer).
    #[error("invalid commit request: {reason}")]
    InvalidCommit { reason: String },

    /// A mirror or repository is missing the remote needed for a network operation.
    #[error("{repo} has no remote URL to fetch from or push to")]
    NoRemote { repo: String },

    /// A compare-and-swap update of a ref in a local repository found the ref elsewhere.
    #[error(
        "{name} in {repo} moved (expected {}, found {}); read it again and recompute the change",
        expected.as_deref().unwrap_or("no ref"), found.as_deref().unwrap_or("no ref")
    )]
    RefMoved {
        repo: String,
        name: String,
        expected: Option<String>,
        found: Option<String>,
    },

    /// The `git` program could not be run, or failed in a way we do not classify.
    #[error("`git {command}` failed: {detail}")]
    GitCli { command: String, detail: String },

    /// A network call failed in a way not classified above (the remote hung up, sent
    /// something unexpected); `context` says what we were doing.
    #[error("{context}: {detail}")]
    Remote { context: String, detail: String },

    /// Any other failure reported by gix, in local work on the object database or refs;
    /// `context` says what we were doing.
    #[error("{context}: {detail}")]
    Gix { context: String, detail: String },

    /// File-system failure around the cache folder or lock files.
    #[error("{context} ({}): {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A YAML document or YAML path that history lookups could not use.
    #[error(transparent)]
    YamlPath(#[from] crate::yamlpath::YamlPathError),
}

impl Error {
    /// True for the compare-and-swap rejection callers handle by refetching and recomputing.
    pub fn is_remote_moved(&self) -> bool {
        matches!(self, Error::RemoteMoved { .. } | Error::RefMoved { .. })
    }

    /// True when trying the same call again later may succeed without anyone changing
    /// the configuration: the network, a timeout, a busy lock, a moved branch (after a
    /// refetch). False for what needs a person: bad URLs, credentials, missing revisions,
    /// refused pushes, invalid requests, cancellation.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. }
            | Error::TimedOut { .. }
            | Error::RemoteMoved { .. }
            | Error::RefMoved { .. } => true,
            // An unclassified failure of the git program or of a network call is most
            // often the remote hanging up.
            Error::GitCli { .. } | Error::Remote { .. } => true,
            // Local object-database or ref errors (corruption, a full disk) need a
            // person; retrying would only repeat them.
            Error::Gix { .. } => false,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            Error::Url(_)
            | Error::AuthFailed { .. }
            | Error::Redirected { .. }
            | Error::Cancelled { .. }
            | Error::PushRejected { .. }
            | Error::RevisionNotFound { .. }
            | Error::WrongObjectKind { .. }
            | Error::InvalidPath { .. }
            | Error::InvalidCommit { .. }
            | Error::NoRemote { .. }
            | Error::YamlPath(_) => false,
        }
    }

    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }

    /// Wraps a gix error that needs no classification (local object database work).
    pub(crate) fn gix(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Gix {
            context: context.into(),
            detail: err.to_string(),
        }
    }
}

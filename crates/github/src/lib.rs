//! ladder's GitHub forge: proposals as pull requests on GitHub or GitHub Enterprise
//! Server, through the REST API.
//!
//! # Design
//!
//! - **Synchronous outside, async inside.** [`ladder_promote::Forge`] is synchronous;
//!   the forge owns a small current-thread tokio runtime and blocks on each call. It
//!   never relies on an ambient runtime (the daemon calls forges from blocking
//!   threads), and each forge's connections live on its own runtime.
//! - **octocrab for HTTP, raw requests for the rest.** octocrab provides the
//!   transport (rustls with ring, connect/read timeouts), the base URI (a GitHub
//!   Enterprise `https://HOST/api/v3` prefix included) and the credentials (a token, or
//!   a JWT signed with the App's key). Every call is a raw request, because ladder
//!   needs the response headers: `ETag` (conditional GETs, 304 answered from the
//!   remembered body, free of rate limit), `Link` (every page of a list),
//!   `x-ratelimit-*` and `retry-after`. Paths are always relative, so credentials go
//!   only to the API's own origin; a next-page link to anywhere else is refused.
//!   octocrab's redirect following and retries are left out: a token never follows a
//!   redirect, and retries follow ladder's policy:
//! - **Retries within a budget.** A secondary rate limit waits `retry-after` (or, when
//!   it names none, a jittered wait from a few seconds doubling up to a minute); a spent
//!   primary limit waits for `x-ratelimit-reset`; server errors and failed connections
//!   back off exponentially with jitter. All within [`GitHubOptions::retry_budget`]; past
//!   it the call fails with a transient error that says which limit and until when. A
//!   POST or PATCH (a comment, a pull request, a label) is repeated only when it surely
//!   had no effect: a rate limit refused it, or no connection was made; after a server
//!   error or a lost answer it fails, and the next run (which reads the forge again)
//!   decides, so a comment is never posted twice. A 403 that is not a rate limit is a
//!   missing permission: not retried, not transient, and named in the message.
//! - **Branches by push, or through the API.** In [`CommitMode::Push`] the commits
//!   ladder built in its mirror go out in one `git push`, every branch under its own
//!   lease, with the forge's token (`x-access-token`) unless the mirror already has
//!   credentials. In [`CommitMode::Api`] each commit is recreated from its content
//!   (blobs, a tree on the parent's tree, a commit with no author, which GitHub signs),
//!   and the ref moved under a read-check-write-reread lease: see [`gitdata`] for the
//!   window GitHub's ref API leaves (a push has none).
//! - **GitHub App.** The installation is found from the repository, its token scoped
//!   to it, and replaced when a third of its lifetime (at most fifteen minutes, so that
//!   one handed to git outlives a reconcile) is left, or when GitHub or git refuses it. The installation and its token are kept in an
//!   [`InstallationTokens`] the caller holds, so that forges made one after another
//!   (the daemon's polls and reconciles, the CLI's fetch and forge) share one token.
//!   See [`auth`].
//! - **Errors** name the repository and what GitHub said, never a token: messages are
//!   masked against every token the forge holds before they leave it. 401 and 404 get
//!   one clear sentence each; 404 on a branch means "no branch" only when the
//!   repository itself answers.
//! - **Mergeability is never guessed**: `mergeable: null`, or a pull request whose
//!   head GitHub has not caught up with, is [`ladder_promote::MergeState::Unknown`].

mod auth;
mod cache;
mod client;
mod error;
mod forge;
mod gitdata;
mod options;
mod pulls;
mod tokens;

pub use cache::ResponseCache;
pub use client::CallStats;
pub use error::GitHubError;
pub use forge::{GitHubForge, git_credentials, token_may_go_to};
pub use options::{
    Auth, CommitMode, DEFAULT_API_URL, GitHubOptions, MergeMethod, RepoName, RepoNameError, Secret,
};
pub use tokens::InstallationTokens;

//! The watcher: everything that tells ladder's daemon a tenant needs a reconcile.
//!
//! Four sources feed one [`Triggers`] set, keyed by tenant:
//! - webhooks: the daemon's HTTP server checks a delivery's signature ([`signature`]),
//!   reads which repository and branch it names ([`hooks`]) and triggers the tenants
//!   whose repo it is ([`same_repo`]);
//! - polls of the remote ([`spawn_poller`]), for forges that cannot reach the daemon;
//! - local checkouts, watched with notify ([`watch_git_dir`]);
//! - wake-ups at a time, for a soak that ends later ([`Triggers::wake_at`]).
//!
//! Each tenant's worker loops on [`Triggers::next`], so bursts coalesce into one run and
//! a tenant never reconciles twice at once. The crate reads no environment variable and
//! prints nothing: it reports through `tracing`, and what to do is the daemon's call.

#![warn(missing_docs)]

pub mod hooks;
pub mod local;
pub mod poll;
mod repo_url;
pub mod schedule;
pub mod signature;

pub use hooks::{
    HookError, HookEvent, HookKind, parse_gitea, parse_github, parse_gitlab, same_repo,
};
pub use local::{LocalWatch, WatchError, watch_git_dir};
pub use poll::spawn_poller;
pub use schedule::{Cause, Triggers};
pub use signature::{SignatureError, verify_gitea, verify_github, verify_gitlab};

//! ladder's daemon: one long-lived process that watches every configured tenant repo
//! and, on each change, fetches, renders, publishes the render and reconciles the
//! promotion proposals; and serves health, readiness, metrics, a status API and webhooks.
//!
//! - [`config`]: the configuration file and its environment overrides.
//! - [`sync`]: one reconcile of one tenant (blocking; run on the blocking pool).
//! - [`daemon`]: the workers, their triggers, the HTTP server, shutdown.
//! - [`status`], [`metrics`]: what it reports.
//! - `forward`: a standby passes the webhooks it receives on to the leader.
//!
//! Like every library crate of ladder, it reads no environment variable: the binary
//! passes what it takes from its environment.

mod check;
pub mod config;
mod credentials;
pub mod daemon;
mod forward;
pub mod metrics;
mod poll;
mod render_path;
mod server;
pub mod status;
pub mod sync;

pub use check::check_config;
pub use daemon::{DaemonError, DaemonOptions, run};
pub use server::MAX_WEBHOOK_BODY;

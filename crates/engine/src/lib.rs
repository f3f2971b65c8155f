//! The glue the `ladder` CLI and daemon share, so that neither grows its own copy:
//!
//! - [`open`]: a tenant config repo named by a folder or a Git URL, optionally a
//!   subfolder of either (a tenant inside a platform monorepo), at a ref or at the
//!   remote's default branch, as one [`ConfigTree`](ladder_tree::ConfigTree). Remote
//!   repos are mirrored through the git layer with the credentials, ssh command and
//!   limits the caller passes for that repo: nothing is read from the process
//!   environment here.
//! - [`load`] and [`load_and_render`]: the model and the renderer on an opened repo.
//!
//! Errors are typed ([`Error`]) and carry no CLI advice (flag names, environment
//! variables): the binary adds that, the daemon reports them per tenant.

mod error;
mod pipeline;
mod source;

pub use error::Error;
pub use pipeline::{ConfigBranch, Loaded, load, load_and_render, open_config_branch, render};
pub use source::{OpenOptions, OpenedRepo, RepoSpec, open};

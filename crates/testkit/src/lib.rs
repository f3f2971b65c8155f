//! Test support shared by ladder's crates (`publish = false`): an in-memory
//! [`ConfigTree`](ladder_tree::ConfigTree) for library-level tests of the load -> render
//! path, real git servers on loopback for the git layer and the binary, and fast
//! repository generation for tests and benchmarks, with synthetic tenants to fill them.
//!
//! Every server binds 127.0.0.1 only, is ready (accepting connections) when its `start`
//! returns, and stops with everything it started when dropped.

mod git;
pub mod github;
pub mod kube;
mod loopback;
mod mem_tree;
mod rendered;
mod repos;
mod servers;
mod tenant;

pub use git::{git, git_cmd};
pub use loopback::http_request;
pub use mem_tree::MemTree;
pub use rendered::example_in_subfolder;
pub use repos::{
    EXAMPLE_CONFIG_REPO, FiCommit, Origin, copy_tree, env_yaml, example_platform, fast_import,
};
pub use servers::{
    GitDaemon, HttpServer, HungServer, RecordedRequest, RedirectServer, SshServer, free_port,
};
pub use tenant::{SyntheticTenant, app_names, app_values, app_values_path};

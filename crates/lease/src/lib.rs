//! Leader election on a Kubernetes `coordination.k8s.io/v1` Lease, so that of several
//! ladder replicas only one reconciles.
//!
//! [`run_election`] contends for one Lease with client-go's `leaderelection` semantics
//! (holder identity, `leaseDurationSeconds`, `acquireTime` and `renewTime` as
//! `MicroTime`, `leaseTransitions`; optimistic concurrency on `resourceVersion`) and
//! says on a `tokio::sync::watch` channel whether this replica leads. It reads no
//! environment variable: the caller passes the API server's URL
//! ([`in_cluster_api_url`] from `KUBERNETES_SERVICE_HOST`/`_PORT`) and the files'
//! locations ([`IN_CLUSTER_TOKEN_FILE`], [`IN_CLUSTER_CA_FILE`]).
//!
//! ## Why no kube-rs
//!
//! The election needs three calls on one object. kube-rs was measured here: `kube`
//! 3.1 (the newest for Rust 1.88; 4.x and 5.x need 1.89) with `client`, `rustls-tls`,
//! `ring` and `k8s-openapi` 0.27 (`v1_33`) pulls no aws-lc and no openssl, but adds
//! crates the tree does not have (`k8s-openapi`, `kube-core`, `kube-client`,
//! `jsonpath-rust`, `derive_more`, `serde_yaml`, `unsafe-libyaml`, ...) and, on top of
//! a release build of the same HTTP stack without it, 240 s of release build on the 2
//! shared cores here (`k8s-openapi` alone 130 s, `kube-client` 82 s, one after the
//! other). That is four times the 60 s budget, so this crate talks to the API server
//! directly on what the tree already builds for octocrab: hyper 1, hyper-util's
//! client, hyper-rustls and rustls with ring; the CA bundle from the service account,
//! the bearer token read again for every request (it
//! rotates). An `http://` URL is accepted too (a fake API server on loopback).

mod client;
mod config;
mod elector;
mod record;

use std::path::PathBuf;

pub use config::{
    IN_CLUSTER_CA_FILE, IN_CLUSTER_NAMESPACE_FILE, IN_CLUSTER_TOKEN_FILE, LeaseConfig,
    SERVICE_ACCOUNT_DIR, in_cluster_api_url,
};
pub use elector::run_election;

/// Whether this replica leads, as [`run_election`] says it on its channel; and, while
/// another one does, where that one's HTTP server is (when it wrote its address on the
/// Lease).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    pub leading: bool,
    pub leader_address: Option<String>,
}

impl Leadership {
    pub fn leading() -> Leadership {
        Leadership {
            leading: true,
            leader_address: None,
        }
    }

    pub fn standing_by(leader_address: Option<String>) -> Leadership {
        Leadership {
            leading: false,
            leader_address,
        }
    }

    /// Sets the leader's address; whether it changed.
    fn set_leader_address(&mut self, address: Option<String>) -> bool {
        let changed = self.leader_address != address;
        self.leader_address = address;
        changed
    }
}

/// Why an election cannot run at all. Failures of the API server are not errors: they
/// are retried (and logged) for as long as the election runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config that cannot work: the message says which field and why.
    #[error("leader election: {0}")]
    Config(String),
    /// A file the election needs at start (the CA bundle) could not be read.
    #[error("leader election: reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

//! The Git layer of ladder.
//!
//! ladder never works in a user's checkout. It keeps a bare mirror of each tenant
//! repository in a cache folder ([`Repo::mirror`]), reads trees at any commit from the
//! object database ([`Repo::tree_at`], [`TreeAtCommit`]), builds commits from in-memory
//! edits ([`Repo::build_commit`]), publishes them with a compare-and-swap push
//! ([`Repo::push_branch`]), and answers history questions ([`Repo::last_change`],
//! [`Repo::commits_touching`]). gix does everything except pushing, which goes through
//! the `git` program. See the README for the design and its limits.

mod child;
mod commit;
mod error;
mod history;
mod limits;
mod local;
mod lock;
mod push;
mod read;
mod refs;
mod repo;
mod snapshot;
mod transport;
pub mod url;
pub mod yamlpath;

pub use child::ChildEnv;
pub use commit::{CommitOutcome, CommitRequest, Edits, Identity};
pub use error::{Error, Result};
pub use gix::ObjectId;
pub use history::{CommitInfo, HistoryCacheStats, HistoryLimits};
pub use ladder_tree::{ConfigTree, DirEntry, EntryKind};
pub use limits::{Cancel, DEFAULT_IDLE, Limits};
pub use local::prune_cache;
pub use lock::RepoLock;
pub use push::{Lease, RefPush};
pub use read::TreeAtCommit;
pub use refs::CommitData;
pub use repo::{FetchOutcome, RefUpdate, RemoteOptions, Repo};
pub use snapshot::SnapshotRequest;
pub use url::{Credentials, RemoteUrl, Scheme};

/// Installs ring as rustls' process-wide crypto provider, once. reqwest is built without
/// a provider of its own (the default one, aws-lc-rs, needs a C toolchain and cmake).
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means the application installed one already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

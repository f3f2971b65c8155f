//! Where a tenant config comes from: the `ladder-tree` crate's read-only view, shared
//! with the git layer so that a folder and a commit load the same way.

pub use ladder_tree::{ConfigTree, DirEntry, EntryKind, FsTree, TreeError, join_repo_path};

//! The tenant config model of ladder, format v1: loading a tenant config repo from a
//! [`ConfigTree`], checking it, and reporting every problem as `file:line:col: message`.
//!
//! The loader decodes from a position-keeping YAML tree ([`yaml`]) rather than through
//! serde so that one pass finds *all* problems, each with its place in the file.

mod config;
mod decode;
mod diag;
mod duration;
mod load;
mod load_app;
mod load_env;
mod load_settings;
pub mod names;
mod pattern;
mod tree;
pub mod yaml;

pub use config::{
    App, ArgoSettings, CommitMode, ConfigRepo, EnvPositions, Environment, Finalizer, ForgeKind,
    ForgeSettings, Keyword, MergeMethod, PromoteField, Promotion, PromotionGroup, PromotionMode,
    RESOURCES_FINALIZER, ResolvedField, Settings, Source, SourceType, SyncMode, TemplateFile,
    Tenant, same_repo,
};
pub use diag::{Problem, Problems, did_you_mean};
pub use duration::{DurationError, format_duration, parse_duration};
pub use load::{
    BUILT_IN_ENVIRONMENTS, DEFAULT_DENIED_KINDS, DEFAULT_DENIED_NAMESPACES, LoadError, LoadOptions,
    NO_SETTINGS, RESERVED_ENVIRONMENT_NAMES, SETTINGS_FILE, TEMPLATE_NAMES, load,
};
pub use pattern::{
    AppFile, AppFileError, AppVars, EnvPattern, EnvPlaceholder, EnvVars, Pattern, PatternError,
    Placeholder, PlaceholderSet,
};
pub use tree::{ConfigTree, DirEntry, EntryKind, FsTree, TreeError, join_repo_path};

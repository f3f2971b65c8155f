//! ladder's daemon (placeholder while it is being built).
pub mod config;

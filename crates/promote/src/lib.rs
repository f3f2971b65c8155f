//! The promoter: plans promotions from Git (which promoted values differ between an
//! environment and the one it promotes from, and which gates hold them), and reconciles
//! one proposal per promotion through a [`Forge`]. It knows no forge's API and has no
//! CLI code; planning is a pure function of the config trees and their history, so the
//! CLI and the daemon call it alike.

pub mod forge;
pub mod git_forge;
pub mod plan;
pub mod readiness;
pub mod reconcile;
pub mod rollback;
pub mod run;
pub mod windows;

pub use forge::{Forge, ForgeError, Proposal};
pub use git_forge::GitForge;
pub use plan::{GitHistory, History, Plan, PlanError, PlanInput, Row, State, plan};
pub use reconcile::{Action, ActionKind, Outcome, ReconcileError, ReconcileInput, reconcile};
pub use run::{ConfigHead, Planned, PromoteOptions, Promoted, RunError, plan_promotions, promote};

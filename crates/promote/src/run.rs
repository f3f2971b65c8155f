//! One call each for what the CLI and the daemon do with a tenant's config branch:
//! [`plan_promotions`] (the plan, with the forge's facts: open proposals, and those a
//! person closed without merging) and [`promote`] (that plan, reconciled). Both are
//! level-triggered: everything is read again on every call, nothing is remembered.

use ladder_git::{Identity, ObjectId, Repo};
use ladder_model::{ConfigTree, PromotionGroup, Tenant};

use crate::forge::{Forge, ForgeError, Proposal};
use crate::plan::{GitHistory, Plan, PlanError, PlanInput, State, branch_prefix, proposal_branch};
use crate::reconcile::{Outcome, ReconcileError, ReconcileInput, proposes_same_values, reconcile};

/// A tenant's config branch, read from Git, as the promoter works on it.
pub struct ConfigHead<'a> {
    pub tenant: &'a Tenant,
    /// The tenant's config at `head`.
    pub tree: &'a dyn ConfigTree,
    /// The config branch and its head commit.
    pub branch: &'a str,
    pub head: ObjectId,
    /// The repository `head` is in (the mirror, or the folder's own repository).
    pub repo: &'a Repo,
    /// The tenant's folder inside `repo` (`""`: the root). A tenant in a folder prefixes
    /// its proposal branches with `ladder/<tenant>/`.
    pub subfolder: &'a str,
}

impl ConfigHead<'_> {
    /// What every proposal branch of this tenant starts with.
    pub fn branch_prefix(&self) -> String {
        branch_prefix(self.tenant, !self.subfolder.is_empty())
    }
}

/// A plan, and the open proposals it was computed with.
pub struct Planned {
    pub plan: Plan,
    pub proposals: Vec<Proposal>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("listing the open proposals: {0}")]
    Proposals(#[source] Box<ForgeError>),
    #[error("looking up the closed proposals of {branch}: {source}")]
    Closed {
        branch: String,
        #[source]
        source: Box<ForgeError>,
    },
    #[error("planning: {0}")]
    Plan(#[source] Box<PlanError>),
    #[error("promoting: {0}")]
    Reconcile(#[source] Box<ReconcileError>),
}

/// Plans `config`'s promotions at `now` (seconds since the Unix epoch) against the
/// forge's proposals. `force` names the promotions (`(env, app)`) that may overwrite a
/// diverged value. A due promotion whose latest proposal a person closed without merging
/// is `held` while the upstream values are the ones that proposal carried.
pub fn plan_promotions(
    config: &ConfigHead,
    forge: &dyn Forge,
    now: i64,
    force: &[(String, String)],
) -> Result<Planned, RunError> {
    let prefix = config.branch_prefix();
    let mut proposals = forge
        .proposals(&prefix)
        .map_err(|e| RunError::Proposals(Box::new(e)))?;
    // Only proposals into the config branch are ladder's (a person may open one from a
    // ladder branch into another).
    proposals.retain(|p| p.base.as_deref().is_none_or(|b| b == config.branch));
    let history = GitHistory {
        repo: config.repo,
        subfolder: config.subfolder,
    };
    let mut plan = crate::plan::plan(&PlanInput {
        tenant: config.tenant,
        tree: config.tree,
        branch: config.branch,
        history: &history,
        now,
        proposals: &proposals,
        branch_prefix: &prefix,
        force,
    })
    .map_err(|e| RunError::Plan(Box::new(e)))?;
    hold_declined(config, forge, &prefix, force, &mut plan)?;
    Ok(Planned { plan, proposals })
}

/// Marks `held` every due promotion whose most recent proposal a person (not ladder)
/// closed without merging, for the same values; and notes the due promotions whose most
/// recent proposal, for the same values, was merged after the config branch was read
/// ([`crate::plan::Row::merged`]: nothing is opened for them in this run). Asks the forge only about due promotions without an
/// open proposal, so a steady state costs no call; a forge that keeps no closed
/// proposals (the `git` forge: a deleted branch is gone) is asked once.
fn hold_declined(
    config: &ConfigHead,
    forge: &dyn Forge,
    prefix: &str,
    force: &[(String, String)],
    plan: &mut Plan,
) -> Result<(), RunError> {
    for row in &mut plan.promotions {
        let grouped = config
            .tenant
            .environment(&row.env)
            .and_then(|e| e.promotion.as_ref())
            .is_some_and(|p| p.group == PromotionGroup::Environment);
        let forced = force.iter().any(|(e, a)| *e == row.env && *a == row.app);
        if row.state != State::Due || grouped || forced {
            continue;
        }
        let branch = proposal_branch(prefix, &row.env, &row.app);
        let closed = match forge.closed_proposal(&branch) {
            Ok(closed) => closed,
            Err(ForgeError::Unsupported { .. }) => return Ok(()),
            Err(e) => {
                return Err(RunError::Closed {
                    branch,
                    source: Box::new(e),
                });
            }
        };
        let Some(closed) = closed else {
            continue;
        };
        if !proposes_same_values(&closed.body, row) {
            continue;
        }
        let which = match (closed.number, &closed.url) {
            (_, Some(url)) => url.clone(),
            (Some(n), None) => format!("#{n}"),
            (None, None) => branch.clone(),
        };
        if closed.merged {
            // Merged after the config branch was read: the next read shows the values.
            row.merged = Some(which);
        } else if !closed.closed_by_ladder {
            row.state = State::Held;
            row.held.push(format!(
                "the proposal of these values ({which}) was closed without merging; ladder proposes again when the values of {} change (or when forced)",
                row.from
            ));
        }
    }
    Ok(())
}

/// What a promote run is limited to, and how it writes.
pub struct PromoteOptions<'a> {
    /// Only these apps (empty: all).
    pub apps: &'a [String],
    /// Only these environments (empty: all). Naming an environment whose mode is
    /// `manual` opens its proposals.
    pub envs: &'a [String],
    /// Promotions (`(env, app)`) that may overwrite a diverged value, or reopen one a
    /// person closed.
    pub force: &'a [(String, String)],
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Who authors and commits promotions.
    pub identity: Identity,
    /// Seconds since the Unix epoch.
    pub now: i64,
}

/// The plan and what reconciling it did.
pub struct Promoted {
    pub plan: Plan,
    pub outcome: Outcome,
}

/// Plans and reconciles: every due promotion gets exactly one up-to-date proposal, and
/// proposals no longer due are closed.
pub fn promote(
    config: &ConfigHead,
    forge: &dyn Forge,
    options: &PromoteOptions,
) -> Result<Promoted, RunError> {
    let Planned { plan, proposals } = plan_promotions(config, forge, options.now, options.force)?;
    let prefix = config.branch_prefix();
    let input = ReconcileInput {
        tenant: config.tenant,
        plan: &plan,
        tree: config.tree,
        branch: config.branch,
        head: config.head,
        repo: config.repo,
        subfolder: config.subfolder,
        proposals: &proposals,
        branch_prefix: &prefix,
        apps: options.apps,
        envs: options.envs,
        dry_run: options.dry_run,
        identity: options.identity.clone(),
    };
    let outcome = reconcile(&input, forge).map_err(|e| RunError::Reconcile(Box::new(e)))?;
    Ok(Promoted { plan, outcome })
}

//! The reconcile: make the forge's proposals match the plan. Desired state comes from
//! Git (the plan), actual state from the forge (its open proposals). Every promotion
//! that is due has exactly one proposal: a branch holding one commit on the target
//! branch's head that changes only the promoted values; a proposal that is no longer
//! due is closed and its branch deleted.
//!
//! Idempotent and crash-safe: a branch whose commit sits on the target head and holds
//! exactly the tree the promotion would build is kept (nothing is written), so a run
//! killed half-way finds each branch either written (identical: kept) or not (written
//! now).
//! Every write is a compare-and-swap on what the forge reported.

use std::collections::BTreeMap;

use ladder_git::{CommitOutcome, CommitRequest, Edits, Identity, Lease, ObjectId, Repo};
use ladder_model::{ConfigTree, PromotionGroup, PromotionMode, Tenant};
use serde::Serialize;

use crate::forge::{
    BranchWrite, Checks, CommitContent, Forge, ForgeError, MergeState, Proposal, ProposalText,
};
use crate::plan::{GateName, Plan, PlanError, Row, State, proposal_branch, read_text};

/// What to reconcile, and how.
pub struct ReconcileInput<'a> {
    pub tenant: &'a Tenant,
    pub plan: &'a Plan,
    /// The tenant's config at `head` (what the plan was computed from).
    pub tree: &'a dyn ConfigTree,
    /// The target branch and its head commit.
    pub branch: &'a str,
    pub head: ObjectId,
    /// The repository commits are built in (the mirror, or the folder's repository).
    pub repo: &'a Repo,
    /// The tenant's folder inside `repo` (`""`: the root).
    pub subfolder: &'a str,
    /// The open proposals the plan was computed with.
    pub proposals: &'a [Proposal],
    pub branch_prefix: &'a str,
    /// Only these apps (empty: all).
    pub apps: &'a [String],
    /// Only these environments (empty: all). Naming an environment whose mode is
    /// `manual` opens its proposals.
    pub envs: &'a [String],
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Who authors and commits promotions.
    pub identity: Identity,
}

/// One thing the reconcile did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub branch: String,
    pub app: String,
    pub env: String,
    pub kind: ActionKind,
    /// The commit the branch holds (or would hold) afterwards.
    #[serde(serialize_with = "opt_id")]
    pub commit: Option<ObjectId>,
    /// Why, in a few words.
    pub reason: String,
    /// Whether the write landed (always false in a dry run and for `keep`).
    pub written: bool,
    /// The write's failure, if it failed; the next run retries.
    pub error: Option<String>,
    /// Whether ladder merged the proposal (`mode: auto-merge`).
    pub merged: bool,
    /// Something the forge refused that does not keep the proposal from standing (an
    /// unknown reviewer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// A branch someone else pushed to, which an earlier run already reported (it is
    /// marked): said once, not on every run.
    #[serde(rename = "alreadyReported", skip_serializing_if = "std::ops::Not::not")]
    pub already_reported: bool,
    /// The proposal's title, when ladder wrote its commit.
    #[serde(skip)]
    pub title: Option<String>,
}

impl Action {
    /// An action not yet carried out: nothing written, merged or failed.
    fn new(
        branch: impl Into<String>,
        app: impl Into<String>,
        env: impl Into<String>,
        kind: ActionKind,
        commit: Option<ObjectId>,
        reason: impl Into<String>,
    ) -> Action {
        Action {
            branch: branch.into(),
            app: app.into(),
            env: env.into(),
            kind,
            commit,
            reason: reason.into(),
            written: false,
            error: None,
            merged: false,
            warning: None,
            already_reported: false,
            title: None,
        }
    }
}

pub(crate) fn opt_id<S: serde::Serializer>(id: &Option<ObjectId>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&id.to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// A new proposal: the branch is created.
    Open,
    /// The proposal is rebuilt on the new head or the new values.
    Update,
    /// The proposal already holds exactly the promotion: nothing is written.
    Keep,
    /// A gate holds the promotion; its open proposal stays as it is.
    Hold,
    /// No longer due: the proposal is closed and its branch deleted.
    Close,
    /// Someone else pushed to the branch: ladder neither overwrites nor deletes it.
    Foreign,
}

/// What a reconcile did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// Branch writes attempted (one batch).
    pub writes: usize,
}

impl Outcome {
    /// Whether any write failed.
    pub fn failed(&self) -> bool {
        self.actions.iter().any(|a| a.error.is_some())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Plan(#[from] Box<PlanError>),
    #[error("editing {file}: {source}")]
    Edit {
        file: String,
        #[source]
        source: Box<yamledit::Error>,
    },
    #[error("building the commit of {branch}: {source}")]
    Commit {
        branch: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
    #[error(transparent)]
    Forge(#[from] Box<ForgeError>),
    #[error("reading {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
}

/// The commit message's subject, the proposal's title.
pub fn title(row: &Row) -> String {
    let changed: Vec<_> = row.changed().collect();
    match changed.as_slice() {
        [(field, _)] => format!(
            "Promote {} to {}: {} {} -> {}",
            row.app, row.env, field.path, field.current, field.upstream
        ),
        fields => format!(
            "Promote {} to {}: {} values",
            row.app,
            row.env,
            fields.len()
        ),
    }
}

/// The proposal's commit for `row`, built on `input.head` in `input.repo` (no ref
/// moves), and its tree. `None` when the edits change nothing.
pub fn build_promotion(
    input: &ReconcileInput,
    row: &Row,
) -> Result<Option<(ObjectId, ObjectId)>, ReconcileError> {
    let branch = proposal_branch(input.branch_prefix, &row.env, &row.app);
    let marker = format!("{}/{}", row.env, row.app);
    Ok(build_commit_of(input, &[row], &title(row), &marker, &branch)?.map(|b| (b.commit, b.tree)))
}

/// The title of an environment's grouped proposal.
pub fn group_title(env: &str, rows: &[&Row]) -> String {
    match rows {
        [row] => title(row),
        rows => format!("Promote {} apps to {env}", rows.len()),
    }
}

/// One commit on `input.head` moving every changed value of `rows`, with the
/// `Ladder-Promotion: <marker>` trailer.
fn build_commit_of(
    input: &ReconcileInput,
    rows: &[&Row],
    subject: &str,
    marker: &str,
    branch: &str,
) -> Result<Option<Built>, ReconcileError> {
    let request = commit_request(input, rows, subject, marker)?;
    Ok(build(input, &request, branch)?.map(|(commit, tree)| Built {
        commit,
        tree,
        request,
    }))
}

/// A proposal commit built in the local repository, and the request it was built from
/// (for forges that recreate it through their API).
struct Built {
    commit: ObjectId,
    tree: ObjectId,
    request: CommitRequest,
}

/// `request` as content: what a forge needs to recreate the commit through its API.
fn content_of(request: &CommitRequest) -> Result<CommitContent, ReconcileError> {
    CommitContent::of(request).map_err(|source| ReconcileError::Commit {
        branch: String::new(),
        source: Box::new(source),
    })
}

/// The commit request of [`build_commit_of`]: the edits and the message.
fn commit_request(
    input: &ReconcileInput,
    rows: &[&Row],
    subject: &str,
    marker: &str,
) -> Result<CommitRequest, ReconcileError> {
    let mut per_file: BTreeMap<&str, Vec<yamledit::Edit>> = BTreeMap::new();
    for (field, _) in rows.iter().flat_map(|r| r.changed()) {
        let path = yamledit::Path::parse(&field.path).map_err(|source| ReconcileError::Edit {
            file: field.file.clone(),
            source: Box::new(source),
        })?;
        per_file
            .entry(field.file.as_str())
            .or_default()
            .push(yamledit::Edit::new(path, field.upstream.clone()));
    }
    let mut edits = Edits::new();
    for (file, file_edits) in &per_file {
        let text = read_text(input.tree, file).map_err(Box::new)?;
        let edited =
            yamledit::set_many(&text, file_edits).map_err(|source| ReconcileError::Edit {
                file: file.to_string(),
                source: Box::new(source),
            })?;
        edits.write(repo_path(input.subfolder, file), edited);
    }
    let mut body = String::new();
    let mut trailers = vec![("Ladder-Promotion".to_string(), marker.to_string())];
    for row in rows {
        let upstream = ("Ladder-Upstream".to_string(), row.from.clone());
        if !trailers.contains(&upstream) {
            trailers.push(upstream);
        }
    }
    for row in rows {
        for (field, source) in row.changed() {
            body.push_str(&format!(
                "{} {}: {} -> {}\n",
                field.file, field.path, field.current, field.upstream
            ));
            if let Some(source) = source {
                let trailer = ("Ladder-Source-Commit".to_string(), source.id.to_string());
                if !trailers.contains(&trailer) {
                    trailers.push(trailer);
                }
            }
        }
    }
    let request = CommitRequest {
        parent: input.head,
        edits,
        author: input.identity.clone(),
        committer: input.identity.clone(),
        message: format!("{subject}\n\n{body}"),
        trailers,
        time: None,
    };
    Ok(request)
}

/// Builds `request` in `input.repo` (no ref moves): the commit and its tree, `None` when
/// the edits change nothing.
fn build(
    input: &ReconcileInput,
    request: &CommitRequest,
    branch: &str,
) -> Result<Option<(ObjectId, ObjectId)>, ReconcileError> {
    match input.repo.build_commit(request) {
        Ok(CommitOutcome::Created { commit, tree }) => Ok(Some((commit, tree))),
        Ok(CommitOutcome::Unchanged) => Ok(None),
        Err(source) => Err(ReconcileError::Commit {
            branch: branch.to_string(),
            source: Box::new(source),
        }),
    }
}

/// Whether `tree` is what building `request` would give, and building it would not be
/// a no-op (an edit that changes nothing builds no commit, so there is nothing to keep).
/// The same comparison as building the commit and comparing trees, but the tree id is
/// computed in memory: nothing is written.
fn up_to_date(
    input: &ReconcileInput,
    tree: ObjectId,
    request: &CommitRequest,
    branch: &str,
) -> Result<bool, ReconcileError> {
    let read = |source| ReconcileError::Read {
        what: format!("the tree of {branch}"),
        source: Box::new(source),
    };
    let built = input
        .repo
        .tree_after_edits(request.parent, &request.edits)
        .map_err(read)?;
    if built != tree {
        return Ok(false);
    }
    // The edits change nothing when the tree is the head's own.
    let head_tree = input
        .repo
        .read_commit(request.parent)
        .map_err(read)?
        .map(|c| c.tree);
    Ok(head_tree != Some(tree))
}

fn repo_path(subfolder: &str, file: &str) -> String {
    if subfolder.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", subfolder.trim_end_matches('/'))
    }
}

fn selected(names: &[String], name: &str) -> bool {
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Converges the forge's proposals on the plan: see the module documentation.
pub fn reconcile(input: &ReconcileInput, forge: &dyn Forge) -> Result<Outcome, ReconcileError> {
    let mut tips = Tips::new();
    for p in input.proposals {
        let commit = input
            .repo
            .read_commit(p.head)
            .map_err(|source| ReconcileError::Read {
                what: format!("the commit of {}", p.branch),
                source: Box::new(source),
            })?;
        tips.extend(commit.map(|c| (p.head, c)));
    }
    let tips = &tips;
    let mut actions = Vec::new();
    let mut writes = Vec::new();
    let mut covered = Vec::new();
    for row in &input.plan.promotions {
        if !selected(input.apps, &row.app) || !selected(input.envs, &row.env) {
            continue;
        }
        let branch = proposal_branch(input.branch_prefix, &row.env, &row.app);
        covered.push(branch.clone());
        let existing = input.proposals.iter().find(|p| p.branch == branch);
        let action = |kind, commit, reason: &str| {
            Action::new(
                branch.clone(),
                row.app.clone(),
                row.env.clone(),
                kind,
                commit,
                reason.to_string(),
            )
        };
        if grouped(input, &row.env) {
            // The environment's promotions go together on `<env>/_all`.
            if let Some(p) = existing {
                if read_tip(input, tips, p)? == Tip::Foreign {
                    actions.push(foreign(&branch, row));
                    continue;
                }
                actions.push(action(
                    ActionKind::Close,
                    None,
                    "the environment's promotions are grouped now",
                ));
                writes.push(BranchWrite::delete(branch.clone(), p.head));
            }
            continue;
        }
        match (row.state, existing) {
            (State::InSync, None) => {
                // A branch left without an open proposal (its pull request merged, and
                // the forge kept the branch) that holds ladder's commit: deleted under
                // a lease. Someone else's is left alone.
                if let Some(Lease::At(tip)) = open_lease(input, &branch)? {
                    actions.push(action(
                        ActionKind::Close,
                        None,
                        "the values are in sync: the branch of a merged proposal is deleted",
                    ));
                    writes.push(BranchWrite::delete(branch.clone(), tip));
                }
            }
            (State::Due, None) if row.merged.is_some() => {
                let which = row.merged.as_deref().unwrap_or_default();
                actions.push(action(
                    ActionKind::Hold,
                    None,
                    &format!(
                        "the proposal of these values ({which}) was merged after the config branch was read; the next run sees it"
                    ),
                ));
            }
            (State::InSync, Some(p)) => {
                if read_tip(input, tips, p)? == Tip::Foreign {
                    actions.push(foreign(&branch, row));
                    continue;
                }
                actions.push(action(
                    ActionKind::Close,
                    None,
                    "the values are in sync: merged, or equal by hand",
                ));
                writes.push(BranchWrite::delete(branch.clone(), p.head));
            }
            (State::Blocked, Some(p)) => {
                let reason = blocked_reason(row);
                actions.push(action(ActionKind::Hold, Some(p.head), &reason));
            }
            (State::Blocked | State::Diverged | State::Held, None) => {}
            (State::Held, Some(p)) => {
                actions.push(action(
                    ActionKind::Hold,
                    Some(p.head),
                    &format!("held: {}", row.held.join("; ")),
                ));
            }
            (State::Diverged, Some(p)) => {
                // Left as it is: it may be a forced one (`promote --force`), and it is
                // no longer on the head that holds the hotfix, so it is not rebuilt.
                actions.push(action(
                    ActionKind::Hold,
                    Some(p.head),
                    &format!("diverged: {}", row.diverged.join("; ")),
                ));
            }
            (State::Due | State::Proposed, _) => {
                let env = input.tenant.environment(&row.env);
                let manual = env
                    .and_then(|e| e.promotion.as_ref())
                    .is_some_and(|p| p.mode == PromotionMode::Manual);
                let named = input.envs.contains(&row.env);
                if manual && existing.is_none() && !named {
                    continue;
                }
                let marker = format!("{}/{}", row.env, row.app);
                let request = commit_request(input, &[row], &title(row), &marker)?;
                let tip = match existing {
                    Some(p) => Some(read_tip(input, tips, p)?),
                    None => None,
                };
                // Up to date, decided by reading: the proposal's one commit sits on the
                // head and its tree is the head's with exactly these edits (what
                // building the commit would compare, without writing 500 commits).
                if let (Some(p), Some(Tip::Ours { parent, tree })) = (existing, &tip)
                    && *parent == input.head
                    && up_to_date(input, *tree, &request, &branch)?
                {
                    actions.push(action(
                        ActionKind::Keep,
                        Some(p.head),
                        "the proposal is up to date",
                    ));
                    continue;
                }
                let Some((commit, tree)) = build(input, &request, &branch)? else {
                    continue;
                };
                if let Some(Tip::Foreign) = tip {
                    actions.push(foreign(&branch, row));
                    continue;
                }
                let same = matches!(
                    tip,
                    Some(Tip::Ours { parent, tree: t }) if parent == input.head && t == tree
                );
                match existing {
                    Some(p) if same => {
                        actions.push(action(
                            ActionKind::Keep,
                            Some(p.head),
                            "the proposal is up to date",
                        ));
                    }
                    Some(p) => {
                        actions.push(action(
                            ActionKind::Update,
                            Some(commit),
                            &format!(
                                "{} (the target branch or the upstream values moved)",
                                title(row)
                            ),
                        ));
                        writes.push(BranchWrite {
                            branch: branch.clone(),
                            new: Some(commit),
                            lease: Lease::At(p.head),
                            content: Some(content_of(&request)?),
                        });
                    }
                    None => {
                        let Some(lease) = open_lease(input, &branch)? else {
                            actions.push(foreign(&branch, row));
                            continue;
                        };
                        actions.push(action(ActionKind::Open, Some(commit), &title(row)));
                        writes.push(BranchWrite {
                            branch: branch.clone(),
                            new: Some(commit),
                            lease,
                            content: Some(content_of(&request)?),
                        });
                    }
                }
            }
        }
    }
    reconcile_groups(input, tips, &mut actions, &mut writes)?;
    reconcile_backflow(input, tips, &mut actions, &mut writes)?;
    reconcile_rollbacks(input, tips, &mut actions, &mut writes)?;
    // Proposals of promotions that no longer exist (the app or the environment was
    // removed, or no longer promotes).
    for p in input.proposals {
        if covered.contains(&p.branch) {
            continue;
        }
        let Some((env, app)) = p
            .branch
            .strip_prefix(input.branch_prefix)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        // Other ladder branches (`rollback/`, `backflow/`, `_all`) are not ours here.
        if app.contains('/') || app == "_all" || matches!(env, "rollback" | "backflow") {
            continue;
        }
        if !selected(input.apps, app) || !selected(input.envs, env) {
            continue;
        }
        if read_tip(input, tips, p)? == Tip::Foreign {
            actions.push(Action::new(
                p.branch.clone(),
                app.to_string(),
                env.to_string(),
                ActionKind::Foreign,
                Some(p.head),
                FOREIGN.to_string(),
            ));
            continue;
        }
        actions.push(Action::new(
            p.branch.clone(),
            app.to_string(),
            env.to_string(),
            ActionKind::Close,
            None,
            "the promotion no longer exists (app or environment removed)",
        ));
        writes.push(BranchWrite::delete(p.branch.clone(), p.head));
    }
    delete_orphans(input, &covered, &mut actions, &mut writes)?;

    let mut outcome = Outcome {
        writes: writes.len(),
        actions,
    };
    if input.dry_run {
        outcome.writes = 0;
        return Ok(outcome);
    }
    if !writes.is_empty() {
        write_and_open(input, forge, &writes, &mut outcome)?;
    }
    refresh_kept(input, forge, &mut outcome);
    mark(input, forge, &mut outcome);
    auto_merge(input, forge, &mut outcome);
    Ok(outcome)
}

/// The label of a proposal a freeze holds (`frozen: true`, or an active deny sync
/// window), on forges that have labels. Added with one comment saying why; removed once
/// the freeze ends.
pub const FROZEN_LABEL: &str = "ladder/frozen";

/// The label of a proposal whose branch someone else pushed to, on forges that have
/// labels: ladder says so once (a comment when it adds the label), not on every run.
pub const FOREIGN_LABEL: &str = "ladder/foreign";

/// A call a forge may not support: `Unsupported` is nothing to do.
fn optional(result: Result<(), ForgeError>) -> Option<String> {
    match result {
        Ok(()) | Err(ForgeError::Unsupported { .. }) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// Whether a freeze (not soak or readiness) holds `env`'s promotion of `app` (`_all`:
/// any of the environment's).
fn frozen(input: &ReconcileInput, env: &str, app: &str) -> Option<String> {
    let reasons: Vec<&str> = input
        .plan
        .promotions
        .iter()
        .filter(|r| r.env == env && (app == "_all" || r.app == app))
        .flat_map(|r| &r.gates)
        .filter(|g| !g.passed && matches!(g.name, GateName::Frozen | GateName::SyncWindow))
        .map(|g| g.reason.as_str())
        .collect();
    (!reasons.is_empty()).then(|| {
        let mut reasons = reasons;
        reasons.dedup();
        reasons.join("; ")
    })
}

/// Marks proposals a freeze holds with [`FROZEN_LABEL`] and those someone else pushed
/// to with [`FOREIGN_LABEL`], each with one comment saying why when the label is added;
/// removes a mark that no longer applies. Writes only when a label is not as it should
/// be, so a steady state costs no API write.
fn mark(input: &ReconcileInput, forge: &dyn Forge, outcome: &mut Outcome) {
    for action in &mut outcome.actions {
        let Some(p) = input.proposals.iter().find(|p| p.branch == action.branch) else {
            continue;
        };
        let wanted: Vec<(&str, String)> = match action.kind {
            ActionKind::Hold => frozen(input, &action.env, &action.app)
                .map(|why| {
                    (
                        FROZEN_LABEL,
                        format!(
                            "ladder holds this promotion: {why}. It stays open and is brought up to date when that ends."
                        ),
                    )
                })
                .into_iter()
                .collect(),
            ActionKind::Foreign => vec![(FOREIGN_LABEL, format!("ladder: {FOREIGN}."))],
            ActionKind::Keep | ActionKind::Update if action.error.is_none() => Vec::new(),
            _ => continue,
        };
        let mut error = None;
        if action.kind == ActionKind::Foreign && p.labels.iter().any(|l| l == FOREIGN_LABEL) {
            action.already_reported = true;
        }
        for (label, why) in &wanted {
            if p.labels.iter().any(|l| l == label) {
                continue;
            }
            // The comment first, once per proposal head: a marker in it is looked for
            // before posting, so a run whose label or comment answer was lost neither
            // skips the comment nor posts it twice; the label (the "done" mark) last.
            let marker = format!("<!-- ladder:{label} {} -->", p.head);
            let said = match forge.comments(p) {
                Ok(bodies) => Ok(bodies.iter().any(|b| b.contains(&marker))),
                Err(ForgeError::Unsupported { .. }) => Ok(false),
                Err(e) => Err(e.to_string()),
            };
            match said {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(e) = optional(forge.comment(p, &format!("{marker}\n{why}"))) {
                        error = error.or(Some(e));
                        continue;
                    }
                }
                Err(e) => {
                    error = error.or(Some(e));
                    continue;
                }
            }
            match forge.label(p, &[label.to_string()]) {
                Ok(()) | Err(ForgeError::Unsupported { .. }) => {}
                Err(e) => error = error.or(Some(e.to_string())),
            }
        }
        // The environment's own labels, which a run that died after opening the
        // proposal may have left off, and with them possibly the review request.
        if action.kind != ActionKind::Foreign
            && let Some(promotion) = input
                .tenant
                .environment(&action.env)
                .and_then(|e| e.promotion.as_ref())
        {
            let (failed, refused) =
                finish_labels(forge, p, &promotion.reviewers, &promotion.labels);
            error = error.or(failed);
            action.warning = action.warning.take().or(refused);
        }
        for label in [FROZEN_LABEL, FOREIGN_LABEL] {
            let marked = p.labels.iter().any(|l| l == label);
            if marked && !wanted.iter().any(|(l, _)| *l == label) {
                error = error.or(optional(forge.unlabel(p, &[label.to_string()])));
            }
        }
        if error.is_some() {
            action.error = error;
        }
    }
}

/// Merges one up-to-date proposal into an `auto-merge` environment, when the forge says
/// it merges and its checks pass. One per run: a merge moves the target branch, on which
/// the others are then rebuilt by the next run.
fn auto_merge(input: &ReconcileInput, forge: &dyn Forge, outcome: &mut Outcome) {
    let auto = |env: &str| {
        input
            .tenant
            .environment(env)
            .and_then(|e| e.promotion.as_ref())
            .is_some_and(|p| p.mode == PromotionMode::AutoMerge)
    };
    let Some(action) = outcome.actions.iter_mut().find(|a| {
        a.error.is_none()
            && auto(&a.env)
            && (a.kind == ActionKind::Keep
                || (a.written && matches!(a.kind, ActionKind::Open | ActionKind::Update)))
    }) else {
        return;
    };
    let Some(head) = action.commit else {
        return;
    };
    let known = input.proposals.iter().find(|p| p.branch == action.branch);
    let proposal = Proposal {
        branch: action.branch.clone(),
        head,
        number: known.and_then(|p| p.number),
        url: known.and_then(|p| p.url.clone()),
        title: None,
        body: None,
        base: None,
        labels: known.map(|p| p.labels.clone()).unwrap_or_default(),
    };
    let result = forge
        .merge_state(&proposal, input.branch)
        .and_then(|state| match state {
            MergeState::Mergeable {
                checks: Checks::None | Checks::Passed,
            } => forge
                .merge(&proposal, input.branch, input.head)
                .map(|()| None),
            MergeState::Mergeable { checks } => {
                Ok(Some(format!("not merged yet: checks {checks:?}")))
            }
            MergeState::Blocked { reason } => Ok(Some(format!("not merged: {reason}"))),
            MergeState::Unknown => Ok(Some("not merged yet: mergeability unknown".into())),
        });
    match result {
        Ok(None) => action.merged = true,
        Ok(Some(why)) => action.reason = format!("{}; {why}", action.reason),
        Err(ForgeError::CheckedOut { branch, repo }) => {
            action.reason = format!(
                "{}; not merged: {branch} is checked out in {repo}, merge it by hand",
                action.reason
            );
        }
        Err(e) => action.error = Some(format!("merging: {e}")),
    }
}

/// Closes, writes every branch in one batch, then opens or updates the proposal around
/// each branch written.
fn write_and_open(
    input: &ReconcileInput,
    forge: &dyn Forge,
    writes: &[BranchWrite],
    outcome: &mut Outcome,
) -> Result<(), ReconcileError> {
    // Close first (forges with an API say why), then write every branch in one batch.
    // A close that fails is that action's error, and its branch stays for the next run
    // (deleting it would close the proposal without saying why); the rest goes on.
    let mut not_closed = Vec::new();
    for a in &mut outcome.actions {
        if a.kind == ActionKind::Close
            && let Some(p) = input.proposals.iter().find(|p| p.branch == a.branch)
            && let Err(e) = forge.close(p, &a.reason)
        {
            a.error = Some(format!("closing: {e}"));
            not_closed.push(a.branch.clone());
        }
    }
    let writes: Vec<BranchWrite> = writes
        .iter()
        .filter(|w| !(w.new.is_none() && not_closed.contains(&w.branch)))
        .cloned()
        .collect();
    let results = if writes.is_empty() {
        Vec::new()
    } else {
        forge.write_branches(&writes).map_err(Box::new)?
    };
    for (write, result) in writes.iter().zip(results) {
        let Some(action) = outcome
            .actions
            .iter_mut()
            .find(|a| a.branch == write.branch && a.kind != ActionKind::Keep)
        else {
            continue;
        };
        match result {
            Ok(tip) => {
                action.written = true;
                // A forge that recreated the commit through its API holds its own.
                if tip.is_some() {
                    action.commit = tip;
                }
            }
            Err(e) => action.error = Some(e.to_string()),
        }
    }
    // Then the proposal around each branch written.
    for action in outcome.actions.iter_mut().filter(|a| a.written) {
        let Some(text) = text_of(input, action) else {
            continue;
        };
        let result = match action.kind {
            ActionKind::Open => {
                let (opened, warning) = open_proposal(forge, &action.branch, input.branch, &text);
                action.warning = warning;
                opened.map(|_| ())
            }
            ActionKind::Update => {
                match input.proposals.iter().find(|p| p.branch == action.branch) {
                    Some(p) => forge
                        .update(
                            &Proposal {
                                head: action.commit.unwrap_or(p.head),
                                ..p.clone()
                            },
                            &text,
                        )
                        .map(|_| ()),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            action.error = Some(e.to_string());
        }
    }
    Ok(())
}

/// Opens the proposal of `branch` with `text`, then asks its reviewers and puts its
/// labels on it: for promotions and rollbacks alike. The labels come last because they
/// are the mark that the reviewers were asked: a run that died before labelling finds
/// the proposal without them and asks the reviewers again ([`ask_then_label`]). A label
/// the forge refuses fails the open (the next run adds it); a reviewer the forge refuses
/// for good (not a collaborator) is the returned warning, not a failure: the proposal
/// stands without that review request.
pub(crate) fn open_proposal(
    forge: &dyn Forge,
    branch: &str,
    base: &str,
    text: &ProposalText,
) -> (Result<Proposal, ForgeError>, Option<String>) {
    let opened = match forge.open(branch, base, text) {
        Ok(opened) => opened,
        Err(e) => return (Err(e), None),
    };
    let (error, warning) = ask_then_label(forge, &opened, &text.reviewers, &text.labels);
    match error {
        Some(message) => (
            Err(ForgeError::Api {
                message,
                transient: true,
            }),
            warning,
        ),
        None => (Ok(opened), warning),
    }
}

/// Finishes a proposal a run left without its labels. None of `labels` on it: the run
/// that opened it died before labelling it (or a person took them all off), so its
/// reviewers are asked again before the labels go on, as [`open_proposal`] does. Only
/// some missing (a label added to the environment since): the labels alone, so that
/// people who reviewed are not asked again. Returns what [`ask_then_label`] does.
pub(crate) fn finish_labels(
    forge: &dyn Forge,
    proposal: &Proposal,
    reviewers: &[String],
    labels: &[String],
) -> (Option<String>, Option<String>) {
    let missing: Vec<String> = labels
        .iter()
        .filter(|l| !proposal.labels.contains(l))
        .cloned()
        .collect();
    if missing.is_empty() {
        (None, None)
    } else if missing.len() == labels.len() {
        ask_then_label(forge, proposal, reviewers, &missing)
    } else {
        (optional(forge.label(proposal, &missing)), None)
    }
}

/// Asks `reviewers` for a review of `proposal`, then adds `labels` (the mark that they
/// were asked), unless the request failed in a way a later run may get past: then the
/// labels stay off so that the next run asks again. Returns the error (the proposal is
/// not finished) and the warning (reviewers refused for good).
fn ask_then_label(
    forge: &dyn Forge,
    proposal: &Proposal,
    reviewers: &[String],
    labels: &[String],
) -> (Option<String>, Option<String>) {
    let mut warning = None;
    if !reviewers.is_empty() {
        match forge.request_reviewers(proposal, reviewers) {
            Ok(()) | Err(ForgeError::Unsupported { .. }) => {}
            Err(e) if e.is_transient() => {
                return (Some(format!("requesting reviewers: {e}")), None);
            }
            Err(e) => warning = Some(format!("requesting reviewers: {e}")),
        }
    }
    let error = if labels.is_empty() {
        None
    } else {
        optional(forge.label(proposal, labels))
    };
    (error, warning)
}

/// The text the proposal of `action` should have.
fn text_of(input: &ReconcileInput, action: &Action) -> Option<ProposalText> {
    let backflow = format!("{}backflow/", input.branch_prefix);
    if action.app == "_all" {
        Some(group_text(input, &action.env))
    } else if action.branch.starts_with(&backflow) {
        let title = action.title.clone()?;
        Some(ProposalText {
            body: format!(
                "<!-- ladder:{} -->\nA hotfix, proposed back upstream (`backflow: true`).\n",
                action
                    .branch
                    .strip_prefix(input.branch_prefix)
                    .unwrap_or_default()
            ),
            title,
            ..ProposalText::default()
        })
    } else {
        let row = input
            .plan
            .promotions
            .iter()
            .find(|r| r.app == action.app && r.env == action.env)?;
        Some(proposal_text(input, row))
    }
}

/// Whether the forge's `proposal` says what `text` says: the same title and the same
/// hidden marker (the body's first line, which names the values). The rest of the body
/// (gate reasons with ages) is not compared, so a steady state writes nothing. A forge
/// that holds no title or body (the `git` forge) always matches.
pub(crate) fn text_matches(proposal: &Proposal, text: &ProposalText) -> bool {
    let first = |b: &str| b.lines().next().unwrap_or_default().trim().to_string();
    proposal.title.as_ref().is_none_or(|t| *t == text.title)
        && proposal
            .body
            .as_ref()
            .is_none_or(|b| first(b) == first(&text.body))
}

/// Brings the title and marker of each kept proposal up to date: a run that died
/// between rebuilding a branch and updating its proposal (or whose update failed) left
/// them stale, and the branch alone, being up to date, would never say so. Writes only
/// when they differ.
fn refresh_kept(input: &ReconcileInput, forge: &dyn Forge, outcome: &mut Outcome) {
    for action in &mut outcome.actions {
        if action.kind != ActionKind::Keep || action.error.is_some() {
            continue;
        }
        let Some(p) = input.proposals.iter().find(|p| p.branch == action.branch) else {
            continue;
        };
        let Some(text) = text_of(input, action) else {
            continue;
        };
        if text_matches(p, &text) {
            continue;
        }
        if let Err(e) = forge.update(p, &text) {
            action.error = Some(format!("updating the proposal's text: {e}"));
        }
    }
}

/// Branches of promotions that no longer exist (app or environment removed) left in the
/// repository without an open proposal, on forges whose proposals are more than their
/// branch: a pull request closed while its branch's deletion failed or was lost. ladder's
/// own commit on one is deleted under a lease; anyone else's is left alone. (On the `git`
/// forge every branch is a proposal, and the loop above has seen it.)
fn delete_orphans(
    input: &ReconcileInput,
    covered: &[String],
    actions: &mut Vec<Action>,
    writes: &mut Vec<BranchWrite>,
) -> Result<(), ReconcileError> {
    let branches = input
        .repo
        .branches_under(input.branch_prefix)
        .map_err(|source| ReconcileError::Read {
            what: format!("the branches under {}", input.branch_prefix),
            source: Box::new(source),
        })?;
    for (branch, tip) in branches {
        let known = input.proposals.iter().any(|p| p.branch == branch)
            || covered.contains(&branch)
            || actions.iter().any(|a| a.branch == branch);
        if known {
            continue;
        }
        let Some((env, app)) = branch
            .strip_prefix(input.branch_prefix)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        if app.contains('/') || app == "_all" || matches!(env, "rollback" | "backflow") {
            continue;
        }
        if !selected(input.apps, app) || !selected(input.envs, env) {
            continue;
        }
        // Only ladder's one commit for this very promotion.
        if open_lease(input, &branch)? != Some(Lease::At(tip)) {
            continue;
        }
        actions.push(Action::new(branch.clone(), app.to_string(), env.to_string(), ActionKind::Close, None, "the promotion no longer exists (app or environment removed): its leftover branch is deleted"));
        writes.push(BranchWrite {
            branch,
            new: None,
            lease: Lease::At(tip),
            content: None,
        });
    }
    Ok(())
}

/// Whether `env` groups its promotions into one proposal (`group: environment`).
fn grouped(input: &ReconcileInput, env: &str) -> bool {
    input
        .tenant
        .environment(env)
        .and_then(|e| e.promotion.as_ref())
        .is_some_and(|p| p.group == PromotionGroup::Environment)
}

/// The due rows of a grouped environment.
fn group_rows<'p>(input: &'p ReconcileInput, env: &str) -> Vec<&'p Row> {
    input
        .plan
        .promotions
        .iter()
        .filter(|r| r.env == env && matches!(r.state, State::Due | State::Proposed))
        .collect()
}

/// One proposal per grouped environment, `<env>/_all`, holding every due app; and the
/// `_all` proposals of environments that are no longer grouped, closed.
fn reconcile_groups(
    input: &ReconcileInput,
    tips: &Tips,
    actions: &mut Vec<Action>,
    writes: &mut Vec<BranchWrite>,
) -> Result<(), ReconcileError> {
    for env in &input.tenant.environments {
        let Some(promotion) = &env.promotion else {
            continue;
        };
        if !selected(input.envs, &env.name) {
            continue;
        }
        let branch = proposal_branch(input.branch_prefix, &env.name, "_all");
        let existing = input.proposals.iter().find(|p| p.branch == branch);
        let action = |kind, commit, reason: String| {
            Action::new(
                branch.clone(),
                "_all".to_string(),
                env.name.clone(),
                kind,
                commit,
                reason,
            )
        };
        let is_grouped = promotion.group == PromotionGroup::Environment;
        let rows = if is_grouped {
            group_rows(input, &env.name)
        } else {
            Vec::new()
        };
        let manual = promotion.mode == PromotionMode::Manual;
        let opens = !manual || existing.is_some() || input.envs.contains(&env.name);
        if rows.is_empty() || !opens {
            let Some(p) = existing else {
                continue;
            };
            if read_tip(input, tips, p)? == Tip::Foreign {
                actions.push(action(ActionKind::Foreign, Some(p.head), FOREIGN.into()));
                continue;
            }
            let held = input.plan.promotions.iter().any(|r| {
                r.env == env.name
                    && matches!(r.state, State::Blocked | State::Diverged | State::Held)
            });
            if is_grouped && held {
                actions.push(action(
                    ActionKind::Hold,
                    Some(p.head),
                    "held: the environment's promotions are blocked".into(),
                ));
                continue;
            }
            let reason = if is_grouped {
                "no app is due"
            } else {
                "the environment's promotions are no longer grouped"
            };
            actions.push(action(ActionKind::Close, None, reason.into()));
            writes.push(BranchWrite::delete(branch.clone(), p.head));
            continue;
        }
        let title = group_title(&env.name, &rows);
        let marker = format!("{}/_all", env.name);
        let Some(built) = build_commit_of(input, &rows, &title, &marker, &branch)? else {
            continue;
        };
        let (kind, lease) = converge(input, tips, &branch, existing, built.tree)?;
        push_branch_action(
            actions,
            writes,
            action(kind, None, String::new()),
            &built,
            lease,
            &title,
            existing,
        )?;
    }
    Ok(())
}

/// What to do with a proposal branch whose desired commit has `tree`:
/// keep it, update it, open it, or leave it alone (someone else's). The lease is the
/// write's.
fn converge(
    input: &ReconcileInput,
    tips: &Tips,
    branch: &str,
    existing: Option<&Proposal>,
    tree: ObjectId,
) -> Result<(ActionKind, Lease), ReconcileError> {
    Ok(match existing {
        None => match open_lease(input, branch)? {
            Some(lease) => (ActionKind::Open, lease),
            None => (ActionKind::Foreign, Lease::Absent),
        },
        Some(p) => match read_tip(input, tips, p)? {
            Tip::Foreign => (ActionKind::Foreign, Lease::At(p.head)),
            Tip::Ours { parent, tree: t } if parent == input.head && t == tree => {
                (ActionKind::Keep, Lease::At(p.head))
            }
            Tip::Ours { .. } => (ActionKind::Update, Lease::At(p.head)),
        },
    })
}

/// Records `action` (whose kind `converge` chose) and, for an open or update, its write.
fn push_branch_action(
    actions: &mut Vec<Action>,
    writes: &mut Vec<BranchWrite>,
    mut action: Action,
    built: &Built,
    lease: Lease,
    title: &str,
    existing: Option<&Proposal>,
) -> Result<(), ReconcileError> {
    let commit = built.commit;
    let head = existing.map(|p| p.head);
    match action.kind {
        ActionKind::Foreign => {
            action.commit = head;
            action.reason = FOREIGN.into();
        }
        ActionKind::Keep => {
            action.commit = head;
            action.title = Some(title.to_string());
            action.reason = "the proposal is up to date".into();
        }
        ActionKind::Update | ActionKind::Open => {
            action.commit = Some(commit);
            action.title = Some(title.to_string());
            action.reason = if action.kind == ActionKind::Update {
                format!("{title} (the target branch or the upstream values moved)")
            } else {
                title.to_string()
            };
            writes.push(BranchWrite {
                branch: action.branch.clone(),
                new: Some(commit),
                lease,
                content: Some(content_of(&built.request)?),
            });
        }
        ActionKind::Hold | ActionKind::Close => {}
    }
    actions.push(action);
    Ok(())
}

/// Backflow (`promotion.backflow: true` on the downstream environment): a diverged
/// value (a hotfix) is proposed back to the environment it promotes from, on
/// `backflow/<from>/<app>`, so the ladder converges again. Backflow branches whose
/// hotfix reached upstream (or was replaced) are closed.
fn reconcile_backflow(
    input: &ReconcileInput,
    tips: &Tips,
    actions: &mut Vec<Action>,
    writes: &mut Vec<BranchWrite>,
) -> Result<(), ReconcileError> {
    let prefix = format!("{}backflow/", input.branch_prefix);
    let backflows = |row: &Row| {
        row.state == State::Diverged
            && input
                .tenant
                .environment(&row.env)
                .and_then(|e| e.promotion.as_ref())
                .is_some_and(|p| p.backflow)
    };
    let wanted: Vec<String> = input
        .plan
        .promotions
        .iter()
        .filter(|r| backflows(r))
        .map(|r| format!("{prefix}{}/{}", r.from, r.app))
        .collect();
    for row in input.plan.promotions.iter().filter(|r| backflows(r)) {
        if !selected(input.apps, &row.app) || !selected(input.envs, &row.env) {
            continue;
        }
        let branch = format!("{prefix}{}/{}", row.from, row.app);
        let existing = input.proposals.iter().find(|p| p.branch == branch);
        // The same promotion, turned around: the hotfix into the upstream's file.
        let mut back = row.clone();
        back.env = row.from.clone();
        back.from = row.env.clone();
        for field in &mut back.fields {
            std::mem::swap(&mut field.file, &mut field.upstream_file);
            std::mem::swap(&mut field.current, &mut field.upstream);
        }
        back.sources = vec![None; back.fields.len()];
        let title = match back.changed().collect::<Vec<_>>().as_slice() {
            [(f, _)] => format!(
                "Backflow {} to {}: {} {} -> {}",
                row.app, row.from, f.path, f.current, f.upstream
            ),
            many => format!(
                "Backflow {} to {}: {} values",
                row.app,
                row.from,
                many.len()
            ),
        };
        let marker = format!("backflow/{}/{}", row.from, row.app);
        let Some(built) = build_commit_of(input, &[&back], &title, &marker, &branch)? else {
            continue;
        };
        let (kind, lease) = converge(input, tips, &branch, existing, built.tree)?;
        let action = Action {
            branch,
            app: row.app.clone(),
            env: row.from.clone(),
            kind,
            commit: None,
            reason: String::new(),
            written: false,
            error: None,
            merged: false,
            warning: None,
            already_reported: false,
            title: None,
        };
        push_branch_action(actions, writes, action, &built, lease, &title, existing)?;
    }
    for p in input.proposals {
        let Some((env, app)) = p
            .branch
            .strip_prefix(&prefix)
            .and_then(|r| r.split_once('/'))
        else {
            continue;
        };
        if wanted.contains(&p.branch) || !selected(input.apps, app) {
            continue;
        }
        let tip = read_tip(input, tips, p)?;
        let (kind, reason) = if tip == Tip::Foreign {
            (ActionKind::Foreign, FOREIGN.to_string())
        } else {
            (
                ActionKind::Close,
                "the hotfix is no longer diverged (it reached upstream, or was replaced)".into(),
            )
        };
        if kind == ActionKind::Close {
            writes.push(BranchWrite::delete(p.branch.clone(), p.head));
        }
        actions.push(Action::new(
            p.branch.clone(),
            app.to_string(),
            env.to_string(),
            kind,
            Some(p.head),
            reason,
        ));
    }
    Ok(())
}

/// Rollback proposals (`rollback/<env>/<app>`, opened by `ladder rollback`) are not
/// planned, but once merged (by a merge, a squash or a fast-forward: the config
/// branch's values are the rollback's) or left without their app or environment, their
/// branch is closed like any other. Someone else's commit on one is left alone.
fn reconcile_rollbacks(
    input: &ReconcileInput,
    tips: &Tips,
    actions: &mut Vec<Action>,
    writes: &mut Vec<BranchWrite>,
) -> Result<(), ReconcileError> {
    let prefix = format!("{}rollback/", input.branch_prefix);
    for p in input.proposals {
        let Some((env, app)) = p
            .branch
            .strip_prefix(&prefix)
            .and_then(|r| r.split_once('/'))
        else {
            continue;
        };
        if !selected(input.apps, app) || !selected(input.envs, env) {
            continue;
        }
        let marker = format!("Ladder-Rollback: {env}/{app}");
        let ours = tips
            .get(&p.head)
            .is_some_and(|c| c.parents.len() == 1 && c.message.lines().any(|l| l == marker));
        let action = |kind, reason: &str| {
            Action::new(
                p.branch.clone(),
                app.to_string(),
                env.to_string(),
                kind,
                Some(p.head),
                reason.to_string(),
            )
        };
        if !ours {
            actions.push(action(ActionKind::Foreign, FOREIGN));
            continue;
        }
        let reason = match rollback_merged(input, p.head, env, app)? {
            Some(reason) => reason,
            None => continue,
        };
        actions.push(action(ActionKind::Close, reason));
        writes.push(BranchWrite::delete(p.branch.clone(), p.head));
    }
    Ok(())
}

/// Why the rollback whose commit is `tip` is done, or `None` while it is still pending.
fn rollback_merged(
    input: &ReconcileInput,
    tip: ObjectId,
    env: &str,
    app: &str,
) -> Result<Option<&'static str>, ReconcileError> {
    let tenant = input.tenant;
    let (Some(env), Some(app)) = (
        tenant.environment(env),
        tenant.apps.iter().find(|a| a.name == app),
    ) else {
        return Ok(Some("its app or environment no longer exists"));
    };
    if !app.deployed_to(&env.name) {
        return Ok(Some("its app is no longer deployed to the environment"));
    }
    let read = |source| ReconcileError::Read {
        what: format!("the rollback commit {tip}"),
        source: Box::new(source),
    };
    if input.repo.is_ancestor(tip, input.head).map_err(read)? {
        return Ok(Some("merged: the rollback is on the config branch"));
    }
    let tip_tree = input.repo.tree_at(tip).map_err(read)?;
    let Some(tip_tree) = ladder_tree::SubTree::new(tip_tree, input.subfolder) else {
        return Ok(None);
    };
    let merged = tenant.promoted_fields(app, env).iter().all(|field| {
        let rolled = crate::plan::read_value(&tip_tree, &field.file, &field.path).ok();
        let now = crate::plan::read_value(input.tree, &field.file, &field.path).ok();
        rolled.is_some() && rolled == now
    });
    Ok(merged.then_some("merged: the config branch holds the rolled-back values"))
}

/// The proposal of a grouped environment: every due app's fields and gates.
fn group_text(input: &ReconcileInput, env: &str) -> ProposalText {
    let rows = group_rows(input, env);
    let mut text = ProposalText {
        title: group_title(env, &rows),
        ..ProposalText::default()
    };
    text.body = format!("<!-- ladder:promotion {env}/_all -->\n");
    for row in &rows {
        let one = proposal_text(input, row);
        text.body.push_str(&format!("\n## {}\n\n", row.app));
        text.body
            .push_str(one.body.split_once('\n').map_or("", |(_, rest)| rest));
        text.labels = one.labels;
        text.reviewers = one.reviewers;
    }
    text
}

/// The lease of a new proposal's branch. On forges whose proposals are more than their
/// branch (pull requests), the branch may outlive its proposal: one closed or merged, or
/// a run that died between pushing the branch and opening its pull request. ladder
/// takes such a branch over when it holds ladder's own commit for this promotion
/// (`Lease::At` its tip) and leaves it alone (`None`) when someone else's commit is on it.
fn open_lease(input: &ReconcileInput, branch: &str) -> Result<Option<Lease>, ReconcileError> {
    let promotion = branch.strip_prefix(input.branch_prefix).unwrap_or(branch);
    takeover_lease(
        input.repo,
        branch,
        &format!("Ladder-Promotion: {promotion}"),
    )
    .map_err(|source| ReconcileError::Read {
        what: format!("the branch {branch}"),
        source: Box::new(source),
    })
}

/// The lease of writing `branch` where no open proposal is known (see [`open_lease`]):
/// `Lease::Absent` when the branch does not exist, `Lease::At` its tip when that is
/// one commit of ladder's carrying the trailer line `trailer` (`Ladder-Promotion:
/// staging/web`, `Ladder-Rollback: staging/web`), `None` when someone else's commit is
/// on it. Shared by promotions and rollbacks.
pub(crate) fn takeover_lease(
    repo: &Repo,
    branch: &str,
    trailer: &str,
) -> Result<Option<Lease>, ladder_git::Error> {
    let Some(tip) = repo.branch_tip(branch)? else {
        return Ok(Some(Lease::Absent));
    };
    let ours = repo
        .read_commit(tip)?
        .is_some_and(|c| c.parents.len() == 1 && c.message.lines().any(|l| l == trailer));
    Ok(ours.then_some(Lease::At(tip)))
}

/// What a proposal branch holds.
#[derive(Debug, PartialEq, Eq)]
enum Tip {
    /// One commit ladder made for this promotion, on `parent`.
    Ours { parent: ObjectId, tree: ObjectId },
    /// Anything else: someone pushed to the branch (or the commit cannot be read).
    Foreign,
}

const FOREIGN: &str = "someone else pushed to this branch; ladder leaves it alone (delete the branch to let ladder propose again)";

fn foreign(branch: &str, row: &Row) -> Action {
    Action::new(
        branch.to_string(),
        row.app.clone(),
        row.env.clone(),
        ActionKind::Foreign,
        None,
        FOREIGN.to_string(),
    )
}

/// Whether `proposal`'s tip is ladder's one commit for its promotion: a single parent
/// and the `Ladder-Promotion` trailer naming the branch's environment and app.
/// The commits of the proposal branches' tips, read once.
type Tips = std::collections::HashMap<ObjectId, ladder_git::CommitData>;

fn read_tip(
    input: &ReconcileInput,
    tips: &Tips,
    proposal: &Proposal,
) -> Result<Tip, ReconcileError> {
    let Some(commit) = tips.get(&proposal.head) else {
        return Ok(Tip::Foreign);
    };
    let promotion = proposal
        .branch
        .strip_prefix(input.branch_prefix)
        .unwrap_or(&proposal.branch);
    let marked = commit
        .message
        .lines()
        .any(|l| l.strip_prefix("Ladder-Promotion: ") == Some(promotion));
    Ok(match commit.parents.as_slice() {
        [parent] if marked => Tip::Ours {
            parent: *parent,
            tree: commit.tree,
        },
        _ => Tip::Foreign,
    })
}

fn blocked_reason(row: &Row) -> String {
    let reasons: Vec<&str> = row
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.reason.as_str())
        .collect();
    format!("held: {}", reasons.join("; "))
}

/// The hidden marker at the top of a proposal's body: which promotion it is and which
/// values it proposes, so a proposal a person closed without merging is recognised and
/// not opened again for the same values (see [`proposes_same_values`]).
pub fn marker(row: &Row) -> String {
    format!(
        "<!-- ladder:promotion {}/{} values={} -->",
        row.env,
        row.app,
        proposed_values(row)
    )
}

/// The values `row` proposes, as one line of JSON that cannot end an HTML comment.
fn proposed_values(row: &Row) -> String {
    let values: Vec<serde_json::Value> = row
        .changed()
        .map(|(f, _)| {
            let value: serde_json::Value =
                serde_json::from_str(&f.upstream.to_json()).unwrap_or(serde_json::Value::Null);
            serde_json::json!([f.file, f.path, value])
        })
        .collect();
    serde_json::Value::Array(values)
        .to_string()
        .replace("--", "-\\u002d")
}

/// Whether a proposal body (a closed pull request's) proposed exactly `row`'s values.
pub fn proposes_same_values(body: &str, row: &Row) -> bool {
    body.lines()
        .next()
        .is_some_and(|first| first.trim() == marker(row))
}

/// The proposal's title, body and the environment's labels and reviewers.
pub fn proposal_text(input: &ReconcileInput, row: &Row) -> ProposalText {
    let mut body = format!(
        "{}\nPromotes {} from {} to {}.\n\n",
        marker(row),
        row.app,
        row.from,
        row.env
    );
    for (field, source) in row.changed() {
        body.push_str(&format!(
            "- `{}` `{}`: `{}` -> `{}`",
            field.file, field.path, field.current, field.upstream
        ));
        if let Some(c) = source {
            let sha = c.id.to_string();
            body.push_str(&format!(
                " (from {} {}: {})",
                &sha[..12],
                c.author_name,
                c.subject
            ));
        }
        body.push('\n');
    }
    body.push_str("\nGates:\n");
    for gate in &row.gates {
        body.push_str(&format!(
            "- {}: {} ({})\n",
            serde_json::to_value(gate.name)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            if gate.passed { "passed" } else { "blocked" },
            gate.reason
        ));
    }
    let promotion = input
        .tenant
        .environment(&row.env)
        .and_then(|e| e.promotion.as_ref());
    ProposalText {
        title: title(row),
        body,
        labels: promotion.map(|p| p.labels.clone()).unwrap_or_default(),
        reviewers: promotion.map(|p| p.reviewers.clone()).unwrap_or_default(),
    }
}

//! Rollbacks: propose setting an app's promoted values in one environment back to what
//! they were at an earlier commit, on `ladder/rollback/<env>/<app>`. Soak does not
//! apply; a freeze and an active deny window do, unless forced.

use ladder_git::{CommitOutcome, CommitRequest, Edits, Identity, Lease, ObjectId};
use ladder_tree::SubTree;
use serde::Serialize;

use crate::forge::{BranchWrite, CommitContent, Forge, ForgeError, Proposal, ProposalText};
use crate::plan::{PlanError, read_text, read_value};
use crate::reconcile::ActionKind;
use crate::run::ConfigHead;

/// What to roll back, and how.
pub struct RollbackInput<'a> {
    /// The target branch, as the promoter reads it.
    pub config: ConfigHead<'a>,
    pub app: &'a str,
    pub env: &'a str,
    /// The commit whose values are restored.
    pub to: ObjectId,
    /// Why, for the message.
    pub reason: Option<&'a str>,
    /// Roll back into a frozen environment, or during an active deny window.
    pub force: bool,
    pub dry_run: bool,
    /// Seconds since the Unix epoch, for sync windows.
    pub now: i64,
    pub identity: Identity,
}

/// One value the rollback sets.
#[derive(Clone, Debug, Serialize)]
pub struct RolledField {
    pub file: String,
    pub path: String,
    #[serde(serialize_with = "crate::plan::value_json")]
    pub current: yamledit::Value,
    #[serde(serialize_with = "crate::plan::value_json")]
    pub restored: yamledit::Value,
}

/// What a rollback did (or, in a dry run, would do).
#[derive(Clone, Debug, Serialize)]
pub struct RollbackOutcome {
    pub branch: String,
    /// `open`, `update` or `keep`; `None` when the values already are those of `to`.
    pub kind: Option<ActionKind>,
    pub fields: Vec<RolledField>,
    pub title: String,
    #[serde(serialize_with = "crate::reconcile::opt_id")]
    pub commit: Option<ObjectId>,
    pub written: bool,
    /// Something the forge refused that does not keep the proposal from standing (an
    /// unknown reviewer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("`{app}` is not an app of this tenant")]
    UnknownApp { app: String },
    #[error("`{env}` is not an environment of this tenant")]
    UnknownEnv { env: String },
    #[error("{app} is not deployed to {env}")]
    NotDeployed { app: String, env: String },
    #[error("{app} promotes no values")]
    NothingPromoted { app: String },
    /// A freeze or an active deny window, without `force`.
    #[error("{env} is {why}; a rollback into it must be forced")]
    Refused { env: String, why: String },
    /// The file or value does not exist at the commit rolled back to.
    #[error("at {commit}: {source}")]
    NotAtCommit {
        commit: String,
        #[source]
        source: Box<PlanError>,
    },
    #[error(transparent)]
    Plan(#[from] Box<PlanError>),
    #[error("editing {file}: {source}")]
    Edit {
        file: String,
        #[source]
        source: Box<yamledit::Error>,
    },
    #[error("{context}: {source}")]
    Git {
        context: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
    #[error("{branch}: someone else pushed to it; ladder leaves it alone")]
    Foreign { branch: String },
    /// The tenant's folder does not exist at the commit rolled back to.
    #[error("the tenant's folder `{folder}` does not exist at {commit}")]
    NoTenantFolder { folder: String, commit: String },
    #[error(transparent)]
    Forge(#[from] Box<ForgeError>),
}

impl RollbackError {
    /// A request the user must change (exit 1), rather than a failure of the repo or the
    /// forge.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            RollbackError::UnknownApp { .. }
                | RollbackError::UnknownEnv { .. }
                | RollbackError::NotDeployed { .. }
                | RollbackError::NothingPromoted { .. }
                | RollbackError::Refused { .. }
                | RollbackError::NotAtCommit { .. }
                | RollbackError::NoTenantFolder { .. }
                | RollbackError::Edit { .. }
                | RollbackError::Foreign { .. }
        )
    }
}

fn git_err(context: impl Into<String>) -> impl FnOnce(ladder_git::Error) -> RollbackError {
    let context = context.into();
    move |source| RollbackError::Git {
        context,
        source: Box::new(source),
    }
}

/// Proposes the rollback: see the module documentation.
pub fn rollback(
    input: &RollbackInput,
    forge: &dyn Forge,
) -> Result<RollbackOutcome, RollbackError> {
    let tenant = input.config.tenant;
    let env = tenant
        .environment(input.env)
        .ok_or_else(|| RollbackError::UnknownEnv {
            env: input.env.to_string(),
        })?;
    let app = tenant
        .apps
        .iter()
        .find(|a| a.name == input.app)
        .ok_or_else(|| RollbackError::UnknownApp {
            app: input.app.to_string(),
        })?;
    if !app.deployed_to(&env.name) {
        return Err(RollbackError::NotDeployed {
            app: app.name.clone(),
            env: env.name.clone(),
        });
    }
    if app.promote.is_empty() {
        return Err(RollbackError::NothingPromoted {
            app: app.name.clone(),
        });
    }
    if !input.force {
        if env.promotion.as_ref().is_some_and(|p| p.frozen) {
            return Err(RollbackError::Refused {
                env: env.name.clone(),
                why: "frozen (`promotion.frozen: true`)".into(),
            });
        }
        if !env.sync_windows.is_empty() {
            let gate = crate::plan::window_gate(tenant, app, env, input.now).map_err(Box::new)?;
            if !gate.passed {
                return Err(RollbackError::Refused {
                    env: env.name.clone(),
                    why: format!("in a deny sync window ({})", gate.reason),
                });
            }
        }
    }

    let old_tree = input
        .config
        .repo
        .tree_at(input.to)
        .map_err(git_err(format!("reading commit {}", input.to)))?;
    let old_tree = SubTree::new(old_tree, input.config.subfolder).ok_or_else(|| {
        RollbackError::NoTenantFolder {
            folder: input.config.subfolder.to_string(),
            commit: input.to.to_string(),
        }
    })?;
    let mut fields = Vec::new();
    for field in tenant.promoted_fields(app, env) {
        let restored = read_value(&old_tree, &field.file, &field.path).map_err(|source| {
            RollbackError::NotAtCommit {
                commit: input.to.to_string(),
                source: Box::new(source),
            }
        })?;
        let current = read_value(input.config.tree, &field.file, &field.path).map_err(Box::new)?;
        fields.push(RolledField {
            file: field.file,
            path: field.path,
            current,
            restored,
        });
    }
    let branch = format!(
        "{}rollback/{}/{}",
        input.config.branch_prefix(),
        env.name,
        app.name
    );
    let changed: Vec<&RolledField> = fields.iter().filter(|f| f.current != f.restored).collect();
    let title = match changed.as_slice() {
        [f] => format!(
            "Roll back {} in {}: {} {} -> {}",
            app.name, env.name, f.path, f.current, f.restored
        ),
        many => format!(
            "Roll back {} in {}: {} values",
            app.name,
            env.name,
            many.len()
        ),
    };
    let mut outcome = RollbackOutcome {
        branch: branch.clone(),
        kind: None,
        fields: fields.clone(),
        title: title.clone(),
        commit: None,
        written: false,
        warning: None,
    };
    if changed.is_empty() {
        return Ok(outcome);
    }

    let mut edits = Edits::new();
    let mut per_file: Vec<(&str, Vec<yamledit::Edit>)> = Vec::new();
    for f in &changed {
        let path = yamledit::Path::parse(&f.path).map_err(|source| RollbackError::Edit {
            file: f.file.clone(),
            source: Box::new(source),
        })?;
        let edit = yamledit::Edit::new(path, f.restored.clone());
        match per_file.iter_mut().find(|(file, _)| *file == f.file) {
            Some((_, list)) => list.push(edit),
            None => per_file.push((&f.file, vec![edit])),
        }
    }
    for (file, file_edits) in &per_file {
        let text = read_text(input.config.tree, file).map_err(Box::new)?;
        let edited =
            yamledit::set_many(&text, file_edits).map_err(|source| RollbackError::Edit {
                file: file.to_string(),
                source: Box::new(source),
            })?;
        let path = if input.config.subfolder.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", input.config.subfolder.trim_end_matches('/'))
        };
        edits.write(path, edited);
    }
    let mut body = String::new();
    if let Some(reason) = input.reason {
        body.push_str(reason.trim());
        body.push_str("\n\n");
    }
    for f in &changed {
        body.push_str(&format!(
            "{} {}: {} -> {}\n",
            f.file, f.path, f.current, f.restored
        ));
    }
    let request = CommitRequest {
        parent: input.config.head,
        edits,
        author: input.identity.clone(),
        committer: input.identity.clone(),
        message: format!("{title}\n\n{body}"),
        trailers: vec![
            (
                "Ladder-Rollback".to_string(),
                format!("{}/{}", env.name, app.name),
            ),
            ("Ladder-Rollback-To".to_string(), input.to.to_string()),
        ],
        time: None,
    };
    let (commit, tree) = match input
        .config
        .repo
        .build_commit(&request)
        .map_err(git_err(format!("building the commit of {branch}")))?
    {
        CommitOutcome::Created { commit, tree } => (commit, tree),
        CommitOutcome::Unchanged => return Ok(outcome),
    };

    let existing = forge
        .proposals(&branch)
        .map_err(Box::new)?
        .into_iter()
        .find(|p| p.branch == branch && p.base.as_deref().is_none_or(|b| b == input.config.branch));
    let marker = format!("Ladder-Rollback: {}/{}", env.name, app.name);
    let (kind, lease) = match &existing {
        // A leftover branch (its pull request merged or closed, or a run that died
        // between pushing it and opening the proposal) is taken over when it holds
        // ladder's rollback commit, as promotions take theirs over.
        None => match crate::reconcile::takeover_lease(input.config.repo, &branch, &marker)
            .map_err(git_err(format!("reading {branch}")))?
        {
            Some(lease) => (ActionKind::Open, lease),
            None => return Err(RollbackError::Foreign { branch }),
        },
        Some(p) => {
            let tip = input
                .config
                .repo
                .read_commit(p.head)
                .map_err(git_err(format!("reading the commit of {branch}")))?;
            match tip {
                Some(c) if c.parents == [input.config.head] && c.tree == tree => {
                    (ActionKind::Keep, Lease::At(p.head))
                }
                Some(c) if c.parents.len() == 1 && c.message.lines().any(|l| l == marker) => {
                    (ActionKind::Update, Lease::At(p.head))
                }
                _ => return Err(RollbackError::Foreign { branch }),
            }
        }
    };
    outcome.kind = Some(kind);
    outcome.commit = Some(match (&existing, kind) {
        (Some(p), ActionKind::Keep) => p.head,
        _ => commit,
    });
    let text = ProposalText {
        title,
        body: format!(
            "<!-- ladder:rollback {}/{} -->\n{body}\nRolls back to {}.\n",
            env.name, app.name, input.to
        ),
        labels: env
            .promotion
            .as_ref()
            .map(|p| p.labels.clone())
            .unwrap_or_default(),
        reviewers: env
            .promotion
            .as_ref()
            .map(|p| p.reviewers.clone())
            .unwrap_or_default(),
    };
    if input.dry_run {
        return Ok(outcome);
    }
    if kind == ActionKind::Keep {
        // The branch is up to date; its proposal's text may not be (a run that died
        // between pushing and updating it).
        if let Some(p) = &existing {
            if !crate::reconcile::text_matches(p, &text) {
                forge.update(p, &text).map_err(Box::new)?;
            }
            // ...nor its labels and review request (one that died before labelling it).
            let (failed, refused) =
                crate::reconcile::finish_labels(forge, p, &text.reviewers, &text.labels);
            if let Some(message) = failed {
                return Err(RollbackError::Forge(Box::new(ForgeError::Api {
                    message,
                    transient: true,
                })));
            }
            outcome.warning = refused;
        }
        return Ok(outcome);
    }
    let write = BranchWrite {
        branch: branch.clone(),
        new: Some(commit),
        lease,
        content: Some(
            CommitContent::of(&request)
                .map_err(git_err(format!("composing the message of {branch}")))?,
        ),
    };
    forge
        .write_branches(std::slice::from_ref(&write))
        .map_err(Box::new)?
        .pop()
        .expect("one result per write")
        .map_err(Box::new)?;
    outcome.written = true;
    match existing {
        None => {
            let (opened, warning) =
                crate::reconcile::open_proposal(forge, &branch, input.config.branch, &text);
            opened.map_err(Box::new)?;
            outcome.warning = warning;
        }
        Some(p) => {
            forge
                .update(
                    &Proposal {
                        head: commit,
                        ..p.clone()
                    },
                    &text,
                )
                .map_err(Box::new)?;
        }
    }
    Ok(outcome)
}

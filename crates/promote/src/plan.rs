//! Planning: which promoted values differ between each environment and the one it
//! promotes from, and which gates hold them. A pure function of the config tree at the
//! target branch's head, its history (through [`History`]), the time, and the open
//! proposals: the CLI and the daemon call it alike.

use std::time::Duration;

use ladder_git::CommitInfo;
use ladder_model::{App, ConfigTree, Environment, Tenant};
use serde::Serialize;

use crate::forge::Proposal;

/// Where the values of the config branch came from: the first-parent commit that last
/// changed a value. Implemented by [`GitHistory`] over `ladder_git::Repo::last_change`;
/// tests fake it.
pub trait History {
    /// The commit on `branch` that last changed the scalar at `path` in `file` (a
    /// tenant-relative file), or `None` when it never did.
    fn last_change(
        &self,
        branch: &str,
        file: &str,
        path: &str,
    ) -> Result<Option<CommitInfo>, ladder_git::Error>;

    /// Whether the scalar at `path` in `file` ever held `value` on `branch`'s
    /// first-parent chain.
    fn had_value(
        &self,
        branch: &str,
        file: &str,
        path: &str,
        value: &yamledit::Value,
    ) -> Result<bool, ladder_git::Error>;

    /// Whether `later` comes after `earlier` on `branch`'s first-parent chain (both are
    /// commits [`History::last_change`] returned for `branch`; the same commit is not
    /// later). This default compares committer times; [`GitHistory`] answers from the
    /// commit graph, which clocks cannot confuse.
    fn is_later(
        &self,
        _branch: &str,
        later: &CommitInfo,
        earlier: &CommitInfo,
    ) -> Result<bool, ladder_git::Error> {
        Ok(later.id != earlier.id && later.time > earlier.time)
    }
}

/// [`History`] of a tenant that lives at `subfolder` (`""`: the root) of `repo`.
pub struct GitHistory<'a> {
    pub repo: &'a ladder_git::Repo,
    pub subfolder: &'a str,
}

impl History for GitHistory<'_> {
    fn last_change(
        &self,
        branch: &str,
        file: &str,
        path: &str,
    ) -> Result<Option<CommitInfo>, ladder_git::Error> {
        self.repo.last_change(branch, &self.full(file), path)
    }

    fn had_value(
        &self,
        branch: &str,
        file: &str,
        path: &str,
        value: &yamledit::Value,
    ) -> Result<bool, ladder_git::Error> {
        let file = self.full(file);
        let Ok(parsed) = yamledit::Path::parse(path) else {
            return Ok(false);
        };
        let tip = self.repo.resolve(branch)?;
        for commit in self.repo.commits_touching(&file, None, tip)? {
            let Some(bytes) = self.repo.tree_at(commit.id)?.read_file(&file)? else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            if yamledit::get(&text, &yamledit::DocSelector::Auto, &parsed)
                .is_ok_and(|v| v == *value)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn is_later(
        &self,
        _branch: &str,
        later: &CommitInfo,
        earlier: &CommitInfo,
    ) -> Result<bool, ladder_git::Error> {
        // Both are on the branch's first-parent chain: the later one descends from the
        // earlier one.
        Ok(later.id != earlier.id && self.repo.is_ancestor(earlier.id, later.id)?)
    }
}

impl GitHistory<'_> {
    /// A tenant-relative path as a path of the repository.
    fn full(&self, file: &str) -> String {
        if self.subfolder.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.subfolder.trim_end_matches('/'))
        }
    }
}

/// Everything a plan is computed from.
pub struct PlanInput<'a> {
    pub tenant: &'a Tenant,
    /// The tenant's config at the head of `branch`.
    pub tree: &'a dyn ConfigTree,
    /// The config branch (the target of every promotion).
    pub branch: &'a str,
    pub history: &'a dyn History,
    /// Seconds since the Unix epoch.
    pub now: i64,
    /// The open proposals, as the forge reports them.
    pub proposals: &'a [Proposal],
    /// What every proposal branch starts with: `ladder/`, or `ladder/<tenant>/` for a
    /// tenant in a monorepo subfolder (see [`branch_prefix`]).
    pub branch_prefix: &'a str,
    /// Promotions (`(env, app)`) that may overwrite a diverged value (`promote --force`).
    pub force: &'a [(String, String)],
}

/// The prefix of a tenant's proposal branches: `ladder/`, or `ladder/<tenant>/` when
/// the tenant lives in a subfolder of a larger repo.
pub fn branch_prefix(tenant: &Tenant, in_subfolder: bool) -> String {
    if in_subfolder {
        format!("ladder/{}/", tenant.settings.tenant)
    } else {
        "ladder/".to_string()
    }
}

/// The branch of the proposal promoting `app` into `env`.
pub fn proposal_branch(prefix: &str, env: &str, app: &str) -> String {
    format!("{prefix}{env}/{app}")
}

/// One promotion of the plan: an app into an environment.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub app: String,
    pub env: String,
    /// The environment the values come from (the nearest ancestor holding the app).
    pub from: String,
    pub state: State,
    pub fields: Vec<Field>,
    pub gates: Vec<Gate>,
    pub proposal: Option<ProposalRef>,
    /// The commit that introduced each upstream value that differs (in `fields` order;
    /// `None` for fields in sync), for messages and trailers.
    #[serde(skip)]
    pub sources: Vec<Option<CommitInfo>>,
    /// Why the row is `diverged`: one line per hotfixed field.
    #[serde(skip)]
    pub diverged: Vec<String>,
    /// Why the row is `held`: one line per field rolled back from its upstream value.
    #[serde(skip)]
    pub held: Vec<String>,
    /// The merged proposal that carried exactly these values (its URL, number or
    /// branch), when the forge reports one the config branch read does not show yet (a
    /// merge after the fetch): nothing is opened for them in this run.
    #[serde(skip)]
    pub merged: Option<String>,
}

impl Row {
    /// The fields whose values differ.
    pub fn changed(&self) -> impl Iterator<Item = (&Field, Option<&CommitInfo>)> {
        self.fields
            .iter()
            .zip(&self.sources)
            .filter(|(f, _)| f.differs())
            .map(|(f, s)| (f, s.as_ref()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Every promoted value equals its upstream value.
    InSync,
    /// Values differ, every gate passes and no proposal is open.
    Due,
    /// Values differ and a gate holds them.
    Blocked,
    /// Values differ, every gate passes and a proposal is open.
    Proposed,
    /// The environment holds a value that never was upstream (a hotfix) and the upstream
    /// value is not newer: no proposal overwrites it unless forced.
    Diverged,
    /// The environment was rolled back from the upstream value: that value is not
    /// proposed again; the next different one is.
    Held,
}

/// A promoted value in the target environment and upstream.
#[derive(Clone, Debug, Serialize)]
pub struct Field {
    /// The target environment's file, tenant-relative.
    pub file: String,
    pub path: String,
    #[serde(serialize_with = "value_json")]
    pub current: yamledit::Value,
    #[serde(serialize_with = "value_json")]
    pub upstream: yamledit::Value,
    /// The upstream environment's file, tenant-relative.
    #[serde(skip)]
    pub upstream_file: String,
}

impl Field {
    pub fn differs(&self) -> bool {
        self.current != self.upstream
    }
}

pub(crate) fn value_json<S: serde::Serializer>(
    value: &yamledit::Value,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let json: serde_json::Value =
        serde_json::from_str(&value.to_json()).unwrap_or(serde_json::Value::Null);
    json.serialize(serializer)
}

/// One gate's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub name: GateName,
    pub passed: bool,
    pub reason: String,
    /// The readiness gate's checklist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<GateItem>>,
    /// When a failing gate passes by itself (seconds since the Unix epoch): the end of
    /// the soak. A daemon wakes up then instead of polling for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// One checklist item of the readiness gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GateItem {
    pub name: String,
    pub result: crate::readiness::ItemResult,
    /// Why, naming the file and the object.
    #[serde(skip)]
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GateName {
    #[serde(rename = "soak")]
    Soak,
    #[serde(rename = "frozen")]
    Frozen,
    #[serde(rename = "syncWindow")]
    SyncWindow,
    #[serde(rename = "readiness")]
    Readiness,
}

/// The open proposal of a row, as `plan` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProposalRef {
    pub branch: String,
    pub url: Option<String>,
    pub number: Option<u64>,
}

/// The plan: one row per app and target environment, in environment (promotion) order,
/// then app order.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub promotions: Vec<Row>,
}

/// What keeps a plan from being computed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A promoted file cannot be read from the tree.
    #[error("reading {file}: {source}")]
    Tree {
        file: String,
        #[source]
        source: Box<ladder_model::TreeError>,
    },
    /// A promoted file is missing (the loader checks this; the tree changed under us).
    #[error("{file}: the promoted file does not exist")]
    MissingFile { file: String },
    /// A promoted value cannot be read.
    #[error("{file}: {path}: {source}")]
    Value {
        file: String,
        path: String,
        #[source]
        source: Box<yamledit::Error>,
    },
    /// An environment's sync windows cannot be evaluated.
    #[error("{file}: {source}")]
    Window {
        file: String,
        #[source]
        source: Box<crate::windows::WindowError>,
    },
    /// The readiness checklist cannot be evaluated (a manifest that is not YAML, a
    /// Kustomize build Argo CD would refuse too).
    #[error("the readiness of {app} in {env}: {source}")]
    Readiness {
        app: String,
        env: String,
        #[source]
        source: Box<crate::readiness::ReadinessError>,
    },
    /// The history of the config branch cannot be read.
    #[error("reading the history of {file}: {source}")]
    History {
        file: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
}

/// The environment `app` is promoted into `env` from: the nearest ancestor along
/// `promotion.from` where the app is deployed. `None` when `env` promotes from nothing
/// or no ancestor holds the app.
pub fn upstream_of<'t>(
    tenant: &'t Tenant,
    app: &App,
    env: &Environment,
) -> Option<&'t Environment> {
    let mut seen = vec![env.name.as_str()];
    let mut from = env.promotion.as_ref().map(|p| p.from.as_str());
    while let Some(name) = from {
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
        let upstream = tenant.environment(name)?;
        if app.deployed_to(&upstream.name) {
            return Some(upstream);
        }
        from = upstream.promotion.as_ref().map(|p| p.from.as_str());
    }
    None
}

/// Computes the plan.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let tenant = input.tenant;
    let mut promotions = Vec::new();
    for env in &tenant.environments {
        let Some(promotion) = &env.promotion else {
            continue;
        };
        for app in tenant.apps_in(env) {
            if app.promote.is_empty() {
                continue;
            }
            let Some(upstream) = upstream_of(tenant, app, env) else {
                continue;
            };
            let targets = tenant.promoted_fields(app, env);
            let sources = tenant.promoted_fields(app, upstream);
            let mut fields = Vec::with_capacity(targets.len());
            for (target, source) in targets.iter().zip(&sources) {
                fields.push(Field {
                    file: target.file.clone(),
                    path: target.path.clone(),
                    current: read_value(input.tree, &target.file, &target.path)?,
                    upstream: read_value(input.tree, &source.file, &source.path)?,
                    upstream_file: source.file.clone(),
                });
            }
            let branch = match promotion.group {
                ladder_model::PromotionGroup::App => {
                    proposal_branch(input.branch_prefix, &env.name, &app.name)
                }
                ladder_model::PromotionGroup::Environment => {
                    proposal_branch(input.branch_prefix, &env.name, "_all")
                }
            };
            let proposal = input
                .proposals
                .iter()
                .find(|p| p.branch == branch)
                .map(|p| ProposalRef {
                    branch: p.branch.clone(),
                    url: p.url.clone(),
                    number: p.number,
                });
            let differs = fields.iter().any(Field::differs);
            let mut gates = Vec::new();
            let mut source_commits = vec![None; fields.len()];
            if differs {
                for (i, field) in fields.iter().enumerate() {
                    if field.differs() {
                        source_commits[i] = input
                            .history
                            .last_change(input.branch, &field.upstream_file, &field.path)
                            .map_err(history_err(&field.upstream_file))?;
                    }
                }
                if !promotion.soak.is_zero() {
                    gates.push(soak_gate(
                        promotion.soak,
                        &upstream.name,
                        &source_commits,
                        input.now,
                    ));
                }
                gates.push(Gate {
                    name: GateName::Frozen,
                    passed: !promotion.frozen,
                    reason: if promotion.frozen {
                        format!("{} is frozen (`promotion.frozen: true`)", env.name)
                    } else {
                        "not frozen".to_string()
                    },
                    items: None,
                    until: None,
                });
                if !env.sync_windows.is_empty() {
                    gates.push(window_gate(tenant, app, env, input.now)?);
                }
                if promotion.require_readiness {
                    gates.push(readiness_gate(input.tree, tenant, app, env)?);
                }
            }
            let mut diverged = Vec::new();
            let forced = input
                .force
                .iter()
                .any(|(e, a)| *e == env.name && *a == app.name);
            if differs && !forced {
                for (field, source) in fields.iter().zip(&source_commits) {
                    if field.differs()
                        && let Some(why) = hotfix(input, field, source.as_ref(), env, upstream)?
                    {
                        diverged.push(why);
                    }
                }
            }
            let mut held = Vec::new();
            if differs && !forced && diverged.is_empty() {
                for (field, source) in fields.iter().zip(&source_commits) {
                    if field.differs()
                        && let Some(why) =
                            rolled_back(input, field, source.as_ref(), env, upstream)?
                    {
                        held.push(why);
                    }
                }
            }
            let state = if !differs {
                State::InSync
            } else if !diverged.is_empty() {
                State::Diverged
            } else if !held.is_empty() {
                State::Held
            } else if gates.iter().any(|g| !g.passed) {
                State::Blocked
            } else if proposal.is_some() {
                State::Proposed
            } else {
                State::Due
            };
            promotions.push(Row {
                app: app.name.clone(),
                env: env.name.clone(),
                from: upstream.name.clone(),
                state,
                fields,
                gates,
                proposal,
                sources: source_commits,
                diverged,
                held,
                merged: None,
            });
        }
    }
    Ok(Plan { promotions })
}

/// The error of a history query about `file`.
fn history_err(file: &str) -> impl FnOnce(ladder_git::Error) -> PlanError {
    let file = file.to_string();
    move |source| PlanError::History {
        file,
        source: Box::new(source),
    }
}

/// Whether the target's value of `field` is a rollback the upstream value must not undo:
/// the target once held the upstream value and moved away from it after that value
/// arrived upstream (its last change is later, in first-parent order, than `source`,
/// the upstream change that set the upstream value). When the upstream change is the
/// later one, the upstream reverted (or moved on) and its value is promoted as usual.
/// `Some(why)` if so.
fn rolled_back(
    input: &PlanInput,
    field: &Field,
    source: Option<&CommitInfo>,
    env: &Environment,
    upstream: &Environment,
) -> Result<Option<String>, PlanError> {
    let had = input
        .history
        .had_value(input.branch, &field.file, &field.path, &field.upstream)
        .map_err(history_err(&field.file))?;
    if !had {
        return Ok(None);
    }
    let Some(here) = input
        .history
        .last_change(input.branch, &field.file, &field.path)
        .map_err(history_err(&field.file))?
    else {
        return Ok(None);
    };
    let after_upstream = match source {
        Some(up) => input
            .history
            .is_later(input.branch, &here, up)
            .map_err(history_err(&field.file))?,
        // The upstream value was always there: the target moved away from it.
        None => true,
    };
    Ok(after_upstream.then(|| {
        format!(
            "{} {}: {} was rolled back from {}; the next different value of {} is promoted",
            field.file, field.path, env.name, field.upstream, upstream.name
        )
    }))
}

/// Whether the target's value of `field` is a hotfix the promotion must not undo: it
/// never was the upstream environment's value, and the upstream value is not newer
/// (semantic version order where both parse as versions, else the upstream change is
/// later in history than the change that set the target's value). `Some(why)` if so.
fn hotfix(
    input: &PlanInput,
    field: &Field,
    source: Option<&CommitInfo>,
    env: &Environment,
    upstream: &Environment,
) -> Result<Option<String>, PlanError> {
    let was_upstream = input
        .history
        .had_value(
            input.branch,
            &field.upstream_file,
            &field.path,
            &field.current,
        )
        .map_err(history_err(&field.upstream_file))?;
    if was_upstream {
        return Ok(None);
    }
    let newer = match (
        version(&field.upstream.to_string()),
        version(&field.current.to_string()),
    ) {
        (Some(up), Some(here)) => up > here,
        _ => {
            let here = input
                .history
                .last_change(input.branch, &field.file, &field.path)
                .map_err(history_err(&field.file))?;
            match (source, here) {
                // Set in the same commit (a new app, a new environment): no hotfix.
                (Some(up), Some(here)) => {
                    up.id == here.id
                        || input
                            .history
                            .is_later(input.branch, up, &here)
                            .map_err(history_err(&field.file))?
                }
                (Some(_), None) => true,
                (None, _) => false,
            }
        }
    };
    Ok((!newer).then(|| {
        format!(
            "{} {}: {} has {}, which never was in {}; {} is not newer (only a forced promotion overwrites it)",
            field.file, field.path, env.name, field.current, upstream.name, field.upstream
        )
    }))
}

/// A semantic version (`1.2.3`, `v1.2.3-rc.1`): (major, minor, patch, pre-release),
/// ordered as semver orders them (a release after its pre-releases).
fn version(text: &str) -> Option<(u64, u64, u64, Pre)> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let text = text.split_once('+').map_or(text, |(v, _)| v);
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    let mut parts = core.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let (major, minor, patch) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch, Pre(pre.map(str::to_string))))
}

/// A pre-release tag; none sorts after any.
#[derive(PartialEq, Eq, Debug)]
struct Pre(Option<String>);

impl Ord for Pre {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Pre {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Pre {
    fn key(&self) -> (bool, Vec<Result<u64, &str>>) {
        match &self.0 {
            None => (true, Vec::new()),
            Some(p) => (
                false,
                p.split('.')
                    .map(|i| i.parse::<u64>().map_err(|_| i))
                    .collect(),
            ),
        }
    }
}

/// The soak gate: every upstream value that differs must have been on the branch for
/// `soak`, counted from the committer time of the commit that introduced it.
fn soak_gate(soak: Duration, upstream: &str, sources: &[Option<CommitInfo>], now: i64) -> Gate {
    let soak_secs = i64::try_from(soak.as_secs()).unwrap_or(i64::MAX);
    // The youngest value decides; a value without a recorded change is as old as
    // history.
    let youngest = sources.iter().flatten().map(|c| c.time).max();
    let soak_text = ladder_model::format_duration(soak);
    match youngest {
        Some(time) if now.saturating_sub(time) < soak_secs => {
            let age = now.saturating_sub(time).max(0);
            let left = Duration::from_secs(u64::try_from(soak_secs - age).unwrap_or(0));
            Gate {
                name: GateName::Soak,
                passed: false,
                reason: format!(
                    "the value has been in {upstream} for {}, soak is {soak_text}: {} left",
                    ladder_model::format_duration(Duration::from_secs(age as u64)),
                    ladder_model::format_duration(left)
                ),
                items: None,
                until: Some(now + (soak_secs - age)),
            }
        }
        Some(time) => Gate {
            name: GateName::Soak,
            passed: true,
            reason: format!(
                "the value has been in {upstream} for {} (soak {soak_text})",
                ladder_model::format_duration(Duration::from_secs(
                    u64::try_from(now.saturating_sub(time)).unwrap_or(0)
                ))
            ),
            items: None,
            until: None,
        },
        None => Gate {
            name: GateName::Soak,
            passed: true,
            reason: format!("the value has always been in {upstream} (soak {soak_text})"),
            items: None,
            until: None,
        },
    }
}

/// The sync-window gate: an active `deny` window matching the app's Application holds
/// the promotion (Argo CD would not sync it either).
pub(crate) fn window_gate(
    tenant: &Tenant,
    app: &App,
    env: &Environment,
    now: i64,
) -> Result<Gate, PlanError> {
    use crate::windows::{BlockKind, WindowTarget, blocking_window};
    let application = app.application_name(&env.name);
    let namespace = tenant.app_namespace(app, env);
    let cluster = tenant.destination_name(env);
    let target = WindowTarget {
        application: &application,
        namespace: &namespace,
        cluster: &cluster,
    };
    let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
    let blocked =
        blocking_window(&env.sync_windows, &target, at).map_err(|source| PlanError::Window {
            file: env.file.clone(),
            source: Box::new(source),
        })?;
    Ok(match blocked {
        Some(b) if b.kind == BlockKind::ActiveDeny => Gate {
            name: GateName::SyncWindow,
            passed: false,
            reason: b.description,
            items: None,
            until: None,
        },
        Some(b) => Gate {
            name: GateName::SyncWindow,
            passed: true,
            reason: format!("no deny window is active ({})", b.description),
            items: None,
            until: None,
        },
        None => Gate {
            name: GateName::SyncWindow,
            passed: true,
            reason: "no deny window is active".to_string(),
            items: None,
            until: None,
        },
    })
}

/// The readiness gate: the production checklist on the manifests ladder can see in the
/// target environment; a failed item holds the promotion, an unknown one is shown.
fn readiness_gate(
    tree: &dyn ConfigTree,
    tenant: &Tenant,
    app: &App,
    env: &Environment,
) -> Result<Gate, PlanError> {
    let readiness = crate::readiness::evaluate(tree, tenant, app, env).map_err(|source| {
        PlanError::Readiness {
            app: app.name.clone(),
            env: env.name.clone(),
            source: Box::new(source),
        }
    })?;
    let failed: Vec<&str> = readiness.failed().map(|i| i.name).collect();
    let unknown = readiness.unknown().count();
    let reason = if failed.is_empty() {
        format!(
            "the production checklist passes ({unknown} of {} items unknown)",
            readiness.items.len()
        )
    } else {
        let details: Vec<&str> = readiness.failed().map(|i| i.detail.as_str()).collect();
        format!("failed: {} ({})", failed.join(", "), details.join("; "))
    };
    Ok(Gate {
        name: GateName::Readiness,
        passed: !readiness.blocks(),
        reason,
        items: Some(
            readiness
                .items
                .iter()
                .map(|i| GateItem {
                    name: i.name.to_string(),
                    result: i.result,
                    detail: i.detail.clone(),
                })
                .collect(),
        ),
        until: None,
    })
}

/// The scalar at `path` in `file` of the tree.
pub(crate) fn read_value(
    tree: &dyn ConfigTree,
    file: &str,
    path: &str,
) -> Result<yamledit::Value, PlanError> {
    let text = read_text(tree, file)?;
    let value_err = |source| PlanError::Value {
        file: file.to_string(),
        path: path.to_string(),
        source: Box::new(source),
    };
    let parsed = yamledit::Path::parse(path).map_err(value_err)?;
    yamledit::get(&text, &yamledit::DocSelector::Auto, &parsed).map_err(value_err)
}

pub(crate) fn read_text(tree: &dyn ConfigTree, file: &str) -> Result<String, PlanError> {
    let bytes = tree
        .read_file(file)
        .map_err(|source| PlanError::Tree {
            file: file.to_string(),
            source: Box::new(source),
        })?
        .ok_or_else(|| PlanError::MissingFile {
            file: file.to_string(),
        })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::version;

    #[test]
    fn versions_order_as_semver() {
        assert!(version("v1.10.0") > version("v1.9.3"));
        assert!(version("1.2.3") > version("1.2.3-rc.1"));
        assert!(version("1.2.3-rc.10") > version("1.2.3-rc.2"));
        assert!(version("1.2.3-rc.1") > version("1.2.3-1"));
        assert_eq!(version("1.2"), None);
        assert_eq!(version("latest"), None);
        assert_eq!(version("1.2.3.4"), None);
        assert!(version("v2.0.0+build.5").is_some());
    }
}

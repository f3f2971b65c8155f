//! One reconcile of one tenant, start to end, on a blocking thread: fetch, load and
//! validate, render, publish the render, reconcile the promotions. Level-triggered:
//! everything is read again each time, so a run killed at any point is simply run
//! again. A broken config publishes nothing and promotes nothing; the last good render
//! stays where it was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ladder_engine::{ConfigBranch, OpenOptions, RepoSpec};
use ladder_git::{ChildEnv, CommitOutcome, Identity, Lease, Limits, ObjectId, SnapshotRequest};
use ladder_model::{ForgeKind, LoadOptions, Problems};
use ladder_promote::forge::BranchWrite;
use ladder_promote::{ConfigHead, Forge, GitForge, Outcome, Plan, PromoteOptions};

use crate::config::{ForgeType, RenderTarget, TenantConfig};
use crate::credentials::{self, ForgeCredentials};

/// What a tenant's reconciles share: its configuration and the platform's settings.
#[derive(Clone)]
pub struct TenantRuntime {
    pub config: TenantConfig,
    pub cache_dir: PathBuf,
    /// What `git` and `ssh` children may inherit (the daemon's PATH, HOME, proxies).
    pub child_env: ChildEnv,
    pub policy: LoadOptions,
    /// Who authors promotion and render commits.
    pub identity: Identity,
    /// The GitHub forge's remembered answers, kept across reconciles so an idle one's
    /// reads are conditional (304s, free of the rate limit). Clones share it.
    pub github_answers: ladder_github::ResponseCache,
    /// A GitHub App's installation token, kept across polls and reconciles so one is
    /// asked for once per token lifetime, not per fetch. Clones share it.
    pub github_tokens: ladder_github::InstallationTokens,
}

/// What one reconcile did.
#[derive(Debug)]
pub struct SyncReport {
    /// The config branch and the commit read.
    pub branch: String,
    pub commit: ObjectId,
    /// The tenant's environments, in promotion order.
    pub environments: Vec<String>,
    pub render: RenderReport,
    pub plan: Plan,
    pub outcome: Outcome,
    /// The forge's name and its API budget left, if it reports one.
    pub forge: &'static str,
    pub rate_limit_remaining: Option<u64>,
    /// The forge API calls this reconcile made, where the forge counts them (GitHub).
    pub forge_calls: Option<ladder_github::CallStats>,
    /// When a gate that holds a promotion passes by itself (a soak ends): seconds since
    /// the Unix epoch.
    pub wake_at: Option<i64>,
}

/// Where the render went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderReport {
    /// Nothing is published (`render: {none: true}`); the render was checked.
    Checked { documents: usize },
    /// The render branch got this new commit.
    Published { branch: String, commit: ObjectId },
    /// The render branch already holds this render.
    Unchanged { branch: String, commit: ObjectId },
    /// `render: {path}`: the folder differs from the render; this proposal (a branch
    /// with one commit on the config branch) replaces it.
    Proposed { branch: String, commit: ObjectId },
    /// `render: {path}`: the folder on the config branch holds the render.
    InPlace { folder: String, commit: ObjectId },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Open(#[from] ladder_engine::Error),
    #[error("the config has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Config(Problems),
    /// The repo's `ladder.yaml` names another tenant than the platform configured.
    #[error(
        "the repo's ladder.yaml says `tenant: {found}`, but it is configured as tenant `{configured}`; ladder refuses to render or promote it as another tenant"
    )]
    Identity { configured: String, found: String },
    #[error("the render has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Render(Problems),
    #[error("publishing the render to {branch}: {message}")]
    Publish { branch: String, message: String },
    #[error("{0}")]
    Credentials(String),
    #[error("opening the {forge} forge: {message}")]
    Forge {
        forge: &'static str,
        message: String,
    },
    #[error(transparent)]
    Promote(#[from] ladder_promote::RunError),
}

impl SyncError {
    /// Whether the tenant's own config is at fault (its people must fix it), as opposed
    /// to the network, a forge or the platform.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            SyncError::Config(_) | SyncError::Identity { .. } | SyncError::Render(_)
        )
    }
}

/// The tenant read and rendered, not yet published or promoted.
struct Checked {
    branch: ConfigBranch,
    head: ObjectId,
    files: BTreeMap<String, Vec<u8>>,
    forge_credentials: Option<ForgeCredentials>,
}

/// Fetches, loads, checks the tenant's identity and renders: everything a reconcile
/// reads, nothing it writes.
fn read_and_render(rt: &TenantRuntime, limits: Limits) -> Result<Checked, SyncError> {
    let config = &rt.config;
    let forge_credentials =
        credentials::forge_credentials(&config.forge).map_err(SyncError::Credentials)?;
    let branch = open_branch(rt, limits, forge_credentials.as_ref())?;
    let found = &branch.tenant.settings.tenant;
    if *found != config.name {
        return Err(SyncError::Identity {
            configured: config.name.clone(),
            found: found.clone(),
        });
    }
    let head = branch
        .opened
        .commit()
        .expect("the config branch is read from Git");
    let rendering = ladder_engine::render(
        &branch.opened,
        &branch.tenant,
        &ladder_render::RenderOptions {
            policy: rt.policy.clone(),
            budget: rt.policy.budget.clone(),
            ..Default::default()
        },
    )
    .map_err(SyncError::Render)?;
    Ok(Checked {
        branch,
        head,
        files: rendering.files,
        forge_credentials,
    })
}

/// `--check-config` for one tenant: its secrets are readable, its repo is reached, its
/// config loads, names this tenant, and renders. Writes nothing.
pub fn check_tenant(rt: &TenantRuntime, limits: Limits) -> Result<(), SyncError> {
    read_and_render(rt, limits).map(|_| ())
}

/// A point inside the reconcile where a test can hold it (between publishing the render
/// and promoting), to kill or stop the daemon there deterministically. Production
/// configurations have none.
pub trait PausePoint: Send + Sync {
    fn reached(&self, tenant: &str);
}

/// Reconciles one tenant now, within `limits` (its deadline and cancel flag).
pub fn sync_tenant(
    rt: &TenantRuntime,
    limits: Limits,
    now: i64,
    pause: Option<&dyn PausePoint>,
) -> Result<SyncReport, SyncError> {
    let config = &rt.config;
    let Checked {
        branch,
        head,
        files,
        forge_credentials,
    } = read_and_render(rt, limits)?;
    let repo = branch.repo();
    let kind = match config.forge.kind {
        Some(ForgeType::Git) => ForgeKind::Git,
        Some(ForgeType::GitHub) => ForgeKind::GitHub,
        None => branch.tenant.settings.forge.kind,
    };
    let github = match kind {
        ForgeKind::GitHub => Some(
            credentials::github_forge(rt, &branch, forge_credentials).map_err(|message| {
                SyncError::Forge {
                    forge: "github",
                    message,
                }
            })?,
        ),
        ForgeKind::Git => None,
    };
    let git = GitForge::new(repo);
    let forge: &dyn Forge = match &github {
        Some(github) => github,
        None => &git,
    };
    let render = match config.render.target() {
        RenderTarget::Path(folder) => {
            crate::render_path::publish(rt, &branch, head, &files, &folder, forge)?
        }
        RenderTarget::Branch(target) => publish(rt, &branch, head, &files, target)?,
        RenderTarget::None => RenderReport::Checked {
            documents: files.len(),
        },
    };
    if let Some(pause) = pause {
        pause.reached(&config.name);
    }
    let promoted = ladder_promote::promote(
        &ConfigHead {
            tenant: &branch.tenant,
            tree: branch.opened.tree(),
            branch: &branch.branch,
            head,
            repo,
            subfolder: branch.opened.subfolder(),
        },
        forge,
        &PromoteOptions {
            apps: &[],
            envs: &[],
            force: &[],
            dry_run: false,
            identity: rt.identity.clone(),
            now,
        },
    )?;
    let wake_at = promoted
        .plan
        .promotions
        .iter()
        .flat_map(|row| &row.gates)
        .filter(|gate| !gate.passed)
        .filter_map(|gate| gate.until)
        .min();
    Ok(SyncReport {
        branch: branch.branch.clone(),
        commit: head,
        environments: branch
            .tenant
            .environments
            .iter()
            .map(|e| e.name.clone())
            .collect(),
        render,
        plan: promoted.plan,
        outcome: promoted.outcome,
        forge: forge.name(),
        rate_limit_remaining: forge.rate_limit_remaining(),
        forge_calls: github.as_ref().map(|g| g.stats()),
        wake_at,
    })
}

/// Opens the tenant's config branch: the configured one, else `configRepo.branch` as its
/// `ladder.yaml` says at the remote's default branch (a URL) or at HEAD (a checkout:
/// ladder reads commits, never the working tree).
fn open_branch(
    rt: &TenantRuntime,
    limits: Limits,
    forge_credentials: Option<&ForgeCredentials>,
) -> Result<ConfigBranch, SyncError> {
    let config = &rt.config;
    let spec = match (&config.repo, &config.path) {
        (Some(url), _) => RepoSpec::Url(url.clone()),
        (None, Some(path)) => RepoSpec::Folder(path.clone()),
        (None, None) => unreachable!("the config check requires repo or path"),
    };
    let mut remote = ladder_git::RemoteOptions {
        limits,
        child_env: rt.child_env.clone(),
        ..Default::default()
    };
    if let Some(url) = &config.repo {
        remote.credentials =
            credentials::git_credentials(url, &config.forge, forge_credentials, &rt.github_tokens)
                .map_err(SyncError::Credentials)?;
    }
    let mut options = OpenOptions {
        git_ref: config.branch.clone(),
        subfolder: config.subfolder.clone(),
        cache_dir: rt.cache_dir.clone(),
        remote,
    };
    if options.git_ref.is_none() && config.path.is_some() {
        let at_head = OpenOptions {
            git_ref: Some("HEAD".into()),
            ..options.clone()
        };
        let opened = ladder_engine::open(&spec, &at_head)?;
        let tenant = ladder_engine::load(&opened, &rt.policy)?.map_err(SyncError::Config)?;
        options.git_ref = Some(tenant.settings.config_repo.branch.clone());
    }
    let opened = ladder_engine::open_config_branch(&spec, &options, &rt.policy);
    if opened.is_err() {
        // A failed fetch may be a GitHub App token that was revoked (the App
        // reinstalled, say): the next attempt asks for a new one.
        rt.github_tokens.forget();
    }
    opened?.map_err(SyncError::Config)
}

/// Publishes the render to the branch `target`, which only ladder writes.
fn publish(
    rt: &TenantRuntime,
    branch: &ConfigBranch,
    head: ObjectId,
    files: &BTreeMap<String, Vec<u8>>,
    target: String,
) -> Result<RenderReport, SyncError> {
    let repo = branch.repo();
    let failed = |message: String| SyncError::Publish {
        branch: target.clone(),
        message,
    };
    let tip = repo
        .branch_tip(&target)
        .map_err(|e| failed(e.to_string()))?;
    let source = repo
        .read_commit(head)
        .map_err(|e| failed(e.to_string()))?
        .map(|c| c.message.lines().next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let short = &head.to_string()[..12];
    let request = SnapshotRequest {
        parent: tip,
        files,
        author: rt.identity.clone(),
        committer: rt.identity.clone(),
        message: format!("Render {short}: {source}"),
        trailers: vec![("Ladder-Rendered-From".into(), head.to_string())],
        time: None,
    };
    let commit = match repo
        .build_snapshot(&request)
        .map_err(|e| failed(e.to_string()))?
    {
        CommitOutcome::Unchanged => {
            return Ok(RenderReport::Unchanged {
                branch: target.clone(),
                commit: tip.expect("an unchanged render has a parent"),
            });
        }
        CommitOutcome::Created { commit, .. } => commit,
    };
    // Fast-forward only, under a lease on the tip just read: a render branch someone
    // else moved is not overwritten (the next run builds on what it finds).
    let write = BranchWrite {
        branch: target.clone(),
        new: Some(commit),
        lease: tip.map_or(Lease::Absent, Lease::At),
        content: None,
    };
    GitForge::new(repo)
        .write_branches(std::slice::from_ref(&write))
        .map_err(|e| failed(e.to_string()))?
        .pop()
        .expect("one result per write")
        .map_err(|e| failed(e.to_string()))?;
    Ok(RenderReport::Published {
        branch: target,
        commit,
    })
}

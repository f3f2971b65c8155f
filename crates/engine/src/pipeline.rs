//! Load -> render on an opened repo: the first two steps of every CLI command and of
//! every daemon reconcile.

use ladder_model::{LoadError, LoadOptions, Problems, Tenant};
use ladder_render::{RenderOptions, Rendering};

use crate::error::Error;
use crate::source::{OpenOptions, OpenedRepo, RepoSpec, open};

/// A tenant that loaded, or every problem its config has.
pub type Loaded<T> = Result<T, Problems>;

/// Loads and checks the tenant config of `repo` under the platform's `policy`.
/// `Ok(Err(problems))` is a config that is wrong (the user's to fix); `Err` is a repo
/// that could not be read.
pub fn load(repo: &OpenedRepo, policy: &LoadOptions) -> Result<Loaded<Tenant>, Error> {
    let started = std::time::Instant::now();
    let loaded = match ladder_model::load(repo.tree(), policy) {
        Ok(tenant) => Ok(Ok(tenant)),
        Err(LoadError::Invalid(problems)) => Ok(Err(problems)),
        Err(LoadError::Tree(e)) => Err(Error::Tree(e)),
    };
    tracing::debug!(elapsed = ?started.elapsed(), "loaded");
    loaded
}

/// Loads, then renders what `options` ask for. The policy the output is checked
/// against is `options.policy`, the same the load used; the tenant's place in its
/// repository is the opened repo's, whatever `options.subfolder` says.
pub fn load_and_render(
    repo: &OpenedRepo,
    options: &RenderOptions,
) -> Result<Loaded<(Tenant, Rendering)>, Error> {
    let tenant = match load(repo, &options.policy)? {
        Ok(tenant) => tenant,
        Err(problems) => return Ok(Err(problems)),
    };
    Ok(render(repo, &tenant, options).map(|r| (tenant, r)))
}

/// Renders a loaded tenant of `repo`, with config-repo paths relative to the root of
/// the config repo the tenant lives in (see `OpenedRepo::repo_subfolder`).
pub fn render(
    repo: &OpenedRepo,
    tenant: &Tenant,
    options: &RenderOptions,
) -> Result<Rendering, Problems> {
    let subfolder = repo.repo_subfolder(&tenant.settings.config_repo.url);
    let options = RenderOptions {
        only: options.only,
        policy: options.policy.clone(),
        schemas: options.schemas,
        budget: options.budget.clone(),
        subfolder: &subfolder,
    };
    let started = std::time::Instant::now();
    let rendered = ladder_render::render(tenant, &options);
    tracing::debug!(elapsed = ?started.elapsed(), "rendered");
    rendered
}

/// A tenant's config branch opened from Git, with the tenant loaded from it: what the
/// promoter plans from. Built only by [`open_config_branch`], which guarantees that the
/// repo was read from Git.
pub struct ConfigBranch {
    pub opened: OpenedRepo,
    pub tenant: Tenant,
    /// The branch read: the ref asked for, else the tenant's `configRepo.branch`.
    pub branch: String,
}

impl ConfigBranch {
    /// The mirror or local repository the branch was read from.
    pub fn repo(&self) -> &ladder_git::Repo {
        self.opened
            .repo()
            .expect("open_config_branch only builds a ConfigBranch read from Git")
    }
}

/// Opens `spec` at `options.git_ref`, or else at the tenant's `configRepo.branch`, which
/// takes a first read (at the remote's default branch, or the folder on disk) to learn.
/// `Ok(Err(problems))` when the config is wrong.
pub fn open_config_branch(
    spec: &RepoSpec,
    options: &OpenOptions,
    policy: &LoadOptions,
) -> Result<Loaded<ConfigBranch>, Error> {
    let opened = open(spec, options)?;
    let tenant = match load(&opened, policy)? {
        Ok(tenant) => tenant,
        Err(problems) => return Ok(Err(problems)),
    };
    let branch = options
        .git_ref
        .clone()
        .unwrap_or_else(|| tenant.settings.config_repo.branch.clone());
    if opened.repo().is_some() && opened.git_ref() == Some(branch.as_str()) {
        return Ok(Ok(ConfigBranch {
            opened,
            tenant,
            branch,
        }));
    }
    let at_branch = OpenOptions {
        git_ref: Some(branch.clone()),
        ..options.clone()
    };
    let opened = open(spec, &at_branch)?;
    Ok(load(&opened, policy)?.map(|tenant| ConfigBranch {
        opened,
        tenant,
        branch,
    }))
}

//! A URL tenant's poller: the git layer's cheap remote check (one ref advertisement,
//! no objects) each interval; the worker fetches only when the config branch moved.

use std::sync::Arc;
use std::time::Duration;

use ladder_git::{Limits, RemoteOptions, Repo};
use tokio::task::JoinHandle;

use crate::credentials;
use crate::daemon::{Shared, Tenant};

/// How long one remote check may wait for the server.
const CHECK_IDLE: Duration = Duration::from_secs(30);

pub(crate) fn spawn(shared: &Arc<Shared>, tenant: &Tenant) -> JoinHandle<()> {
    let config = tenant.runtime.config.clone();
    let cache_dir = tenant.runtime.cache_dir.clone();
    let child_env = tenant.runtime.child_env.clone();
    let tokens = tenant.runtime.github_tokens.clone();
    let name = config.name.clone();
    let interval = config.poll_interval;
    let checker = shared.clone();
    ladder_watch::spawn_poller(shared.triggers.clone(), name.clone(), interval, move || {
        let Some(url) = &config.repo else {
            return Ok(false);
        };
        // The branch the last reconcile read; before the first one, the start trigger
        // has the worker read everything anyway.
        let branch = checker
            .tenant(&name)
            .and_then(|t| t.status.lock().ok().and_then(|s| s.branch.clone()));
        let Some(branch) = branch else {
            return Ok(false);
        };
        let forge = credentials::forge_credentials(&config.forge)?;
        let options = RemoteOptions {
            credentials: credentials::git_credentials(url, &config.forge, forge.as_ref(), &tokens)?,
            limits: Limits::idle(CHECK_IDLE).with_cancel(checker.cancel.clone()),
            child_env: child_env.clone(),
            ..Default::default()
        };
        let checked = Repo::open_mirror(url, &cache_dir, options)
            .and_then(|repo| repo.remote_branch_moved(&branch));
        // A refused check may be a revoked GitHub App token: ask for a new one next time.
        checked.map_err(|e| {
            tokens.forget();
            e.to_string()
        })
    })
}

//! `ladder run --check-config`: everything a start would need, checked once: every
//! tenant's secret files are readable, its repo is reached, its config loads, names
//! this tenant and renders. Nothing is written.

use std::time::Duration;

use ladder_git::Limits;

use crate::credentials;
use crate::sync::{TenantRuntime, check_tenant};

/// How long reaching one tenant's repo may take.
const CHECK_DEADLINE: Duration = Duration::from_secs(120);

/// Every problem found, as `tenant <name>: <problem>`; empty when all is well. Tenants
/// are checked one after the other: a check is a one-off, and one tenant's slow remote
/// is then plainly visible.
pub fn check_config(tenants: &[TenantRuntime]) -> Vec<String> {
    let mut problems = Vec::new();
    for rt in tenants {
        let name = &rt.config.name;
        if let Err(e) = credentials::forge_credentials(&rt.config.forge) {
            problems.push(format!("tenant {name}: {e}"));
        }
        if let Some(file) = &rt.config.webhook_secret_file
            && let Err(e) = std::fs::read(file)
        {
            problems.push(format!(
                "tenant {name}: cannot read the webhook secret file {}: {e}",
                file.display()
            ));
        }
        let limits = Limits::default().with_deadline(std::time::Instant::now() + CHECK_DEADLINE);
        if let Err(e) = check_tenant(rt, limits) {
            problems.push(format!("tenant {name}: {e}"));
        }
    }
    problems
}

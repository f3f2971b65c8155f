//! `ladder promote`: reconcile the proposals with the plan now.

use std::process::ExitCode;

use clap::Args;
use ladder_git::Identity;
use ladder_promote::reconcile::{ActionKind, Outcome};
use ladder_promote::{PromoteOptions, promote};

use crate::OutputFormat;
use crate::forge_args::ForgeArgs;
use crate::plan_cmd::{config_head, now, report_problems, run_failure};
use crate::report::{Exit, Failure};
use crate::tenant_args::{TenantArgs, check_env_names};

/// Open, update or close promotion proposals so that they match the plan.
///
/// Every promotion that is due gets exactly one proposal: the branch
/// ladder/<env>/<app>, holding one commit on the config branch that changes only the
/// promoted values. A proposal that is up to date is left alone (nothing is written); one
/// whose target branch or upstream values moved is rebuilt and pushed with a lease; one
/// that is no longer due is deleted. With the `git` forge the branch is the proposal: for
/// a URL it is pushed there (one push, a lease per branch), for a folder it is created in
/// the folder's own Git repository (a branch checked out there is never moved).
#[derive(Args, Debug)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    #[command(flatten)]
    pub forge: ForgeArgs,

    /// Only this app (repeatable).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,

    /// Only this environment (repeatable). Naming an environment whose promotion mode is
    /// `manual` opens its proposals.
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,

    /// Overwrite a diverged value (a hotfix that never was upstream) in the promotions
    /// named by --app and --env.
    #[arg(long, requires_all = ["apps", "envs"])]
    pub force: bool,

    /// Print what would be done; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn run(args: &PromoteArgs) -> anyhow::Result<ExitCode> {
    let fallback = args.forge.fetch_credentials(&args.tenant.repo)?;
    let config = match args.tenant.open_config_branch(fallback)? {
        Ok(config) => config,
        Err(problems) => return Ok(report_problems(&problems, &args.tenant, args.output)),
    };
    check_env_names(&config.tenant, &args.envs)?;
    check_app_names(&config.tenant, &args.apps)?;
    let opened = args.forge.open(&config, &args.tenant.repo)?;
    let force: Vec<(String, String)> = if args.force {
        args.envs
            .iter()
            .flat_map(|e| args.apps.iter().map(move |a| (e.clone(), a.clone())))
            .collect()
    } else {
        Vec::new()
    };
    let promoted = promote(
        &config_head(&config),
        opened.forge(),
        &PromoteOptions {
            apps: &args.apps,
            envs: &args.envs,
            force: &force,
            dry_run: args.dry_run,
            identity: Identity::new("ladder", "ladder@localhost"),
            now: now(),
        },
    )
    .map_err(run_failure)?;
    let outcome = promoted.outcome;
    report(args, &outcome);
    Ok(if outcome.failed() {
        Exit::Environment.code()
    } else {
        ExitCode::SUCCESS
    })
}

fn check_app_names(tenant: &ladder_model::Tenant, names: &[String]) -> anyhow::Result<()> {
    let known: Vec<&str> = tenant.apps.iter().map(|a| a.name.as_str()).collect();
    for name in names {
        if !known.contains(&name.as_str()) {
            let hint = ladder_model::did_you_mean(name, &known)
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            anyhow::bail!(
                "--app `{name}` is not an app of this tenant; {hint}apps: {}",
                known.join(", ")
            );
        }
    }
    Ok(())
}

fn verb(kind: ActionKind, dry_run: bool) -> &'static str {
    match (kind, dry_run) {
        (ActionKind::Open, false) => "opened",
        (ActionKind::Open, true) => "would open",
        (ActionKind::Update, false) => "updated",
        (ActionKind::Update, true) => "would update",
        (ActionKind::Close, false) => "closed",
        (ActionKind::Close, true) => "would close",
        (ActionKind::Keep, _) => "up to date",
        (ActionKind::Hold, _) => "held",
        (ActionKind::Foreign, _) => "left alone",
    }
}

fn report(args: &PromoteArgs, outcome: &Outcome) {
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "ok": !outcome.failed(),
                "dryRun": args.dry_run,
                "writes": outcome.writes,
                "actions": outcome.actions,
            })
        ),
        OutputFormat::Text => {
            if outcome.actions.iter().all(|a| a.already_reported) {
                println!("nothing to promote");
            }
            // A foreign push an earlier run reported is said once, not on every run.
            for action in outcome.actions.iter().filter(|a| !a.already_reported) {
                let failed = action
                    .error
                    .as_deref()
                    .map(|e| format!(" FAILED: {e} (the next run retries)"))
                    .unwrap_or_default();
                println!(
                    "{} {}: {}{failed}",
                    verb(action.kind, args.dry_run),
                    action.branch,
                    action.reason
                );
                if action.merged {
                    println!("merged {} (auto-merge)", action.branch);
                }
                if let Some(warning) = &action.warning {
                    println!("warning {}: {warning}", action.branch);
                }
            }
        }
    }
}

/// Propose setting an app's promoted values in one environment back to their values at
/// an earlier commit.
///
/// The proposal is the branch ladder/rollback/<env>/<app>: one commit on the config
/// branch that changes only those values, with the reason in its message. Soak does not
/// apply; a frozen environment or an active deny sync window refuses the rollback
/// unless --force. Once merged, the environment is `held`: the value rolled back from is
/// not promoted into it again, the next different one is.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    #[command(flatten)]
    pub forge: ForgeArgs,

    /// The app to roll back.
    #[arg(long, value_name = "APP")]
    pub app: String,

    /// The environment to roll it back in.
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// The commit (or branch, tag) whose values are restored.
    #[arg(long, value_name = "REV")]
    pub to: String,

    /// Why, for the commit message and the proposal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Roll back into a frozen environment or during an active deny window.
    #[arg(long)]
    pub force: bool,

    /// Print what would be done; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn rollback(args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    use ladder_promote::rollback::{RollbackInput, rollback};
    let fallback = args.forge.fetch_credentials(&args.tenant.repo)?;
    let config = match args.tenant.open_config_branch(fallback)? {
        Ok(config) => config,
        Err(problems) => return Ok(report_problems(&problems, &args.tenant, args.output)),
    };
    check_env_names(&config.tenant, std::slice::from_ref(&args.env))?;
    check_app_names(&config.tenant, std::slice::from_ref(&args.app))?;
    let repo = config.repo();
    let to = repo.resolve(&args.to).map_err(|e| {
        let exit = if matches!(e, ladder_git::Error::RevisionNotFound { .. }) {
            Exit::Input
        } else {
            Exit::Environment
        };
        Failure::new(exit, format!("--to `{}`: {e}", args.to))
    })?;
    let opened = args.forge.open(&config, &args.tenant.repo)?;
    let outcome = rollback(
        &RollbackInput {
            config: config_head(&config),
            app: &args.app,
            env: &args.env,
            to,
            reason: args.reason.as_deref(),
            force: args.force,
            dry_run: args.dry_run,
            now: now(),
            identity: Identity::new("ladder", "ladder@localhost"),
        },
        opened.forge(),
    )
    .map_err(|e| {
        let exit = if e.is_refusal() {
            Exit::Input
        } else {
            Exit::Environment
        };
        Failure::new(exit, format!("rolling back: {e}"))
    })?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"ok": true, "dryRun": args.dry_run, "rollback": outcome})
        ),
        OutputFormat::Text => match outcome.kind {
            None => println!(
                "nothing to roll back: {} in {} already has the values of {}",
                args.app, args.env, args.to
            ),
            Some(kind) => println!(
                "{} {}: {}",
                verb(kind, args.dry_run),
                outcome.branch,
                outcome.title
            ),
        },
    }
    Ok(ExitCode::SUCCESS)
}

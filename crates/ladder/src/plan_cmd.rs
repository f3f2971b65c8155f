//! `ladder plan`: what the promoter would do, and why, on the config branch the engine
//! opens (`ladder_engine::open_config_branch`, shared with `promote` and `rollback`).

use std::process::ExitCode;

use clap::Args;
use ladder_engine::ConfigBranch;
use ladder_model::Problems;
use ladder_promote::plan::{Plan, proposal_branch};
use ladder_promote::{ConfigHead, PlanError, ReconcileError, RunError, State, plan_promotions};

use crate::OutputFormat;
use crate::forge_args::ForgeArgs;
use crate::report::{Exit, Failure};
use crate::tenant_args::{TenantArgs, problems_json};

/// Show every promotion: for each app and environment that promotes from another, the
/// promoted values here and upstream, the state (in-sync, due, blocked, proposed), the
/// gates and why each holds, and the open proposal.
///
/// Reads the config branch (`configRepo.branch`, or --ref) of --repo from Git: a folder
/// is read at that branch of its Git repository, not as the files on disk. Blocked
/// promotions are information: the exit status is 0.
#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    #[command(flatten)]
    pub forge: ForgeArgs,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The promoter's view of an opened config branch.
pub fn config_head(config: &ConfigBranch) -> ConfigHead<'_> {
    ConfigHead {
        tenant: &config.tenant,
        tree: config.opened.tree(),
        branch: &config.branch,
        head: config
            .opened
            .commit()
            .expect("the config branch is read from Git"),
        repo: config.repo(),
        subfolder: config.opened.subfolder(),
    }
}

/// Seconds since the Unix epoch, for soak and sync windows.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The exit status of a promoter failure: the config (exit 1) or the environment (3).
pub fn run_failure(e: RunError) -> anyhow::Error {
    let exit = match &e {
        RunError::Proposals(_) | RunError::Closed { .. } => Exit::Environment,
        RunError::Plan(e) => match &**e {
            PlanError::Tree { .. } | PlanError::History { .. } => Exit::Environment,
            PlanError::Readiness { source, .. }
                if matches!(**source, ladder_promote::readiness::ReadinessError::Tree(_)) =>
            {
                Exit::Environment
            }
            PlanError::MissingFile { .. }
            | PlanError::Value { .. }
            | PlanError::Window { .. }
            | PlanError::Readiness { .. } => Exit::Input,
        },
        RunError::Reconcile(e) => match &**e {
            ReconcileError::Edit { .. } => Exit::Input,
            ReconcileError::Plan(_)
            | ReconcileError::Commit { .. }
            | ReconcileError::Forge(_)
            | ReconcileError::Read { .. } => Exit::Environment,
        },
    };
    Failure::new(exit, e.to_string()).into()
}

pub fn report_problems(problems: &Problems, tenant: &TenantArgs, output: OutputFormat) -> ExitCode {
    match output {
        OutputFormat::Text => {
            for problem in problems.iter() {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found", problems.len());
            if let Some(advice) = tenant.problems_advice(problems) {
                eprintln!("{advice}");
            }
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"ok": false, "problems": problems_json(problems)})
        ),
    }
    ExitCode::FAILURE
}

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let fallback = args.forge.fetch_credentials(&args.tenant.repo)?;
    let config = match args.tenant.open_config_branch(fallback)? {
        Ok(config) => config,
        Err(problems) => return Ok(report_problems(&problems, &args.tenant, args.output)),
    };
    let opened = args.forge.open(&config, &args.tenant.repo)?;
    let mut plan = plan_promotions(&config_head(&config), opened.forge(), now(), &[])
        .map_err(run_failure)?
        .plan;
    // The git forge's proposals have no URL of their own: show the compare view.
    if let Some(git) = opened.git() {
        for row in &mut plan.promotions {
            if let Some(p) = &mut row.proposal
                && p.url.is_none()
            {
                p.url = git.compare_url(&config.branch, &p.branch);
            }
        }
    }
    match args.output {
        OutputFormat::Json => {
            let mut json = serde_json::to_value(&plan)?;
            json["forge"] = serde_json::json!({
                "type": opened.forge().name(),
                "rateLimitRemaining": opened.forge().rate_limit_remaining(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Text => print_text(&config, &plan),
    }
    Ok(ExitCode::SUCCESS)
}

fn state_word(state: State) -> &'static str {
    match state {
        State::InSync => "in-sync",
        State::Due => "due",
        State::Blocked => "blocked",
        State::Proposed => "proposed",
        State::Diverged => "diverged",
        State::Held => "held",
    }
}

fn print_text(config: &ConfigBranch, plan: &Plan) {
    if plan.promotions.is_empty() {
        println!("no promotions: no environment promotes from another, or no app promotes values");
        return;
    }
    let prefix = config_head(config).branch_prefix();
    for row in &plan.promotions {
        println!(
            "{}/{}: {} (from {})",
            row.env,
            row.app,
            state_word(row.state),
            row.from
        );
        for field in &row.fields {
            if field.differs() {
                println!(
                    "  {} {}: {} -> {}",
                    field.file, field.path, field.current, field.upstream
                );
            }
        }
        for why in &row.diverged {
            println!("  diverged: {why}");
        }
        for why in &row.held {
            println!("  held: {why}");
        }
        if matches!(row.state, State::Diverged | State::Held) {
            println!(
                "  (`ladder promote --force --app {} --env {}` proposes the upstream values anyway)",
                row.app, row.env
            );
        }
        for gate in row.gates.iter().filter(|g| !g.passed) {
            println!("  held: {}", gate.reason);
        }
        if let Some(p) = &row.proposal {
            let at = p
                .url
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            println!("  proposal: {}{at}", p.branch);
        } else if row.state == State::Due {
            println!(
                "  would propose on {}",
                proposal_branch(&prefix, &row.env, &row.app)
            );
        }
    }
}

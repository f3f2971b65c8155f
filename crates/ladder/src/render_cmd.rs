//! `ladder render`: write (or `--check`) the rendered Argo CD documents.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ladder_render::{Difference, OutputError, RenderOptions};

use crate::OutputFormat;
use crate::tenant_args::{TenantArgs, check_env_names, problems_advice, problems_json};

/// Render every environment's AppProject and Applications into a folder.
///
/// Writes <out>/<env>/appproject.yaml and <out>/<env>/applications/<app>.yaml. The folder
/// then mirrors the config exactly (files of removed apps disappear); it is replaced in
/// one step, so a failed render leaves the previous output untouched.
#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// The output folder (created if absent; must hold only ladder output).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Render only this environment (repeatable); others in --out are kept as they are.
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,

    /// Write nothing; exit 1 and list what differs from --out (for CI).
    #[arg(long)]
    pub check: bool,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let schemas = args.tenant.schemas()?;
    let (opened, tenant) = args.tenant.load()?;
    let tenant = match tenant {
        Ok(tenant) => tenant,
        Err(problems) => return Ok(report_problems(&problems, args.output)),
    };
    tracing::debug!(elapsed = ?started.elapsed(), "loaded");
    check_env_names(&tenant, &args.envs)?;
    if args.output == OutputFormat::Text {
        eprintln!(
            "loaded tenant {}: {} environments, {} apps",
            tenant.settings.tenant,
            tenant.environments.len(),
            tenant.apps.len()
        );
    }
    let options = RenderOptions {
        only: &args.envs,
        policy: args.tenant.policy(),
        schemas: schemas.as_ref(),
        ..RenderOptions::default()
    };
    let rendering = match ladder_engine::render(&opened, &tenant, &options) {
        Ok(rendering) => rendering,
        Err(problems) => return Ok(report_problems(&problems, args.output)),
    };

    tracing::debug!(elapsed = ?started.elapsed(), documents = rendering.documents(), "rendered");

    if args.check {
        let differences = ladder_render::output::diff(&args.out, &rendering, &args.envs)
            .with_context(|| format!("comparing with {}", args.out.display()))?;
        return Ok(report_check(args, &differences));
    }

    let summary =
        ladder_render::output::write(&args.out, &rendering, &args.envs).map_err(|e| match e {
            OutputError::Foreign { .. } => {
                anyhow::anyhow!("{e}; choose an empty or new --out folder")
            }
            e => anyhow::Error::new(e).context(format!("writing {}", args.out.display())),
        })?;
    tracing::debug!(elapsed = ?started.elapsed(), "written");
    match args.output {
        OutputFormat::Text => eprintln!(
            "rendered {} documents for {} into {} ({} added, {} changed, {} removed)",
            summary.written,
            rendering.environments.join(", "),
            args.out.display(),
            summary.added,
            summary.changed,
            summary.removed
        ),
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "ok": true,
                "out": args.out,
                "environments": rendering.environments,
                "documents": summary.written,
                "added": summary.added,
                "changed": summary.changed,
                "removed": summary.removed,
            })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn report_problems(problems: &ladder_model::Problems, output: OutputFormat) -> ExitCode {
    match output {
        OutputFormat::Text => {
            for problem in problems.iter() {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; nothing was written", problems.len());
            if let Some(advice) = problems_advice(problems) {
                eprintln!("{advice}");
            }
        }
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::json!({"ok": false, "problems": problems_json(problems)})
            );
        }
    }
    ExitCode::FAILURE
}

fn report_check(args: &RenderArgs, differences: &[Difference]) -> ExitCode {
    match args.output {
        OutputFormat::Text => {
            for difference in differences {
                println!("{difference}");
            }
            if differences.is_empty() {
                eprintln!("{} is up to date", args.out.display());
            } else {
                eprintln!(
                    "{} file(s) in {} differ from the config; run `ladder render` without --check to update",
                    differences.len(),
                    args.out.display()
                );
            }
        }
        OutputFormat::Json => {
            let list: Vec<_> = differences
                .iter()
                .map(|d| match d {
                    Difference::Missing(p) => serde_json::json!({"kind": "missing", "path": p}),
                    Difference::Changed(p) => serde_json::json!({"kind": "changed", "path": p}),
                    Difference::Stale(p) => serde_json::json!({"kind": "stale", "path": p}),
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({"ok": differences.is_empty(), "differences": list})
            );
        }
    }
    if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! `ladder render`: write (or `--check`) the rendered Argo CD documents.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ladder_render::output::{Check, Options, Protection};
use ladder_render::{Difference, OutputError, RenderOptions, WriteSummary};

use crate::OutputFormat;
use crate::tenant_args::{TenantArgs, check_env_names, problems_json};

/// Render every environment's AppProject and Applications into a folder.
///
/// Writes <out>/<env>/appproject.yaml and <out>/<env>/applications/<app>.yaml, and records
/// them in <out>/.ladder-render.json. ladder's files then mirror the config exactly (files
/// of removed apps disappear); files ladder did not write are left in place and named. The
/// folder is replaced in one step, so a failed render leaves it exactly as it was.
///
/// Removing an Application of a protected environment (`protected: true`) needs the app
/// named in that environment's `retire`; without it the render refuses and writes nothing.
#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// The output folder (created if absent; files ladder did not write are kept).
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
        Err(problems) => return Ok(report_problems(&problems, args)),
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
        Err(problems) => return Ok(report_problems(&problems, args)),
    };

    tracing::debug!(elapsed = ?started.elapsed(), documents = rendering.documents(), "rendered");

    let protected = Protection::of(&tenant);
    let out_options = Options {
        only: &args.envs,
        protected: &protected,
    };

    if args.check {
        let check = ladder_render::output::diff(&args.out, &rendering, &out_options)
            .map_err(|e| out_error(e, args))?;
        return Ok(report_check(args, &check));
    }

    let summary = match ladder_render::output::write(&args.out, &rendering, &out_options) {
        Ok(summary) => summary,
        Err(OutputError::Protected { removals }) => {
            return Ok(report_refused(args, &removals));
        }
        Err(e) => return Err(out_error(e, args)),
    };
    tracing::debug!(elapsed = ?started.elapsed(), "written");
    report_written(args, &rendering.environments, &summary);
    Ok(ExitCode::SUCCESS)
}

/// The binary's words for an out-folder error: the flag it came from, and advice.
fn out_error(e: OutputError, args: &RenderArgs) -> anyhow::Error {
    match e {
        OutputError::NotAFolder { .. } => {
            anyhow::anyhow!("--out: {e}; it names the folder to render into (created if absent)")
        }
        OutputError::Conflict { .. }
        | OutputError::MountPoint { .. }
        | OutputError::Manifest { .. } => anyhow::anyhow!("{e}; nothing was written"),
        e => anyhow::Error::new(e).context(format!(
            "{} {}",
            if args.check {
                "comparing with"
            } else {
                "writing"
            },
            args.out.display()
        )),
    }
}

fn report_written(args: &RenderArgs, environments: &[String], summary: &WriteSummary) {
    match args.output {
        OutputFormat::Text => {
            eprintln!(
                "rendered {} documents for {} into {} ({} added, {} changed, {} removed)",
                summary.written,
                environments.join(", "),
                args.out.display(),
                summary.added,
                summary.changed,
                summary.removed
            );
            for path in &summary.retired {
                eprintln!("retired: {path} (named in its environment's `retire`)");
            }
            for path in &summary.edited {
                eprintln!(
                    "overwrote hand edits: {path} (ladder wrote it; edit the config instead)"
                );
            }
            report_foreign(&summary.foreign, summary.unrecorded);
            if let Some(leftover) = &summary.leftover {
                eprintln!(
                    "warning: the previous output could not be fully removed; delete {}",
                    leftover.display()
                );
            }
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "ok": true,
                "out": args.out,
                "environments": environments,
                "documents": summary.written,
                "added": summary.added,
                "changed": summary.changed,
                "removed": summary.removed,
                "retired": summary.retired,
                "edited": summary.edited,
                "foreign": summary.foreign,
                "leftover": summary.leftover,
            })
        ),
    }
}

/// Names the files ladder did not write, which it left in place.
fn report_foreign(foreign: &[String], unrecorded: bool) {
    for path in foreign {
        eprintln!("left in place: {path} (not written by ladder)");
    }
    if unrecorded && !foreign.is_empty() {
        eprintln!(
            "(the folder had no {} record, so ladder took over only the files at the paths it renders; delete any left in place that an earlier ladder wrote)",
            ladder_render::output::MANIFEST
        );
    }
}

fn report_refused(
    args: &RenderArgs,
    removals: &[ladder_render::output::ProtectedRemoval],
) -> ExitCode {
    match args.output {
        OutputFormat::Text => {
            for removal in removals {
                eprintln!("error: {removal}");
            }
            eprintln!(
                "{} protected Application(s) would be removed; nothing was written",
                removals.len()
            );
        }
        OutputFormat::Json => {
            let list: Vec<_> = removals.iter().map(removal_json).collect();
            println!("{}", serde_json::json!({"ok": false, "protected": list}));
        }
    }
    ExitCode::FAILURE
}

fn removal_json(removal: &ladder_render::output::ProtectedRemoval) -> serde_json::Value {
    serde_json::json!({
        "env": removal.env,
        "app": removal.app,
        "path": removal.path,
        "file": removal.file,
        "message": removal.to_string(),
    })
}

fn report_problems(problems: &ladder_model::Problems, args: &RenderArgs) -> ExitCode {
    let output = args.output;
    match output {
        OutputFormat::Text => {
            for problem in problems.iter() {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; nothing was written", problems.len());
            if let Some(advice) = args.tenant.problems_advice(problems) {
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

fn report_check(args: &RenderArgs, check: &Check) -> ExitCode {
    let differences = &check.differences;
    match args.output {
        OutputFormat::Text => {
            for difference in differences {
                println!("{difference}");
            }
            report_foreign(&check.foreign, check.unrecorded);
            let refused = differences
                .iter()
                .filter(|d| matches!(d, Difference::Protected(_) | Difference::Blocked(_)))
                .count();
            if differences.is_empty() {
                eprintln!("{} is up to date", args.out.display());
            } else if refused > 0 {
                eprintln!(
                    "{} file(s) in {} differ from the config; `ladder render` would refuse {refused} of them (see `refused:` and `blocked:`)",
                    differences.len(),
                    args.out.display()
                );
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
                    Difference::Edited(p) => serde_json::json!({"kind": "edited", "path": p}),
                    Difference::Retired(p) => serde_json::json!({"kind": "retired", "path": p}),
                    Difference::Blocked(p) => serde_json::json!({"kind": "blocked", "path": p}),
                    Difference::Protected(r) => {
                        let mut value = removal_json(r);
                        value["kind"] = "refused".into();
                        value
                    }
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "ok": differences.is_empty(),
                    "differences": list,
                    "foreign": check.foreign,
                })
            );
        }
    }
    if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

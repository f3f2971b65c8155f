//! `ladder validate`: load, render in memory, check; write nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ladder_render::RenderOptions;

use crate::OutputFormat;
use crate::tenant_args::{TenantArgs, problems_json};

/// Check a tenant config repo: load it, render every environment in memory and check the
/// documents. Prints every problem as `file:line:col: message`; exits 1 if there is any.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// Also compare with this rendered folder (the `--out` of `ladder render`) and list
    /// what a render would refuse: Applications of protected environments it would
    /// remove without `retire`. Writes nothing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How to print the result (and errors).
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// What a render into `out` would refuse, as lines: protected removals without
/// `retire`, and files ladder did not write that stand where it would write.
fn refusals(
    out: &std::path::Path,
    tenant: &ladder_model::Tenant,
    rendering: &ladder_render::Rendering,
) -> anyhow::Result<Vec<String>> {
    use ladder_render::output::{Difference, Options, Protection};
    let protected = Protection::of(tenant);
    let options = Options {
        only: &[],
        protected: &protected,
    };
    let check = ladder_render::output::diff(out, rendering, &options)
        .with_context(|| format!("comparing with --out {}", out.display()))?;
    Ok(check
        .differences
        .iter()
        .filter(|d| matches!(d, Difference::Protected(_) | Difference::Blocked(_)))
        .map(ToString::to_string)
        .collect())
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let schemas = args.tenant.schemas()?;
    let opened = args.tenant.open()?;
    let options = RenderOptions {
        policy: args.tenant.policy(),
        schemas: schemas.as_ref(),
        ..RenderOptions::default()
    };
    let result = ladder_engine::load_and_render(&opened, &options)
        .context("reading the tenant config repo")?;
    let refused = match (&result, &args.out) {
        (Ok((tenant, rendering)), Some(out)) => refusals(out, tenant, rendering)?,
        _ => Vec::new(),
    };
    if !refused.is_empty() {
        match args.output {
            OutputFormat::Text => {
                for line in &refused {
                    println!("{line}");
                }
                eprintln!(
                    "{} change(s) a render into {} would refuse; see each line for what to do",
                    refused.len(),
                    args.out
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
            }
            OutputFormat::Json => println!(
                "{}",
                serde_json::json!({"ok": false, "refused": refused, "problems": []})
            ),
        }
        return Ok(ExitCode::FAILURE);
    }
    match (result, args.output) {
        (Ok((tenant, rendering)), OutputFormat::Text) => {
            println!(
                "ok: tenant {}, {} environments, {} apps, {} documents",
                tenant.settings.tenant,
                tenant.environments.len(),
                tenant.apps.len(),
                rendering.documents()
            );
            Ok(ExitCode::SUCCESS)
        }
        (Ok((tenant, rendering)), OutputFormat::Json) => {
            let report = serde_json::json!({
                "ok": true,
                "tenant": tenant.settings.tenant,
                "environments": rendering.environments,
                "apps": tenant.apps.iter().map(|a| &a.name).collect::<Vec<_>>(),
                "documents": rendering.documents(),
                "problems": [],
            });
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        (Err(problems), OutputFormat::Text) => {
            for problem in problems.iter() {
                println!("{problem}");
            }
            eprintln!(
                "{} problem(s) found; fix them and run `ladder validate` again",
                problems.len()
            );
            if let Some(advice) = args.tenant.problems_advice(&problems) {
                eprintln!("{advice}");
            }
            Ok(ExitCode::FAILURE)
        }
        (Err(problems), OutputFormat::Json) => {
            println!(
                "{}",
                serde_json::json!({"ok": false, "problems": problems_json(&problems)})
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

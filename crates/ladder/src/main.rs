//! `ladder`: render, validate and (later) promote a tenant's Argo CD config from Git.

mod remote_env;
mod render_cmd;
mod tenant_args;
mod validate_cmd;
mod yaml_cmd;

// Rendering allocates many small strings; mimalloc does that markedly faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Git-driven promotion engine for Argo CD.
///
/// ladder reads a tenant config repo (ladder.yaml, environments/, apps/, templates/),
/// renders one Argo CD AppProject and one Application per app for every environment, and
/// promotes values between environments through pull requests.
#[derive(Parser)]
#[command(name = "ladder", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Render(render_cmd::RenderArgs),
    Validate(validate_cmd::ValidateArgs),
    Get(yaml_cmd::GetArgs),
    Set(yaml_cmd::SetArgs),
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object on stdout, for scripts.
    Json,
}

/// 3 when the environment failed (a remote, the network, a timeout, the file system
/// under a repo), 1 for everything else: bad input or a refused request.
fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    let environment = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ladder_render::OutputError>(),
            Some(ladder_render::OutputError::Io { .. })
        ) || cause
            .downcast_ref::<tenant_args::Advised>()
            .map(|a| &a.err)
            .or_else(|| cause.downcast_ref::<ladder_engine::Error>())
            .is_some_and(|e| {
                matches!(
                    e,
                    ladder_engine::Error::Git { .. } | ladder_engine::Error::Tree(_)
                )
            })
    });
    if environment {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LADDER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Render(args) => render_cmd::run(args),
        Command::Validate(args) => validate_cmd::run(args),
        Command::Get(args) => yaml_cmd::get(args),
        Command::Set(args) => yaml_cmd::set(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code_for(&e)
        }
    }
}

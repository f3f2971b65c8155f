use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod yaml_cmd;

/// Git-driven promotion engine for Argo CD.
#[derive(Parser)]
#[command(name = "ladder", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    Get(yaml_cmd::GetArgs),
    Set(yaml_cmd::SetArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Get(args)) => yaml_cmd::get(&args),
        Some(Command::Set(args)) => yaml_cmd::set(&args),
        None => Ok(ExitCode::SUCCESS),
    }
}

use clap::Parser;

/// Git-driven promotion engine for Argo CD.
#[derive(Parser)]
#[command(name = "ladder", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}

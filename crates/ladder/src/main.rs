//! `ladder`: render, validate and (later) promote a tenant's Argo CD config from Git.

mod forge_args;
mod plan_cmd;
mod promote_cmd;
mod remote_env;
mod render_cmd;
mod report;
mod run_cmd;
mod tenant_args;
mod validate_cmd;
mod yaml_cmd;

// Rendering allocates many small strings; mimalloc does that markedly faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Git-driven promotion engine for Argo CD.
///
/// ladder reads a tenant config repo (ladder.yaml, environments/, apps/, templates/),
/// renders one Argo CD AppProject and one Application per app for every environment,
/// plans and proposes promotions between environments as branches of the config repo or
/// GitHub pull requests (plan, promote, rollback), edits single values of YAML files in
/// place (get, set), and runs as a daemon that does all of it continuously (run).
///
/// Set LADDER_LOG=debug for ladder's steps and timings on stderr.
#[derive(Parser)]
#[command(name = "ladder", version, propagate_version = true, after_help = report::EXIT_CODES)]
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
    Plan(plan_cmd::PlanArgs),
    Promote(promote_cmd::PromoteArgs),
    Rollback(promote_cmd::RollbackArgs),
    Run(run_cmd::RunArgs),
}

impl Command {
    /// How the command prints its result, and its errors.
    fn output(&self) -> OutputFormat {
        match self {
            Command::Render(args) => args.output,
            Command::Validate(args) => args.output,
            Command::Get(args) => args.output,
            Command::Set(args) => args.output,
            Command::Plan(args) => args.output,
            Command::Promote(args) => args.output,
            Command::Rollback(args) => args.output,
            Command::Run(args) => args.output,
        }
    }
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people; errors on stderr.
    #[default]
    Text,
    /// JSON on stdout, for scripts; errors too, as {"ok": false, "error": {...}}.
    Json,
}

/// The command line, with what every command shares put in one place: `-o` for
/// `--output`, and the exit codes after each command's help.
fn command() -> clap::Command {
    let mut cli = Cli::command();
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cli = cli.mut_subcommand(name, |sub| {
            let short = sub
                .get_arguments()
                .any(|a| a.get_id() == "output" && a.get_short().is_none());
            let sub = if short {
                sub.mut_arg("output", |a| a.short('o'))
            } else {
                sub
            };
            sub.after_help(report::EXIT_CODES)
        });
    }
    cli
}

/// `LADDER_LOG` as an `EnvFilter`: a bare level (`debug`) applies to ladder's own crates
/// only, so their steps and timings show without the template engine's or the git
/// library's internals; a directive that names a crate (`handlebars=debug`) is kept as
/// written. Everything else logs warnings.
fn log_filter(spec: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const OURS: [&str; 13] = [
        "ladder",
        "ladder_daemon",
        "ladder_engine",
        "ladder_github",
        "ladder_git",
        "ladder_model",
        "ladder_promote",
        "ladder_render",
        "ladder_threads",
        "ladder_tree",
        "ladder_watch",
        "yamledit",
        "ladder_testkit",
    ];
    let mut directives = vec!["warn".to_string()];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<tracing::level_filters::LevelFilter>() {
            Ok(level) => directives.extend(OURS.iter().map(|c| format!("{c}={level}"))),
            Err(_) => directives.push(part.to_string()),
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(directives.join(","))
        .map_err(|e| format!("ignoring LADDER_LOG={spec:?}: {e}"))
}

/// Logging on stderr. The daemon logs at info by default, as JSON when stderr is not a
/// terminal (a container's log collector reads it); commands log warnings only.
fn init_logging(daemon: bool) {
    let default = if daemon { "info" } else { "" };
    let spec = std::env::var("LADDER_LOG").unwrap_or_else(|_| default.to_string());
    let (filter, problem) = match log_filter(&spec) {
        Ok(filter) => (filter, None),
        Err(problem) => (tracing_subscriber::EnvFilter::new("warn"), Some(problem)),
    };
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if daemon && !terminal {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder
            .with_ansi(terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
            .init();
    }
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(matches!(cli.command, Command::Run(_)));
    let output = cli.command.output();
    let started = std::time::Instant::now();
    let result = match &cli.command {
        Command::Render(args) => render_cmd::run(args),
        Command::Validate(args) => validate_cmd::run(args),
        Command::Get(args) => yaml_cmd::get(args),
        Command::Set(args) => yaml_cmd::set(args),
        Command::Plan(args) => plan_cmd::run(args),
        Command::Promote(args) => promote_cmd::run(args),
        Command::Rollback(args) => promote_cmd::rollback(args),
        Command::Run(args) => run_cmd::run(args),
    };
    tracing::debug!(elapsed = ?started.elapsed(), "done");
    match result {
        Ok(code) => code,
        Err(e) => report::print_error(output, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    /// Every command, now and later ones, takes `-o/--output` and shows the exit codes.
    #[test]
    fn every_command_has_output_and_exit_codes() {
        let cli = command();
        for sub in cli.get_subcommands() {
            let output = sub.get_arguments().find(|a| a.get_id() == "output");
            let output = output.unwrap_or_else(|| panic!("`{}` has no --output", sub.get_name()));
            assert_eq!(output.get_short(), Some('o'), "{}", sub.get_name());
            assert_eq!(output.get_long(), Some("output"), "{}", sub.get_name());
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(help.contains("Exit status"), "{}", sub.get_name());
        }
    }

    #[test]
    fn a_bare_level_is_for_ladders_crates() {
        let filter = log_filter("debug").unwrap().to_string();
        assert!(filter.contains("ladder_engine=debug"), "{filter}");
        assert!(!filter.contains("handlebars"), "{filter}");
        let filter = log_filter("info,handlebars=debug").unwrap().to_string();
        assert!(filter.contains("handlebars=debug"), "{filter}");
        assert!(filter.contains("ladder=info"), "{filter}");
        assert!(log_filter("").is_ok());
        assert!(log_filter("a=b=c").is_err());
    }
}

//! The issue 10 benchmark: a generated tenant of 1,000 Helm apps x 3 environments (dev,
//! staging from dev, prod from staging) in a bare repo served by `git daemon` on
//! loopback, and one commit bumping `image.tag` of 500 apps in dev. Times the real
//! release binary as a child process (wall time, and peak RSS read with `wait4`):
//! `ladder plan`, a full `ladder promote` (500 proposals opened) and a second `ladder
//! promote` with nothing to do. A `post-receive` hook in the served repo logs every push
//! (one line per receive-pack run, with the number of refs it updated), and every ref of
//! the served repo is compared before and after the idle runs.
//!
//! `cargo bench -p ladder --bench promote_scale`

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ladder_testkit::{GitDaemon, Origin, SyntheticTenant, app_names, app_values, app_values_path};

const APPS: usize = 1000;
const BUMPED: usize = 500;
const RUNS: usize = 5;

/// The tenant: 1,000 Helm apps in dev, staging (from dev) and prod (from staging).
fn tenant() -> SyntheticTenant {
    SyntheticTenant {
        name: "bench".into(),
        config_url: "https://git.example/bench/config.git".into(),
        github: false,
        environments: vec!["dev", "staging", "prod"],
        apps: app_names(APPS),
        tag: "1.0.0".into(),
    }
}

/// Runs a command and returns its wall time and peak RSS in KiB.
fn measure(command: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    // Reaped by wait4 below, which `Child::wait` cannot replace (it discards rusage).
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("ladder starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    (elapsed, usage.ru_maxrss as u64)
}

fn report(label: &str, mut samples: Vec<(Duration, u64)>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let max_rss = samples.iter().map(|s| s.1).max().unwrap();
    println!(
        "{label:<46} runs {:>2}  min {:>8.1} ms  median {:>8.1} ms  peak RSS {:>6.1} MB",
        samples.len(),
        samples[0].0.as_secs_f64() * 1e3,
        median.0.as_secs_f64() * 1e3,
        max_rss as f64 / 1024.0
    );
}

fn refs(bare: &Path) -> String {
    ladder_testkit::git(bare, &["for-each-ref", "--format=%(objectname) %(refname)"])
}

/// The pushes the served repo received: one entry per receive-pack run, the number of
/// refs it updated.
fn pushes(log: &Path) -> Vec<usize> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Runs `ladder` with its JSON output in `out`; returns the time, RSS and the output.
fn ladder(args: &[&str], out: &Path) -> ((Duration, u64), serde_json::Value) {
    let file = std::fs::File::create(out).unwrap();
    let sample = measure(
        Command::new(env!("CARGO_BIN_EXE_ladder"))
            .args(args)
            .stdout(file)
            .stderr(Stdio::null()),
    );
    let text = std::fs::read_to_string(out).unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (sample, json)
}

fn count(outcome: &serde_json::Value, kind: &str) -> usize {
    outcome["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .count()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    let origin = Origin {
        base: served.clone(),
        name: "bench.git".into(),
    };
    origin.commit_text("tenant", &tenant().files());
    let bump: Vec<(String, String)> = app_names(BUMPED)
        .iter()
        .map(|app| (app_values_path(app, "dev"), app_values(app, "1.1.0")))
        .collect();
    origin.commit_text("bump 500 apps in dev", &bump);
    let bare = origin.path();
    let log = dir.path().join("pushes.log");
    let hook = bare.join("hooks/post-receive");
    std::fs::write(&hook, format!("#!/bin/sh\nwc -l >> '{}'\n", log.display())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let daemon = GitDaemon::start(&served);
    let url = daemon.url("bench.git");
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    let out = dir.path().join("out.json");
    println!(
        "tenant: {APPS} Helm apps x 3 environments, one commit bumping image.tag of {BUMPED} apps in dev; served by git daemon at {url}"
    );

    let plan_args = ["plan", "--repo", &url, "--cache-dir", cache, "-o", "json"];
    let (cold, plan) = ladder(&plan_args, &out);
    let rows = plan["promotions"].as_array().map(Vec::len).unwrap_or(0);
    report("plan, empty cache (includes the clone)", vec![cold]);
    let mut warm = Vec::new();
    for _ in 0..RUNS {
        warm.push(ladder(&plan_args, &out).0);
    }
    report("plan", warm);
    println!("  plan rows: {rows}");

    let promote_args = [
        "promote",
        "--repo",
        &url,
        "--cache-dir",
        cache,
        "-o",
        "json",
    ];
    let before = refs(&bare);
    let (full, outcome) = ladder(&promote_args, &out);
    report("promote, 500 proposals to open", vec![full]);
    let branches = ladder_testkit::git(&bare, &["for-each-ref", "refs/heads/ladder/"])
        .lines()
        .count();
    let log_full = pushes(&log);
    println!(
        "  opened {}, writes {}, ladder/ branches on the server {branches}, pushes received {} (refs per push: {:?})",
        count(&outcome, "open"),
        outcome["writes"],
        log_full.len(),
        log_full
    );
    assert_eq!(count(&outcome, "open"), BUMPED, "{outcome:#}");
    assert_eq!(branches, BUMPED);
    assert_ne!(before, refs(&bare));

    let before = refs(&bare);
    let mut idle = Vec::new();
    let mut writes = Vec::new();
    let mut kept = 0;
    for _ in 0..RUNS {
        let (sample, outcome) = ladder(&promote_args, &out);
        idle.push(sample);
        writes.push(outcome["writes"].as_u64().unwrap());
        kept = count(&outcome, "keep");
    }
    report("promote, nothing to do (500 up to date)", idle);
    let unchanged = before == refs(&bare);
    let log_idle = pushes(&log);
    println!(
        "  kept {kept}, writes per run {writes:?}, all {} refs unchanged: {unchanged}, pushes received during the idle runs: {}",
        before.lines().count(),
        log_idle.len() - log_full.len()
    );
    assert_eq!(kept, BUMPED);
    assert!(unchanged, "an idle promote changed refs");
    assert_eq!(log_idle.len(), log_full.len(), "an idle promote pushed");
    assert!(writes.iter().all(|w| *w == 0));
    if std::env::var_os("PROMOTE_SCALE_KEEP").is_some() {
        println!("kept for inspection: {}", dir.keep().display());
    }
}

//! The issue 2 benchmark: a generated tenant of 1,000 apps x 3 environments; `ladder
//! render` loads, renders, checks and writes all 3,003 documents. Runs the real release
//! binary as a child process and reports wall time and the child's peak RSS.
//!
//! `cargo bench -p ladder --bench render_scale`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const APPS: usize = 1000;
const RUNS: usize = 7;

fn write(root: &Path, path: &str, text: &str) {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(target, text).unwrap();
}

/// A tenant like the example, with a third of the apps of each source type.
fn generate(root: &Path) {
    write(
        root,
        "ladder.yaml",
        "tenant: bench\nconfigRepo:\n  url: https://git.example/bench/config.git\n  branch: main\n",
    );
    for i in 0..APPS {
        let name = format!("app{i:04}");
        let dir = format!("apps/{name}");
        match i % 3 {
            0 => {
                write(
                    root,
                    &format!("{dir}/app.yaml"),
                    &format!(
                        "name: {name}\nsource:\n  type: helm\n  repoURL: https://git.example/charts/{name}.git\n  targetRevision: v1.0.0\n  path: chart\nvalues:\n  - values.yaml\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
                    ),
                );
                write(root, &format!("{dir}/values.yaml"), "replicaCount: 2\n");
                for env in ["dev", "staging", "prod"] {
                    write(
                        root,
                        &format!("{dir}/env/{env}.yaml"),
                        "image:\n  tag: \"1.0.0\"\n",
                    );
                }
            }
            1 => {
                write(
                    root,
                    &format!("{dir}/app.yaml"),
                    &format!(
                        "name: {name}\nsource:\n  type: kustomize\n  path: apps/{name}/overlays/{{env}}\npromote:\n  - file: overlays/{{env}}/kustomization.yaml\n    path: images[name=ghcr.io/bench/{name}].newTag\n"
                    ),
                );
                for env in ["dev", "staging", "prod"] {
                    write(
                        root,
                        &format!("{dir}/overlays/{env}/kustomization.yaml"),
                        &format!(
                            "resources: []\nimages:\n  - name: ghcr.io/bench/{name}\n    newTag: \"1.0.0\"\n"
                        ),
                    );
                }
            }
            _ => {
                write(
                    root,
                    &format!("{dir}/app.yaml"),
                    &format!(
                        "name: {name}\nsource:\n  type: directory\n  path: apps/{name}/manifests\n"
                    ),
                );
                write(
                    root,
                    &format!("{dir}/manifests/configmap.yaml"),
                    "kind: ConfigMap\n",
                );
            }
        }
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
    // wait4 reports the child's own peak RSS, which `Child::wait` cannot.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    (elapsed, usage.ru_maxrss as u64)
}

fn median(samples: &[(Duration, u64)]) -> Duration {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    times.sort();
    times[times.len() / 2]
}

fn report(label: &str, mut samples: Vec<(Duration, u64)>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let max_rss = samples.iter().map(|s| s.1).max().unwrap();
    println!(
        "{label:<44} min {:>7.1} ms  median {:>7.1} ms  peak RSS {:>6.1} MB",
        samples[0].0.as_secs_f64() * 1e3,
        median.0.as_secs_f64() * 1e3,
        max_rss as f64 / 1024.0
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ladder = env!("CARGO_BIN_EXE_ladder");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    generate(&repo);
    println!(
        "tenant: {APPS} apps x 3 environments = {} documents; {RUNS} runs each",
        APPS * 3 + 3
    );

    let mut fresh = Vec::new();
    for run in 0..RUNS {
        let out = dir.path().join(format!("out{run}"));
        fresh.push(measure(
            Command::new(ladder)
                .args(["render", "--repo"])
                .arg(&repo)
                .arg("--out")
                .arg(&out)
                .arg("--output")
                .arg("json")
                .stdout(std::process::Stdio::null()),
        ));
    }
    let files = std::fs::read_dir(dir.path().join("out0/prod/applications"))
        .unwrap()
        .count();
    assert_eq!(files, APPS, "every app rendered");
    let render_median = median(&fresh);
    report("render into a new folder", fresh);

    // The floor for writing 3,003 small files on this file system, measured in the same
    // run: copying the rendered folder with `cp -r` (which only reads and writes).
    let mut copies = Vec::new();
    for run in 0..RUNS {
        copies.push(measure(
            Command::new("cp")
                .arg("-r")
                .arg(dir.path().join("out0"))
                .arg(dir.path().join(format!("copy{run}"))),
        ));
    }
    let copy_median = median(&copies);
    report("cp -r of the rendered folder", copies);
    println!(
        "render / cp -r (medians): {:.2}x",
        render_median.as_secs_f64() / copy_median.as_secs_f64()
    );

    let mut again = Vec::new();
    for _ in 0..RUNS {
        again.push(measure(
            Command::new(ladder)
                .args(["render", "--repo"])
                .arg(&repo)
                .arg("--out")
                .arg(dir.path().join("out0"))
                .arg("--output")
                .arg("json")
                .stdout(std::process::Stdio::null()),
        ));
    }
    report("render over an up-to-date folder", again);

    let mut check = Vec::new();
    for _ in 0..RUNS {
        check.push(measure(
            Command::new(ladder)
                .args(["render", "--check", "--repo"])
                .arg(&repo)
                .arg("--out")
                .arg(dir.path().join("out0"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        ));
    }
    report("render --check (no differences)", check);

    let mut validate = Vec::new();
    for _ in 0..RUNS {
        validate.push(measure(
            Command::new(ladder)
                .args(["validate", "--repo"])
                .arg(&repo)
                .stdout(std::process::Stdio::null()),
        ));
    }
    report("validate (load + render in memory)", validate);
}

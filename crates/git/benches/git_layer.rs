//! Benchmark of the Git layer against the `git` CLI doing the same job, on a generated
//! repository (10,000 commits, 3,000 files) served by `git daemon` on loopback.
//! Run with `cargo bench -p ladder-git`; results go in BENCHMARKS.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ladder_git::{
    CommitOutcome, CommitRequest, Edits, EntryKind, Identity, Lease, RemoteOptions, Repo,
    TreeAtCommit,
};
use support::{FiCommit, GitDaemon, env_yaml, fast_import, git, git_cmd};

const COMMITS: usize = 10_000;
const APPS: usize = 1_000;
const ENVS: [&str; 3] = ["dev", "staging", "prod"];
/// Apps the CLI last-change baseline runs on; its total is scaled to 1,000 apps.
const CLI_LAST_CHANGE_SAMPLE: usize = 20;

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let origin = srv.join("bench.git");
    let t = Instant::now();
    generate(&origin);
    println!(
        "generated {COMMITS} commits x {} files in {:.1?}",
        APPS * ENVS.len(),
        t.elapsed()
    );
    // fast-import stores each version as a delta against the previous (older) one;
    // servers repack so that recent objects are whole and older ones are deltas. Serve
    // what a real server would; LADDER_BENCH_NO_REPACK=1 keeps fast-import's pack.
    if std::env::var_os("LADDER_BENCH_NO_REPACK").is_none() {
        let t = Instant::now();
        git(
            &origin,
            &[
                "repack",
                "-q",
                "-a",
                "-d",
                "-f",
                "--window=10",
                "--depth=50",
            ],
        );
        println!(
            "repacked the origin (git repack -adf) in {:.1?}",
            t.elapsed()
        );
    }
    let daemon = GitDaemon::start(&srv);
    let url = daemon.url("bench.git");
    let mut rows: Vec<(String, Duration, Duration, String)> = Vec::new();

    // Cold clone, for reference.
    let cache = tmp.path().join("cache");
    let ours = time(|| {
        Repo::mirror(&url, &cache, RemoteOptions::default()).unwrap();
    });
    let cli_mirror = tmp.path().join("cli.git");
    let cli = time(|| {
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                "--mirror",
                &url,
                cli_mirror.to_str().unwrap(),
            ],
        );
    });
    rows.push((
        "initial mirror clone".into(),
        ours,
        cli,
        "git clone --mirror".into(),
    ));
    let repo = Repo::open_mirror(&url, &cache, RemoteOptions::default()).unwrap();

    // LADDER_BENCH_ONLY=check,fetch,read,push,history runs a subset (while tuning).
    let only = std::env::var("LADDER_BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);

    // 1. Idle remote check.
    if run("check") {
        let ours = median(30, || {
            assert!(!repo.remote_branch_moved("main").unwrap());
        });
        let cli = median(30, || {
            git(tmp.path(), &["ls-remote", &url, "refs/heads/main"]);
        });
        rows.push((
            "idle remote check (median)".into(),
            ours,
            cli,
            "git ls-remote URL refs/heads/main".into(),
        ));
    }

    // 2. Incremental fetch of one new commit.
    let mut n = 0;
    if run("fetch") {
        let ours = median(5, || {
            n += 1;
            push_one_commit(&origin, n);
            let start = Instant::now();
            let outcome = repo.fetch().unwrap();
            assert!(outcome.received_pack);
            start.elapsed()
        });
        let cli = median(5, || {
            n += 1;
            push_one_commit(&origin, n);
            let start = Instant::now();
            git(&cli_mirror, &["fetch", "-q", "origin"]);
            start.elapsed()
        });
        rows.push((
            "incremental fetch of 1 new commit (median)".into(),
            ours,
            cli,
            "git fetch (in a --mirror clone)".into(),
        ));
    }

    // 3. Read all files of one commit.
    if run("read") {
        let tip = repo.resolve("main").unwrap();
        let ours = median(5, || {
            let tree = repo.tree_at(tip).unwrap();
            let (files, bytes) = read_all(&tree, "");
            assert_eq!(files, APPS * ENVS.len() + 1);
            assert!(bytes > 0);
        });
        let cli = median(5, || {
            let files = cli_read_all(&cli_mirror, &tip.to_string());
            assert_eq!(files, APPS * ENVS.len() + 1);
        });
        rows.push((
            "read all 3,001 files of a commit (median)".into(),
            ours,
            cli,
            "git ls-tree -r + git cat-file --batch".into(),
        ));
    }

    // 4. Build and push one promotion commit.
    if run("push") {
        let work = tmp.path().join("work");
        git(tmp.path(), &["clone", "-q", &url, work.to_str().unwrap()]);
        let mut k = 0;
        let ours = median(5, || {
            k += 1;
            repo.fetch().unwrap();
            let parent = repo.resolve("main").unwrap();
            let mut edits = Edits::new();
            edits.write(format!("apps/app{k}/env/prod.yaml"), env_yaml(k, 1000 + k));
            let request = CommitRequest {
                parent,
                edits,
                author: Identity::new("Ladder", "ladder@example.com"),
                committer: Identity::new("Ladder", "ladder@example.com"),
                message: format!("Promote app{k} to prod"),
                trailers: vec![("Ladder-Source-Commit".into(), parent.to_string())],
                time: None,
            };
            let start = Instant::now();
            let CommitOutcome::Created { commit, .. } = repo.build_commit(&request).unwrap() else {
                panic!()
            };
            repo.push_branch(&format!("ladder/promote-{k}"), commit, Lease::Absent)
                .unwrap();
            start.elapsed()
        });
        let cli = median(5, || {
            k += 1;
            git(
                &work,
                &[
                    "checkout",
                    "-q",
                    "-B",
                    &format!("cli/promote-{k}"),
                    "origin/main",
                ],
            );
            let start = Instant::now();
            std::fs::write(
                work.join(format!("apps/app{k}/env/prod.yaml")),
                env_yaml(k, 1000 + k),
            )
            .unwrap();
            git(
                &work,
                &["commit", "-qam", &format!("Promote app{k} to prod")],
            );
            git(
                &work,
                &[
                    "push",
                    "-q",
                    &format!("--force-with-lease=refs/heads/cli/promote-{k}:"),
                    "origin",
                    &format!("HEAD:refs/heads/cli/promote-{k}"),
                ],
            );
            start.elapsed()
        });
        rows.push((
            "build + push 1 promotion commit (median)".into(),
            ours,
            cli,
            "worktree edit, git commit -a, git push --force-with-lease".into(),
        ));
    }

    // 5. Last change of image.tag in apps/x/env/staging.yaml for 1,000 apps.
    if run("history") {
        let cold_repo = Repo::open_mirror(&url, &cache, RemoteOptions::default()).unwrap();
        let lookup_all = |r: &Repo| {
            let mut found = 0;
            for app in 0..APPS {
                if r.last_change(
                    "main",
                    &format!("apps/app{app}/env/staging.yaml"),
                    "image.tag",
                )
                .unwrap()
                .is_some()
                {
                    found += 1;
                }
            }
            assert_eq!(found, APPS);
        };
        let cold = time(|| lookup_all(&cold_repo));
        let warm = time(|| lookup_all(&cold_repo));
        let sample_start = Instant::now();
        for app in 0..CLI_LAST_CHANGE_SAMPLE {
            cli_last_change(&cli_mirror, &format!("apps/app{app}/env/staging.yaml"));
        }
        let cli = sample_start.elapsed() * (APPS / CLI_LAST_CHANGE_SAMPLE) as u32;
        // A smarter script makes one pass over history instead of one per file; this
        // times only that pass (no value comparison), a lower bound for any CLI approach.
        let one_pass = time(|| {
            git(
                &cli_mirror,
                &[
                    "log",
                    "--first-parent",
                    "--raw",
                    "--no-abbrev",
                    "--format=%H",
                    "main",
                ],
            );
        });
        rows.push(("last change of image.tag, 1,000 apps, cold cache".into(), cold, cli, format!("git log --first-parent -- FILE + cat-file per app ({CLI_LAST_CHANGE_SAMPLE} apps measured, x{})", APPS / CLI_LAST_CHANGE_SAMPLE)));
        rows.push((
            "last change of image.tag, 1,000 apps, warm cache".into(),
            warm,
            cli,
            "same".into(),
        ));
        rows.push((
            "last change, 1,000 apps, cold, vs one CLI history pass".into(),
            cold,
            one_pass,
            "git log --first-parent --raw main (one pass, lower bound: no values read)".into(),
        ));
    }

    println!();
    println!("| operation | ladder-git | git CLI | git CLI / ladder-git | CLI equivalent |");
    println!("|---|---:|---:|---:|---|");
    for (name, ours, cli, how) in rows {
        println!(
            "| {name} | {} | {} | {:.2}x | {how} |",
            fmt(ours),
            fmt(cli),
            cli.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else if d < Duration::from_secs(10) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Median over `n` runs; `f` returns either nothing (the whole call is timed) or the
/// duration of the part that counts.
fn median<R: IntoTimed>(n: usize, mut f: impl FnMut() -> R) -> Duration {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f().into_timed(start.elapsed())
        })
        .collect();
    v.sort();
    v[n / 2]
}

trait IntoTimed {
    fn into_timed(self, whole: Duration) -> Duration;
}
impl IntoTimed for () {
    fn into_timed(self, whole: Duration) -> Duration {
        whole
    }
}
impl IntoTimed for Duration {
    fn into_timed(self, _whole: Duration) -> Duration {
        self
    }
}

/// 1,000 apps x 3 environments; each later commit bumps the tag of one file chosen by a
/// fixed pseudo-random sequence, so every file changes a few times across history.
fn generate(origin: &Path) {
    let mut tags = vec![0usize; APPS * ENVS.len()];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let commits = (0..COMMITS).map(|i| {
        let mut files = Vec::new();
        if i == 0 {
            for app in 0..APPS {
                for env in ENVS {
                    files.push((
                        format!("apps/app{app}/env/{env}.yaml"),
                        Some(env_yaml(app, 0)),
                    ));
                }
            }
            files.push(("README.md".into(), Some(b"bench\n".to_vec())));
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let slot = (state % (APPS * ENVS.len()) as u64) as usize;
            tags[slot] += 1;
            let (app, env) = (slot / ENVS.len(), ENVS[slot % ENVS.len()]);
            files.push((
                format!("apps/app{app}/env/{env}.yaml"),
                Some(env_yaml(app, tags[slot])),
            ));
        }
        FiCommit {
            message: format!("commit {i}"),
            time: 1_600_000_000 + i as i64 * 60,
            files,
        }
    });
    fast_import(origin, "main", commits.collect::<Vec<_>>());
}

fn push_one_commit(origin: &Path, n: usize) {
    fast_import(
        origin,
        "main",
        [FiCommit {
            message: format!("new commit {n}"),
            time: 1_700_000_000 + n as i64,
            files: vec![(
                "apps/app0/env/dev.yaml".into(),
                Some(env_yaml(0, 100_000 + n)),
            )],
        }],
    );
}

fn read_all(tree: &TreeAtCommit, dir: &str) -> (usize, usize) {
    let (mut files, mut bytes) = (0, 0);
    for entry in tree.list_dir(dir).unwrap().unwrap() {
        let path = if dir.is_empty() {
            entry.name.clone()
        } else {
            format!("{dir}/{}", entry.name)
        };
        match entry.kind {
            EntryKind::Dir => {
                let (f, b) = read_all(tree, &path);
                files += f;
                bytes += b;
            }
            EntryKind::File => {
                bytes += tree.read_file(&path).unwrap().unwrap().len();
                files += 1;
            }
        }
    }
    (files, bytes)
}

/// The CLI's fastest way to read every file: list the tree, then stream blobs through
/// one `cat-file --batch`.
fn cli_read_all(git_dir: &Path, commit: &str) -> usize {
    let list = git(
        git_dir,
        &["ls-tree", "-r", "--format=%(objectname)", commit],
    );
    let mut child = git_cmd(git_dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = list.clone();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap();
    child.wait().unwrap();
    list.lines().count()
}

/// What a script would do with the CLI: list the commits that touched the file, newest
/// first, and compare the value before each until it differs.
fn cli_last_change(git_dir: &Path, file: &str) -> Option<String> {
    let log = git(
        git_dir,
        &["log", "--first-parent", "--format=%H", "main", "--", file],
    );
    let mut cat = Command::new("git")
        .current_dir(git_dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    let mut stdout = BufReader::new(cat.stdout.take().unwrap());
    let mut value_at = |rev: &str| -> Option<String> {
        writeln!(stdin, "{rev}:{file}").unwrap();
        stdin.flush().unwrap();
        let mut header = String::new();
        stdout.read_line(&mut header).unwrap();
        if header.ends_with("missing\n") {
            return None;
        }
        let size: usize = header.split_whitespace().nth(2).unwrap().parse().unwrap();
        let mut body = vec![0; size + 1];
        stdout.read_exact(&mut body).unwrap();
        String::from_utf8_lossy(&body)
            .lines()
            .find(|l| l.trim_start().starts_with("tag:"))
            .map(str::to_string)
    };
    let current = value_at("main");
    let mut answer = None;
    for commit in log.lines() {
        if value_at(&format!("{commit}^")) != current {
            answer = Some(commit.to_string());
            break;
        }
    }
    drop(stdin);
    cat.wait().unwrap();
    answer
}

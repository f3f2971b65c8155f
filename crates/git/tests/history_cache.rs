//! The history caches are bounded, and queries do not wait for each other's walks:
//! not on different branches of one repository, and not on the same branch.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ladder_git::Repo;
use ladder_testkit::{FiCommit, env_yaml, fast_import, git};

const APPS: usize = 40;
const COMMITS: usize = 20_000;
/// The commit that changes `deep.yaml`, far below what a capped index holds.
const DEEP: usize = 5_000;

fn staging(app: usize) -> String {
    // Fixed-width names: every commit's diff has the same size, so index sizes compare
    // exactly across histories.
    format!("apps/app{app:02}/env/staging.yaml")
}

fn prod(app: usize) -> String {
    format!("apps/app{app:02}/env/prod.yaml")
}

/// `main`: 20,000 commits; commit 0 adds every file, commit i bumps the staging tag of
/// app i % 40, and commit 5,000 also changes `deep.yaml`. `half`: the first 10,000.
fn generate(repo: &Path) {
    let commits = (0..COMMITS).map(|i| {
        let mut files = Vec::new();
        if i == 0 {
            for app in 0..APPS {
                files.push((staging(app), Some(env_yaml(app, 0))));
                files.push((prod(app), Some(env_yaml(app, 0))));
            }
            files.push(("deep.yaml".to_string(), Some(env_yaml(99, 0))));
        } else {
            files.push((staging(i % APPS), Some(env_yaml(i % APPS, i))));
            if i == DEEP {
                files.push(("deep.yaml".to_string(), Some(env_yaml(99, 1))));
            }
        }
        FiCommit {
            message: format!("commit {i}"),
            time: 1_600_000_000 + i as i64,
            files,
        }
    });
    fast_import(repo, "main", commits.collect::<Vec<_>>());
    let half = git(repo, &["rev-parse", &format!("main~{}", COMMITS / 2)]);
    git(repo, &["update-ref", "refs/heads/half", half.trim()]);
}

fn subject(repo: &Repo, branch: &str, file: &str, path: &str) -> String {
    repo.last_change(branch, file, path)
        .unwrap()
        .expect("the value has a history")
        .subject
}

#[test]
fn a_capped_cache_is_no_larger_after_twenty_thousand_commits_than_after_ten_thousand() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.git");
    generate(&path);
    const CAP: usize = 1 << 20;
    let capped = || {
        let repo = Repo::open_local(&path).unwrap();
        repo.set_history_cache_limit(CAP);
        repo
    };

    // prod.yaml never changes after commit 0: the walk goes to the root.
    let ten = capped();
    assert_eq!(subject(&ten, "half", &prod(3), "image.tag"), "commit 0");
    let s10 = ten.history_cache_stats();
    let twenty = capped();
    assert_eq!(subject(&twenty, "main", &prod(3), "image.tag"), "commit 0");
    let s20 = twenty.history_cache_stats();

    assert!(s10.total_bytes() <= CAP, "{s10:?}");
    assert!(
        s10.indexed_commits < COMMITS / 2,
        "the cap bites already at 10,000 commits: {s10:?}"
    );
    assert!(
        s20.total_bytes() <= s10.total_bytes(),
        "20,000 commits: {s20:?}\n10,000 commits: {s10:?}"
    );
    assert!(s20.indexed_commits <= s10.indexed_commits);
    assert!(s20.commits <= s10.commits);

    // Without the cap the same walk keeps every commit: the cap is what bounds it.
    let uncapped = Repo::open_local(&path).unwrap();
    assert_eq!(
        subject(&uncapped, "main", &prod(3), "image.tag"),
        "commit 0"
    );
    let u20 = uncapped.history_cache_stats();
    assert_eq!(u20.indexed_commits, COMMITS, "{u20:?}");
    assert!(u20.total_bytes() > 2 * s20.total_bytes(), "{u20:?}");

    // Answers under the cap are the same, near the tip (in the index) and far below it
    // (diffed again and dropped), and the cache stays within its limit.
    for app in [0, 1, 7, APPS - 1] {
        let last = (1..COMMITS).rev().find(|i| i % APPS == app).unwrap();
        for repo in [&twenty, &uncapped] {
            assert_eq!(
                subject(repo, "main", &staging(app), "image.tag"),
                format!("commit {last}")
            );
        }
    }
    for repo in [&twenty, &uncapped] {
        assert_eq!(
            subject(repo, "main", "deep.yaml", "image.tag"),
            format!("commit {DEEP}")
        );
    }
    assert_eq!(subject(&uncapped, "main", "deep.yaml", "name"), "commit 0");
    assert_eq!(
        subject(&uncapped, "half", "deep.yaml", "image.tag"),
        format!("commit {DEEP}")
    );
    let after = twenty.history_cache_stats();
    assert!(after.total_bytes() <= CAP, "{after:?}");
    // Two branches share the index limit.
    assert!(after.index_bytes <= s20.index_bytes, "{after:?}");

    // Lowering the limit applies at once.
    uncapped.set_history_cache_limit(CAP);
    assert!(uncapped.history_cache_stats().total_bytes() <= CAP);
}

/// Runs `cold` once and `warm` over and over until `cold` ends; returns how many `warm`
/// runs both started well after `cold` began and ended before it finished, and how
/// long `cold` took. If `warm` had to wait for `cold` to end, none would.
fn warm_runs_during(cold: impl Fn() + Sync, warm: impl Fn() + Sync) -> (usize, Duration) {
    let cold_done = AtomicBool::new(false);
    let (cold_start, cold_end, spans) = std::thread::scope(|s| {
        let cold = s.spawn(|| {
            let start = Instant::now();
            cold();
            cold_done.store(true, Ordering::SeqCst);
            (start, Instant::now())
        });
        let warm = s.spawn(|| {
            let mut spans = Vec::new();
            while !cold_done.load(Ordering::SeqCst) {
                let start = Instant::now();
                warm();
                spans.push((start, Instant::now()));
            }
            spans
        });
        let (start, end) = cold.join().unwrap();
        (start, end, warm.join().unwrap())
    });
    let took = cold_end - cold_start;
    let settle = took / 10;
    let inside = spans
        .iter()
        .filter(|(s, e)| *s > cold_start + settle && *e < cold_end)
        .count();
    (inside, took)
}

#[test]
fn queries_on_different_branches_do_not_wait_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.git");
    generate(&path);
    let repo = Repo::open_local(&path).unwrap();
    // `half` is indexed whole; `main` is not indexed yet.
    assert_eq!(subject(&repo, "half", &prod(1), "image.tag"), "commit 0");
    let (inside, cold) = warm_runs_during(
        || assert_eq!(subject(&repo, "main", &prod(2), "image.tag"), "commit 0"),
        || assert_eq!(subject(&repo, "half", &prod(1), "image.tag"), "commit 0"),
    );
    // With one lock for the whole cache there are none.
    assert!(
        inside >= 3,
        "{inside} warm queries ran during the {cold:?} cold walk"
    );
}

#[test]
fn queries_on_one_branch_do_not_queue_behind_a_whole_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.git");
    generate(&path);
    let repo = Repo::open_local(&path).unwrap();
    let newest = COMMITS - 1;
    let near_tip = staging(newest % APPS);
    let (inside, cold) = warm_runs_during(
        // Changed only by commit 0: the walk goes to the root of `main`.
        || assert_eq!(subject(&repo, "main", &prod(2), "image.tag"), "commit 0"),
        || {
            assert_eq!(
                subject(&repo, "main", &near_tip, "image.tag"),
                format!("commit {newest}")
            )
        },
    );
    // With the branch's index locked for a whole walk, none would.
    assert!(
        inside >= 3,
        "{inside} same-branch queries ran during the {cold:?} cold walk"
    );
}

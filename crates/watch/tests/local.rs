//! Watching a real local checkout: a commit triggers, a work-tree edit does not.
//!
//! These depend on the kernel delivering file events, so they wait generously (CI may
//! run them on two busy cores); a pass is usually well under a second.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ladder_watch::{Cause, Triggers, WatchError, watch_git_dir};
use tokio::time::timeout;

/// How long a trigger may take to arrive before the test fails.
const ARRIVES: Duration = Duration::from_secs(10);
/// How long to wait to be confident that nothing arrives (well past the debounce).
const NOTHING: Duration = Duration::from_secs(2);

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("ladder.yaml"), "tenant: acme\n").unwrap();
    git(dir.path(), &["add", "ladder.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

#[tokio::test]
async fn a_commit_triggers_and_an_untracked_file_does_not() {
    let dir = repo();
    let triggers = Triggers::<&'static str>::new();
    let watch = watch_git_dir(triggers.clone(), "acme", dir.path()).unwrap();
    assert_eq!(
        watch.git_dir(),
        dir.path().join(".git").canonicalize().unwrap()
    );

    std::fs::write(dir.path().join("untracked.yaml"), "x: 1\n").unwrap();
    std::fs::write(dir.path().join("ladder.yaml"), "tenant: acme # edited\n").unwrap();
    assert!(
        timeout(NOTHING, triggers.next(&"acme")).await.is_err(),
        "a work-tree change triggered"
    );

    git(dir.path(), &["commit", "-q", "-am", "second"]);
    let causes = timeout(ARRIVES, triggers.next(&"acme"))
        .await
        .expect("a commit triggers");
    assert_eq!(causes, [Cause::LocalChange]);

    // The commit's events were debounced into that one trigger.
    assert!(timeout(NOTHING, triggers.next(&"acme")).await.is_err());

    // Once dropped, nothing triggers any more.
    drop(watch);
    git(
        dir.path(),
        &["commit", "-q", "--allow-empty", "-m", "third"],
    );
    assert!(timeout(NOTHING, triggers.next(&"acme")).await.is_err());
}

#[tokio::test]
async fn branch_switch_and_pack_refs_trigger() {
    let dir = repo();
    let triggers = Triggers::<u8>::new();
    let _watch = watch_git_dir(triggers.clone(), 1, dir.path()).unwrap();

    git(dir.path(), &["checkout", "-q", "-b", "feature/x"]);
    assert!(
        timeout(ARRIVES, triggers.next(&1)).await.is_ok(),
        "checkout"
    );
    // Settled, so the next trigger can only come from pack-refs.
    assert!(timeout(NOTHING, triggers.next(&1)).await.is_err());

    git(dir.path(), &["pack-refs", "--all"]);
    assert!(
        timeout(ARRIVES, triggers.next(&1)).await.is_ok(),
        "pack-refs"
    );
}

#[tokio::test]
async fn a_linked_worktree_is_watched_through_its_git_file() {
    let dir = repo();
    let worktree = dir.path().join("wt");
    git(dir.path(), &["worktree", "add", "-q", "-b", "hotfix", "wt"]);
    assert!(worktree.join(".git").is_file());

    let triggers = Triggers::<u8>::new();
    let watch = watch_git_dir(triggers.clone(), 1, &worktree).unwrap();
    assert_ne!(watch.git_dir(), watch.common_dir());
    assert_eq!(
        watch.common_dir(),
        dir.path().join(".git").canonicalize().unwrap()
    );

    git(
        &worktree,
        &["commit", "-q", "--allow-empty", "-m", "in the worktree"],
    );
    let causes = timeout(ARRIVES, triggers.next(&1))
        .await
        .expect("a commit in the worktree triggers");
    assert_eq!(causes, [Cause::LocalChange]);
}

#[test]
fn a_folder_without_git_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = watch_git_dir(Triggers::<u8>::new(), 1, dir.path()).unwrap_err();
    assert!(matches!(err, WatchError::NotAGitCheckout(_)), "{err}");
}

//! `--repo <url>` and `--ref`: the tenant config is read from a Git repo at one commit,
//! here served by a real `git daemon` on loopback, with no checkout.

mod common;

use std::path::Path;

use common::*;
use ladder_testkit::{GitDaemon, free_port};

/// `git` in `dir` (user configuration ignored), its output trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    ladder_testkit::git(dir, args).trim().to_string()
}

/// The example tenant as a Git repo with two commits; returns (repo dir, first sha).
fn example_git_repo(root: &Path) -> (std::path::PathBuf, String) {
    let repo = root.join("acme.git-src");
    copy_tree(&example_repo(), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let app = repo.join("apps/web/app.yaml");
    let text = std::fs::read_to_string(&app)
        .unwrap()
        .replace("targetRevision: main", "targetRevision: v2");
    std::fs::write(&app, text).unwrap();
    git(&repo, &["commit", "-q", "-am", "web on v2"]);
    (repo, first)
}

#[test]
fn renders_a_remote_repo_at_a_branch_and_at_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (src, first) = example_git_repo(dir.path());
    let served = dir.path().join("served");
    std::fs::create_dir(&served).unwrap();
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().unwrap(),
            served.join("acme.git").to_str().unwrap(),
        ],
    );
    let daemon = GitDaemon::start(&served);
    let cache = dir.path().join("cache");
    let url = daemon.url("acme.git");

    // At the branch: the same output as rendering the working folder.
    let out = dir.path().join("out");
    let run = ladder(&[
        "render",
        "--repo",
        &url,
        "--ref",
        "main",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains(&format!("reading {url} at main (")),
        "{}",
        stderr(&run)
    );
    let local_out = dir.path().join("local");
    let local = render(&src, &local_out, &[]);
    assert!(local.status.success());
    assert_eq!(read_tree(&out), read_tree(&local_out));
    assert!(
        String::from_utf8_lossy(&read_tree(&out)["dev/applications/web.yaml"])
            .contains("targetRevision: v2")
    );

    // At the first commit, by sha, from the mirror now in the cache.
    let old = dir.path().join("old");
    let run = ladder(&[
        "render",
        "--repo",
        &url,
        "--ref",
        &first,
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        old.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let web = String::from_utf8_lossy(&read_tree(&old)["dev/applications/web.yaml"]).into_owned();
    assert!(web.contains("targetRevision: main"), "{web}");

    // A local repo read at a ref rather than from its working files.
    std::fs::write(src.join("ladder.yaml"), "not: [valid").unwrap();
    let run = ladder(&[
        "validate",
        "--repo",
        src.to_str().unwrap(),
        "--ref",
        "HEAD~1",
    ]);
    assert!(run.status.success(), "{}", stdout(&run));
    let run = ladder(&["validate", "--repo", src.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
}

#[test]
fn problems_in_a_remote_repo_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = example_git_repo(dir.path());
    let app = src.join("apps/shop/app.yaml");
    let text = std::fs::read_to_string(&app)
        .unwrap()
        .replace("type: kustomize", "type: kustomise");
    std::fs::write(&app, text).unwrap();
    git(&src, &["commit", "-q", "-am", "typo"]);
    let daemon = GitDaemon::start(dir.path());
    let url = daemon.url("acme.git-src");
    let cache = dir.path().join("cache");
    let run = ladder(&[
        "validate",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stdout(&run).contains(
            "apps/shop/app.yaml:4:9: unknown source type `kustomise`; did you mean `kustomize`?"
        ),
        "{}",
        stdout(&run)
    );
}

#[test]
fn unreachable_remotes_fail_clearly_without_leaking_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens there any more
    let url = format!("http://bot:s3cr3t-token@127.0.0.1:{port}/acme.git");
    let run = ladder(&[
        "validate",
        "--repo",
        &url,
        "--cache-dir",
        dir.path().to_str().unwrap(),
    ]);
    // The environment failed, not the input: exit 3, with what to check.
    assert_eq!(run.status.code(), Some(3));
    let err = stderr(&run);
    assert!(err.contains("the server is up"), "{err}");
    assert!(!err.contains("s3cr3t-token"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");

    let missing = ladder(&["validate", "--repo", "/no/such/folder", "--ref", "main"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("is not a folder or a Git URL"),
        "{}",
        stderr(&missing)
    );
}

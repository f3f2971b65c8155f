//! The CLI against remotes that misbehave or live elsewhere: a hung server fails the
//! command within `--timeout` over git://, http:// and ssh:// alike (exit 3, with
//! advice); credentials from `LADDER_GIT_*` go to the `--repo` host only; a URL whose
//! default branch is not `main` works without `--ref`; a tenant in a subfolder of a
//! larger repo renders from a URL and from a folder at a ref.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{example_repo, stderr, stdout};
use ladder_testkit::{
    GitDaemon, HttpServer, HungServer, RedirectServer, SshServer, example_in_subfolder,
    example_platform,
};

/// `ladder` with a clean credential environment plus `env`.
fn ladder_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
    cmd.args(args)
        .env_remove("LADDER_DENY_NAMESPACES")
        .env_remove("LADDER_GIT_USERNAME")
        .env_remove("LADDER_GIT_PASSWORD")
        .env_remove("LADDER_GIT_PASSWORD_FILE")
        .env_remove("GIT_SSH_COMMAND");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("ladder runs")
}

/// The example tenant committed to a bare repo at `base/<name>`, on `branch`, in an
/// optional subfolder, from a checkout at `base/<name>-work`.
fn serve_example(base: &Path, name: &str, branch: &str, subfolder: Option<&str>) {
    let work = base.join(format!("{name}-work"));
    example_platform(&example_repo(), &work, subfolder, branch, &base.join(name));
}

#[test]
fn a_hung_remote_fails_within_timeout_over_git_http_and_ssh() {
    let tmp = tempfile::tempdir().unwrap();
    let hung = HungServer::start();
    // A real sshd only for its client key and known-hosts file; the URL is the hung one.
    let ssh = SshServer::start(tmp.path());
    let ssh_command = ssh.ssh_command();
    for scheme in ["git", "http", "ssh"] {
        let url = hung.url(scheme, "tenant.git");
        let cache = tmp.path().join(format!("cache-{scheme}"));
        let started = Instant::now();
        let run = ladder_with(
            &[
                "validate",
                "--repo",
                &url,
                "--cache-dir",
                cache.to_str().unwrap(),
                "--timeout",
                "1",
            ],
            &[("GIT_SSH_COMMAND", ssh_command.as_str())],
        );
        let took = started.elapsed();
        assert_eq!(run.status.code(), Some(3), "{scheme}: {}", stderr(&run));
        assert!(took < Duration::from_secs(15), "{scheme} took {took:?}");
        if scheme != "ssh" {
            // ssh reports its own banner timeout; git and http are ladder's idle limit.
            assert!(
                stderr(&run).contains("--timeout"),
                "{scheme}: advice names the flag: {}",
                stderr(&run)
            );
        }
    }
}

#[test]
fn git_credentials_go_to_the_repo_host_only() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    serve_example(&srv, "acme.git", "main", None);
    let b = HttpServer::start(&srv, "robot", "b-password");
    let a = RedirectServer::start(&format!("http://127.0.0.1:{}", b.port));
    let cache = tmp.path().join("cache");
    let run = ladder_with(
        &[
            "validate",
            "--repo",
            &a.url("acme.git"),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--timeout",
            "5",
        ],
        &[("LADDER_GIT_PASSWORD", "token-meant-for-a-only")],
    );
    assert_ne!(run.status.code(), Some(0));
    assert!(!stderr(&run).contains("token-meant-for-a-only"));
    assert!(!a.requests().is_empty());
    assert!(
        b.requests().iter().all(|r| r.authorization.is_none()),
        "B received credentials: {:?}",
        b.requests()
    );

    // The right password for the right host works, and a wrong one says what to set.
    let run = ladder_with(
        &[
            "validate",
            "--repo",
            &b.url("acme.git"),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[
            ("LADDER_GIT_PASSWORD", "b-password"),
            ("LADDER_GIT_USERNAME", "robot"),
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let run = ladder_with(
        &[
            "validate",
            "--repo",
            &b.url("acme.git"),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[("LADDER_GIT_PASSWORD", "wrong-password-5150")],
    );
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("LADDER_GIT_PASSWORD"),
        "{}",
        stderr(&run)
    );
    assert!(!stderr(&run).contains("wrong-password-5150"));
}

#[test]
fn a_url_whose_default_branch_is_not_main_needs_no_ref_and_subfolders_render() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    serve_example(&srv, "platform.git", "trunk", Some("tenants/acme"));
    let daemon = GitDaemon::start(&srv);
    let cache = tmp.path().join("cache");
    let url = daemon.url("platform.git");

    let expected = tmp.path().join("expected");
    let run = common::render(&example_repo(), &expected, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    // Argo CD reads the monorepo from its root: config-repo paths gain the prefix.
    let expected = example_in_subfolder(&common::read_documents(&expected), "tenants/acme");

    let out = tmp.path().join("out-url");
    let run = ladder_with(
        &[
            "render",
            "--repo",
            &url,
            "--subfolder",
            "tenants/acme",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(stderr(&run).contains("at trunk"), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("folder tenants/acme"),
        "{}",
        stderr(&run)
    );
    assert!(
        common::read_documents(&out) == expected,
        "rendered documents differ"
    );

    // A folder inside a Git repo at a ref: its place in the repo is found by itself.
    let work = srv.join("platform.git-work");
    let out = tmp.path().join("out-folder");
    let run = ladder_with(
        &[
            "render",
            "--repo",
            work.join("tenants/acme").to_str().unwrap(),
            "--ref",
            "trunk",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        common::read_documents(&out) == expected,
        "rendered documents differ"
    );

    // A subfolder that is not there is bad input, named as such.
    let run = ladder_with(
        &[
            "validate",
            "--repo",
            &url,
            "--subfolder",
            "tenants/nope",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("--subfolder"), "{}", stderr(&run));
    assert!(stdout(&run).is_empty());
}

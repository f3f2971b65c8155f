//! One CLI: every command exits by the same scheme (0 success, 1 bad input, 2 usage,
//! 3 the environment), takes `-o/--output`, prints errors as JSON on stdout with
//! `--output json`, logs its own steps with `LADDER_LOG=debug`, never repeats an OS error
//! and never suggests a flag the user already passed. All through the real binary.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(output).trim())
        .unwrap_or_else(|e| panic!("{e}: stdout is not one JSON object:\n{}", stdout(output)))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs ladder as `nobody` when this process is root (root ignores file modes), else
/// as this user.
fn ladder_unprivileged(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
    cmd.args(args);
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}

/// A temp folder `nobody` can enter, with a read-only subfolder holding a file it may
/// read and write but not replace.
fn read_only_setup() -> (tempfile::TempDir, String) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let file = write(&ro, "values.yaml", "tag: v1\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    (dir, file)
}

#[test]
fn help_documents_the_exit_codes_on_every_command() {
    for args in [
        &["--help"][..],
        &["render", "--help"],
        &["validate", "--help"],
        &["get", "--help"],
        &["set", "--help"],
    ] {
        let out = ladder(args);
        assert_eq!(out.status.code(), Some(0));
        let help = stdout(&out);
        for line in [
            "Exit status:",
            "0  success",
            "1  the input has a problem",
            "2  usage error",
            "3  the environment failed",
        ] {
            assert!(help.contains(line), "{args:?}: no `{line}` in\n{help}");
        }
        if args.len() == 2 {
            assert!(help.contains("-o, --output"), "{args:?}:\n{help}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["get"][..],
        &["render", "--repo", "x"],
        &["validate", "--repo", "x", "--bogus"],
        &["get", "-", "a..b"],
        &["set", "-", "a", "1", "--also", "no-equals-sign"],
        &["set", "-", "a", "1", "--type", "integer"],
        &["get", "-", "a", "--select", "no-slash"],
        &["validate", "--repo", "x", "-o", "yaml"],
        &["validate", "--repo", "x", "--deny-kind", "network policy"],
        &[
            "render",
            "--repo",
            "x",
            "--out",
            "y",
            "--deny-kind",
            "/NetworkPolicy",
        ],
    ] {
        let out = ladder(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // A value that is not of the --type asked for: the command line contradicts itself.
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "v.yaml", "replicas: 2\n");
    let out = ladder(&[
        "set", &f, "replicas", "three", "--type", "int", "-o", "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        json(&out)["error"]["message"],
        "invalid int value \"three\": write a whole number like 3 or -10"
    );
}

#[test]
fn get_and_set_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "v.yaml", "image:\n  tag: v1\n");
    // A file the user named that does not exist, or a folder: bad input.
    let missing = dir.path().join("missing.yaml");
    let out = ladder(&["get", missing.to_str().unwrap(), "image.tag"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("{}: error: no such file\n", missing.display())
    );
    let out = ladder(&["set", dir.path().to_str().unwrap(), "a", "b"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A missing path, invalid YAML, a refused edit: bad input.
    assert_eq!(ladder(&["get", &f, "image.digest"]).status.code(), Some(1));
    let bad = write(dir.path(), "bad.yaml", "a: [\n");
    assert_eq!(ladder(&["get", &bad, "a"]).status.code(), Some(1));
    assert_eq!(ladder(&["set", &f, "image", "x"]).status.code(), Some(1));
    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"a: \xe9\n").unwrap();
    let out = ladder(&["get", latin1.to_str().unwrap(), "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not UTF-8 text"), "{}", stderr(&out));
    // Success.
    assert_eq!(ladder(&["get", &f, "image.tag"]).status.code(), Some(0));
}

#[test]
fn an_unwritable_file_is_the_environment_and_the_os_error_shows_once() {
    let (_dir, file) = read_only_setup();
    let out = ladder_unprivileged(&["set", &file, "tag", "v2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with(&format!("{file}: error: cannot write it: ")),
        "{err}"
    );
    assert_eq!(
        err.to_lowercase().matches("permission denied").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("at path"), "{err}");
    assert!(!err.contains("Some("), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "tag: v1\n");

    let out = ladder_unprivileged(&["set", &file, "tag", "v2", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["file"], file.as_str());
    assert_eq!(stderr(&out), "");
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _) = read_only_setup();
    let secret = write(dir.path(), "secret.yaml", "a: 1\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if !is_root() && std::fs::read(&secret).is_ok() {
        return; // a file system that ignores modes
    }
    let out = ladder_unprivileged(&["get", &secret, "a"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        stderr(&out)
            .to_lowercase()
            .matches("permission denied")
            .count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_errors_on_stdout_with_the_same_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "v.yaml", "image:\n  tag: v1\n");
    let out = ladder(&["get", &f, "image.tagg", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "");
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["file"], f.as_str());
    assert_eq!(
        (
            report["error"]["line"].as_u64(),
            report["error"]["column"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("no such path 'image.tagg'"),
        "{message}"
    );

    let out = ladder(&["set", &f, "image.tag", "v2", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        json(&out),
        serde_json::json!({"ok": true, "file": f, "changed": true,
            "edits": [{"path": "image.tag", "value": "v2"}]})
    );

    // validate and render: errors that are not config problems.
    let missing = dir.path().join("nothing-here");
    for cmd in ["validate", "render"] {
        let mut args = vec![cmd, "--repo", missing.to_str().unwrap(), "-o", "json"];
        let out_dir = dir.path().join("out");
        if cmd == "render" {
            args.extend(["--out", out_dir.to_str().unwrap()]);
        }
        let out = ladder(&args);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["ok"], false, "{cmd}");
        assert!(
            report["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not a folder or a Git URL"),
            "{cmd}: {report}"
        );
    }

    // An unknown --env is bad input, reported as JSON too.
    let out = render(
        &example_repo(),
        &dir.path().join("out"),
        &["--env", "qa", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--env `qa` is not an environment of this tenant"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn config_problems_keep_their_shape() {
    let repo = TempRepo::example();
    repo.edit("ladder.yaml", "configRepo:", "configrepo:");
    let out = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert!(
        report["problems"].as_array().is_some_and(|p| !p.is_empty()),
        "{report}"
    );
}

#[test]
fn ladder_log_debug_shows_ladders_steps_without_template_internals_or_colours() {
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["validate", "--repo", example_repo().to_str().unwrap()])
        .env("LADDER_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stderr(&out);
    for step in ["opened", "loaded", "rendered"] {
        assert!(
            log.lines()
                .any(|l| l.contains("DEBUG") && l.contains(step) && l.contains("elapsed=")),
            "no `{step}` with its time in:\n{log}"
        );
    }
    assert!(!log.contains("handlebars"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe:\n{log}");

    // Naming the template engine shows it.
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["validate", "--repo", example_repo().to_str().unwrap()])
        .env("LADDER_LOG", "warn,handlebars=debug")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("handlebars"), "{}", stderr(&out));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[test]
fn advice_never_names_a_flag_already_passed() {
    let repo = TempRepo::example();
    git(&repo.repo(), &["init", "-q", "-b", "main"]);
    git(&repo.repo(), &["add", "."]);
    git(&repo.repo(), &["commit", "-qm", "x"]);
    let out = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "--ref",
        "no-such-branch",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no-such-branch"), "{err}");
    assert!(!err.contains("with --ref"), "{err}");

    // A folder without ladder.yaml named with --subfolder: no "use --subfolder".
    std::fs::create_dir_all(repo.repo().join("empty")).unwrap();
    let out = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "--subfolder",
        "empty",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("with --subfolder"), "{err}");
    assert!(!err.contains("Some("), "{err}");
}

#[test]
fn deny_kind_from_flag_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["render", "--repo", example_repo().to_str().unwrap()])
        .args([
            "--out",
            out_dir.to_str().unwrap(),
            "--deny-kind",
            "NetworkPolicy",
        ])
        .env("LADDER_DENY_KINDS", "batch/CronJob,ResourceQuota")
        .env_remove("LADDER_DENY_NAMESPACES")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let project = std::fs::read_to_string(out_dir.join("prod/appproject.yaml")).unwrap();
    let project: serde_json::Value = serde_yaml::from_str(&project).unwrap();
    // The flag wins over the environment variable (clap's rule), and the built-in kinds
    // stay.
    assert_eq!(
        project["spec"]["namespaceResourceBlacklist"],
        serde_json::json!([
            {"group": "*", "kind": "ResourceQuota"},
            {"group": "*", "kind": "LimitRange"},
            {"group": "*", "kind": "NetworkPolicy"}
        ])
    );
    let run = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["render", "--repo", example_repo().to_str().unwrap()])
        .args(["--out", out_dir.to_str().unwrap()])
        .env("LADDER_DENY_KINDS", "batch/CronJob,ResourceQuota")
        .env_remove("LADDER_DENY_NAMESPACES")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let project = std::fs::read_to_string(out_dir.join("prod/appproject.yaml")).unwrap();
    let project: serde_json::Value = serde_yaml::from_str(&project).unwrap();
    assert_eq!(
        project["spec"]["namespaceResourceBlacklist"],
        serde_json::json!([
            {"group": "*", "kind": "ResourceQuota"},
            {"group": "*", "kind": "LimitRange"},
            {"group": "batch", "kind": "CronJob"}
        ])
    );
}

#[test]
fn an_unwritable_out_folder_is_reported_once_without_temp_names() {
    let (dir, _) = read_only_setup();
    let out_dir = dir.path().join("ro/out");
    let run = ladder_unprivileged(&[
        "render",
        "--repo",
        example_repo().to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(3), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert_eq!(
        last.to_lowercase().matches("permission denied").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("at path"), "{err}");
    assert!(!err.contains(".tmp-"), "{err}");
}

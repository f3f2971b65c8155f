//! Running the `git` program with the user's configuration ignored, so that tests behave
//! the same on every machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `git` with a clean, deterministic environment; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `git` command in `dir` that ignores the user's configuration.
pub fn git_cmd(dir: &Path) -> Command {
    command_in(Path::new("git"), dir)
}

/// A program of git's exec path (`git-daemon`, ...): running it directly rather than
/// through the `git` wrapper means that killing the child kills the program itself.
pub(crate) fn exec_path_program(name: &str) -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("run git --exec-path (is git installed?)");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join(name)
}

/// `program` (a git binary) in `dir`, with the user's configuration ignored.
pub(crate) fn command_in(program: &Path, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

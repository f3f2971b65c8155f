//! Running the `git` program (push, gc) bounded by [`Limits`].
//!
//! A child is killed with its whole process group: `git push` over http(s) runs
//! `git-remote-http`, over ssh runs `ssh`, and those hold the output pipes open after
//! `git` itself dies, so killing only `git` would leave them running and keep the caller
//! waiting for the pipes to close.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::limits::Limits;

/// The variables a child of ladder's may inherit (plus what ladder sets itself): what
/// git and ssh need to run (the ssh agent, proxies, HOME for ssh's known hosts), and
/// nothing else: no credentials of another repo, no `GIT_CONFIG_*` or `GIT_SSH*` that
/// could redirect the call.
const INHERITED: [&str; 15] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SYSTEMROOT",
];

/// The environment the `git` and `ssh` processes ladder starts run with. The library
/// reads no process environment: the caller hands it the variables it wants children to
/// have ([`ChildEnv::from_vars`], e.g. with `std::env::vars_os()`), and only the
/// allowlisted ones are kept. Empty by default: git is then found on the parent's PATH
/// and ssh on the shell's default one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChildEnv {
    vars: Vec<(OsString, OsString)>,
}

impl ChildEnv {
    /// Keeps the allowlisted variables of `vars` (PATH, HOME, the ssh agent, proxies).
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> ChildEnv {
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|(name, _)| INHERITED.iter().any(|allowed| name == allowed))
            .collect();
        vars.sort();
        ChildEnv { vars }
    }
}

/// Clears `cmd`'s environment down to `env`, ignores the user's and the system's git
/// configuration (an `insteadOf` rule there could send a call to another host), and
/// keeps git's messages in English (they are classified).
pub(crate) fn hermetic<'c>(cmd: &'c mut Command, env: &ChildEnv) -> &'c mut Command {
    cmd.env_clear();
    for (name, value) in &env.vars {
        cmd.env(name, value);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LANG", "C")
        .env("LC_ALL", "C")
}

/// How long to wait for the output of a killed process group to end.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

/// What a bounded child process left.
pub(crate) struct Output {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) enum RunError {
    Spawn(std::io::Error),
    /// Killed: the idle limit, the deadline or a cancel.
    Expired,
}

/// Runs `cmd` (with piped stdout and stderr) to completion unless it prints nothing
/// for `idle` (git prints progress while it works, with `--progress`), the deadline
/// passes, or the call is cancelled; then its process group is killed.
pub(crate) fn run_bounded(
    mut cmd: Command,
    limits: &Limits,
    idle: Option<Duration>,
) -> Result<Output, RunError> {
    // Its own process group, so that everything it starts can be killed with it.
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let last_output = Arc::new(Mutex::new(Instant::now()));
    let (stdout_tx, stdout_rx) = mpsc::channel();
    let (stderr_tx, stderr_rx) = mpsc::channel();
    drain(child.stdout.take(), last_output.clone(), stdout_tx);
    drain(child.stderr.take(), last_output.clone(), stderr_tx);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        let quiet = last_output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed();
        if limits.expired() || idle.is_some_and(|idle| quiet >= idle) {
            let group = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            // The pipes close once the group is gone; never wait on them for long.
            let _ = stdout_rx.recv_timeout(DRAIN_AFTER_KILL);
            let _ = stderr_rx.recv_timeout(DRAIN_AFTER_KILL);
            return Err(RunError::Expired);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout_rx.recv().unwrap_or_default();
    let stderr = stderr_rx.recv().unwrap_or_default();
    Ok(Output {
        success: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    })
}

/// Reads a pipe to its end on a thread of its own, noting when bytes arrive, and sends
/// what it read.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    last_output: Arc<Mutex<Instant>>,
    done: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        let mut collected = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.extend_from_slice(&buf[..n]);
                *last_output.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            }
        }
        let _ = done.send(String::from_utf8_lossy(&collected).into_owned());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_variables_reach_children() {
        let env = ChildEnv::from_vars([
            ("PATH".into(), "/usr/bin".into()),
            ("LADDER_GIT_PASSWORD".into(), "secret".into()),
            ("GIT_SSH_COMMAND".into(), "evil".into()),
            ("SSH_AUTH_SOCK".into(), "/run/agent".into()),
        ]);
        let names: Vec<_> = env.vars.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(
            names,
            vec![OsString::from("PATH"), OsString::from("SSH_AUTH_SOCK")]
        );
    }
}

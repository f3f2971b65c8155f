//! Publishing commits with the `git` CLI, as compare-and-swap.
//!
//! gix cannot push yet, so this shells out to `git push` from the mirror (which holds
//! the objects). Every push carries `--force-with-lease=<ref>:<expected>`: the remote
//! applies it only if the branch is still where we last saw it (or absent, for
//! creation), which turns concurrent promoters into a clean "remote moved" error
//! instead of a lost update. Credentials reach git through an askpass script that
//! reads them from variables set on the child process only: never through the URL in
//! process arguments, never through a credential helper that could store them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::ObjectId;

use crate::error::{Error, Result};
use crate::repo::{Repo, full_branch_name};
use crate::url::{Credentials, redact};

const ASKPASS_SCRIPT: &str = "#!/bin/sh\n\
# Written by ladder: answers git's credential prompts from the environment of this\n\
# one git process. Holds no secret itself.\n\
case \"$1\" in\n\
  Username*) printf '%s\\n' \"$LADDER_ASKPASS_USERNAME\" ;;\n\
  *) printf '%s\\n' \"$LADDER_ASKPASS_PASSWORD\" ;;\n\
esac\n";

/// What the pusher believes the remote branch is, and so requires it to still be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Create the branch; fail if it already exists.
    Absent,
    /// Update the branch; fail unless it still points to this commit.
    At(ObjectId),
}

impl Repo {
    /// Sets `branch` on the remote to `commit` if and only if the remote branch matches
    /// `lease`. A mismatch is [`Error::RemoteMoved`]: fetch, recompute, try again. On
    /// success the mirror's copy of the branch moves too.
    pub fn push_branch(&self, branch: &str, commit: ObjectId, lease: Lease) -> Result<()> {
        let url = self.require_remote()?.clone();
        let full = full_branch_name(branch);
        let expected = match lease {
            Lease::Absent => String::new(),
            Lease::At(id) => id.to_string(),
        };
        let _guard = self.lock.write()?;
        let askpass = ensure_askpass(&self.git_dir)?;
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir")
            .arg(&self.git_dir)
            // Neither the user's credential helpers nor a configured askpass may see or
            // store our token; an empty value resets the list.
            .args(["-c", "credential.helper=", "-c", "core.askPass="])
            .args(["push", "--porcelain", "--no-verify"])
            .arg(format!("--force-with-lease={full}:{expected}"))
            .arg(url.as_str())
            .arg(format!("{commit}:{full}"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", &askpass)
            .env_remove("SSH_ASKPASS")
            .env_remove("LADDER_GIT_PASSWORD")
            .stdin(Stdio::null());
        set_credentials_env(&mut cmd, self.credentials.as_ref());
        let output = cmd.output().map_err(|e| Error::GitCli {
            command: "push".into(),
            detail: format!("cannot run git: {e}; is git installed and on PATH?"),
        })?;
        let stdout = redact(
            &String::from_utf8_lossy(&output.stdout),
            self.credentials.as_ref(),
        );
        let stderr = redact(
            &String::from_utf8_lossy(&output.stderr),
            self.credentials.as_ref(),
        );
        if output.status.success() {
            self.set_local_branch(&full, commit)?;
            tracing::info!(remote = %url, branch = %full, %commit, "pushed");
            return Ok(());
        }
        Err(classify_push_failure(
            url.as_str(),
            &full,
            lease,
            &stdout,
            &stderr,
        ))
    }

    /// Moves the mirror's branch after a successful push so reads see it before the
    /// next fetch. The mirror follows the remote anyway, so this cannot diverge for long.
    fn set_local_branch(&self, full: &str, commit: ObjectId) -> Result<()> {
        let repo = self.local();
        repo.reference(
            full,
            commit,
            gix::refs::transaction::PreviousValue::Any,
            "ladder: pushed",
        )
        .map_err(|e| Error::gix(format!("cannot update {full} in the mirror"), e))?;
        Ok(())
    }
}

fn set_credentials_env(cmd: &mut Command, credentials: Option<&Credentials>) {
    match credentials {
        Some(c) => {
            cmd.env("LADDER_ASKPASS_USERNAME", c.username())
                .env("LADDER_ASKPASS_PASSWORD", c.password());
        }
        None => {
            cmd.env_remove("LADDER_ASKPASS_USERNAME")
                .env_remove("LADDER_ASKPASS_PASSWORD");
        }
    }
}

/// The askpass script lives in the git folder: it must be a file git can execute, and
/// it contains no secret, so keeping it is harmless.
fn ensure_askpass(git_dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = git_dir.join("ladder-askpass.sh");
    if std::fs::read_to_string(&path).ok().as_deref() == Some(ASKPASS_SCRIPT) {
        return Ok(path);
    }
    let tmp = git_dir.join(format!("ladder-askpass.sh.tmp-{}", std::process::id()));
    std::fs::write(&tmp, ASKPASS_SCRIPT)
        .map_err(|e| Error::io("cannot write the askpass helper", &tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("cannot make the askpass helper executable", &tmp, e))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| Error::io("cannot install the askpass helper", &path, e))?;
    Ok(path)
}

/// Reads git's porcelain status line for our ref (`!` = rejected, with a reason in
/// parentheses) and its stderr to tell "remote moved" from auth and network failures.
fn classify_push_failure(url: &str, full: &str, lease: Lease, stdout: &str, stderr: &str) -> Error {
    let expected = match lease {
        Lease::Absent => None,
        Lease::At(id) => Some(id.to_string()),
    };
    let status_line = stdout
        .lines()
        .find(|l| l.starts_with('!') && l.contains(&format!(":{full}")));
    if let Some(line) = status_line {
        let summary = line.split('\t').nth(2).unwrap_or(line).trim().to_string();
        let moved = [
            "stale info",
            "fetch first",
            "non-fast-forward",
            "already exists",
        ]
        .iter()
        .any(|r| summary.contains(r));
        return if moved {
            Error::RemoteMoved {
                url: url.to_string(),
                branch: full.to_string(),
                expected,
                reason: summary,
            }
        } else {
            Error::PushRejected {
                url: url.to_string(),
                branch: full.to_string(),
                reason: summary,
            }
        };
    }
    let lower = stderr.to_ascii_lowercase();
    let detail = stderr.trim().lines().last().unwrap_or("").to_string();
    if lower.contains("authentication failed")
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("could not read username")
        || lower.contains("could not read password")
        || lower.contains("permission denied (publickey")
    {
        return Error::AuthFailed {
            url: url.to_string(),
            detail,
        };
    }
    if lower.contains("could not resolve host")
        || lower.contains("connection refused")
        || lower.contains("unable to connect")
        || lower.contains("failed to connect")
        || lower.contains("timed out")
        || lower.contains("could not read from remote repository")
    {
        return Error::Unreachable {
            url: url.to_string(),
            detail,
        };
    }
    Error::GitCli {
        command: "push".into(),
        detail: stderr.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_rejections_are_classified() {
        let out = "To git://h/r\n!\t0123:refs/heads/x\t[rejected] (stale info)\nDone\n";
        assert!(
            classify_push_failure("git://h/r", "refs/heads/x", Lease::Absent, out, "")
                .is_remote_moved()
        );
        let out = "To git://h/r\n!\t0123:refs/heads/x\t[remote rejected] (hook declined)\nDone\n";
        let err = classify_push_failure("git://h/r", "refs/heads/x", Lease::Absent, out, "");
        assert!(matches!(err, Error::PushRejected { .. }), "{err}");
        let err = classify_push_failure(
            "http://h/r",
            "refs/heads/x",
            Lease::Absent,
            "",
            "fatal: Authentication failed for 'http://h/r/'\n",
        );
        assert!(matches!(err, Error::AuthFailed { .. }), "{err}");
    }
}

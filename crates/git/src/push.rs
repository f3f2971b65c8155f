//! Publishing commits with the `git` CLI, as compare-and-swap.
//!
//! gix cannot push yet, so this shells out to `git push` from the mirror (which holds
//! the objects). Every ref carries its own `--force-with-lease=<ref>:<expected>`: the
//! remote applies it only if the branch is still where we last saw it (or absent, for
//! creation), which turns concurrent promoters into a clean "remote moved" error
//! instead of a lost update. Many refs go in one `git push` (one connection, one pack),
//! each judged on its own. Credentials reach git through an askpass script that reads
//! them from variables set on the child process only: never through the URL in process
//! arguments, never through a credential helper that could store them. The user's git
//! configuration is ignored (an `insteadOf` rule there could send them elsewhere), and
//! redirects are not followed while credentials are set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::ObjectId;

use crate::child::{RunError, hermetic, run_bounded};
use crate::error::{Error, Result};
use crate::repo::{Repo, full_branch_name};
use crate::url::{Credentials, Scheme, redact};

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

/// One ref change of a batched push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefPush {
    /// A branch name or a full ref name.
    pub branch: String,
    /// The new commit; `None` deletes the branch.
    pub new: Option<ObjectId>,
    pub lease: Lease,
}

impl RefPush {
    pub fn update(branch: impl Into<String>, new: ObjectId, lease: Lease) -> Self {
        RefPush {
            branch: branch.into(),
            new: Some(new),
            lease,
        }
    }

    pub fn delete(branch: impl Into<String>, expected: ObjectId) -> Self {
        RefPush {
            branch: branch.into(),
            new: None,
            lease: Lease::At(expected),
        }
    }
}

impl Repo {
    /// Sets `branch` on the remote to `commit` if and only if the remote branch matches
    /// `lease`. A mismatch is [`Error::RemoteMoved`]: fetch, recompute, try again. On
    /// success the mirror's copy of the branch moves too.
    pub fn push_branch(&self, branch: &str, commit: ObjectId, lease: Lease) -> Result<()> {
        let mut results = self.push_refs(&[RefPush::update(branch, commit, lease)])?;
        results.pop().expect("one result per ref")
    }

    /// Deletes `branch` on the remote if and only if it still points to `expected`.
    pub fn delete_branch(&self, branch: &str, expected: ObjectId) -> Result<()> {
        let mut results = self.push_refs(&[RefPush::delete(branch, expected)])?;
        results.pop().expect("one result per ref")
    }

    /// Pushes every change in one `git push`, each ref with its own lease, and returns
    /// one result per change, in order: one ref that moved does not hold up the others.
    /// The outer `Err` is for failures of the whole push (network, credentials, limits).
    /// The mirror's refs follow the changes that landed.
    pub fn push_refs(&self, changes: &[RefPush]) -> Result<Vec<Result<()>>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.require_remote()?.clone();
        let limits = &self.limits;
        limits.check(&format!("cannot push to {url}"))?;
        let _guard = self.lock.write(limits)?;
        let askpass = ensure_askpass(&self.git_dir)?;
        let mut cmd = Command::new("git");
        hermetic(&mut cmd, &self.child_env);
        cmd.arg("--git-dir")
            .arg(&self.git_dir)
            // Neither the user's credential helpers nor a configured askpass may see or
            // store our token; an empty value resets the list.
            .args(["-c", "credential.helper=", "-c", "core.askPass="]);
        let idle = limits.wait_bound().as_secs().max(1);
        match url.scheme() {
            Scheme::Http | Scheme::Https => {
                // curl's own idle limit, on top of ours: under 1 byte/s for `idle` s.
                cmd.args(["-c", "http.lowSpeedLimit=1"])
                    .arg("-c")
                    .arg(format!("http.lowSpeedTime={idle}"));
                if self.credentials.is_some() {
                    cmd.args(["-c", "http.followRedirects=false"]);
                }
            }
            Scheme::Ssh => {
                let ssh = crate::transport::ssh_command(self.ssh_command.as_deref(), limits);
                cmd.arg("-c").arg(format!("core.sshCommand={ssh}"));
            }
            Scheme::File | Scheme::Git => {}
        }
        cmd.args(["push", "--porcelain", "--no-verify", "--progress"]);
        let mut specs = Vec::with_capacity(changes.len());
        for change in changes {
            let full = full_branch_name(&change.branch);
            let expected = match change.lease {
                Lease::Absent => String::new(),
                Lease::At(id) => id.to_string(),
            };
            cmd.arg(format!("--force-with-lease={full}:{expected}"));
            specs.push(match change.new {
                Some(commit) => format!("{commit}:{full}"),
                None => format!(":{full}"),
            });
        }
        cmd.arg(url.as_str())
            .args(&specs)
            .env("GIT_ASKPASS", &askpass)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        set_credentials_env(&mut cmd, self.credentials.as_ref());
        let output = run_bounded(cmd, limits, Some(limits.idle)).map_err(|e| match e {
            RunError::Spawn(e) => Error::GitCli {
                command: "push".into(),
                detail: format!("cannot run git: {e}; is git installed and on PATH?"),
            },
            RunError::Expired => limits.timed_out(format!("cannot push to {url}")),
        })?;
        let stdout = redact(&output.stdout, self.credentials.as_ref());
        let stderr = redact(&output.stderr, self.credentials.as_ref());
        let mut results = Vec::with_capacity(changes.len());
        let mut any_status = false;
        for change in changes {
            let full = full_branch_name(&change.branch);
            let status = ref_status(&stdout, &full);
            any_status |= status.is_some();
            results.push(match status {
                Some(RefStatus::Done) => {
                    // The remote has it: that is the result. A mirror that lags behind
                    // is corrected by the next fetch, so a failure here is not one.
                    if let Err(e) = self.set_local_branch(&full, change.new) {
                        tracing::warn!(branch = %full, error = %e, "pushed, but the mirror's copy did not move");
                    }
                    tracing::info!(remote = %url, branch = %full, new = ?change.new, "pushed");
                    Ok(())
                }
                Some(RefStatus::Rejected(summary)) => {
                    Err(rejection(url.as_str(), &full, change.lease, summary))
                }
                None => Err(Error::GitCli {
                    command: "push".into(),
                    detail: format!("git reported nothing for {full}: {}", stderr.trim()),
                }),
            });
        }
        if !any_status && !output.success {
            return Err(classify_push_failure(url.as_str(), &stderr));
        }
        Ok(results)
    }

    /// Moves (or deletes) the mirror's branch after a successful push so reads see it
    /// before the next fetch. The mirror follows the remote anyway, so this cannot
    /// diverge for long.
    fn set_local_branch(&self, full: &str, commit: Option<ObjectId>) -> Result<()> {
        use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};
        let repo = self.local();
        match commit {
            Some(commit) => {
                repo.reference(full, commit, PreviousValue::Any, "ladder: pushed")
                    .map_err(|e| Error::gix(format!("cannot update {full} in the mirror"), e))?;
            }
            None => {
                let name: gix::refs::FullName = full
                    .try_into()
                    .map_err(|e| Error::gix(format!("invalid ref name {full}"), e))?;
                repo.edit_reference(RefEdit {
                    change: Change::Delete {
                        expected: PreviousValue::Any,
                        log: RefLog::AndReference,
                    },
                    name,
                    deref: false,
                })
                .map_err(|e| Error::gix(format!("cannot delete {full} in the mirror"), e))?;
            }
        }
        Ok(())
    }
}

enum RefStatus<'a> {
    Done,
    /// The summary git gave, e.g. `[rejected] (stale info)`.
    Rejected(&'a str),
}

/// Reads git's porcelain status line for one ref: `<flag>\t<from>:<to>\t<summary>`,
/// where `!` means rejected and every other flag means the ref is where we asked.
fn ref_status<'a>(stdout: &'a str, full: &str) -> Option<RefStatus<'a>> {
    stdout.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let flag = fields.next()?;
        let spec = fields.next()?;
        if !spec.ends_with(&format!(":{full}")) || flag.len() != 1 {
            return None;
        }
        let summary = fields.next().unwrap_or("").trim();
        Some(if flag == "!" {
            RefStatus::Rejected(summary)
        } else {
            RefStatus::Done
        })
    })
}

/// A rejected ref: "remote moved" when the lease or fast-forward check failed, else a
/// refusal (hook, protection).
fn rejection(url: &str, full: &str, lease: Lease, summary: &str) -> Error {
    let moved = [
        "stale info",
        "fetch first",
        "non-fast-forward",
        "already exists",
    ]
    .iter()
    .any(|r| summary.contains(r));
    if moved {
        Error::RemoteMoved {
            url: url.to_string(),
            branch: full.to_string(),
            expected: match lease {
                Lease::Absent => None,
                Lease::At(id) => Some(id.to_string()),
            },
            reason: summary.to_string(),
        }
    } else {
        Error::PushRejected {
            url: url.to_string(),
            branch: full.to_string(),
            reason: summary.to_string(),
        }
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

/// A push that reported no ref at all: tell auth and network failures apart from stderr.
fn classify_push_failure(url: &str, stderr: &str) -> Error {
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
    if lower.contains("redirect") || lower.contains(" 30") && lower.contains("http") {
        return Error::Redirected {
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
    fn porcelain_lines_are_read_per_ref() {
        let out = "To git://h/r\n!\t0123:refs/heads/x\t[rejected] (stale info)\n*\t0456:refs/heads/y\t[new branch]\n-\t:refs/heads/z\t[deleted]\nDone\n";
        let Some(RefStatus::Rejected(summary)) = ref_status(out, "refs/heads/x") else {
            panic!("x is rejected");
        };
        assert!(rejection("git://h/r", "refs/heads/x", Lease::Absent, summary).is_remote_moved());
        assert!(matches!(
            ref_status(out, "refs/heads/y"),
            Some(RefStatus::Done)
        ));
        assert!(matches!(
            ref_status(out, "refs/heads/z"),
            Some(RefStatus::Done)
        ));
        assert!(ref_status(out, "refs/heads/w").is_none());
        let err = rejection(
            "git://h/r",
            "refs/heads/x",
            Lease::Absent,
            "[remote rejected] (hook declined)",
        );
        assert!(matches!(err, Error::PushRejected { .. }), "{err}");
        let err = classify_push_failure(
            "http://h/r",
            "fatal: Authentication failed for 'http://h/r/'\n",
        );
        assert!(matches!(err, Error::AuthFailed { .. }), "{err}");
    }
}

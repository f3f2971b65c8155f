//! A real OpenSSH `sshd` on loopback serving git over ssh:// with key authentication,
//! everything (keys, config, known_hosts, log) in a temp folder of its own.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{NotListening, free_port, stop, wait_listening};

const SSHD: &str = "/usr/sbin/sshd";

/// `sshd` on 127.0.0.1 letting the current user in with a generated key; repositories
/// are addressed by absolute path below `base`. Killed on drop.
///
/// Clients use [`ssh_command`](Self::ssh_command) as `GIT_SSH_COMMAND` or
/// `core.sshCommand`: it trusts exactly this server's host key and offers exactly the
/// generated client key, never the user's own keys or known hosts.
pub struct SshServer {
    child: Child,
    pub port: u16,
    base: PathBuf,
    user: String,
    files: Files,
    _dir: tempfile::TempDir,
}

/// The server's files, all in its temp folder.
struct Files {
    host_key: PathBuf,
    client_key: PathBuf,
    authorized_keys: PathBuf,
    known_hosts: PathBuf,
    config: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Files {
        Files {
            host_key: dir.join("host_ed25519"),
            client_key: dir.join("client_ed25519"),
            authorized_keys: dir.join("authorized_keys"),
            known_hosts: dir.join("known_hosts"),
            config: dir.join("sshd_config"),
            pid: dir.join("sshd.pid"),
            log: dir.join("sshd.log"),
        }
    }
}

impl SshServer {
    pub fn start(base: &Path) -> SshServer {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install the Debian package openssh-server \
             (apt-get install -y openssh-server)"
        );
        // URLs carry the absolute, symlink-free path: what sshd's git-upload-pack opens.
        std::fs::create_dir_all(base).expect("create the served folder");
        let base = base
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", base.display()));
        let dir = tempfile::Builder::new()
            .prefix("ladder-sshd")
            .tempdir()
            .expect("temp folder for sshd");
        let files = Files::in_dir(dir.path());
        keygen(&files.host_key);
        keygen(&files.client_key);
        std::fs::copy(
            files.client_key.with_extension("pub"),
            &files.authorized_keys,
        )
        .expect("write authorized_keys");
        privilege_separation_dir();
        let user = current_user();

        let mut last = None;
        // The port is picked before sshd binds it; retry on the rare collision.
        for _ in 0..5 {
            let port = free_port();
            std::fs::write(&files.config, config(&files, port)).expect("write sshd_config");
            let log = std::fs::File::create(&files.log).expect("create sshd.log");
            // sshd itself (not a wrapper), so that kill stops it: `-D` keeps it in the
            // foreground, `-e` sends its log to stderr, here the log file.
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&files.config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}"));
            match wait_listening(port, &mut child) {
                Ok(()) => {
                    std::fs::write(&files.known_hosts, known_hosts_line(&files.host_key, port))
                        .expect("write known_hosts");
                    return SshServer {
                        child,
                        port,
                        base,
                        user,
                        files,
                        _dir: dir,
                    };
                }
                Err(e) => last = Some(e),
            }
            stop(&mut child);
        }
        let log = std::fs::read_to_string(&files.log).unwrap_or_default();
        match last {
            Some(NotListening::Exited(status)) => {
                panic!("sshd exited on five ports in a row: last {status}; its log:\n{log}")
            }
            _ => panic!("sshd did not listen on 127.0.0.1 within the deadline; its log:\n{log}"),
        }
    }

    /// `ssh://<current user>@127.0.0.1:<port>/<absolute path of base/repo>`.
    pub fn url(&self, repo: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            self.base.join(repo).display()
        )
    }

    /// An `ssh` command line for `GIT_SSH_COMMAND` or `core.sshCommand` that logs in with
    /// the generated key and accepts this server's host key only. `-F /dev/null` keeps the
    /// user's ssh config out; BatchMode makes any prompt a failure instead of a hang.
    pub fn ssh_command(&self) -> String {
        format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o BatchMode=yes \
             -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            shell_word(&self.files.client_key),
            shell_word(&self.files.known_hosts),
        )
    }

    /// sshd's log so far, for diagnosing a failed login in a test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.files.log).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn config(files: &Files, port: u16) -> String {
    let mut c = String::new();
    let lines = [
        "ListenAddress 127.0.0.1".to_string(),
        format!("Port {port}"),
        format!("HostKey {}", files.host_key.display()),
        format!("AuthorizedKeysFile {}", files.authorized_keys.display()),
        format!("PidFile {}", files.pid.display()),
        // The temp folder is not owned the way sshd wants ~/.ssh to be.
        "StrictModes no".into(),
        "PubkeyAuthentication yes".into(),
        "PasswordAuthentication no".into(),
        "KbdInteractiveAuthentication no".into(),
        "UsePAM no".into(),
        // CI runs the tests as root.
        "PermitRootLogin prohibit-password".into(),
        // git sends GIT_PROTOCOL to ask for protocol v2, as it does to real forges.
        "AcceptEnv GIT_PROTOCOL".into(),
        "PrintMotd no".into(),
        "X11Forwarding no".into(),
        "LogLevel VERBOSE".into(),
    ];
    for line in lines {
        writeln!(c, "{line}").unwrap();
    }
    c
}

/// An ed25519 key pair without passphrase at `path` and `path.pub`.
fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "ladder-testkit",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ssh-keygen ({e}): install the Debian package openssh-client")
        });
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The known_hosts entry of the host key at a non-default port: `[127.0.0.1]:PORT type key`.
fn known_hosts_line(host_key: &Path, port: u16) -> String {
    let public = std::fs::read_to_string(host_key.with_extension("pub")).expect("host key");
    let mut fields = public.split_whitespace();
    let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
    format!("[127.0.0.1]:{port} {kind} {key}\n")
}

/// sshd refuses to start without its privilege separation folder, which the package
/// creates only when its service starts (never, in a container).
fn privilege_separation_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        // Not root: sshd runs without privilege separation then; let it say so if not.
        let _ = std::fs::create_dir_all(dir);
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `path` as one shell word: the command is run by a shell (git's and gix's both do).
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

//! Each server of the testkit does what tests rely on, driven by the real `git` client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use ladder_testkit::{
    GitDaemon, HttpServer, HungServer, Origin, RedirectServer, SshServer, git, git_cmd,
};

/// A bare `served/tenant.git` with one commit holding `hello.txt`.
fn origin(dir: &Path) -> Origin {
    let o = Origin {
        base: dir.join("served"),
        name: "tenant.git".into(),
    };
    o.commit("main", "first", &[("hello.txt", Some(b"hi\n"))]);
    o
}

/// Clones `url` into `dir/into` and returns `hello.txt`.
fn clone_hello(dir: &Path, url: &str, into: &str) -> String {
    git(dir, &["clone", "-q", url, into]);
    std::fs::read_to_string(dir.join(into).join("hello.txt")).unwrap()
}

#[test]
fn daemon_serves_clone_and_push() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let daemon = GitDaemon::start(&o.base);
    assert_eq!(
        clone_hello(tmp.path(), &daemon.url("tenant.git"), "work"),
        "hi\n"
    );

    let work = tmp.path().join("work");
    std::fs::write(work.join("more.txt"), "more\n").unwrap();
    git(&work, &["add", "more.txt"]);
    git(&work, &["commit", "-q", "-m", "more"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let pushed = git(&o.path(), &["rev-parse", "main"]);
    assert_eq!(pushed, git(&work, &["rev-parse", "HEAD"]));
}

#[test]
fn http_needs_the_right_credentials_and_records_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let http = HttpServer::start(&o.base, "robot", "pw-123");

    let anonymous = git_cmd(tmp.path())
        .args(["ls-remote", &http.url("tenant.git")])
        .output()
        .unwrap();
    assert!(!anonymous.status.success());
    let err = String::from_utf8_lossy(&anonymous.stderr);
    // git asks for credentials after the 401; prompts are off, so it gives up.
    assert!(err.contains("could not read Username"), "{err}");
    let first = &http.requests()[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/tenant.git/info/refs?service=git-upload-pack");
    assert_eq!(first.authorization, None);

    let wrong = http
        .url("tenant.git")
        .replace("http://", "http://robot:nope@");
    let out = git_cmd(tmp.path())
        .args(["ls-remote", &wrong])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let right = http
        .url("tenant.git")
        .replace("http://", "http://robot:pw-123@");
    assert_eq!(clone_hello(tmp.path(), &right, "work"), "hi\n");
    let basic = "Basic cm9ib3Q6cHctMTIz"; // robot:pw-123
    let requests = http.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.authorization.as_deref() == Some(basic)),
        "{requests:#?}"
    );
}

#[test]
fn redirect_sends_clients_to_the_same_path_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let target = HttpServer::start(&o.base, "robot", "pw-123");
    let redirect = RedirectServer::start(&format!("http://127.0.0.1:{}", target.port));
    assert_ne!(redirect.port, target.port);

    let out = git_cmd(tmp.path())
        .args(["ls-remote", &redirect.url("tenant.git")])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the target wants credentials");
    let info_refs = "/tenant.git/info/refs?service=git-upload-pack";
    let seen = redirect.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, info_refs);
    let followed = target.requests();
    assert_eq!(followed[0].path, info_refs, "{followed:#?}");

    // The answer itself, byte for byte.
    let mut raw = TcpStream::connect(("127.0.0.1", redirect.port)).unwrap();
    raw.write_all(b"GET /a/b?c=d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\n\r\n")
        .unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 512];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 302 Found\r\n"), "{answer}");
    assert!(
        answer.contains(&format!(
            "\r\nLocation: http://127.0.0.1:{}/a/b?c=d\r\n",
            target.port
        )),
        "{answer}"
    );
    let last = redirect.requests().pop().unwrap();
    assert_eq!(last.path, "/a/b?c=d");
    assert_eq!(last.authorization.as_deref(), Some("Bearer t0k"));
}

#[test]
fn hung_server_accepts_and_never_answers() {
    let hung = HungServer::start();
    assert_eq!(
        hung.url("git", "r.git"),
        format!("git://127.0.0.1:{}/r.git", hung.port)
    );
    assert_eq!(
        hung.url("ssh", "r.git"),
        format!("ssh://git@127.0.0.1:{}/r.git", hung.port)
    );
    assert_eq!(
        hung.url("http", "r"),
        format!("http://127.0.0.1:{}/r", hung.port)
    );

    let mut stream = TcpStream::connect(("127.0.0.1", hung.port)).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\n\r\n0032git-upload-pack /r.git\0")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = stream.read(&mut [0; 16]).expect_err("no answer, ever");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while hung.accepted() < 1 {
        assert!(
            Instant::now() < deadline,
            "the connection was never counted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(hung.accepted(), 1);

    // Dropping closes the held connection: the client sees end of stream.
    drop(hung);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(stream.read(&mut [0; 16]).unwrap(), 0);
}

#[test]
fn sshd_serves_ls_remote_and_clone() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let ssh = SshServer::start(&o.base);
    let url = ssh.url("tenant.git");
    assert!(url.starts_with("ssh://"), "{url}");
    assert!(url.contains(&format!("@127.0.0.1:{}/", ssh.port)), "{url}");

    // GIT_SSH_COMMAND on these children only: the test process's environment is shared
    // by the tests running beside this one.
    let listed = git_cmd(tmp.path())
        .env("GIT_SSH_COMMAND", ssh.ssh_command())
        .args(["ls-remote", &url, "refs/heads/main"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}\nsshd log:\n{}",
        String::from_utf8_lossy(&listed.stderr),
        ssh.log()
    );
    let main = git(&o.path(), &["rev-parse", "main"]);
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap(),
        format!("{}\trefs/heads/main\n", main.trim())
    );

    let cloned = git_cmd(tmp.path())
        .env("GIT_SSH_COMMAND", ssh.ssh_command())
        .args(["clone", "-q", &url, "work"])
        .output()
        .unwrap();
    assert!(
        cloned.status.success(),
        "{}",
        String::from_utf8_lossy(&cloned.stderr)
    );
    let hello = std::fs::read_to_string(tmp.path().join("work/hello.txt")).unwrap();
    assert_eq!(hello, "hi\n");
}

#[test]
fn sshd_rejects_unknown_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let ssh = SshServer::start(&o.base);
    // The right host key but no key offered: BatchMode turns the refusal into a failure.
    let out = git_cmd(tmp.path())
        .env(
            "GIT_SSH_COMMAND",
            ssh.ssh_command() + " -o PubkeyAuthentication=no",
        )
        .args(["ls-remote", &ssh.url("tenant.git")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");
}

//! Test and benchmark support: real git servers on loopback and fast repository
//! generation. Shared by the integration tests and the benchmark (`#[path]` include).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// The `git-daemon` program in git's exec path.
fn daemon_program() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("run git");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("git-daemon")
}

/// `program` (a git binary) in `dir`, with the user's configuration ignored.
fn command_in(program: &Path, dir: &Path) -> Command {
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

/// One commit for [`fast_import`]: files to write (`Some`) or delete (`None`).
pub struct FiCommit {
    pub message: String,
    pub time: i64,
    pub files: Vec<(String, Option<Vec<u8>>)>,
}

/// Appends `commits` to `branch` of the repository at `repo` (created bare if missing)
/// with `git fast-import`: thousands of commits per second.
pub fn fast_import(repo: &Path, branch: &str, commits: impl IntoIterator<Item = FiCommit>) {
    if !repo.join("HEAD").exists() {
        std::fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q", "--bare", "-b", "main"]);
    }
    let parent = git_cmd(repo)
        .args([
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .unwrap();
    let parent = String::from_utf8(parent.stdout).unwrap().trim().to_string();
    let mut stream = Vec::new();
    for (i, c) in commits.into_iter().enumerate() {
        writeln!(stream, "commit refs/heads/{branch}").unwrap();
        writeln!(stream, "mark :{}", i + 1).unwrap();
        writeln!(stream, "author Dev <dev@example.com> {} +0000", c.time).unwrap();
        writeln!(stream, "committer Dev <dev@example.com> {} +0000", c.time).unwrap();
        writeln!(stream, "data {}\n{}", c.message.len(), c.message).unwrap();
        if i == 0 && !parent.is_empty() {
            writeln!(stream, "from {parent}").unwrap();
        } else if i > 0 {
            writeln!(stream, "from :{i}").unwrap();
        }
        for (path, content) in &c.files {
            match content {
                Some(bytes) => {
                    writeln!(stream, "M 100644 inline {path}\ndata {}", bytes.len()).unwrap();
                    stream.extend_from_slice(bytes);
                    stream.push(b'\n');
                }
                None => writeln!(stream, "D {path}").unwrap(),
            }
        }
        stream.push(b'\n');
    }
    let mut child = git_cmd(repo)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    stream.extend_from_slice(b"done\n");
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success(), "fast-import failed");
}

/// The YAML of one app environment file, as generated repositories contain it.
pub fn env_yaml(app: usize, tag: usize) -> Vec<u8> {
    format!("name: app{app}\nreplicas: 2\nimage:\n  repository: registry.example.com/app{app}\n  tag: v{tag}\n").into_bytes()
}

/// A port that was free a moment ago (for servers that want a port number up front).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "server did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `git daemon` serving every repository under `base`, push enabled. Killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        // The port is picked before the daemon binds it; retry on the rare collision.
        for _ in 0..5 {
            let port = free_port();
            // Run git-daemon itself: `git daemon` would run it as a child process that
            // outlives a kill of the `git` wrapper, leaking a daemon per test.
            let mut child = command_in(&daemon_program(), base)
                .args([
                    "--reuseaddr",
                    "--export-all",
                    "--enable=receive-pack",
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--base-path={}", base.display()),
                ])
                .arg(base)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon (Debian package git-daemon-run or git)");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return GitDaemon { child, port };
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start git daemon");
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Smart HTTP: `git http-backend` as CGI behind a minimal HTTP/1.1 server with basic
/// auth. Wrong or missing credentials get 401. Stopped on drop.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(root: &Path, user: &str, password: &str) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        let root = root.to_path_buf();
        let user = user.to_string();
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, expected, user) = (root.clone(), expected.clone(), user.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &expected, &user);
                });
            }
        });
        HttpServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path, expected_auth: &str, user: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let body = read_body(&mut reader, &headers)?;
        if headers.get("authorization").map(String::as_str) != Some(expected_auth) {
            out.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n",
            )?;
            out.flush()?;
            continue;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut cmd = Command::new("git");
        cmd.arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REMOTE_USER", user)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (header, var) in [
            ("content-type", "CONTENT_TYPE"),
            ("git-protocol", "GIT_PROTOCOL"),
            ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ] {
            if let Some(v) = headers.get(header) {
                cmd.env(var, v);
            }
        }
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let mut cgi = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut cgi)?;
        child.wait()?;
        let _ = writer.join();
        let split = find(&cgi, b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| find(&cgi, b"\n\n").map(|i| (i, 2)));
        let (head, payload) = match split {
            Some((i, n)) => (
                String::from_utf8_lossy(&cgi[..i]).into_owned(),
                &cgi[i + n..],
            ),
            None => (String::new(), &cgi[..]),
        };
        let mut status = "200 OK".to_string();
        let mut response = Vec::new();
        for h in head.lines() {
            match h.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
                Some(_) => {
                    response.extend_from_slice(h.as_bytes());
                    response.extend_from_slice(b"\r\n");
                }
                None => {}
            }
        }
        out.write_all(
            format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", payload.len()).as_bytes(),
        )?;
        out.write_all(&response)?;
        out.write_all(b"\r\n")?;
        out.write_all(payload)?;
        out.flush()?;
    }
}

fn read_body(
    reader: &mut impl BufRead,
    headers: &HashMap<String, String>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A bare "origin" repository under `base/<name>` plus a path for scratch clones.
pub struct Origin {
    pub base: PathBuf,
    pub name: String,
}

impl Origin {
    pub fn path(&self) -> PathBuf {
        self.base.join(&self.name)
    }

    /// Commits `files` on top of `branch` in the origin (like a developer pushing).
    pub fn commit(&self, branch: &str, message: &str, files: &[(&str, Option<&[u8]>)]) -> String {
        if !self.path().join("HEAD").exists() {
            std::fs::create_dir_all(self.path()).unwrap();
            git(&self.path(), &["init", "-q", "--bare", "-b", "main"]);
        }
        let time = 1_700_000_000
            + git(&self.path(), &["rev-list", "--all", "--count"])
                .trim()
                .parse::<i64>()
                .unwrap_or(0)
                * 60;
        fast_import(
            &self.path(),
            branch,
            [FiCommit {
                message: message.to_string(),
                time,
                files: files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.map(<[u8]>::to_vec)))
                    .collect(),
            }],
        );
        git(
            &self.path(),
            &["rev-parse", &format!("refs/heads/{branch}")],
        )
        .trim()
        .to_string()
    }
}

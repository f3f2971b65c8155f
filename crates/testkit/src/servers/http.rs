//! Smart HTTP: `git http-backend` as CGI behind a minimal HTTP/1.1 server with basic auth.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::acceptor::Acceptor;
use super::request::{Log, RecordedRequest, Request, base64};

/// Smart HTTP for every repository under `root`, push enabled, behind basic auth: wrong
/// or missing credentials get 401. Records every request. Stopped on drop.
pub struct HttpServer {
    pub port: u16,
    log: Log,
    _acceptor: Acceptor,
}

impl HttpServer {
    pub fn start(root: &Path, user: &str, password: &str) -> HttpServer {
        let site = Site {
            root: root.to_path_buf(),
            expected_auth: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            user: user.to_string(),
            log: Log::default(),
        };
        let log = site.log.clone();
        let acceptor = Acceptor::start(move |stream| {
            let _ = site.serve(stream);
        });
        HttpServer {
            port: acceptor.port,
            log,
            _acceptor: acceptor,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    /// Every request received so far, in order, including those answered with 401.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.all()
    }
}

struct Site {
    root: PathBuf,
    expected_auth: String,
    user: String,
    log: Log,
}

impl Site {
    /// Answers the requests of one keep-alive connection until the client closes it.
    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut out = stream;
        while let Some(request) = Request::read(&mut reader)? {
            self.log.record(&request);
            let response = if request.headers.get("authorization") == Some(&self.expected_auth) {
                self.cgi(request)?
            } else {
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n".to_vec()
            };
            out.write_all(&response)?;
            out.flush()?;
        }
        Ok(())
    }

    /// Runs `git http-backend` for one request and turns its CGI output into a response.
    fn cgi(&self, request: Request) -> std::io::Result<Vec<u8>> {
        let target = &request.target;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut cmd = Command::new("git");
        cmd.arg("http-backend")
            .env_clear()
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_PROJECT_ROOT", &self.root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", &request.method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            // Authenticated: http-backend then allows receive-pack (push).
            .env("REMOTE_USER", &self.user)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", request.body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (header, var) in [
            ("content-type", "CONTENT_TYPE"),
            ("git-protocol", "GIT_PROTOCOL"),
            ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ] {
            if let Some(v) = request.headers.get(header) {
                cmd.env(var, v);
            }
        }
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let body = request.body;
        // Write the body in another thread: http-backend may answer before reading it all,
        // and a full pipe each way would deadlock.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let mut cgi = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut cgi)?;
        child.wait()?;
        let _ = writer.join();
        Ok(cgi_to_http(&cgi))
    }
}

/// CGI output (headers, a blank line, the payload; `Status:` sets the status) as an
/// HTTP/1.1 response with a length, so the connection can be kept alive.
fn cgi_to_http(cgi: &[u8]) -> Vec<u8> {
    let split = find(cgi, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(cgi, b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&cgi[..i]).into_owned(),
            &cgi[i + n..],
        ),
        None => (String::new(), cgi),
    };
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => {
                headers.extend_from_slice(h.as_bytes());
                headers.extend_from_slice(b"\r\n");
            }
            None => {}
        }
    }
    let mut response =
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", payload.len()).into_bytes();
    response.extend_from_slice(&headers);
    response.extend_from_slice(b"\r\n");
    response.extend_from_slice(payload);
    response
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

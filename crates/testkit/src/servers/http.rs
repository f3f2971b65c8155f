//! Smart HTTP: `git http-backend` as CGI behind a minimal HTTP/1.1 server with basic auth.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use super::acceptor::Acceptor;
use super::cgi::{http_backend, parse_cgi};
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
        let cgi = http_backend(
            &self.root,
            &self.user,
            &request.method,
            path,
            query,
            &request.headers,
            request.body,
        )?;
        Ok(cgi_to_http(&cgi))
    }
}

/// CGI output as an HTTP/1.1 response with a length, so the connection can be kept
/// alive.
fn cgi_to_http(cgi: &[u8]) -> Vec<u8> {
    let (status, headers, payload) = parse_cgi(cgi);
    let mut response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
        reason(status),
        payload.len()
    )
    .into_bytes();
    for (name, value) in headers {
        response.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    response.extend_from_slice(b"\r\n");
    response.extend_from_slice(payload);
    response
}

/// The reason phrase git clients expect beside the statuses http-backend answers.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    }
}

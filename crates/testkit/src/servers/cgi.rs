//! `git http-backend` run as CGI, for every smart-HTTP server of the testkit
//! ([`HttpServer`](super::HttpServer) and the fake GitHub's git side).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `git http-backend` (push enabled, as `user`) for one request on the repositories
/// under `root`, `path` naming the repository and service (`/tenant.git/info/refs`);
/// `headers` in lower case. Its raw CGI output.
pub(crate) fn http_backend(
    root: &Path,
    user: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &HashMap<String, String>,
    body: Vec<u8>,
) -> std::io::Result<Vec<u8>> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        // Authenticated: http-backend then allows receive-pack (push).
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
    // Write the body in another thread: http-backend may answer before reading it all,
    // and a full pipe each way would deadlock.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut cgi = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut cgi)?;
    child.wait()?;
    let _ = writer.join();
    Ok(cgi)
}

/// CGI output split into its status code (200 unless a `Status:` header says
/// otherwise), its other headers, and its payload.
pub(crate) fn parse_cgi(cgi: &[u8]) -> (u16, Vec<(String, String)>, &[u8]) {
    let find = |needle: &[u8]| cgi.windows(needle.len()).position(|w| w == needle);
    let split = find(b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&cgi[..i]).into_owned(),
            &cgi[i + n..],
        ),
        None => (String::new(), cgi),
    };
    let mut status = 200;
    let mut headers = Vec::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => {
                status = v
                    .trim()
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(500);
            }
            Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
            None => {}
        }
    }
    (status, headers, payload)
}

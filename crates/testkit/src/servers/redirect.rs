//! A server that redirects everything elsewhere: for proving that credentials meant for
//! one host are not sent to another one after a redirect.

use std::io::{BufReader, Write};
use std::net::TcpStream;

use super::acceptor::Acceptor;
use super::request::{Log, RecordedRequest, Request};

/// Answers every request with `302 Found` and `Location: <target_base><same path and
/// query>`. Records every request. Stopped on drop.
pub struct RedirectServer {
    pub port: u16,
    log: Log,
    _acceptor: Acceptor,
}

impl RedirectServer {
    /// `target_base` is a scheme and authority, e.g. `http://127.0.0.1:4242` (a trailing
    /// `/` is ignored).
    pub fn start(target_base: &str) -> RedirectServer {
        let target_base = target_base.trim_end_matches('/').to_string();
        let log = Log::default();
        let acceptor = {
            let log = log.clone();
            Acceptor::start(move |stream| {
                let _ = redirect(stream, &target_base, &log);
            })
        };
        RedirectServer {
            port: acceptor.port,
            log,
            _acceptor: acceptor,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.all()
    }
}

fn redirect(stream: TcpStream, target_base: &str, log: &Log) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    while let Some(request) = Request::read(&mut reader)? {
        log.record(&request);
        let location = format!("{target_base}{}", request.target);
        out.write_all(
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )?;
        out.flush()?;
    }
    Ok(())
}

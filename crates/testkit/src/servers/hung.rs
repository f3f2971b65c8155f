//! A server that accepts connections and never answers: the peer every network call must
//! give up on within its deadline (fetch, push, ls-remote over any protocol).

use std::net::TcpStream;

use super::acceptor::Acceptor;

/// Accepts TCP connections and holds them open, reading and discarding whatever arrives,
/// without ever writing a byte. Dropping it closes every connection and stops its threads.
pub struct HungServer {
    pub port: u16,
    acceptor: Acceptor,
}

impl HungServer {
    pub fn start() -> HungServer {
        let acceptor = Acceptor::start(|mut stream: TcpStream| {
            // Reading keeps the peer's writes from blocking on a full buffer: it must hang
            // waiting for an answer, not for us. Ends when the peer closes or drop shuts
            // the connection down.
            let _ = std::io::copy(&mut stream, &mut std::io::sink());
        });
        HungServer {
            port: acceptor.port,
            acceptor,
        }
    }

    /// A URL of `repo` on this server: `git://127.0.0.1:P/repo`, `http://127.0.0.1:P/repo`,
    /// `https://…`, or `ssh://git@127.0.0.1:P/repo`.
    pub fn url(&self, scheme: &str, repo: &str) -> String {
        let user = if scheme == "ssh" { "git@" } else { "" };
        format!("{scheme}://{user}127.0.0.1:{}/{repo}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.acceptor.accepted()
    }
}

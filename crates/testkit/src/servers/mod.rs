//! Real servers on loopback. Each one binds 127.0.0.1 only, is accepting connections when
//! its `start` returns, and on drop stops everything it started: processes are killed
//! and waited for, threads are joined, connections are closed.

mod acceptor;
pub(crate) mod axum_thread;
pub(crate) mod cgi;
mod daemon;
mod http;
mod hung;
mod redirect;
mod request;
mod ssh;

use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

pub use daemon::GitDaemon;
pub use http::HttpServer;
pub use hung::HungServer;
pub use redirect::RedirectServer;
pub use request::RecordedRequest;
pub use ssh::SshServer;

/// A port that was free a moment ago (for servers that want a port number up front).
/// Another process may take it before it is used: starters that rely on it retry.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How long a server process may take to start listening (a loaded CI machine is slow).
const START_DEADLINE: Duration = Duration::from_secs(20);

/// Why a server process did not come up.
#[derive(Debug)]
enum NotListening {
    /// It exited (on a port collision, typically: worth a retry on another port).
    Exited(std::process::ExitStatus),
    /// It kept running without listening until the deadline.
    Timeout,
}

/// Waits until `port` accepts connections, checking that `child` (the server) is still
/// alive in between. Polling connect is the readiness check: these servers have no other
/// way to say they are ready.
fn wait_listening(port: u16, child: &mut Child) -> Result<(), NotListening> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(NotListening::Exited(status));
        }
        if Instant::now() > deadline {
            return Err(NotListening::Timeout);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills a server process and reaps it, so that no test leaves a process behind.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

//! Connecting to a remote with gix, bounded and scoped.
//!
//! Three things every connection needs, whatever the scheme:
//! - **Limits.** git:// gets a socket of our own with read and write timeouts (the idle
//!   limit) that a watchdog shuts down on cancel or deadline; http(s) gets reqwest's
//!   per-wait timeout; ssh gets OpenSSH's `ConnectTimeout` and keep-alives. A hung server
//!   therefore fails the call within its limits.
//! - **Credentials only for their own host.** The credential callback answers only for
//!   the scheme, host and port the credentials were configured with, and redirects are
//!   not followed while credentials are configured, so a redirect to another host never
//!   receives them.
//! - **No process-wide settings.** The ssh command comes from the caller, never from the
//!   environment of the process.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gix::remote::Direction;

use crate::error::Error;
use crate::limits::{Limits, Watchdog};
use crate::url::{Credentials, RemoteUrl, Scheme};

pub(crate) type BoxedTransport =
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>;

pub(crate) type Connection<'r> = gix::remote::Connection<'r, 'static, 'r, BoxedTransport>;

/// Closes what a blocked read waits on, so that a watchdog can end the call.
#[derive(Clone, Default)]
pub(crate) struct Breaker(Arc<Mutex<Option<TcpStream>>>);

impl Breaker {
    pub(crate) fn trip(&self) {
        if let Some(stream) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// What one network call needs to be ended early: the socket to close, gix's
/// interrupt flag, and whether the watchdog (cancel or deadline) fired, which turns
/// whatever error follows into that.
pub(crate) struct CallGuard {
    pub(crate) breaker: Breaker,
    pub(crate) interrupt: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    _watchdog: Watchdog,
}

impl CallGuard {
    pub(crate) fn start(limits: &Limits) -> CallGuard {
        let breaker = Breaker::default();
        let interrupt = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (breaker, interrupt, fired) = (breaker.clone(), interrupt.clone(), fired.clone());
            Watchdog::start(limits, move || {
                fired.store(true, Ordering::SeqCst);
                interrupt.store(true, Ordering::SeqCst);
                breaker.trip();
            })
        };
        CallGuard {
            breaker,
            interrupt,
            fired,
            _watchdog: watchdog,
        }
    }

    pub(crate) fn expired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// The ssh command for a connection: the caller's (or plain `ssh`) with OpenSSH options
/// that bound a hung server: `ConnectTimeout` covers the TCP connect and the banner
/// exchange, the keep-alives a server that stops answering mid-transfer.
pub(crate) fn ssh_command(base: Option<&str>, limits: &Limits) -> String {
    let idle = limits.wait_bound().as_secs().max(1);
    let interval = (idle / 3).max(1);
    format!(
        "{} -o ConnectTimeout={idle} -o ServerAliveInterval={interval} -o ServerAliveCountMax=3 -o BatchMode=yes",
        base.unwrap_or("ssh")
    )
}

/// Applies the ssh command to a thread-local repository handle (in memory only; nothing
/// is written to the repository's config file).
pub(crate) fn configure_ssh(
    repo: &mut gix::Repository,
    ssh_command_base: Option<&str>,
    limits: &Limits,
) -> Result<(), Error> {
    use gix::config::tree::{Core, Ssh};
    let command = ssh_command(ssh_command_base, limits);
    let mut config = repo.config_snapshot_mut();
    config
        .set_value(&Core::SSH_COMMAND, command.as_str())
        .and_then(|_| config.set_value(&Ssh::VARIANT, "ssh"))
        .map_err(|e| Error::gix("cannot configure the ssh command", e))?;
    config
        .commit()
        .map_err(|e| Error::gix("cannot configure the ssh command", e))?;
    Ok(())
}

/// Connects `remote` (whose URL is `url`) under `limits`; `breaker` learns the socket
/// to close when the call must end early.
pub(crate) fn connect<'r>(
    remote: &'r gix::Remote<'r>,
    url: &RemoteUrl,
    credentials: Option<&Credentials>,
    limits: &Limits,
    breaker: &Breaker,
) -> gix::Result<Connection<'r>> {
    if url.scheme() == Scheme::Git {
        let transport = connect_git_daemon(url, limits, breaker)?;
        return Ok(remote.to_connection_with_transport(transport));
    }
    let connection = remote.connect(Direction::Fetch)?;
    if matches!(url.scheme(), Scheme::Http | Scheme::Https) {
        let options = http_options(remote.repo(), url, credentials.is_some(), limits);
        return Ok(connection.with_transport_options(options));
    }
    Ok(connection)
}

/// gix's http options for this call: reqwest's timeout bounds every wait (connecting,
/// the response headers, each read of the body), which is the idle limit; redirects are
/// followed only when no credentials could go along.
fn http_options(
    repo: &gix::Repository,
    url: &RemoteUrl,
    has_credentials: bool,
    limits: &Limits,
) -> Box<dyn std::any::Any> {
    use gix::protocol::transport::client::blocking_io::http;
    let mut options = repo
        .transport_options(url.as_str(), None)
        .ok()
        .flatten()
        .and_then(|o| o.downcast::<http::Options>().ok())
        .map(|o| *o)
        .unwrap_or_default();
    if has_credentials {
        options.follow_redirects = http::options::FollowRedirects::None;
    }
    let bound = limits.wait_bound();
    options.connect_timeout = Some(bound);
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.timeout(bound)))),
        configure_request: None,
    };
    options.backend = Some(Arc::new(Mutex::new(backend)));
    Box::new(options)
}

/// git:// gets its own TCP connection: with Nagle's algorithm off (the protocol sends a
/// request as several small writes, and with Nagle on each exchange waits out the peer's
/// delayed ACK, 40 ms on Linux, most of an idle poll), with read and write timeouts
/// (the idle limit), and with a handle the watchdog can shut down.
fn connect_git_daemon(
    url: &RemoteUrl,
    limits: &Limits,
    breaker: &Breaker,
) -> gix::Result<BoxedTransport> {
    use gix::error::ResultExt;
    use gix::protocol::transport::client::git::ConnectMode;
    let parsed = gix::url::parse(gix::bstr::BStr::new(url.as_str()))?;
    let host = parsed.host().unwrap_or("localhost").to_string();
    let port = parsed.port;
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port.unwrap_or(9418)))
        .or_raise(|| gix::error::message("Could not resolve git server"))?;
    let bound = limits.wait_bound();
    let mut last_err = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, bound) {
            Ok(stream) => {
                let configure = |stream: &TcpStream| -> std::io::Result<TcpStream> {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(bound))?;
                    stream.set_write_timeout(Some(bound))?;
                    stream.try_clone()
                };
                let write = configure(&stream)
                    .or_raise(|| gix::error::message("Could not configure the git connection"))?;
                if let Ok(handle) = stream.try_clone() {
                    *breaker.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
                }
                return Ok(Box::new(
                    gix::protocol::transport::client::git::blocking_io::Connection::new(
                        stream,
                        write,
                        gix::protocol::transport::Protocol::V2,
                        parsed.path.clone(),
                        Some((host, port)),
                        ConnectMode::Daemon,
                        false,
                    ),
                ));
            }
            Err(e) => last_err = Some(e),
        }
    }
    let err =
        last_err.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"));
    Err(err).or_raise(|| gix::error::message("Could not connect to git server"))
}

/// The credentials callback handed to gix: answers `get` with our credentials only when
/// gix asks for the remote they were configured for, and ignores store/erase, so
/// nothing is ever written to a credential helper.
pub(crate) fn credential_fn(
    remote: RemoteUrl,
    credentials: Option<Credentials>,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => {
            let asked_for = ctx.url.as_ref().map(|u| u.to_string()).or_else(|| {
                match (&ctx.protocol, &ctx.host) {
                    (Some(protocol), Some(host)) => Some(format!("{protocol}://{host}/")),
                    _ => None,
                }
            });
            let allowed = asked_for.as_deref().is_some_and(|u| remote.same_origin(u));
            if !allowed {
                tracing::warn!(
                    remote = %remote,
                    "credentials requested for another host; not sending them"
                );
                return Ok(None);
            }
            Ok(credentials
                .as_ref()
                .map(|c| gix::credentials::protocol::Outcome {
                    identity: gix::sec::identity::Account {
                        username: c.username().to_string(),
                        password: c.password().to_string(),
                        oauth_refresh_token: None,
                    },
                    next: ctx.into(),
                }))
        }
        gix::credentials::helper::Action::Store(_) | gix::credentials::helper::Action::Erase(_) => {
            Ok(None)
        }
    }
}

/// Turns a gix network error into a typed error, by looking at the concrete causes
/// rather than at message text where possible. `expired` says the watchdog ended the
/// call (cancel or deadline), which makes any resulting error that.
pub(crate) fn classify_remote_error(
    url: &RemoteUrl,
    creds: Option<&Credentials>,
    limits: &Limits,
    expired: bool,
    context: &str,
    err: gix::Error,
) -> Error {
    use std::io::ErrorKind as K;
    if expired || limits.expired() {
        return limits.timed_out(format!("{context} {url}"));
    }
    let mut auth = err.is_unauthenticated();
    let mut unreachable = false;
    let mut timed_out = false;
    let mut redirected = false;
    let mut parts: Vec<String> = Vec::new();
    for e in err.iter_errors() {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(e) = cur {
            if e.is::<gix_transport::client::AuthenticationRequired>() {
                auth = true;
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    K::PermissionDenied => auth = true,
                    K::TimedOut | K::WouldBlock => timed_out = true,
                    K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
                    | K::NotConnected => unreachable = true,
                    _ => {}
                }
            }
            if let Some(r) = e.downcast_ref::<reqwest::Error>() {
                if r.is_timeout() {
                    timed_out = true;
                } else if r.is_connect() {
                    unreachable = true;
                }
                if r.is_redirect() || r.status().is_some_and(|s| s.is_redirection()) {
                    redirected = true;
                }
            }
            let text = e.to_string();
            if text.contains("failed to lookup address")
                || text.contains("Name or service not known")
            {
                unreachable = true;
            }
            if text.contains("timed out") || text.contains("Connection timed out during banner") {
                timed_out = true;
            }
            if text.contains("Received HTTP status 30") {
                redirected = true;
            }
            if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            cur = e.source();
        }
    }
    if auth && creds.is_none() {
        parts.insert(
            0,
            "the server requires credentials and none were configured".into(),
        );
    }
    let detail = crate::url::redact(&parts.join(": "), creds);
    let url_text = url.to_string();
    if redirected && creds.is_some() {
        Error::Redirected {
            url: url_text,
            detail,
        }
    } else if timed_out {
        limits.timed_out(format!("{context} {url}"))
    } else if auth {
        Error::AuthFailed {
            url: url_text,
            detail,
        }
    } else if unreachable {
        Error::Unreachable {
            url: url_text,
            detail,
        }
    } else {
        Error::Remote {
            context: format!("{context} {url}"),
            detail,
        }
    }
}

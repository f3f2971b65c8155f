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

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gix::remote::Direction;

use crate::child::ChildEnv;
use crate::error::Error;
use crate::limits::{Fired, Limits, Watchdog};
use crate::url::{Credentials, RemoteUrl, Scheme};

pub(crate) type BoxedTransport =
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>;

pub(crate) type Connection<'r> = gix::remote::Connection<'r, 'static, 'r, BoxedTransport>;

/// Closes what a blocked read waits on, so that a watchdog can end the call: the
/// socket of a git:// connection, or the process group of an ssh connection.
#[derive(Clone, Default)]
pub(crate) struct Breaker(Arc<Mutex<Option<Target>>>);

enum Target {
    Socket(TcpStream),
    Process(Child),
}

impl Breaker {
    fn set(&self, target: Target) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
    }

    pub(crate) fn trip(&self) {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(Target::Socket(stream)) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            Some(Target::Process(child)) => kill_group(child),
            None => {}
        }
    }

    /// Ends and reaps a process this call started (its pipes are closed by now, or it
    /// is killed).
    fn finish(&self) {
        if let Some(Target::Process(mut child)) =
            self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            kill_group(&child);
            let _ = child.wait();
        }
    }
}

fn kill_group(child: &Child) {
    let group = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
}

/// When the read now waiting on the remote began (milliseconds since `base`, plus one;
/// 0: no read waiting). Only time spent waiting on the remote counts as idle, not
/// local work between reads.
#[derive(Default)]
pub(crate) struct ReadClock {
    base: std::sync::OnceLock<Instant>,
    waiting_since: AtomicU64,
}

impl ReadClock {
    fn now(&self) -> u64 {
        let base = *self.base.get_or_init(Instant::now);
        base.elapsed().as_millis() as u64 + 1
    }

    fn stalled(&self, idle: Duration) -> bool {
        match self.waiting_since.load(Ordering::SeqCst) {
            0 => false,
            since => self.now().saturating_sub(since) >= idle.as_millis() as u64,
        }
    }
}

/// A reader that tells its [`ReadClock`] while it waits.
struct ClockedRead<R> {
    inner: R,
    clock: Arc<ReadClock>,
}

impl<R: Read> Read for ClockedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.clock
            .waiting_since
            .store(self.clock.now(), Ordering::SeqCst);
        let result = self.inner.read(buf);
        self.clock.waiting_since.store(0, Ordering::SeqCst);
        result
    }
}

/// What one network call needs to be ended early: the socket or process to close,
/// gix's interrupt flag, the read clock of an ssh connection, and why the watchdog
/// fired (if it did), which turns whatever error follows into that.
pub(crate) struct CallGuard {
    pub(crate) breaker: Breaker,
    pub(crate) interrupt: Arc<AtomicBool>,
    clock: Arc<ReadClock>,
    /// 0: not fired; 1: expired (cancel or deadline); 2: stalled (idle limit).
    fired: Arc<AtomicU8>,
    /// What an ssh process said on stderr, for classifying its failures.
    stderr: Arc<Mutex<String>>,
    _watchdog: Watchdog,
}

impl CallGuard {
    pub(crate) fn start(limits: &Limits) -> CallGuard {
        let breaker = Breaker::default();
        let interrupt = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicU8::new(0));
        let clock = Arc::new(ReadClock::default());
        let watchdog = {
            let (breaker, interrupt, fired) = (breaker.clone(), interrupt.clone(), fired.clone());
            let (stall_clock, idle) = (clock.clone(), limits.idle);
            Watchdog::start(
                limits,
                move || stall_clock.stalled(idle),
                move |why| {
                    let code = match why {
                        Fired::Expired => 1,
                        Fired::Stalled => 2,
                    };
                    fired.store(code, Ordering::SeqCst);
                    interrupt.store(true, Ordering::SeqCst);
                    breaker.trip();
                },
            )
        };
        CallGuard {
            breaker,
            interrupt,
            clock,
            fired,
            stderr: Arc::default(),
            _watchdog: watchdog,
        }
    }

    pub(crate) fn fired(&self) -> Option<Fired> {
        match self.fired.load(Ordering::SeqCst) {
            1 => Some(Fired::Expired),
            2 => Some(Fired::Stalled),
            _ => None,
        }
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.breaker.finish();
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

/// Connects `remote` (whose URL is `url`) under `limits`; `guard` learns the socket
/// or process to close when the call must end early.
pub(crate) fn connect<'r>(
    remote: &'r gix::Remote<'r>,
    url: &RemoteUrl,
    credentials: Option<&Credentials>,
    ssh_command_base: Option<&str>,
    child_env: &ChildEnv,
    limits: &Limits,
    guard: &CallGuard,
) -> gix::Result<Connection<'r>> {
    match url.scheme() {
        Scheme::Git => {
            let transport = connect_git_daemon(url, limits, &guard.breaker)?;
            return Ok(remote.to_connection_with_transport(transport));
        }
        Scheme::Ssh => {
            let transport = connect_ssh(url, ssh_command_base, child_env, limits, guard)?;
            return Ok(remote.to_connection_with_transport(transport));
        }
        _ => {}
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
                    breaker.set(Target::Socket(handle));
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

/// ssh gets a process of our own rather than gix's: in its own process group, so the
/// watchdog can kill it (and anything it started, such as a `ProxyCommand`) on cancel
/// or deadline, and read through a [`ReadClock`], so that a remote that sends nothing
/// for the idle limit is cut off even when the ssh connection itself stays alive (a
/// hung `git-upload-pack`, a stuck bastion). The command is what git runs: `<ssh>
/// [-p port] [user@]host "git-upload-pack '<path>'"`, protocol v2 asked for through
/// `GIT_PROTOCOL` (servers that do not accept it answer in v0, which gix reads too).
fn connect_ssh(
    url: &RemoteUrl,
    ssh_command_base: Option<&str>,
    child_env: &ChildEnv,
    limits: &Limits,
    guard: &CallGuard,
) -> gix::Result<BoxedTransport> {
    use gix::error::ResultExt;
    use gix::protocol::transport::client::git::ConnectMode;
    let parsed = gix::url::parse(gix::bstr::BStr::new(url.as_str()))?;
    let host = parsed.host().unwrap_or_default().to_string();
    let user = parsed.user().map(str::to_string);
    // A host or user that starts with `-` would be read by ssh as an option.
    if host.is_empty()
        || host.starts_with('-')
        || user.as_deref().is_some_and(|u| u.starts_with('-'))
    {
        return Err(gix::error::message("the ssh URL's host or user is not usable").into());
    }
    let path = String::from_utf8_lossy(&parsed.path).into_owned();
    let ssh = ssh_command(ssh_command_base, limits);
    let mut cmd = Command::new("sh");
    crate::child::hermetic(&mut cmd, child_env);
    cmd.arg("-c")
        .arg(format!("{ssh} \"$@\""))
        .arg("ladder-ssh")
        .args(["-o", "SendEnv=GIT_PROTOCOL"]);
    if let Some(port) = parsed.port {
        cmd.arg(format!("-p{port}"));
    }
    cmd.arg(match &user {
        Some(user) => format!("{user}@{host}"),
        None => host.clone(),
    })
    .arg(format!("git-upload-pack {}", shell_quote(&path)))
    .env("GIT_PROTOCOL", "version=2")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd
        .spawn()
        .or_raise(|| gix::error::message("Could not start ssh"))?;
    let (Some(stdout), Some(stdin), Some(mut stderr)) =
        (child.stdout.take(), child.stdin.take(), child.stderr.take())
    else {
        return Err(gix::error::message("ssh started without its pipes").into());
    };
    {
        let collected = guard.stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                collected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&text);
            }
        });
    }
    guard.breaker.set(Target::Process(child));
    let read = ClockedRead {
        inner: stdout,
        clock: guard.clock.clone(),
    };
    Ok(Box::new(
        gix::protocol::transport::client::git::blocking_io::Connection::new(
            read,
            stdin,
            gix::protocol::transport::Protocol::V2,
            path,
            None::<(String, Option<u16>)>,
            ConnectMode::Process,
            false,
        ),
    ))
}

/// `'text'` for a POSIX shell, as git quotes the path it sends to the server.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
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
    guard: &CallGuard,
    context: &str,
    err: gix::Error,
) -> Error {
    use std::io::ErrorKind as K;
    match guard.fired() {
        Some(Fired::Stalled) => {
            return Error::TimedOut {
                what: format!("{context} {url}"),
                after: limits.idle,
                deadline: false,
            };
        }
        Some(Fired::Expired) => return limits.timed_out(format!("{context} {url}")),
        None if limits.expired() => return limits.timed_out(format!("{context} {url}")),
        None => {}
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
    // What ssh itself said: its messages are the cause when the process ended early.
    let ssh_said = guard.stderr();
    for line in ssh_said.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.contains("permission denied") || lower.contains("host key verification failed") {
            auth = true;
        } else if lower.contains("timed out") {
            timed_out = true;
        } else if lower.contains("could not resolve hostname")
            || lower.contains("connection refused")
            || lower.contains("no route to host")
            || lower.contains("network is unreachable")
            || lower.contains("connection closed by")
        {
            unreachable = true;
        }
        if !parts.iter().any(|p| p.contains(line)) {
            parts.insert(0, line.to_string());
        }
    }
    if auth && creds.is_none() && url.scheme() != Scheme::Ssh {
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

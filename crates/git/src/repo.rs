//! Opening repositories and keeping mirrors of remotes up to date.
//!
//! A mirror is a bare repository in a cache folder whose `refs/heads/*` and
//! `refs/tags/*` track the remote's (forced, like `git clone --mirror`): nobody works
//! in it, so the remote is always right. Objects ladder builds itself are written into
//! the same object database, which is what lets `git push` send them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use gix::ObjectId;
use gix::remote::Direction;

use crate::error::{Error, Result};
use crate::history::HistoryCache;
use crate::lock::RepoLock;
use crate::url::{Credentials, RemoteUrl};

/// Refspecs of a mirror: the remote's branches and tags, forced.
const MIRROR_REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Object cache for everyday reads; history walks use their own, larger one.
const OBJECT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// A local repository or a mirror of a remote one. Cheap to share between threads
/// (`Repo: Send + Sync`); every operation takes the locks it needs.
pub struct Repo {
    pub(crate) git_dir: PathBuf,
    pub(crate) remote: Option<RemoteUrl>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) repo: gix::ThreadSafeRepository,
    pub(crate) lock: RepoLock,
    pub(crate) history: Mutex<HistoryCache>,
}

/// What a fetch changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// True when a pack was received (new objects arrived).
    pub received_pack: bool,
    /// Refs whose value changed.
    pub updated_refs: Vec<RefUpdate>,
}

/// One ref moved by a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full name, e.g. `refs/heads/main`.
    pub name: String,
    /// Previous value; `None` when the ref was created.
    pub old: Option<ObjectId>,
    /// New value; `None` when the ref was deleted (gone from the remote).
    pub new: Option<ObjectId>,
}

/// How to reach a remote.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Credentials to use when the URL carries none. `None` falls back to
    /// [`Credentials::from_env`].
    pub credentials: Option<Credentials>,
}

impl Repo {
    /// Opens an existing repository (bare or with a worktree) as is, without a remote.
    /// Reads and commit building work; fetch and push need [`Repo::mirror`].
    pub fn open_local(path: &Path) -> Result<Repo> {
        let repo = gix::open(path)
            .map_err(|e| Error::gix(format!("cannot open repository {}", path.display()), e))?;
        let git_dir = repo.git_dir().to_path_buf();
        let lock = RepoLock::new(&git_dir.join("ladder.lock"))?;
        Ok(Repo {
            git_dir,
            remote: None,
            credentials: None,
            repo: repo.into_sync(),
            lock,
            history: Mutex::default(),
        })
    }

    /// Opens the mirror of `url` in `cache_dir`, cloning it on first use and fetching
    /// incrementally afterwards. The mirror's folder name derives from the
    /// credential-free URL, so rotating a token keeps the cache.
    pub fn mirror(url: &str, cache_dir: &Path, options: RemoteOptions) -> Result<Repo> {
        let repo = Self::open_mirror(url, cache_dir, options)?;
        repo.fetch()?;
        Ok(repo)
    }

    /// Like [`Repo::mirror`] but without fetching when the mirror already exists: for
    /// callers that first do the cheap [`Repo::remote_branch_tip`] check.
    pub fn open_mirror(url: &str, cache_dir: &Path, options: RemoteOptions) -> Result<Repo> {
        crate::install_crypto_provider();
        let (remote, url_credentials) = RemoteUrl::parse(url)?;
        let credentials = match url_credentials.or(options.credentials) {
            Some(c) => Some(c),
            None => Credentials::from_env()?,
        };
        // ssh, git and file transports never use these; do not carry them around.
        let credentials = credentials
            .filter(|_| matches!(remote.scheme(), crate::Scheme::Http | crate::Scheme::Https));
        remote.check_credentials_allowed(credentials.as_ref())?;
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| Error::io("cannot create the cache folder", cache_dir, e))?;
        let key = remote.cache_key();
        let git_dir = cache_dir.join(format!("{key}.git"));
        let lock = RepoLock::new(&cache_dir.join(format!("{key}.lock")))?;
        if !git_dir.join("HEAD").exists() {
            let _guard = lock.write()?;
            // Another process may have created it while we waited for the lock.
            if !git_dir.join("HEAD").exists() {
                create_bare(cache_dir, &git_dir)?;
            }
        }
        let repo = gix::open(&git_dir)
            .map_err(|e| Error::gix(format!("cannot open mirror of {remote}"), e))?;
        Ok(Repo {
            git_dir,
            remote: Some(remote),
            credentials,
            repo: repo.into_sync(),
            lock,
            history: Mutex::default(),
        })
    }

    /// The repository's git folder (the mirror itself for mirrors).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The credential-free remote URL, if this is a mirror.
    pub fn remote_url(&self) -> Option<&RemoteUrl> {
        self.remote.as_ref()
    }

    pub(crate) fn name(&self) -> String {
        match &self.remote {
            Some(r) => r.to_string(),
            None => self.git_dir.display().to_string(),
        }
    }

    pub(crate) fn local(&self) -> gix::Repository {
        let mut repo = self.repo.to_thread_local();
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        repo
    }

    pub(crate) fn require_remote(&self) -> Result<&RemoteUrl> {
        self.remote
            .as_ref()
            .ok_or_else(|| Error::NoRemote { repo: self.name() })
    }

    /// Fetches all branches and tags from the remote into the mirror. Only objects we do
    /// not have are transferred.
    pub fn fetch(&self) -> Result<FetchOutcome> {
        let url = self.require_remote()?;
        let _guard = self.lock.write()?;
        let repo = self.local();
        let remote = repo
            .remote_at(url.as_str())
            .and_then(|r| {
                r.with_fetch_tags(gix::remote::fetch::Tags::None)
                    .with_refspecs(MIRROR_REFSPECS, Direction::Fetch)
            })
            .map_err(|e| Error::gix(format!("cannot configure remote {url}"), e))?;
        let classify = |e: gix::Error| {
            classify_remote_error(url, self.credentials.as_ref(), "cannot fetch", e)
        };
        let connection = connect(&remote, url).map_err(classify)?;
        let interrupt = AtomicBool::new(false);
        let outcome = connection
            .with_credentials(credential_fn(self.credentials.clone()))
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(classify)?
            .receive(gix::progress::Discard, &interrupt)
            .map_err(classify)?;
        let (received_pack, update_refs) = match &outcome.status {
            gix::remote::fetch::Status::NoPackReceived { update_refs, .. } => (false, update_refs),
            gix::remote::fetch::Status::Change { update_refs, .. } => (true, update_refs),
        };
        let mut updated_refs = Vec::new();
        for edit in &update_refs.edits {
            if let gix::refs::transaction::Change::Update { expected, new, .. } = &edit.change {
                let old = match expected {
                    gix::refs::transaction::PreviousValue::MustExistAndMatch(
                        gix::refs::Target::Object(id),
                    )
                    | gix::refs::transaction::PreviousValue::ExistingMustMatch(
                        gix::refs::Target::Object(id),
                    ) => Some(*id),
                    _ => None,
                };
                let new = new.try_id().map(ToOwned::to_owned);
                if old != new {
                    updated_refs.push(RefUpdate {
                        name: edit.name.as_bstr().to_string(),
                        old,
                        new,
                    });
                }
            }
        }
        updated_refs.extend(prune(&repo, &outcome.ref_map.remote_refs)?);
        tracing::debug!(remote = %url, received_pack, updates = updated_refs.len(), "fetched");
        Ok(FetchOutcome {
            received_pack,
            updated_refs,
        })
    }

    /// Asks the remote where `branch` is, using only the ref advertisement (no pack
    /// negotiation, no objects): the cheap check an idle poll makes. `None` when the
    /// branch does not exist on the remote.
    pub fn remote_branch_tip(&self, branch: &str) -> Result<Option<ObjectId>> {
        let url = self.require_remote()?;
        let full = full_branch_name(branch);
        let repo = self.local();
        let remote = repo
            .remote_at(url.as_str())
            .and_then(|r| {
                r.with_fetch_tags(gix::remote::fetch::Tags::None)
                    .with_refspecs([full.as_str()], Direction::Fetch)
            })
            .map_err(|e| Error::gix(format!("cannot configure remote {url}"), e))?;
        let classify = |e: gix::Error| {
            classify_remote_error(url, self.credentials.as_ref(), "cannot list refs", e)
        };
        let (ref_map, _handshake) = connect(&remote, url)
            .map_err(classify)?
            .with_credentials(credential_fn(self.credentials.clone()))
            .ref_map(gix::progress::Discard, Default::default())
            .map_err(classify)?;
        Ok(ref_map.remote_refs.iter().find_map(|r| {
            let (name, target, peeled) = r.unpack();
            (name == full.as_str())
                .then(|| peeled.or(target).map(ToOwned::to_owned))
                .flatten()
        }))
    }

    /// True when the remote's `branch` differs from the mirror's copy, i.e. a fetch would
    /// bring something new. Costs one ref advertisement.
    pub fn remote_branch_moved(&self, branch: &str) -> Result<bool> {
        Ok(self.remote_branch_tip(branch)? != self.branch_tip(branch)?)
    }

    /// The commit `branch` points to in this repository (for mirrors: as of the last fetch).
    pub fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>> {
        let _guard = self.lock.read();
        let repo = self.local();
        let full = full_branch_name(branch);
        let reference = repo
            .try_find_reference(full.as_str())
            .map_err(|e| Error::gix(format!("cannot read {full} in {}", self.name()), e))?;
        match reference {
            None => Ok(None),
            Some(mut r) => {
                let id = r
                    .peel_to_id()
                    .map_err(|e| Error::gix(format!("cannot peel {full} in {}", self.name()), e))?;
                Ok(Some(id.detach()))
            }
        }
    }

    /// Resolves a branch name, tag, full ref name or (abbreviated) commit id to a commit.
    pub fn resolve(&self, rev: &str) -> Result<ObjectId> {
        let _guard = self.lock.read();
        let repo = self.local();
        let not_found = || Error::RevisionNotFound {
            repo: self.name(),
            rev: rev.to_string(),
        };
        // Branches first: a bare rev-parse would prefer a same-named tag or ref in
        // another namespace, and ladder's refs are branches.
        let candidates = [format!("refs/heads/{rev}"), rev.to_string()];
        for candidate in &candidates {
            if let Ok(id) = repo.rev_parse_single(candidate.as_str()) {
                let object = id
                    .object()
                    .map_err(|e| Error::gix(format!("cannot read {rev}"), e))?;
                let commit = object
                    .peel_to_commit()
                    .map_err(|_| Error::WrongObjectKind {
                        repo: self.name(),
                        id: id.to_string(),
                        actual: "non-commit object".into(),
                        expected: "commit",
                    })?;
                return Ok(commit.id);
            }
        }
        Err(not_found())
    }
}

/// Deletes mirror branches and tags the remote no longer has (fetch alone never deletes),
/// so a deleted remote branch is not mistaken for an existing one.
fn prune(
    repo: &gix::Repository,
    remote_refs: &[gix::protocol::handshake::Ref],
) -> Result<Vec<RefUpdate>> {
    use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};
    let on_remote: std::collections::HashSet<&gix::bstr::BStr> =
        remote_refs.iter().map(|r| r.unpack().0).collect();
    let err = |e: gix::Error| Error::gix("cannot list the mirror's refs", e);
    let platform = repo.references().map_err(err)?;
    let mut edits = Vec::new();
    let mut pruned = Vec::new();
    for reference in platform
        .local_branches()
        .map_err(err)?
        .chain(platform.tags().map_err(err)?)
    {
        let reference = reference.map_err(|e| Error::gix("cannot read a mirror ref", e))?;
        let name = reference.name().as_bstr();
        if on_remote.contains(name) {
            continue;
        }
        pruned.push(RefUpdate {
            name: name.to_string(),
            old: reference.target().try_id().map(ToOwned::to_owned),
            new: None,
        });
        edits.push(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(reference.target().into_owned()),
                log: RefLog::AndReference,
            },
            name: reference.name().to_owned(),
            deref: false,
        });
    }
    if !edits.is_empty() {
        repo.edit_references(edits)
            .map_err(|e| Error::gix("cannot prune refs deleted on the remote", e))?;
    }
    Ok(pruned)
}

pub(crate) fn full_branch_name(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_string()
    } else {
        format!("refs/heads/{branch}")
    }
}

type BoxedTransport = Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>;

/// Connects `remote` (whose URL is `url`). git:// gets its own TCP connection with Nagle's
/// algorithm off: the protocol sends a request as several small writes, and with Nagle
/// on each exchange waits out the peer's delayed ACK (40 ms on Linux), which would be
/// most of an idle poll. Other schemes use gix's transports (reqwest for http(s) already
/// disables Nagle; ssh and file talk to a local process over pipes).
fn connect<'r>(
    remote: &'r gix::Remote<'r>,
    url: &RemoteUrl,
) -> gix::Result<gix::remote::Connection<'r, 'static, 'r, BoxedTransport>> {
    if url.scheme() == crate::Scheme::Git {
        Ok(remote.to_connection_with_transport(connect_git_daemon(url)?))
    } else {
        remote.connect(Direction::Fetch)
    }
}

fn connect_git_daemon(url: &RemoteUrl) -> gix::Result<BoxedTransport> {
    use gix::error::ResultExt;
    use gix::protocol::transport::client::git::ConnectMode;
    let parsed = gix::url::parse(gix::bstr::BStr::new(url.as_str()))?;
    let host = parsed.host().unwrap_or("localhost").to_string();
    let port = parsed.port;
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port.unwrap_or(9418)))
        .or_raise(|| gix::error::message("Could not resolve git server"))?;
    let mut last_err = None;
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(10)) {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .or_raise(|| gix::error::message("Could not configure the git connection"))?;
                let write = stream
                    .try_clone()
                    .or_raise(|| gix::error::message("Could not clone the git connection"))?;
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

/// Creates the bare mirror in a temporary folder and renames it into place, so a crash
/// never leaves a half-made repository under the final name.
fn create_bare(cache_dir: &Path, git_dir: &Path) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".init-")
        .tempdir_in(cache_dir)
        .map_err(|e| {
            Error::io(
                "cannot create a temporary folder in the cache",
                cache_dir,
                e,
            )
        })?;
    let staging = tmp.path().join("repo.git");
    gix::init_bare(&staging)
        .map_err(|e| Error::gix(format!("cannot initialise {}", staging.display()), e))?;
    std::fs::rename(&staging, git_dir)
        .map_err(|e| Error::io("cannot move the new mirror into place", git_dir, e))?;
    Ok(())
}

/// The credentials callback handed to gix: answers `get` with our credentials and
/// ignores store/erase, so nothing is ever written to a credential helper.
fn credential_fn(
    credentials: Option<Credentials>,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => {
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

/// Turns a gix network error into `Unreachable`, `AuthFailed` or a generic error, by
/// looking at the concrete causes rather than at message text where possible.
pub(crate) fn classify_remote_error(
    url: &RemoteUrl,
    creds: Option<&Credentials>,
    context: &str,
    err: gix::Error,
) -> Error {
    use std::io::ErrorKind as K;
    let mut auth = err.is_unauthenticated();
    let mut unreachable = false;
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
                    K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::TimedOut
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
                    | K::NotConnected => unreachable = true,
                    _ => {}
                }
            }
            if let Some(r) = e.downcast_ref::<reqwest::Error>()
                && (r.is_connect() || r.is_timeout())
            {
                unreachable = true;
            }
            let text = e.to_string();
            if text.contains("failed to lookup address")
                || text.contains("Name or service not known")
            {
                unreachable = true;
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
    let url = url.to_string();
    if auth {
        Error::AuthFailed { url, detail }
    } else if unreachable {
        Error::Unreachable { url, detail }
    } else {
        Error::Gix {
            context: format!("{context} {url}"),
            detail,
        }
    }
}

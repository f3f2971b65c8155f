//! Opening repositories and keeping mirrors of remotes up to date.
//!
//! A mirror is a bare repository in a cache folder whose `refs/heads/*` and
//! `refs/tags/*` track the remote's (forced, like `git clone --mirror`): nobody works
//! in it, so the remote is always right. Objects ladder builds itself are written into
//! the same object database, which is what lets `git push` send them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::ObjectId;
use gix::remote::Direction;

use crate::child::ChildEnv;
use crate::error::{Error, Result};
use crate::history::HistoryCache;
use crate::limits::Limits;
use crate::lock::RepoLock;
use crate::transport::{CallGuard, Connection, classify_remote_error, connect, credential_fn};
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
    /// Only ever sent to `remote`'s scheme, host and port.
    pub(crate) credentials: Option<Credentials>,
    pub(crate) ssh_command: Option<String>,
    pub(crate) child_env: ChildEnv,
    pub(crate) limits: Limits,
    pub(crate) repo: gix::ThreadSafeRepository,
    pub(crate) lock: RepoLock,
    /// Shared by every handle made with [`Repo::with_limits`].
    pub(crate) history: Arc<Mutex<HistoryCache>>,
}

impl std::fmt::Debug for Repo {
    /// The credential-free name only: never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repo({})", self.name())
    }
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

/// How to reach a remote. Everything is explicit: the library reads no environment
/// variables, so one tenant's settings can never leak into another's calls.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Credentials for http(s) remotes when the URL carries none. They are sent only to
    /// the URL's scheme, host and port.
    pub credentials: Option<Credentials>,
    /// How long network and lock waits may take, and the flag that cancels them.
    pub limits: Limits,
    /// The ssh program and its options (as `GIT_SSH_COMMAND` would give them); `None`
    /// means `ssh`. ladder adds the options that bound a hung server.
    pub ssh_command: Option<String>,
    /// The variables the `git` and `ssh` processes started for this repo inherit.
    pub child_env: ChildEnv,
}

impl Repo {
    /// Opens an existing repository (bare or with a worktree) as is, without a remote.
    /// Reads, commit building and local ref updates work; fetch and push need
    /// [`Repo::mirror`].
    pub fn open_local(path: &Path) -> Result<Repo> {
        let repo = gix::open(path)
            .map_err(|e| Error::gix(format!("cannot open repository {}", path.display()), e))?;
        let git_dir = repo.git_dir().to_path_buf();
        let lock = RepoLock::new(&git_dir.join("ladder.lock"))?;
        Ok(Repo {
            git_dir,
            remote: None,
            credentials: None,
            ssh_command: None,
            child_env: ChildEnv::default(),
            limits: Limits::default(),
            repo: repo.into_sync(),
            lock,
            history: Arc::default(),
        })
    }

    /// Opens the repository that contains `path` (a folder anywhere inside its worktree,
    /// or a bare repository) and returns it with `path`'s place in it: `""` for the
    /// root, `tenants/acme` for a tenant kept in a subfolder of a larger repository.
    pub fn discover(path: &Path) -> Result<(Repo, String)> {
        let absolute = path
            .canonicalize()
            .map_err(|e| Error::io("cannot resolve the folder", path, e))?;
        let found = gix::discover(&absolute)
            .map_err(|e| Error::gix(format!("no git repository contains {}", path.display()), e))?;
        let root = found
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| found.git_dir().to_path_buf());
        let root = root.canonicalize().unwrap_or(root);
        let prefix = absolute
            .strip_prefix(&root)
            .ok()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        Ok((Repo::open_local(&root)?, prefix))
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
        // ssh, git and file transports never use these; do not carry them around.
        let credentials = url_credentials
            .or(options.credentials)
            .filter(|_| matches!(remote.scheme(), crate::Scheme::Http | crate::Scheme::Https));
        remote.check_credentials_allowed(credentials.as_ref())?;
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| Error::io("cannot create the cache folder", cache_dir, e))?;
        let key = remote.cache_key();
        let git_dir = cache_dir.join(format!("{key}.git"));
        let lock = RepoLock::new(&cache_dir.join(format!("{key}.lock")))?;
        if !git_dir.join("HEAD").exists() {
            let _guard = lock.write(&options.limits)?;
            // Another process may have created it while we waited for the lock.
            if !git_dir.join("HEAD").exists() {
                create_bare(cache_dir, &git_dir)?;
            }
        }
        // Isolated: no system, global or user git config and no GIT_* variables. A
        // mirror serves one tenant's remote, and an operator's `insteadOf` or extra
        // headers must not change where (or with what) it fetches.
        let repo = gix::open_opts(&git_dir, gix::open::Options::isolated())
            .map_err(|e| Error::gix(format!("cannot open mirror of {remote}"), e))?;
        Ok(Repo {
            git_dir,
            remote: Some(remote),
            credentials,
            ssh_command: options.ssh_command,
            child_env: options.child_env,
            limits: options.limits,
            repo: repo.into_sync(),
            lock,
            history: Arc::default(),
        })
    }

    /// Another handle on the same repository (same locks, same history cache) whose
    /// calls run under `limits`: a daemon keeps one `Repo` per tenant and gives each
    /// reconcile its own deadline.
    pub fn with_limits(&self, limits: Limits) -> Repo {
        Repo {
            git_dir: self.git_dir.clone(),
            remote: self.remote.clone(),
            credentials: self.credentials.clone(),
            ssh_command: self.ssh_command.clone(),
            child_env: self.child_env.clone(),
            limits,
            repo: self.repo.clone(),
            lock: self.lock.clone(),
            history: self.history.clone(),
        }
    }

    /// Another handle on the same repository whose fetches and pushes use
    /// `credentials`: a forge whose tokens expire (GitHub App installation tokens) hands
    /// each batch of pushes its current one. Refused, like at open, for a remote that
    /// does not take credentials (plain http to a non-loopback host).
    pub fn with_credentials(&self, credentials: Credentials) -> Result<Repo> {
        if let Some(remote) = &self.remote {
            remote.check_credentials_allowed(Some(&credentials))?;
        }
        let mut repo = self.with_limits(self.limits.clone());
        repo.credentials = Some(credentials);
        Ok(repo)
    }

    /// Whether fetches and pushes carry credentials.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The limits this handle's calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
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

    /// A connection to `remote` under this handle's limits, answering credential
    /// requests for its own host only.
    fn connect<'r>(
        &self,
        remote: &'r gix::Remote<'r>,
        url: &RemoteUrl,
        guard: &CallGuard,
    ) -> gix::Result<Connection<'r>> {
        let connection = connect(
            remote,
            url,
            self.credentials.as_ref(),
            self.ssh_command.as_deref(),
            &self.child_env,
            &self.limits,
            guard,
        )?;
        Ok(connection.with_credentials(credential_fn(url.clone(), self.credentials.clone())))
    }

    /// Turns the errors of one network call into typed ones (see
    /// [`classify_remote_error`]).
    fn classifier<'a>(
        &'a self,
        url: &'a RemoteUrl,
        guard: &'a CallGuard,
        context: &'static str,
    ) -> impl Fn(gix::Error) -> Error + 'a {
        move |e| {
            classify_remote_error(
                url,
                self.credentials.as_ref(),
                &self.limits,
                guard,
                context,
                e,
            )
        }
    }

    /// Fetches all branches and tags from the remote into the mirror, and records the
    /// remote's HEAD (its default branch) as the mirror's HEAD. Only objects we do not
    /// have are transferred.
    pub fn fetch(&self) -> Result<FetchOutcome> {
        let url = self.require_remote()?;
        let limits = &self.limits;
        limits.check(&format!("cannot fetch {url}"))?;
        let _guard = self.lock.write(limits)?;
        let repo = self.local();
        let remote = repo
            .remote_at_without_url_rewrite(url.as_str())
            .and_then(|r| {
                r.with_fetch_tags(gix::remote::fetch::Tags::None)
                    .with_refspecs(MIRROR_REFSPECS, Direction::Fetch)
            })
            .map_err(|e| Error::gix(format!("cannot configure remote {url}"), e))?;
        let guard = CallGuard::start(limits);
        let classify = self.classifier(url, &guard, "cannot fetch");
        let head_spec = gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
            .map_err(|e| Error::gix("cannot build the HEAD refspec", e))?
            .to_owned();
        let options = gix::remote::ref_map::Options {
            extra_refspecs: vec![head_spec],
            ..Default::default()
        };
        let outcome = self
            .connect(&remote, url, &guard)
            .map_err(&classify)?
            .prepare_fetch(gix::progress::Discard, options)
            .map_err(&classify)?
            .receive(gix::progress::Discard, &guard.interrupt)
            .map_err(&classify)?;
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
        record_remote_head(&repo, &outcome.ref_map.remote_refs)?;
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
        let limits = &self.limits;
        limits.check(&format!("cannot list refs of {url}"))?;
        let full = full_branch_name(branch);
        let repo = self.local();
        let remote = repo
            .remote_at_without_url_rewrite(url.as_str())
            .and_then(|r| {
                r.with_fetch_tags(gix::remote::fetch::Tags::None)
                    .with_refspecs([full.as_str()], Direction::Fetch)
            })
            .map_err(|e| Error::gix(format!("cannot configure remote {url}"), e))?;
        let guard = CallGuard::start(limits);
        let classify = self.classifier(url, &guard, "cannot list refs of");
        let (ref_map, _handshake) = self
            .connect(&remote, url, &guard)
            .map_err(&classify)?
            .ref_map(gix::progress::Discard, Default::default())
            .map_err(&classify)?;
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

    /// The branch HEAD names: for a mirror, the remote's default branch as of the last
    /// fetch; for a local repository, the branch checked out. `None` for a detached or
    /// unknown HEAD.
    pub fn default_branch(&self) -> Result<Option<String>> {
        let repo = self.local();
        let head = repo
            .head_name()
            .map_err(|e| Error::gix(format!("cannot read HEAD of {}", self.name()), e))?;
        Ok(head.map(|name| {
            let full = name.as_bstr().to_string();
            full.strip_prefix("refs/heads/")
                .unwrap_or(&full)
                .to_string()
        }))
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

/// Points the mirror's HEAD at the branch the remote's HEAD names, so that callers can
/// read "the default branch" without asking the remote again.
fn record_remote_head(
    repo: &gix::Repository,
    remote_refs: &[gix::protocol::handshake::Ref],
) -> Result<()> {
    use gix::protocol::handshake::Ref;
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
    let target = remote_refs.iter().find_map(|r| match r {
        Ref::Symbolic {
            full_ref_name,
            target,
            ..
        }
        | Ref::Unborn {
            full_ref_name,
            target,
        } if full_ref_name == "HEAD" => Some(target.clone()),
        _ => None,
    });
    let Some(target) = target else {
        return Ok(());
    };
    let current = repo
        .head_name()
        .map_err(|e| Error::gix("cannot read the mirror's HEAD", e))?;
    if current.as_ref().map(|n| n.as_bstr()) == Some(target.as_ref()) {
        return Ok(());
    }
    let name: gix::refs::FullName = target
        .try_into()
        .map_err(|e| Error::gix("the remote's HEAD names an invalid ref", e))?;
    repo.edit_reference(RefEdit {
        change: Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: "ladder: remote HEAD".into(),
            },
            expected: PreviousValue::Any,
            new: gix::refs::Target::Symbolic(name),
        },
        name: "HEAD".try_into().expect("HEAD is a valid ref name"),
        deref: false,
    })
    .map_err(|e| Error::gix("cannot record the remote's HEAD in the mirror", e))?;
    Ok(())
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

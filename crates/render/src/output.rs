//! Writing a rendering to an out folder, atomically; and comparing a rendering with what
//! an out folder holds (`render --check`).
//!
//! # Which files are ladder's
//!
//! A render records the files it wrote, with their SHA-256, in [`MANIFEST`]
//! (`.ladder-render.json`) at the top of the out folder. That record, not the shape of a
//! path, decides what a render may replace or delete:
//!
//! - a file listed there is ladder's: a render replaces it, or deletes it when the config
//!   no longer renders it. When its bytes no longer match the recorded hash it was edited
//!   by hand since; the render still makes it what the config says (the folder is
//!   generated output, and a daemon has no one to ask), but names it, and `--check` lists
//!   it as `edited`;
//! - any other file, in any folder, is left exactly where and as it is, and named in the
//!   summary. A render that needs to write a path where such a file is (with other bytes)
//!   refuses ([`OutputError::Conflict`]) rather than overwrite someone else's file.
//!
//! A record file was chosen over marking the files themselves: a marker would change the
//! rendered bytes (which are Argo CD documents, reproducible byte for byte), would be
//! copied along with a file that a user copies, and could not tell a hand edit from a
//! render. The record is written into the new tree before the swap, so it always
//! describes exactly the files beside it; it is deterministic (no times), so a rendered
//! folder kept in Git stays reproducible.
//!
//! A folder with no record was written by a ladder before records existed (or by
//! hand): a render then takes over only the files at the paths it renders (the layout
//! earlier versions enforced), and deletes nothing.
//!
//! # Atomicity
//!
//! The new folder is built beside `--out` as a copy of the old one in which every entry
//! that stays (other people's files, and ladder's files that did not change) is a hard
//! link to the very same inode, folders are recreated with their owner and mode, and
//! only the changed files are new. It is then exchanged with `--out` in one
//! `renameat2(RENAME_EXCHANGE)`: a reader sees the old folder or the new one, never a
//! mix, and other people's files never leave their place. Everything that could fail is
//! done or checked before the exchange (permissions to change or empty each folder, mount
//! points, owners that cannot be kept), so a failure leaves `--out` exactly as it was and
//! removes the staging folder; after the exchange only the old tree is removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use ladder_threads::{Split, ThreadBudget};

use crate::Rendering;

/// The record of a render's files, at the top of the out folder.
pub const MANIFEST: &str = ".ladder-render.json";

/// The record format written; a higher one was written by a newer ladder.
const MANIFEST_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file system failed (exit 3 in the binary).
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The out folder, or one of its parents, is not a folder.
    #[error("`{}` is not a folder{}", path.display(), if let Some(a) = ancestor { format!(": `{}` is a file", a.display()) } else { String::new() })]
    NotAFolder {
        path: PathBuf,
        /// The parent that is a file, when it is not `path` itself.
        ancestor: Option<PathBuf>,
    },
    /// A file system is mounted inside the out folder: the folder cannot be replaced as
    /// a whole without moving (or deleting under) the mount.
    #[error(
        "`{}` is a mount point inside `{}`; ladder replaces the folder as a whole and cannot move a mount: unmount it or render elsewhere",
        path.display(), out.display()
    )]
    MountPoint { path: PathBuf, out: PathBuf },
    /// The render must write paths where files are that ladder did not write.
    #[error(
        "refusing to overwrite {} in `{}` that ladder did not write: {}; move {} away{}",
        if paths.len() == 1 { "a file" } else { "files" },
        out.display(),
        paths.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
        if paths.len() == 1 { "it" } else { "them" },
        if *recorded { "" } else { " (or delete them if an earlier ladder wrote them)" }
    )]
    Conflict {
        out: PathBuf,
        paths: Vec<String>,
        /// Whether the folder has a record of ladder's files (a folder without one may
        /// hold files of an earlier ladder).
        recorded: bool,
    },
    /// The render would remove Applications of protected environments.
    #[error("{}", removals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Protected { removals: Vec<ProtectedRemoval> },
    /// The record of ladder's files cannot be read as one.
    #[error(
        "`{}` is not a record of ladder's files ({message}); delete it to treat every file in the folder as not written by ladder",
        path.display()
    )]
    Manifest { path: PathBuf, message: String },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OutputError + use<> {
    let path = path.to_path_buf();
    move |source| OutputError::Io {
        action,
        path,
        source,
    }
}

/// An environment whose Applications may not disappear without a word: removing one
/// needs its app named in the environment's `retire`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Protection {
    pub env: String,
    /// Apps whose removal from this environment is deliberate.
    pub retire: Vec<String>,
    /// The environment's file, for the advice (`environments/prod.yaml`).
    pub file: String,
}

impl Protection {
    /// The protected environments of a tenant, as a write or a check needs them.
    pub fn of(tenant: &ladder_model::Tenant) -> Vec<Protection> {
        tenant
            .environments
            .iter()
            .filter(|env| env.protected)
            .map(|env| Protection {
                env: env.name.clone(),
                retire: env.retire.clone(),
                file: env.file.clone(),
            })
            .collect()
    }
}

/// How to write (or compare).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// The environments rendered; others in the folder are kept as they are. Empty: all.
    pub only: &'a [String],
    /// The protected environments of the config.
    pub protected: &'a [Protection],
}

/// An Application of a protected environment that a render would remove without the
/// deliberate step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtectedRemoval {
    pub env: String,
    pub app: String,
    /// The file in the out folder: `prod/applications/web.yaml`.
    pub path: String,
    /// The environment's file, where `retire` goes.
    pub file: String,
    /// The environment itself is gone from the config (it was protected when last
    /// rendered): there is no file to add `retire` to.
    pub env_removed: bool,
}

impl std::fmt::Display for ProtectedRemoval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ProtectedRemoval { env, app, .. } = self;
        if self.env_removed {
            write!(
                f,
                "removing Application `{app}` of environment {env}, which was protected when last rendered and is no longer in the config: render once with `protected: false` in {} before removing the environment",
                self.file
            )
        } else {
            write!(
                f,
                "removing Application `{app}` of protected environment {env}: add `retire: [{app}]` to {} to remove it on purpose",
                self.file
            )
        }
    }
}

/// What a write changed, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    /// Files ladder wrote that were edited by hand since, then replaced or removed.
    pub edited: Vec<String>,
    /// Applications of protected environments removed because `retire` names them.
    pub retired: Vec<String>,
    /// Files (or whole folders, ending in `/`) ladder did not write, left in place.
    pub foreign: Vec<String>,
    /// Whether the folder had no record of ladder's files before (written by an earlier
    /// ladder, or not by ladder).
    pub unrecorded: bool,
    /// The previous tree, when it could not be fully removed after the new one was in
    /// place (the render itself succeeded).
    pub leftover: Option<PathBuf>,
}

/// One file that differs between a rendering and an out folder.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Difference {
    /// Rendered but absent from the folder.
    Missing(String),
    /// Present in both, with other bytes.
    Changed(String),
    /// In the folder but no longer rendered.
    Stale(String),
    /// Written by ladder, edited by hand since, and not what the config renders.
    Edited(String),
    /// An Application of a protected environment, removed because `retire` names it.
    Retired(String),
    /// An Application of a protected environment that a render refuses to remove.
    Protected(ProtectedRemoval),
    /// Rendered where a file is that ladder did not write: a render refuses.
    Blocked(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "missing: {p}"),
            Difference::Changed(p) => write!(f, "changed: {p}"),
            Difference::Stale(p) => write!(f, "stale:   {p}"),
            Difference::Edited(p) => write!(f, "edited:  {p} (by hand, since ladder wrote it)"),
            Difference::Retired(p) => write!(f, "retired: {p}"),
            Difference::Protected(r) => write!(f, "refused: {}: {r}", r.path),
            Difference::Blocked(p) => {
                write!(
                    f,
                    "blocked: {p} (a file ladder did not write is in the way)"
                )
            }
        }
    }
}

/// What `--check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub differences: Vec<Difference>,
    /// Files (or folders, ending in `/`) ladder did not write; a render leaves them.
    pub foreign: Vec<String>,
    /// Whether the folder has no record of ladder's files.
    pub unrecorded: bool,
}

/// Compares a rendering with an out folder.
pub fn diff(out: &Path, rendering: &Rendering, options: &Options) -> Result<Check, OutputError> {
    let Some(root) = resolve(out)? else {
        let plan = Plan::new(out.to_path_buf(), Scan::default(), rendering, options)?;
        return Ok(plan.check());
    };
    let scan = Scan::read(&root)?;
    Ok(Plan::new(root, scan, rendering, options)?.check())
}

/// Makes `out` hold the rendering: ladder's files of the environments in scope become
/// exactly the rendered ones; every other file stays. See the module documentation for
/// how this is atomic. New files are written by up to four threads of
/// [`ThreadBudget::current`] (run it inside [`ThreadBudget::install`] to use another
/// budget than the process's).
pub fn write(
    out: &Path,
    rendering: &Rendering,
    options: &Options,
) -> Result<WriteSummary, OutputError> {
    let (root, scan, exists) = match resolve(out)? {
        Some(root) => {
            let scan = Scan::read(&root)?;
            (root, scan, true)
        }
        None => (out.to_path_buf(), Scan::default(), false),
    };
    let plan = Plan::new(root, scan, rendering, options)?;
    if !plan.refused.is_empty() {
        return Err(OutputError::Protected {
            removals: plan.refused.clone(),
        });
    }
    if !plan.blocked.is_empty() {
        return Err(OutputError::Conflict {
            out: out.to_path_buf(),
            paths: plan.blocked.clone(),
            recorded: plan.scan.manifest.is_some(),
        });
    }
    let mut summary = plan.summary();
    if exists && !plan.touches_anything() {
        // Already this rendering, recorded: rewriting it would only churn the disk.
        return Ok(summary);
    }
    summary.leftover = plan.apply()?;
    Ok(summary)
}

/// `Some(folder)` when `out` is an existing folder (a symlink to one is followed: the
/// folder it names is replaced, the link stays); `None` when absent; an error when it,
/// or a parent of it, is something else.
fn resolve(out: &Path) -> Result<Option<PathBuf>, OutputError> {
    match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => Ok(Some(out.to_path_buf())),
        Ok(meta) if meta.file_type().is_symlink() => match fs::metadata(out) {
            Ok(target) if target.is_dir() => {
                Ok(Some(fs::canonicalize(out).map_err(io_err("resolve", out))?))
            }
            Ok(_) => Err(OutputError::NotAFolder {
                path: out.to_path_buf(),
                ancestor: None,
            }),
            // A dangling link: creating a folder would create it elsewhere.
            Err(e) => Err(io_err("follow the link", out)(e)),
        },
        Ok(_) => Err(OutputError::NotAFolder {
            path: out.to_path_buf(),
            ancestor: None,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            let ancestor = out
                .ancestors()
                .skip(1)
                .find(|a| fs::metadata(a).is_ok_and(|m| !m.is_dir()))
                .map(Path::to_path_buf);
            Err(OutputError::NotAFolder {
                path: out.to_path_buf(),
                ancestor,
            })
        }
        Err(e) => Err(io_err("read", out)(e)),
    }
}

/// The record of a render, as stored in [`MANIFEST`].
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Manifest {
    ladder: u64,
    /// Every file the render wrote, relative path to `sha256:<hex>`.
    files: BTreeMap<String, String>,
    /// The environments that were protected.
    #[serde(default)]
    protected: BTreeSet<String>,
}

impl Manifest {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// What an out folder holds.
#[derive(Default)]
struct Scan {
    /// Every folder, parents before children; the folder itself first (relative path
    /// empty). Empty when the folder does not exist.
    dirs: Vec<DirInfo>,
    /// Every entry that is not a folder, except the record.
    files: Vec<FileInfo>,
    manifest: Option<Manifest>,
    manifest_bytes: Option<Vec<u8>>,
}

struct DirInfo {
    rel: PathBuf,
    meta: fs::Metadata,
    mount_point: bool,
}

struct FileInfo {
    rel: PathBuf,
    /// The path with `/` separators; `None` when not UTF-8 (never ladder's).
    key: Option<String>,
    regular: bool,
}

impl Scan {
    fn read(root: &Path) -> Result<Scan, OutputError> {
        let mut scan = Scan::default();
        let root_meta = fs::symlink_metadata(root).map_err(io_err("read", root))?;
        let root_mount = mount_id(root);
        scan.dirs.push(DirInfo {
            rel: PathBuf::new(),
            meta: root_meta,
            mount_point: false,
        });
        let mut next = 0;
        while next < scan.dirs.len() {
            let rel = scan.dirs[next].rel.clone();
            next += 1;
            let dir = root.join(&rel);
            let mut entries: Vec<_> = fs::read_dir(&dir)
                .map_err(io_err("read", &dir))?
                .collect::<Result<_, _>>()
                .map_err(io_err("read", &dir))?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let rel = rel.join(entry.file_name());
                let meta = fs::symlink_metadata(&path).map_err(io_err("read", &path))?;
                if meta.is_dir() {
                    let mount_point = is_mount_point(&path, &meta, &scan.dirs[0].meta, root_mount);
                    scan.dirs.push(DirInfo {
                        rel,
                        meta,
                        mount_point,
                    });
                } else if rel == Path::new(MANIFEST) && meta.is_file() {
                    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
                    let manifest: Manifest =
                        serde_json::from_slice(&bytes).map_err(|e| OutputError::Manifest {
                            path: path.clone(),
                            message: e.to_string(),
                        })?;
                    if manifest.ladder > MANIFEST_VERSION {
                        return Err(OutputError::Manifest {
                            path,
                            message: format!(
                                "format {}, written by a newer ladder; this one reads format {MANIFEST_VERSION}",
                                manifest.ladder
                            ),
                        });
                    }
                    scan.manifest = Some(manifest);
                    scan.manifest_bytes = Some(bytes);
                } else {
                    let key = key_of(&rel);
                    scan.files.push(FileInfo {
                        rel,
                        key,
                        regular: meta.is_file(),
                    });
                }
            }
        }
        Ok(scan)
    }
}

/// `a/b/c` for a relative path of normal UTF-8 components.
fn key_of(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn mount_id(path: &Path) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
        statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::MNT_ID)
            .ok()
            .filter(|s| StatxFlags::from_bits_retain(s.stx_mask).contains(StatxFlags::MNT_ID))
            .map(|s| s.stx_mnt_id)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// Whether a folder inside the out folder is the root of another mount (a bind mount of
/// the same file system included, where the device number does not tell).
fn is_mount_point(
    path: &Path,
    meta: &fs::Metadata,
    root: &fs::Metadata,
    root_mount: Option<u64>,
) -> bool {
    if meta.dev() != root.dev() {
        return true;
    }
    match (root_mount, mount_id(path)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// Where a new file comes from.
enum Source<'a> {
    /// The same inode as now (a hard link in the new tree).
    Keep,
    Write(&'a [u8]),
}

/// What a render will do to a folder, decided before anything is written.
struct Plan<'a> {
    root: PathBuf,
    scan: Scan,
    /// Every non-folder entry of the new tree except the record.
    next: BTreeMap<PathBuf, Source<'a>>,
    manifest: Vec<u8>,
    written: usize,
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
    edited: Vec<String>,
    retired: Vec<String>,
    refused: Vec<ProtectedRemoval>,
    blocked: Vec<String>,
    foreign: Vec<String>,
}

impl<'a> Plan<'a> {
    fn new(
        root: PathBuf,
        scan: Scan,
        rendering: &'a Rendering,
        options: &Options,
    ) -> Result<Plan<'a>, OutputError> {
        let in_scope = |key: &str| {
            let env = key.split('/').next().unwrap_or("");
            options.only.is_empty() || options.only.iter().any(|o| o == env)
        };
        let recorded = scan.manifest.as_ref().map(|m| &m.files);
        let mut plan = Plan {
            root,
            next: BTreeMap::new(),
            manifest: Vec::new(),
            written: rendering.files.len(),
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            edited: Vec::new(),
            retired: Vec::new(),
            refused: Vec::new(),
            blocked: Vec::new(),
            foreign: Vec::new(),
            scan: Scan::default(),
        };
        let mut manifest = Manifest {
            ladder: MANIFEST_VERSION,
            ..Manifest::default()
        };
        // Paths of ladder's files, old and new: the folders holding them are ladder's.
        let mut ladder_paths: BTreeSet<String> = BTreeSet::new();
        // Every path that is not a folder, and every folder: a rendered file cannot go
        // where either is, nor under a path that is not a folder.
        let present: BTreeSet<String> = scan.files.iter().filter_map(|f| f.key.clone()).collect();
        let folders: BTreeSet<String> = scan.dirs.iter().filter_map(|d| key_of(&d.rel)).collect();
        let mut foreign_files: Vec<String> = Vec::new();

        for file in &scan.files {
            let path = plan.root.join(&file.rel);
            let Some(key) = file.key.clone().filter(|_| file.regular) else {
                // Not a regular file, or not a name ladder writes: never ladder's.
                if let Some(key) = &file.key {
                    if (rendering.files.contains_key(key) && in_scope(key)) || key == MANIFEST {
                        plan.blocked.push(key.clone());
                    }
                    foreign_files.push(key.clone());
                } else {
                    foreign_files.push(file.rel.to_string_lossy().into_owned());
                }
                plan.next.insert(file.rel.clone(), Source::Keep);
                continue;
            };
            let recorded_hash = recorded.and_then(|files| files.get(&key));
            let rendered = rendering.files.get(&key).filter(|_| in_scope(&key));
            // Without a record, the files at rendered paths are taken for an earlier
            // ladder's; so are, in environments out of scope (`--env`), the files in
            // ladder's layout, which are recorded as they are so that rendering those
            // environments later does not find them in its way. Nothing else is.
            let ladders = recorded_hash.is_some()
                || (recorded.is_none() && rendered.is_some())
                || (recorded.is_none() && !in_scope(&key) && in_ladder_layout(&key));
            if !ladders {
                match rendered {
                    Some(bytes) => {
                        let current = fs::read(&path).map_err(io_err("read", &path))?;
                        if current == *bytes {
                            // Exactly what the render writes: nothing of anyone's is lost.
                            ladder_paths.insert(key.clone());
                            manifest.files.insert(key.clone(), sha256_tag(bytes));
                        } else {
                            plan.blocked.push(key.clone());
                            foreign_files.push(key.clone());
                        }
                    }
                    None => foreign_files.push(key.clone()),
                }
                plan.next.insert(file.rel.clone(), Source::Keep);
                continue;
            }
            ladder_paths.insert(key.clone());
            if !in_scope(&key) {
                // Another environment's file, kept as it is, with its record.
                let hash = match recorded_hash {
                    Some(hash) => hash.clone(),
                    None => sha256_tag(&fs::read(&path).map_err(io_err("read", &path))?),
                };
                manifest.files.insert(key.clone(), hash);
                plan.next.insert(file.rel.clone(), Source::Keep);
                continue;
            }
            let current = fs::read(&path).map_err(io_err("read", &path))?;
            let edited = recorded_hash.is_some_and(|hash| *hash != sha256_tag(&current));
            match rendered {
                Some(bytes) => {
                    manifest.files.insert(key.clone(), sha256_tag(bytes));
                    if current == *bytes {
                        plan.next.insert(file.rel.clone(), Source::Keep);
                    } else {
                        if edited {
                            plan.edited.push(key.clone());
                        }
                        plan.changed.push(key.clone());
                        plan.next.insert(file.rel.clone(), Source::Write(bytes));
                    }
                }
                None => {
                    if edited {
                        plan.edited.push(key.clone());
                    }
                    match protected_app(&key, rendering, options, scan.manifest.as_ref()) {
                        Some((removal, true)) => plan.retired.push(removal.path),
                        Some((removal, false)) => plan.refused.push(removal),
                        None => {}
                    }
                    plan.removed.push(key.clone());
                }
            }
        }
        for (key, bytes) in &rendering.files {
            if present.contains(key) || !in_scope(key) {
                continue;
            }
            // A folder at the path, or a parent that is not a folder, is in the way too.
            if folders.contains(key) {
                plan.blocked.push(format!("{key}/"));
                continue;
            }
            if let Some(blocker) = ancestors_of(key).find(|a| present.contains(*a)) {
                plan.blocked.push(blocker.to_string());
                continue;
            }
            ladder_paths.insert(key.clone());
            manifest.files.insert(key.clone(), sha256_tag(bytes));
            plan.added.push(key.clone());
            plan.next.insert(PathBuf::from(key), Source::Write(bytes));
        }
        plan.blocked.sort();
        plan.blocked.dedup();

        manifest.protected = options
            .protected
            .iter()
            .filter(|p| in_scope(&p.env))
            .map(|p| p.env.clone())
            .collect();
        if let Some(old) = &scan.manifest {
            manifest
                .protected
                .extend(old.protected.iter().filter(|env| !in_scope(env)).cloned());
        }
        plan.manifest = manifest.to_bytes();

        // Name other people's files by the topmost folder that holds nothing of ladder's.
        let ladder_dirs: BTreeSet<&str> =
            ladder_paths.iter().flat_map(|p| ancestors_of(p)).collect();
        let mut foreign: BTreeSet<String> = BTreeSet::new();
        for file in foreign_files {
            let top = ancestors_of(&file)
                .filter(|a| !ladder_dirs.contains(a))
                .last()
                .map(|a| format!("{a}/"));
            foreign.insert(top.unwrap_or(file));
        }
        plan.foreign = foreign.into_iter().collect();
        plan.scan = scan;
        Ok(plan)
    }

    fn check(&self) -> Check {
        let mut differences = Vec::new();
        for path in &self.added {
            differences.push(Difference::Missing(path.clone()));
        }
        for path in &self.changed {
            if self.edited.contains(path) {
                differences.push(Difference::Edited(path.clone()));
            } else {
                differences.push(Difference::Changed(path.clone()));
            }
        }
        for path in &self.removed {
            if self.retired.contains(path) {
                differences.push(Difference::Retired(path.clone()));
            } else if let Some(removal) = self.refused.iter().find(|r| r.path == *path) {
                differences.push(Difference::Protected(removal.clone()));
            } else {
                differences.push(Difference::Stale(path.clone()));
            }
        }
        for path in &self.blocked {
            differences.push(Difference::Blocked(path.clone()));
        }
        differences.sort();
        Check {
            differences,
            foreign: self.foreign.clone(),
            unrecorded: self.unrecorded(),
        }
    }

    fn unrecorded(&self) -> bool {
        !self.scan.dirs.is_empty() && self.scan.manifest.is_none()
    }

    fn summary(&self) -> WriteSummary {
        WriteSummary {
            written: self.written,
            added: self.added.len(),
            changed: self.changed.len(),
            removed: self.removed.len(),
            edited: self.edited.clone(),
            retired: self.retired.clone(),
            foreign: self.foreign.clone(),
            unrecorded: self.unrecorded(),
            leftover: None,
        }
    }

    fn touches_anything(&self) -> bool {
        !self.added.is_empty()
            || !self.changed.is_empty()
            || !self.removed.is_empty()
            || self.scan.manifest_bytes.as_deref() != Some(self.manifest.as_slice())
    }

    /// The folders of the new tree: every old folder that still holds something, or
    /// that held none of the files this render removes (someone's empty folder stays),
    /// and the parents of new files; relative paths, parents first. Also the old
    /// folders that go.
    fn next_dirs(&self) -> (Vec<PathBuf>, BTreeSet<PathBuf>) {
        let mut needed: BTreeSet<PathBuf> = BTreeSet::new();
        for rel in self.next.keys() {
            for parent in rel.ancestors().skip(1) {
                needed.insert(parent.to_path_buf());
            }
        }
        let mut emptied: BTreeSet<PathBuf> = BTreeSet::new();
        for key in &self.removed {
            for parent in Path::new(key).ancestors().skip(1) {
                emptied.insert(parent.to_path_buf());
            }
        }
        let mut dropped = BTreeSet::new();
        // Deepest first, so that a kept folder keeps its parents.
        let mut old: Vec<&PathBuf> = self.scan.dirs.iter().map(|d| &d.rel).collect();
        old.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in old {
            if needed.contains(dir) || !emptied.contains(dir) || dir.as_os_str().is_empty() {
                for parent in dir.ancestors() {
                    needed.insert(parent.to_path_buf());
                }
            } else {
                dropped.insert(dir.clone());
            }
        }
        let mut dirs: Vec<PathBuf> = needed.into_iter().collect();
        dirs.sort_by_key(|d| d.components().count());
        (dirs, dropped)
    }

    /// Builds the new tree beside the folder and exchanges the two; returns the old
    /// tree's path if it could not be fully removed afterwards.
    fn apply(&self) -> Result<Option<PathBuf>, OutputError> {
        let (dirs, dropped) = self.next_dirs();
        let staging = staging_dir(&self.root)?;
        let result = self
            .preflight(&staging, &dirs, &dropped)
            .and_then(|()| self.build(&staging, &dirs))
            .and_then(|()| swap_in(&staging, &self.root));
        match result {
            Ok(()) => {
                // `staging` now holds the previous tree: the new one is in place, so the
                // render succeeded whatever happens to the old one.
                if self.scan.dirs.is_empty() {
                    return Ok(None);
                }
                match remove_tree(&staging) {
                    Ok(()) => Ok(None),
                    Err(_) => Ok(Some(staging)),
                }
            }
            Err(e) => {
                let _ = remove_tree(&staging);
                Err(e)
            }
        }
    }

    /// Checks what the exchange and the removal of the old tree need, before anything
    /// of the folder changes: no mount inside it; every folder whose entries change is
    /// writable by this user (a read-only folder is respected, as `rm` would); every
    /// old folder can be emptied afterwards (writable, or ours to make writable).
    fn preflight(
        &self,
        staging: &Path,
        dirs: &[PathBuf],
        dropped: &BTreeSet<PathBuf>,
    ) -> Result<(), OutputError> {
        if self.scan.dirs.is_empty() {
            return Ok(());
        }
        let me = fs::symlink_metadata(staging)
            .map_err(io_err("read", staging))?
            .uid();
        let mut changing: BTreeSet<PathBuf> = BTreeSet::new();
        for key in self.added.iter().chain(&self.changed).chain(&self.removed) {
            if let Some(parent) = Path::new(key).parent() {
                changing.insert(parent.to_path_buf());
            }
        }
        let old: BTreeSet<&PathBuf> = self.scan.dirs.iter().map(|d| &d.rel).collect();
        for dir in dirs.iter().filter(|d| !old.contains(d)).chain(dropped) {
            if let Some(parent) = dir.parent() {
                changing.insert(parent.to_path_buf());
            }
        }
        // The record changes with every render that gets here.
        changing.insert(PathBuf::new());
        for dir in &self.scan.dirs {
            let path = self.root.join(&dir.rel);
            if dir.mount_point {
                return Err(OutputError::MountPoint {
                    path,
                    out: self.root.clone(),
                });
            }
            let Err(source) = writable(&path) else {
                continue;
            };
            if changing.contains(&dir.rel) {
                return Err(OutputError::Io {
                    action: "change the files of",
                    path,
                    source,
                });
            }
            if dir.meta.uid() != me {
                return Err(OutputError::Io {
                    action: "replace",
                    path,
                    source: io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "a folder this user can neither write nor make writable; ladder replaces the out folder as a whole",
                    ),
                });
            }
        }
        Ok(())
    }

    fn build(&self, staging: &Path, dirs: &[PathBuf]) -> Result<(), OutputError> {
        for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
            let path = staging.join(dir);
            fs::create_dir(&path).map_err(io_err("create", &path))?;
        }
        let mut writes: Vec<(PathBuf, &[u8])> = Vec::new();
        for (rel, source) in &self.next {
            match source {
                Source::Keep => {
                    let (from, to) = (self.root.join(rel), staging.join(rel));
                    fs::hard_link(&from, &to).map_err(io_err("keep in place", &from))?;
                }
                Source::Write(bytes) => writes.push((staging.join(rel), bytes)),
            }
        }
        fill(&writes)?;
        let record = staging.join(MANIFEST);
        fill(&[(record, &self.manifest)])?;
        // Folders get their owners and modes last (a read-only one is filled first),
        // deepest first.
        let old: BTreeMap<&PathBuf, &DirInfo> =
            self.scan.dirs.iter().map(|d| (&d.rel, d)).collect();
        for dir in dirs.iter().rev() {
            let Some(info) = old.get(dir) else { continue };
            let path = staging.join(dir);
            let now = fs::symlink_metadata(&path).map_err(io_err("read", &path))?;
            if (now.uid(), now.gid()) != (info.meta.uid(), info.meta.gid()) {
                std::os::unix::fs::lchown(&path, Some(info.meta.uid()), Some(info.meta.gid()))
                    .map_err(|e| OutputError::Io {
                        action: "keep the owner of",
                        path: self.root.join(dir),
                        source: e,
                    })?;
            }
            fs::set_permissions(&path, fs::Permissions::from_mode(info.meta.mode() & 0o7777))
                .map_err(io_err("keep the mode of", &self.root.join(dir)))?;
        }
        Ok(())
    }
}

/// The Application a removed file is, when its environment is protected: the removal
/// and whether `retire` allows it.
fn protected_app(
    key: &str,
    rendering: &Rendering,
    options: &Options,
    old: Option<&Manifest>,
) -> Option<(ProtectedRemoval, bool)> {
    let mut parts = key.split('/');
    let (Some(env), Some("applications"), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let app = file.strip_suffix(".yaml")?;
    let removal = |file: String, env_removed| ProtectedRemoval {
        env: env.to_string(),
        app: app.to_string(),
        path: key.to_string(),
        file,
        env_removed,
    };
    if let Some(protection) = options.protected.iter().find(|p| p.env == env) {
        let file = if protection.file.is_empty() || protection.file.starts_with('<') {
            format!("environments/{env}.yaml")
        } else {
            protection.file.clone()
        };
        let retired = protection.retire.iter().any(|r| r == app);
        return Some((removal(file, false), retired));
    }
    let gone = !rendering.environments.iter().any(|e| e == env);
    if gone && old.is_some_and(|m| m.protected.contains(env)) {
        return Some((removal(format!("environments/{env}.yaml"), true), false));
    }
    None
}

/// Whether a path is one ladder writes: `<env>/appproject.yaml`,
/// `<env>/applications/<app>.yaml`.
fn in_ladder_layout(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [_, "appproject.yaml"] => true,
        [_, "applications", file] => file.ends_with(".yaml"),
        _ => false,
    }
}

/// `a/b/c` → `a/b`, `a`.
fn ancestors_of(key: &str) -> impl Iterator<Item = &str> {
    let mut rest = key;
    std::iter::from_fn(move || {
        let cut = rest.rfind('/')?;
        rest = &rest[..cut];
        Some(rest)
    })
}

#[cfg(target_os = "linux")]
fn writable(path: &Path) -> io::Result<()> {
    use rustix::fs::{Access, AtFlags, CWD, accessat};
    accessat(
        CWD,
        path,
        Access::WRITE_OK | Access::EXEC_OK,
        AtFlags::EACCESS,
    )
    .map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn writable(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.permissions().readonly() {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    } else {
        Ok(())
    }
}

fn staging_dir(out: &Path) -> Result<PathBuf, OutputError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| match e.kind() {
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => OutputError::NotAFolder {
            path: out.to_path_buf(),
            ancestor: out
                .ancestors()
                .skip(1)
                .find(|a| fs::metadata(a).is_ok_and(|m| !m.is_dir()))
                .map(Path::to_path_buf),
        },
        _ => io_err("create", &parent)(e),
    })?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Created with the mode a new folder gets (the umask applies); an existing folder's
    // mode and owner are copied onto it before the exchange.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .permissions(fs::Permissions::from_mode(0o777))
        .tempdir_in(&parent)
        .map_err(io_err("create a folder in", &parent))?;
    Ok(staging.keep())
}

fn fill(files: &[(PathBuf, &[u8])]) -> Result<(), OutputError> {
    // Creating a file costs a round of file-system metadata work that is mostly waiting;
    // a few writers at once overlap it, within the thread budget of the caller (see
    // [`write`]).
    ThreadBudget::current()
        .map_chunks_with(
            files,
            Split::new(MIN_FILES_PER_WRITER).max_workers(WRITERS),
            || (),
            |(), part| {
                for (target, bytes) in part {
                    let mut file = fs::File::create_new(target).map_err(io_err("write", target))?;
                    io::Write::write_all(&mut file, bytes).map_err(io_err("write", target))?;
                }
                Ok(())
            },
        )
        .into_iter()
        .collect()
}

/// The most threads writing files at once.
const WRITERS: usize = 4;
/// Files below which a writer is not worth a thread.
const MIN_FILES_PER_WRITER: usize = 16;

/// Puts `staging` where `out` is. On Linux an existing folder is exchanged atomically
/// (`renameat2(RENAME_EXCHANGE)`) and `staging` then holds the previous tree; elsewhere,
/// or where the file system refuses, the old folder is moved to `staging` first (not
/// atomic for readers, but still all or nothing).
fn swap_in(staging: &Path, out: &Path) -> Result<(), OutputError> {
    if fs::symlink_metadata(out).is_err() {
        return fs::rename(staging, out).map_err(io_err("move into place", out));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        if renameat_with(CWD, staging, CWD, out, RenameFlags::EXCHANGE).is_ok() {
            return Ok(());
        }
    }
    let aside = staging.with_extension("old");
    fs::rename(out, &aside).map_err(io_err("move aside", out))?;
    if let Err(e) = fs::rename(staging, out) {
        let _ = fs::rename(&aside, out);
        return Err(io_err("move into place", out)(e));
    }
    fs::rename(&aside, staging).map_err(io_err("move", &aside))
}

/// Removes a tree this render made or replaced; folders it may not empty are made
/// writable first when this user owns them (they are no longer anyone's).
fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    if meta.mode() & 0o700 != 0o700 {
        // Only ever a folder of the discarded tree, never one in place.
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() | 0o700));
    }
    for entry in fs::read_dir(path)? {
        remove_tree(&entry?.path())?;
    }
    fs::remove_dir(path)
}

/// `sha256:<hex>` of some bytes.
fn sha256_tag(bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let mut tag = String::with_capacity(7 + 64);
    tag.push_str("sha256:");
    for byte in digest {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag
}

/// SHA-256 (FIPS 180-4), small and dependency-free: the record's hashes are checked by
/// hand with `sha256sum` as easily as by ladder.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut digest = [0u8; 32];
    for (chunk, word) in digest.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            sha256_tag(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_tag(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Two blocks of padding.
        assert_eq!(
            sha256_tag(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            sha256_tag(&long),
            "sha256:41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn ancestors_are_listed_nearest_first() {
        assert_eq!(ancestors_of("a/b/c.yaml").collect::<Vec<_>>(), ["a/b", "a"]);
        assert_eq!(ancestors_of("c.yaml").count(), 0);
    }
}

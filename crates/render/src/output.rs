//! Writing a rendering to an out folder so that the folder mirrors it exactly, atomically;
//! and comparing a rendering with what an out folder holds (`render --check`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ladder_threads::{Split, ThreadBudget};

use crate::Rendering;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "refusing to replace `{}`: it holds `{entry}`, which ladder did not write",
        path.display()
    )]
    Foreign { path: PathBuf, entry: String },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OutputError + use<> {
    let path = path.to_path_buf();
    move |source| OutputError::Io {
        action,
        path,
        source,
    }
}

/// What a write changed, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
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
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "missing: {p}"),
            Difference::Changed(p) => write!(f, "changed: {p}"),
            Difference::Stale(p) => write!(f, "stale:   {p}"),
        }
    }
}

/// The files an out folder holds, for the environments in scope (all when `scope` is
/// `None`). Refuses a folder with anything ladder would not have written.
fn read_existing(
    out: &Path,
    scope: Option<&[String]>,
) -> Result<BTreeMap<String, Vec<u8>>, OutputError> {
    let mut files = BTreeMap::new();
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(io_err("read", out)(e)),
    };
    let foreign = |entry: &str| OutputError::Foreign {
        path: out.to_path_buf(),
        entry: entry.to_string(),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("read", out))?;
        let env = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().map_err(io_err("read", out))?.is_dir() {
            return Err(foreign(&env));
        }
        for file in fs::read_dir(entry.path()).map_err(io_err("read", &entry.path()))? {
            let file = file.map_err(io_err("read", &entry.path()))?;
            let name = file.file_name().to_string_lossy().into_owned();
            let kind = file.file_type().map_err(io_err("read", &file.path()))?;
            if name == "appproject.yaml" && kind.is_file() {
                files.insert(
                    format!("{env}/{name}"),
                    fs::read(file.path()).map_err(io_err("read", &file.path()))?,
                );
            } else if name == "applications" && kind.is_dir() {
                for app in fs::read_dir(file.path()).map_err(io_err("read", &file.path()))? {
                    let app = app.map_err(io_err("read", &file.path()))?;
                    let app_name = app.file_name().to_string_lossy().into_owned();
                    let relative = format!("{env}/applications/{app_name}");
                    if !app_name.ends_with(".yaml")
                        || !app
                            .file_type()
                            .map_err(io_err("read", &app.path()))?
                            .is_file()
                    {
                        return Err(foreign(&relative));
                    }
                    files.insert(
                        relative,
                        fs::read(app.path()).map_err(io_err("read", &app.path()))?,
                    );
                }
            } else {
                return Err(foreign(&format!("{env}/{name}")));
            }
        }
    }
    if let Some(scope) = scope {
        files.retain(|path, _| scope.iter().any(|env| path.starts_with(&format!("{env}/"))));
    }
    Ok(files)
}

/// Compares a rendering with an out folder. `only` limits the comparison to those
/// environments (empty: the whole folder).
pub fn diff(
    out: &Path,
    rendering: &Rendering,
    only: &[String],
) -> Result<Vec<Difference>, OutputError> {
    let scope = (!only.is_empty()).then_some(only);
    let existing = read_existing(out, scope)?;
    let mut differences = Vec::new();
    for (path, bytes) in &rendering.files {
        match existing.get(path) {
            None => differences.push(Difference::Missing(path.clone())),
            Some(old) if old != bytes => differences.push(Difference::Changed(path.clone())),
            Some(_) => {}
        }
    }
    for path in existing.keys() {
        if !rendering.files.contains_key(path) {
            differences.push(Difference::Stale(path.clone()));
        }
    }
    differences.sort();
    Ok(differences)
}

/// Makes `out` mirror the rendering. With `only`, environments outside it keep their
/// current files. The new tree is built beside `out` and swapped in with one rename, so a
/// failure at any point leaves the previous output whole. Files are written by up to
/// four threads of [`ThreadBudget::current`] (run it inside [`ThreadBudget::install`] to
/// use another budget than the process's).
pub fn write(
    out: &Path,
    rendering: &Rendering,
    only: &[String],
) -> Result<WriteSummary, OutputError> {
    let existing = read_existing(out, None)?;
    let mut next: BTreeMap<&str, &[u8]> = rendering
        .files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    if !only.is_empty() {
        for (path, bytes) in &existing {
            let env = path.split('/').next().unwrap_or("");
            if !only.iter().any(|o| o == env) {
                next.insert(path, bytes);
            }
        }
    }

    let mut summary = WriteSummary {
        written: rendering.files.len(),
        ..WriteSummary::default()
    };
    for (path, bytes) in &next {
        match existing.get(*path) {
            None => summary.added += 1,
            Some(old) if old.as_slice() != *bytes => summary.changed += 1,
            Some(_) => {}
        }
    }
    summary.removed = existing
        .keys()
        .filter(|p| !next.contains_key(p.as_str()))
        .count();
    if summary.added + summary.changed + summary.removed == 0 && out.is_dir() {
        // Already the mirror of this rendering: rewriting it would only churn the disk.
        return Ok(summary);
    }

    let staging = staging_dir(out)?;
    let result = fill(&staging, &next).and_then(|()| swap_in(&staging, out));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|()| summary)
}

fn staging_dir(out: &Path) -> Result<PathBuf, OutputError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(io_err("create a folder in", &parent))?;
    Ok(staging.keep())
}

fn fill(staging: &Path, files: &BTreeMap<&str, &[u8]>) -> Result<(), OutputError> {
    let mut dirs: Vec<PathBuf> = files
        .keys()
        .filter_map(|path| staging.join(path).parent().map(Path::to_path_buf))
        .collect();
    dirs.dedup();
    for dir in &dirs {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    // Creating a file costs a round of file-system metadata work that is mostly waiting;
    // a few writers at once overlap it, within the thread budget of the caller (see
    // [`write`]).
    let files: Vec<(&&str, &&[u8])> = files.iter().collect();
    ThreadBudget::current()
        .map_chunks_with(
            &files,
            Split::new(MIN_FILES_PER_WRITER).max_workers(WRITERS),
            || (),
            |(), part| {
                for (path, bytes) in part {
                    let target = staging.join(path);
                    fs::write(&target, bytes).map_err(io_err("write", &target))?;
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
/// (`renameat2(RENAME_EXCHANGE)`); elsewhere, or where the file system refuses, the old
/// folder is moved aside first.
fn swap_in(staging: &Path, out: &Path) -> Result<(), OutputError> {
    if !out.exists() {
        return fs::rename(staging, out).map_err(io_err("move into place", out));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        if renameat_with(CWD, staging, CWD, out, RenameFlags::EXCHANGE).is_ok() {
            // `staging` now holds the previous output.
            return fs::remove_dir_all(staging).map_err(io_err("remove", staging));
        }
    }
    let aside = staging.with_extension("old");
    fs::rename(out, &aside).map_err(io_err("move aside", out))?;
    fs::rename(staging, out).map_err(io_err("move into place", out))?;
    fs::remove_dir_all(&aside).map_err(io_err("remove", &aside))
}

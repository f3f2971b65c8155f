//! Read-only questions to the `git` program that the git layer has no call for yet
//! (listing branches under a prefix, a commit's parent and tree, ancestry), run on
//! ladder's own repository with the user's and the system's configuration ignored.

use std::path::Path;
use std::process::{Command, Stdio};

use ladder_git::ObjectId;

/// `git --git-dir <dir> <args>`, hermetic; `None` when git ran and exited non-zero.
pub(crate) fn run(git_dir: &Path, args: &[&str]) -> std::io::Result<Option<String>> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The branches under `prefix` and their tips.
pub(crate) fn branches_under(
    git_dir: &Path,
    prefix: &str,
) -> std::io::Result<Vec<(String, ObjectId)>> {
    let text = run(
        git_dir,
        &[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            &format!("refs/heads/{prefix}"),
        ],
    )?
    .unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|line| {
            let (id, name) = line.split_once(' ')?;
            let id = ObjectId::from_hex(id.as_bytes()).ok()?;
            let name = name.strip_prefix("refs/heads/")?;
            name.starts_with(prefix).then(|| (name.to_string(), id))
        })
        .collect())
}

/// A commit as git stores it: its tree, its parents and its message.
pub(crate) struct RawCommit {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub message: String,
}

/// The commit `commit`; `None` when it is not in the repository.
pub(crate) fn read_commit(git_dir: &Path, commit: ObjectId) -> std::io::Result<Option<RawCommit>> {
    let Some(text) = run(git_dir, &["cat-file", "commit", &commit.to_string()])? else {
        return Ok(None);
    };
    Ok(parse_commit(&text))
}

/// A commit object's text.
fn parse_commit(text: &str) -> Option<RawCommit> {
    let (header, message) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut tree = None;
    let mut parents = Vec::new();
    for line in header.lines() {
        if let Some(id) = line.strip_prefix("tree ") {
            tree = ObjectId::from_hex(id.as_bytes()).ok();
        } else if let Some(id) = line.strip_prefix("parent ") {
            parents.extend(ObjectId::from_hex(id.as_bytes()).ok());
        }
    }
    tree.map(|tree| RawCommit {
        tree,
        parents,
        message: message.to_string(),
    })
}

/// The commits `ids` that are in the repository, read with ONE `git cat-file --batch`
/// (a promoter with 500 proposals must not start 500 processes).
pub(crate) fn read_commits(
    git_dir: &Path,
    ids: &[ObjectId],
) -> std::io::Result<std::collections::HashMap<ObjectId, RawCommit>> {
    use std::io::{Read, Write};
    let mut found = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["cat-file", "--batch"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut input = String::new();
    for id in ids {
        input.push_str(&id.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut out = Vec::new();
    child.stdout.take().expect("piped").read_to_end(&mut out)?;
    writer
        .join()
        .map_err(|_| std::io::Error::other("writing to git cat-file failed"))??;
    child.wait()?;
    let mut rest = out.as_slice();
    for id in ids {
        let Some(eol) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&rest[..eol]).into_owned();
        rest = &rest[eol + 1..];
        let mut parts = header.split(' ');
        let (_, kind, size) = (parts.next(), parts.next(), parts.next());
        let Some(size) = size.and_then(|s| s.parse::<usize>().ok()) else {
            continue; // `<id> missing`
        };
        if rest.len() < size {
            break;
        }
        let body = String::from_utf8_lossy(&rest[..size]).into_owned();
        rest = rest.get(size + 1..).unwrap_or_default();
        if kind == Some("commit")
            && let Some(commit) = parse_commit(&body)
        {
            found.insert(*id, commit);
        }
    }
    Ok(found)
}

/// Whether `ancestor` is an ancestor of (or equal to) `commit`; `None` when git cannot
/// tell (an object is missing).
pub(crate) fn is_ancestor(
    git_dir: &Path,
    ancestor: ObjectId,
    commit: ObjectId,
) -> std::io::Result<Option<bool>> {
    let status = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["merge-base", "--is-ancestor"])
        .arg(ancestor.to_string())
        .arg(commit.to_string())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    Ok(match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    })
}

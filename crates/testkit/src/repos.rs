//! Building origin repositories fast: `git fast-import` writes thousands of commits per
//! second, where one `git commit` per commit would dominate the tests' time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::git::{git, git_cmd};

/// One commit for [`fast_import`]: files to write (`Some`) or delete (`None`).
pub struct FiCommit {
    pub message: String,
    pub time: i64,
    pub files: Vec<(String, Option<Vec<u8>>)>,
}

/// Appends `commits` to `branch` of the repository at `repo` (created bare if missing)
/// with `git fast-import`.
pub fn fast_import(repo: &Path, branch: &str, commits: impl IntoIterator<Item = FiCommit>) {
    if !repo.join("HEAD").exists() {
        std::fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q", "--bare", "-b", "main"]);
    }
    let parent = git_cmd(repo)
        .args([
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .unwrap();
    let parent = String::from_utf8(parent.stdout).unwrap().trim().to_string();
    let mut stream = Vec::new();
    for (i, c) in commits.into_iter().enumerate() {
        writeln!(stream, "commit refs/heads/{branch}").unwrap();
        writeln!(stream, "mark :{}", i + 1).unwrap();
        writeln!(stream, "author Dev <dev@example.com> {} +0000", c.time).unwrap();
        writeln!(stream, "committer Dev <dev@example.com> {} +0000", c.time).unwrap();
        writeln!(stream, "data {}\n{}", c.message.len(), c.message).unwrap();
        if i == 0 && !parent.is_empty() {
            writeln!(stream, "from {parent}").unwrap();
        } else if i > 0 {
            writeln!(stream, "from :{i}").unwrap();
        }
        for (path, content) in &c.files {
            match content {
                Some(bytes) => {
                    writeln!(stream, "M 100644 inline {path}\ndata {}", bytes.len()).unwrap();
                    stream.extend_from_slice(bytes);
                    stream.push(b'\n');
                }
                None => writeln!(stream, "D {path}").unwrap(),
            }
        }
        stream.push(b'\n');
    }
    let mut child = git_cmd(repo)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    stream.extend_from_slice(b"done\n");
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success(), "fast-import failed");
}

/// The YAML of one app environment file, as generated repositories contain it.
pub fn env_yaml(app: usize, tag: usize) -> Vec<u8> {
    format!("name: app{app}\nreplicas: 2\nimage:\n  repository: registry.example.com/app{app}\n  tag: v{tag}\n").into_bytes()
}

/// A bare "origin" repository under `base/<name>` plus a path for scratch clones.
pub struct Origin {
    pub base: PathBuf,
    pub name: String,
}

impl Origin {
    pub fn path(&self) -> PathBuf {
        self.base.join(&self.name)
    }

    /// Commits `files` on top of `branch` in the origin (like a developer pushing);
    /// returns the new commit's id.
    pub fn commit(&self, branch: &str, message: &str, files: &[(&str, Option<&[u8]>)]) -> String {
        if !self.path().join("HEAD").exists() {
            std::fs::create_dir_all(self.path()).unwrap();
            git(&self.path(), &["init", "-q", "--bare", "-b", "main"]);
        }
        // One minute per existing commit: distinct, increasing, reproducible times.
        let time = 1_700_000_000
            + git(&self.path(), &["rev-list", "--all", "--count"])
                .trim()
                .parse::<i64>()
                .unwrap_or(0)
                * 60;
        fast_import(
            &self.path(),
            branch,
            [FiCommit {
                message: message.to_string(),
                time,
                files: files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.map(<[u8]>::to_vec)))
                    .collect(),
            }],
        );
        git(
            &self.path(),
            &["rev-parse", &format!("refs/heads/{branch}")],
        )
        .trim()
        .to_string()
    }

    /// Commits the text files `files` (`(path, content)`, written or replaced) on top of
    /// `main`, like [`commit`](Self::commit); returns the new commit's id. What generated
    /// tenants ([`SyntheticTenant::files`](crate::SyntheticTenant::files)) are committed
    /// with.
    pub fn commit_text(&self, message: &str, files: &[(String, String)]) -> String {
        let files: Vec<(&str, Option<&[u8]>)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_bytes())))
            .collect();
        self.commit("main", message, &files)
    }
}

/// Copies a folder tree (files and folders; what a test fixture holds).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The URL the bundled example names as its config repo (`configRepo.url`).
pub const EXAMPLE_CONFIG_REPO: &str = "https://github.com/acme/platform-config.git";

/// A platform repo for tests of monorepos: a Git checkout at `work` holding the tenant
/// folder `example` (the bundled example) at `subfolder` (`None`: the root), committed
/// on `branch`, whose `origin` is the example's config repo, and a bare clone of it at
/// `bare`, for serving.
pub fn example_platform(
    example: &Path,
    work: &Path,
    subfolder: Option<&str>,
    branch: &str,
    bare: &Path,
) {
    let target = match subfolder {
        Some(sub) => work.join(sub),
        None => work.to_path_buf(),
    };
    copy_tree(example, &target);
    std::fs::write(work.join("README.md"), "platform repo\n").unwrap();
    git(work, &["init", "-q", "-b", branch]);
    git(work, &["add", "."]);
    git(work, &["commit", "-q", "-m", "tenants"]);
    git(work, &["remote", "add", "origin", EXAMPLE_CONFIG_REPO]);
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(
        work,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
}

//! Shared helpers of the end-to-end tests: they drive the real `ladder` binary on repos in
//! temp folders.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `../shared` beside the checkout: reference data, never copied into the repo.
pub fn shared_dir() -> PathBuf {
    workspace_root().join("../shared")
}

pub fn example_repo() -> PathBuf {
    workspace_root().join("examples/acme")
}

/// Runs `ladder` with the given arguments.
pub fn ladder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .env_remove("LADDER_DENY_NAMESPACES")
        .env_remove("LADDER_DENY_KINDS")
        .output()
        .expect("ladder runs")
}

/// Runs `ladder render --repo REPO --out OUT` with more arguments.
pub fn render(repo: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "render",
        "--repo",
        repo.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ladder(&args)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub use ladder_testkit::copy_tree;

/// A copy of the example tenant in a temp folder, to break on purpose.
pub struct TempRepo {
    pub dir: tempfile::TempDir,
}

impl TempRepo {
    pub fn example() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&example_repo(), &dir.path().join("repo"));
        TempRepo { dir }
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn write(&self, path: &str, text: &str) {
        let target = self.repo().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.repo().join(path)).unwrap()
    }

    /// Replaces text in a repo file; the text must be there.
    pub fn edit(&self, path: &str, from: &str, to: &str) {
        let text = self.read(path);
        assert!(text.contains(from), "{path} does not contain {from:?}");
        self.write(path, &text.replacen(from, to, 1));
    }

    pub fn render(&self) -> Output {
        self.render_with(&[])
    }

    pub fn render_with(&self, extra: &[&str]) -> Output {
        render(&self.repo(), &self.out(), extra)
    }
}

/// Every file under a folder, relative path to bytes.
pub fn read_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

/// The rendered documents under `out`: every file but ladder's record of what it wrote
/// (`.ladder-render.json`, hashes of the documents), which the out-folder tests check
/// on their own.
pub fn read_documents(out: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = read_tree(out);
    files.retain(|name, _| name != ".ladder-render.json");
    files
}

// The daemon tests: an HTTP client, polling with a bound, GitHub webhook signatures.

#[allow(unused_imports)] // not every test binary talks to a daemon
pub use ladder_testkit::http_request as http;

/// Waits until `ok` holds, polling; panics with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GitHub's `X-Hub-Signature-256` of `body` under `secret`, computed independently of
/// ladder's own verifier (Python's hmac module; CI installs python3).
pub fn sign_github(secret: &str, body: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print('sha256='+hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            secret,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

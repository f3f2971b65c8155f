//! The bare repository behind a fake repo, through the `git` program: reading refs,
//! computing merges, writing objects and moving refs with compare-and-swap, so what the
//! API reports is what a clone sees.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Who a commit is by; `date` is anything `git` reads (ISO 8601, `@epoch +0000`).
#[derive(Clone, Debug)]
pub(crate) struct Ident {
    pub name: String,
    pub email: String,
    pub date: Option<String>,
}

impl Ident {
    pub fn new(name: &str, email: &str) -> Ident {
        Ident {
            name: name.into(),
            email: email.into(),
            date: None,
        }
    }

    /// GitHub commits merges and API-made commits as itself.
    pub fn github() -> Ident {
        Ident::new("GitHub", "noreply@github.com")
    }
}

/// A commit as `git cat-file` shows it.
pub(crate) struct CommitInfo {
    pub tree: String,
    pub parents: Vec<String>,
    pub author: (String, String, u64),
    pub committer: (String, String, u64),
    pub message: String,
}

/// One bare repository.
#[derive(Clone, Debug)]
pub(crate) struct Bare {
    pub dir: PathBuf,
}

impl Bare {
    pub fn new(dir: &Path) -> Bare {
        Bare {
            dir: dir.to_path_buf(),
        }
    }

    /// `git` in the repository with no configuration but its own and no inherited
    /// environment: the fake reads none of the process's variables, and commits made
    /// without an explicit identity get a fixed one.
    fn command(&self) -> Command {
        let mut c = Command::new("git");
        c.current_dir(&self.dir)
            .env_clear()
            .env("GIT_DIR", &self.dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "GitHub")
            .env("GIT_AUTHOR_EMAIL", "noreply@github.com")
            .env("GIT_COMMITTER_NAME", "GitHub")
            .env("GIT_COMMITTER_EMAIL", "noreply@github.com")
            .stdin(Stdio::null());
        c
    }

    /// Runs `git args` (with `stdin` and extra variables), its exit code and stdout, or
    /// its stderr when it could not run or exited with more than 1.
    fn run_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        envs: &[(&str, &str)],
    ) -> Result<(i32, String), String> {
        let mut c = self.command();
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in envs {
            c.env(k, v);
        }
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().map_err(|e| format!("git {args:?}: {e}"))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            let input = input.to_vec();
            // Small inputs; a thread keeps a full pipe from ever blocking both sides.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("git {args:?}: {e}"))?;
        let code = out.status.code().unwrap_or(-1);
        if !(0..=1).contains(&code) {
            return Err(format!(
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok((code, String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> Result<String, String> {
        match self.run_with(args, None, &[])? {
            (0, out) => Ok(out.trim_end().to_string()),
            _ => Err(format!("git {args:?} failed")),
        }
    }

    /// The object a full ref name points at, if the ref exists.
    pub fn ref_target(&self, full_ref: &str) -> Option<String> {
        // `show-ref --verify` wants the exact name: no `heads/x` matching `refs/heads/x`.
        let out = self
            .ok(&["show-ref", "--verify", "--hash", full_ref])
            .ok()?;
        Some(out.trim().to_string())
    }

    /// The commit a branch name points at.
    pub fn branch(&self, name: &str) -> Option<String> {
        self.ref_target(&format!("refs/heads/{name}"))
    }

    /// Every branch (its name without `refs/heads/`) and the commit it points at, read
    /// with one `git` process.
    pub fn branches(&self) -> std::collections::HashMap<String, String> {
        self.ok(&[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads/",
        ])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (sha, name) = l.split_once(' ')?;
            Some((
                name.strip_prefix("refs/heads/")?.to_string(),
                sha.to_string(),
            ))
        })
        .collect()
    }

    /// (ref name, object id, object type) for every ref, sorted by name.
    pub fn refs(&self) -> Vec<(String, String, String)> {
        let out = self
            .ok(&[
                "for-each-ref",
                "--format=%(refname) %(objectname) %(objecttype)",
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| {
                let mut p = l.split(' ');
                Some((
                    p.next()?.to_string(),
                    p.next()?.to_string(),
                    p.next()?.to_string(),
                ))
            })
            .collect()
    }

    /// The commit `rev` names (a sha, a branch, a tag), if any.
    pub fn resolve_commit(&self, rev: &str) -> Option<String> {
        if rev.starts_with('-') {
            return None;
        }
        self.ok(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .ok()
    }

    /// The type of object `sha` (`blob`, `tree`, `commit`, `tag`), if it exists.
    pub fn object_type(&self, sha: &str) -> Option<String> {
        if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.ok(&["cat-file", "-t", sha]).ok()
    }

    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        matches!(
            self.run_with(
                &["merge-base", "--is-ancestor", ancestor, descendant],
                None,
                &[]
            ),
            Ok((0, _))
        )
    }

    /// Commits on `head` that `base` lacks, oldest first, merges left out.
    pub fn commits_between(&self, base: &str, head: &str) -> Vec<String> {
        self.ok(&[
            "rev-list",
            "--reverse",
            "--no-merges",
            &format!("{base}..{head}"),
        ])
        .map(|o| o.lines().map(str::to_string).collect())
        .unwrap_or_default()
    }

    /// The tree of merging `theirs` into `ours`, or `None` on a conflict.
    pub fn merge_tree(
        &self,
        ours: &str,
        theirs: &str,
        merge_base: Option<&str>,
    ) -> Result<Option<String>, String> {
        let base_arg = merge_base.map(|b| format!("--merge-base={b}"));
        let mut args = vec!["merge-tree", "--write-tree"];
        if let Some(b) = &base_arg {
            args.push(b);
        }
        args.extend([ours, theirs]);
        match self.run_with(&args, None, &[])? {
            (0, out) => Ok(out.lines().next().map(str::to_string)),
            _ => Ok(None),
        }
    }

    pub fn commit_tree(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
        author: &Ident,
        committer: &Ident,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree".to_string(), tree.to_string()];
        for p in parents {
            args.extend(["-p".to_string(), p.clone()]);
        }
        args.extend(["-F".to_string(), "-".to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut envs = vec![
            ("GIT_AUTHOR_NAME", author.name.as_str()),
            ("GIT_AUTHOR_EMAIL", author.email.as_str()),
            ("GIT_COMMITTER_NAME", committer.name.as_str()),
            ("GIT_COMMITTER_EMAIL", committer.email.as_str()),
        ];
        if let Some(d) = &author.date {
            envs.push(("GIT_AUTHOR_DATE", d));
        }
        if let Some(d) = &committer.date {
            envs.push(("GIT_COMMITTER_DATE", d));
        }
        match self.run_with(&args, Some(message.as_bytes()), &envs)? {
            (0, out) => Ok(out.trim().to_string()),
            _ => Err("git commit-tree failed".into()),
        }
    }

    /// Moves `full_ref` from `old` (`None`: it must not exist) to `new`, atomically: a
    /// concurrent push makes this fail rather than be lost.
    pub fn update_ref(&self, full_ref: &str, new: &str, old: Option<&str>) -> Result<(), String> {
        let zero = "0000000000000000000000000000000000000000";
        self.ok(&["update-ref", full_ref, new, old.unwrap_or(zero)])
            .map(drop)
    }

    pub fn delete_ref(&self, full_ref: &str, old: &str) -> Result<(), String> {
        self.ok(&["update-ref", "-d", full_ref, old]).map(drop)
    }

    pub fn write_blob(&self, content: &[u8]) -> Result<String, String> {
        match self.run_with(&["hash-object", "-w", "--stdin"], Some(content), &[])? {
            (0, out) => Ok(out.trim().to_string()),
            _ => Err("git hash-object failed".into()),
        }
    }

    pub fn commit(&self, sha: &str) -> Option<CommitInfo> {
        if self.object_type(sha)? != "commit" {
            return None;
        }
        let raw = self.ok(&["cat-file", "commit", sha]).ok()?;
        let (head, message) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut info = CommitInfo {
            tree: String::new(),
            parents: Vec::new(),
            author: Default::default(),
            committer: Default::default(),
            message: message.to_string(),
        };
        for line in head.lines() {
            match line.split_once(' ') {
                Some(("tree", t)) => info.tree = t.to_string(),
                Some(("parent", p)) => info.parents.push(p.to_string()),
                Some(("author", a)) => info.author = signature(a),
                Some(("committer", c)) => info.committer = signature(c),
                _ => {}
            }
        }
        Some(info)
    }

    /// (mode, type, sha, path) of the entries directly in `tree`.
    pub fn ls_tree(&self, tree: &str) -> Vec<(String, String, String, String)> {
        self.ok(&["ls-tree", tree])
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (meta, path) = l.split_once('\t')?;
                let mut m = meta.split(' ');
                Some((
                    m.next()?.to_string(),
                    m.next()?.to_string(),
                    m.next()?.to_string(),
                    path.to_string(),
                ))
            })
            .collect()
    }

    /// Builds a tree as `POST /git/trees` does: `base` (if any) with `entries` applied, in
    /// a throwaway index.
    pub fn build_tree(&self, base: Option<&str>, entries: &[TreeEdit]) -> Result<String, String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let index = scratch.path().join("index");
        let index = index.to_str().ok_or("temp path is not UTF-8")?;
        let env = [("GIT_INDEX_FILE", index)];
        let run = |args: &[&str]| -> Result<String, String> {
            match self.run_with(args, None, &env)? {
                (0, out) => Ok(out),
                _ => Err(format!("git {args:?} failed")),
            }
        };
        match base {
            Some(b) => run(&["read-tree", b])?,
            None => run(&["read-tree", "--empty"])?,
        };
        // `--index-info` edits the index without a work tree (the repo is bare): mode 0
        // removes a path.
        let zero = "0000000000000000000000000000000000000000";
        let index_info = |lines: &str| -> Result<(), String> {
            match self.run_with(
                &["update-index", "--index-info"],
                Some(lines.as_bytes()),
                &env,
            )? {
                (0, _) => Ok(()),
                _ => Err("git update-index --index-info failed".into()),
            }
        };
        for edit in entries {
            let path = edit.path.trim_matches('/');
            // Whatever was at the path (a file, or a folder's files) is replaced.
            let existing = run(&["ls-files", "-z", "--", path])?;
            let prefix = format!("{path}/");
            let removals: String = existing
                .split('\0')
                .filter(|p| *p == path || p.starts_with(&prefix))
                .map(|p| format!("0 {zero}\t{p}\n"))
                .collect();
            index_info(&removals)?;
            match &edit.sha {
                None => {}
                Some(sha) if edit.mode == "040000" => {
                    run(&["read-tree", &format!("--prefix={prefix}"), sha])?;
                }
                Some(sha) => index_info(&format!("{} {sha}\t{path}\n", edit.mode))?,
            }
        }
        Ok(run(&["write-tree"])?.trim().to_string())
    }

    /// The repository's folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// One entry of `POST /git/trees`, with content already written as a blob; `sha: None`
/// deletes the path.
pub(crate) struct TreeEdit {
    pub path: String,
    pub mode: String,
    pub sha: Option<String>,
}

/// `Name <email> 1700000000 +0000` as (name, email, epoch seconds).
fn signature(s: &str) -> (String, String, u64) {
    let (name, rest) = s.split_once(" <").unwrap_or((s, ""));
    let (email, rest) = rest.split_once("> ").unwrap_or((rest, ""));
    let secs = rest
        .split(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    (name.to_string(), email.to_string(), secs)
}

//! `render` keeps its promise: a render that fails leaves `--out` exactly as it was
//! (contents, owner, mode) with no temp folder beside it; a render that replaced it exits
//! 0. Root ignores modes, so the non-writable cases run the binary as `nobody` (setpriv
//! from util-linux), and a read-only bind mount runs in a mount namespace of its own.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const NOBODY: u32 = 65534;

/// An entry's kind, mode, owner, group, and bytes or link target.
type Entry = (String, u32, u32, u32, Vec<u8>);

/// Every entry under (and including) a folder.
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, path: &Path, out: &mut BTreeMap<String, Entry>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (kind, content) = if meta.is_dir() {
            ("dir", Vec::new())
        } else if meta.file_type().is_symlink() {
            (
                "link",
                std::fs::read_link(path)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
                    .into_bytes(),
            )
        } else {
            ("file", std::fs::read(path).unwrap())
        };
        out.insert(
            rel,
            (
                kind.to_string(),
                meta.mode(),
                meta.uid(),
                meta.gid(),
                content,
            ),
        );
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                walk(root, &entry.unwrap().path(), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A copy of the example and an out folder that `nobody` may write, in a temp folder.
struct Setup {
    repo: TempRepo,
}

impl Setup {
    fn new() -> Setup {
        let repo = TempRepo::example();
        // The temp folder (parent of --out, where staging goes) belongs to nobody; the
        // repo copy is readable by all.
        std::os::unix::fs::chown(repo.dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(repo.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let setup = Setup { repo };
        let first = setup.render_as_nobody(&[]);
        assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
        setup
    }

    fn out(&self) -> PathBuf {
        self.repo.out()
    }

    fn render_as_nobody(&self, extra: &[&str]) -> Output {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_ladder"),
                "render",
                "--repo",
                self.repo.repo().to_str().unwrap(),
                "--out",
                self.out().to_str().unwrap(),
            ])
            .args(extra)
            .env_remove("LADDER_DENY_NAMESPACES")
            .output()
            .expect("setpriv (util-linux) runs")
    }

    /// The entries beside --out: only the repo copy and the out folder.
    fn assert_no_leftovers(&self) {
        let mut siblings: Vec<_> = std::fs::read_dir(self.repo.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        siblings.sort();
        assert_eq!(siblings, ["out", "repo"], "temp folders left behind");
    }
}

#[test]
fn a_render_that_cannot_change_a_read_only_folder_changes_nothing() {
    let setup = Setup::new();
    let apps = setup.out().join("dev/applications");
    std::fs::set_permissions(&apps, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Changes every environment's web Application, dev's among them.
    setup.repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let before = snapshot(&setup.out());

    let run = setup.render_as_nobody(&[]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "cannot change the files of `{}`: Permission denied",
            apps.display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(&setup.out()), before, "the out folder changed");
    setup.assert_no_leftovers();
}

#[test]
fn a_read_only_folder_the_render_leaves_alone_does_not_fail_it() {
    // The case: the render swapped, then could not remove the old tree, exited 1
    // and left `.out.tmp-*` behind. Now it exits 0, and owners and modes are kept.
    let setup = Setup::new();
    let out = setup.out();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o750)).unwrap();
    let apps = out.join("dev/applications");
    std::fs::set_permissions(&apps, std::fs::Permissions::from_mode(0o555)).unwrap();
    setup.repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let before = snapshot(&out);

    let run = setup.render_as_nobody(&["--env", "staging"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("(0 added, 1 changed, 0 removed)"), "{err}");
    let after = snapshot(&out);
    for (path, entry) in &before {
        let now = &after[path];
        if path == "staging/applications/web.yaml" || path == ".ladder-render.json" {
            assert_ne!(now.4, entry.4, "{path}");
        } else {
            assert_eq!(now, entry, "{path} changed");
        }
    }
    assert_eq!(after[""].1 & 0o7777, 0o750);
    assert_eq!(after["dev/applications"].1 & 0o7777, 0o555);
    setup.assert_no_leftovers();
}

#[test]
fn a_folder_this_user_cannot_empty_makes_the_render_refuse_before_anything() {
    let setup = Setup::new();
    let out = setup.out();
    // Root's folder, not writable by nobody: the old tree could not be removed.
    let vendor = out.join("vendor");
    std::fs::create_dir(&vendor).unwrap();
    std::fs::write(vendor.join("file.txt"), "root's").unwrap();
    setup.repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let before = snapshot(&out);
    let run = setup.render_as_nobody(&[]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("cannot replace `{}`", vendor.display())),
        "{err}"
    );
    assert_eq!(snapshot(&out), before, "the out folder changed");
    setup.assert_no_leftovers();

    // Writable by nobody, but nobody cannot give a new folder back to root: refused.
    std::fs::set_permissions(&vendor, std::fs::Permissions::from_mode(0o777)).unwrap();
    // (A file of someone else's is kept as a hard link, which the kernel's
    // protected_hardlinks allows only to its owner or a user who may write it.)
    std::os::unix::fs::chown(vendor.join("file.txt"), Some(NOBODY), Some(NOBODY)).unwrap();
    let before = snapshot(&out);
    let run = setup.render_as_nobody(&[]);
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    assert!(
        stderr(&run).contains(&format!("cannot keep the owner of `{}`", vendor.display())),
        "{}",
        stderr(&run)
    );
    assert_eq!(snapshot(&out), before, "the out folder changed");
    setup.assert_no_leftovers();

    // nobody's folder: the render goes through and keeps it.
    std::os::unix::fs::chown(&vendor, Some(NOBODY), Some(NOBODY)).unwrap();
    let run = setup.render_as_nobody(&[]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        std::fs::read_to_string(vendor.join("file.txt")).unwrap(),
        "root's"
    );
    setup.assert_no_leftovers();
}

/// Whether this process may make mount namespaces (root in CI; not in every sandbox).
fn can_unshare_mounts() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_read_only_bind_mount_inside_out_is_refused_and_nothing_changes() {
    if !can_unshare_mounts() {
        eprintln!("skipped: cannot create a mount namespace here");
        return;
    }
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let apps = repo.out().join("dev/applications");
    let before = snapshot(&repo.out());
    let script = format!(
        "mount --bind {apps} {apps} && mount -o remount,bind,ro {apps} && exec {bin} render --repo {repo} --out {out}",
        apps = apps.display(),
        bin = env!("CARGO_BIN_EXE_ladder"),
        repo = repo.repo().display(),
        out = repo.out().display(),
    );
    let run = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("`{}` is a mount point inside", apps.display())),
        "{err}"
    );
    assert_eq!(snapshot(&repo.out()), before, "the out folder changed");
    let siblings = std::fs::read_dir(repo.dir.path()).unwrap().count();
    assert_eq!(siblings, 2, "temp folders left behind");
}

//! `Repo::build_snapshot`: a commit holding exactly the given files, the first one of a
//! branch without a parent, and none at all when nothing changed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ladder_git::{CommitOutcome, Identity, Repo, SnapshotRequest};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn snapshot<'a>(
    parent: Option<ladder_git::ObjectId>,
    files: &'a BTreeMap<String, Vec<u8>>,
) -> SnapshotRequest<'a> {
    SnapshotRequest {
        parent,
        files,
        author: Identity::new("ladder", "ladder@localhost"),
        committer: Identity::new("ladder", "ladder@localhost"),
        message: "Render abc".into(),
        trailers: vec![("Ladder-Rendered-From".into(), "abc".into())],
        time: Some((1_700_000_000, 0)),
    }
}

#[test]
fn a_snapshot_holds_exactly_its_files_and_repeats_make_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "--bare", "-b", "main"]);
    let repo = Repo::open_local(dir.path()).unwrap();
    let mut files = BTreeMap::new();
    files.insert("dev/web.yaml".to_string(), b"kind: Application\n".to_vec());
    files.insert("prod/web.yaml".to_string(), b"kind: Application\n".to_vec());
    let CommitOutcome::Created { commit: first, .. } =
        repo.build_snapshot(&snapshot(None, &files)).unwrap()
    else {
        panic!("a first snapshot is a commit");
    };
    let first_hex = first.to_string();
    assert_eq!(
        git(dir.path(), &["rev-list", "--parents", "-n1", &first_hex]).trim(),
        first_hex
    );
    assert_eq!(
        git(dir.path(), &["ls-tree", "-r", "--name-only", &first_hex]),
        "dev/web.yaml\nprod/web.yaml\n"
    );
    assert!(
        git(dir.path(), &["log", "-1", "--format=%B", &first_hex])
            .contains("Ladder-Rendered-From: abc")
    );

    assert_eq!(
        repo.build_snapshot(&snapshot(Some(first), &files)).unwrap(),
        CommitOutcome::Unchanged
    );

    files.remove("prod/web.yaml");
    let CommitOutcome::Created { commit: second, .. } =
        repo.build_snapshot(&snapshot(Some(first), &files)).unwrap()
    else {
        panic!("a removed file is a change");
    };
    let second_hex = second.to_string();
    assert_eq!(
        git(dir.path(), &["ls-tree", "-r", "--name-only", &second_hex]),
        "dev/web.yaml\n"
    );
    assert_eq!(
        git(dir.path(), &["rev-parse", &format!("{second_hex}^")]).trim(),
        first_hex
    );
}

//! The `git` forge: batched writes with a lease per branch to a remote, compare-and-swap
//! in a folder's own repository, and branches checked out there left alone.

use std::path::Path;

use ladder_git::{
    CommitOutcome, CommitRequest, Edits, Identity, Lease, ObjectId, RemoteOptions, Repo,
};
use ladder_promote::GitForge;
use ladder_promote::forge::{BranchWrite, Checks, Forge, ForgeError, MergeState};
use ladder_testkit::{Origin, git};

fn commit_on(repo: &Repo, parent: ObjectId, text: &str) -> ObjectId {
    let mut edits = Edits::new();
    edits.write("file.yaml", text);
    let outcome = repo
        .build_commit(&CommitRequest {
            parent,
            edits,
            author: Identity::new("ladder", "ladder@localhost"),
            committer: Identity::new("ladder", "ladder@localhost"),
            message: format!("set {text}"),
            trailers: Vec::new(),
            time: Some((1_700_000_000, 0)),
        })
        .unwrap();
    match outcome {
        CommitOutcome::Created { commit, .. } => commit,
        CommitOutcome::Unchanged => panic!("unchanged"),
    }
}

fn tip(repo: &Path, branch: &str) -> Option<String> {
    let out = ladder_testkit::git_cmd(repo)
        .args([
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
}

#[test]
fn writes_to_a_remote_go_in_one_batch_each_under_its_own_lease() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin {
        base: dir.path().join("served"),
        name: "acme.git".into(),
    };
    origin.commit(
        "main",
        "first",
        &[("file.yaml", Some(b"a: 1\n".as_slice()))],
    );
    let url = format!("file://{}", origin.path().display());
    let mirror = Repo::mirror(&url, &dir.path().join("cache"), RemoteOptions::default()).unwrap();
    let main = mirror.resolve("main").unwrap();
    let forge = GitForge::new(&mirror);
    let a = commit_on(&mirror, main, "a: 2\n");
    let b = commit_on(&mirror, main, "a: 3\n");

    let results = forge
        .write_branches(&[
            BranchWrite {
                branch: "ladder/staging/a".into(),
                new: Some(a),
                lease: Lease::Absent,
                content: None,
            },
            BranchWrite {
                branch: "ladder/staging/b".into(),
                new: Some(b),
                lease: Lease::Absent,
                content: None,
            },
        ])
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(tip(&origin.path(), "ladder/staging/a"), Some(a.to_string()));
    assert_eq!(tip(&origin.path(), "ladder/staging/b"), Some(b.to_string()));
    let mut listed: Vec<_> = forge
        .proposals("ladder/")
        .unwrap()
        .into_iter()
        .map(|p| (p.branch, p.head))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("ladder/staging/a".to_string(), a),
            ("ladder/staging/b".to_string(), b)
        ]
    );
    assert!(forge.proposals("ladder/prod/").unwrap().is_empty());

    // A stale lease fails that branch alone; the deletion beside it lands.
    let results = forge
        .write_branches(&[
            BranchWrite {
                branch: "ladder/staging/a".into(),
                new: Some(b),
                lease: Lease::At(main),
                content: None,
            },
            BranchWrite {
                branch: "ladder/staging/b".into(),
                new: None,
                lease: Lease::At(b),
                content: None,
            },
        ])
        .unwrap();
    assert!(
        matches!(results[0], Err(ForgeError::Moved { .. })),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(tip(&origin.path(), "ladder/staging/a"), Some(a.to_string()));
    assert_eq!(tip(&origin.path(), "ladder/staging/b"), None);

    // What a branch has no place for is Unsupported, not silently dropped.
    let p = &forge.proposals("ladder/").unwrap()[0];
    assert!(matches!(
        forge.comment(p, "hi"),
        Err(ForgeError::Unsupported { .. })
    ));
    assert!(matches!(
        forge.label(p, &["x".into()]),
        Err(ForgeError::Unsupported { .. })
    ));
    assert!(matches!(
        forge.closed_proposal("ladder/staging/a"),
        Err(ForgeError::Unsupported { .. })
    ));
    // One commit on main: a fast-forward.
    assert_eq!(
        forge.merge_state(p, "main").unwrap(),
        MergeState::Mergeable {
            checks: Checks::None
        }
    );
}

#[test]
fn a_folder_is_updated_in_place_and_its_checked_out_branch_never_moves() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(work.join("file.yaml"), "a: 1\n").unwrap();
    git(work, &["init", "-q", "-b", "main"]);
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "first"]);
    let repo = Repo::open_local(work).unwrap();
    let main = repo.resolve("main").unwrap();
    let forge = GitForge::new(&repo);
    let next = commit_on(&repo, main, "a: 2\n");

    let results = forge
        .write_branches(&[
            BranchWrite {
                branch: "main".into(),
                new: Some(next),
                lease: Lease::At(main),
                content: None,
            },
            BranchWrite {
                branch: "ladder/staging/a".into(),
                new: Some(next),
                lease: Lease::Absent,
                content: None,
            },
        ])
        .unwrap();
    assert!(
        matches!(results[0], Err(ForgeError::CheckedOut { .. })),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(tip(work, "main"), Some(main.to_string()));
    assert_eq!(tip(work, "ladder/staging/a"), Some(next.to_string()));
    // Compare-and-swap: a stale lease is refused.
    let results = forge
        .write_branches(&[BranchWrite {
            branch: "ladder/staging/a".into(),
            new: None,
            lease: Lease::At(main),
            content: None,
        }])
        .unwrap();
    assert!(
        matches!(results[0], Err(ForgeError::Moved { .. })),
        "{results:?}"
    );
    // Auto-merge would move main, which is checked out here: refused.
    let p = &forge.proposals("ladder/").unwrap()[0];
    assert!(matches!(
        forge.merge(p, "main", main),
        Err(ForgeError::CheckedOut { .. })
    ));
}

//! End-to-end tests against real git servers on loopback: `git daemon` (git://) and
//! `git http-backend` behind a basic-auth HTTP server (http://).

mod support;

use std::path::{Path, PathBuf};

use ladder_git::{
    CommitOutcome, CommitRequest, Credentials, DirEntry, Edits, EntryKind, Error, Identity, Lease,
    ObjectId, RefUpdate, RemoteOptions, Repo,
};
use support::{FiCommit, GitDaemon, HttpServer, Origin, env_yaml, fast_import, git};

fn oid(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.trim().as_bytes()).unwrap()
}

/// An origin with two commits on `main` and a tag.
fn origin(base: &Path) -> Origin {
    let o = Origin {
        base: base.to_path_buf(),
        name: "tenant.git".into(),
    };
    o.commit(
        "main",
        "initial",
        &[
            ("apps/api/env/staging.yaml", Some(&env_yaml(1, 1))),
            ("apps/api/env/prod.yaml", Some(&env_yaml(1, 1))),
            ("apps/web/env/staging.yaml", Some(&env_yaml(2, 1))),
            ("README.md", Some(b"hello\n")),
        ],
    );
    o.commit(
        "main",
        "bump api staging",
        &[("apps/api/env/staging.yaml", Some(&env_yaml(1, 2)))],
    );
    git(&o.path(), &["tag", "v1", "main"]);
    o
}

/// The standard origin, served by `git daemon`, and a cache folder for mirrors; the
/// server stops and the folders go when it is dropped.
struct Served {
    origin: Origin,
    url: String,
    cache: PathBuf,
    _daemon: GitDaemon,
    _tmp: tempfile::TempDir,
}

fn served() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let origin = origin(&srv);
    let daemon = GitDaemon::start(&srv);
    Served {
        origin,
        url: daemon.url("tenant.git"),
        cache: tmp.path().join("cache"),
        _daemon: daemon,
        _tmp: tmp,
    }
}

fn request(parent: ObjectId, edits: Edits) -> CommitRequest {
    CommitRequest {
        parent,
        edits,
        author: Identity::new("Ladder", "ladder@example.com"),
        committer: Identity::new("Ladder", "ladder@example.com"),
        message: "Promote api to prod".into(),
        trailers: vec![("Ladder-Source-Commit".into(), "0123abc".into())],
        time: Some((1_700_000_000, 0)),
    }
}

fn no_creds() -> RemoteOptions {
    // Explicit (even if empty) so LADDER_GIT_* in the developer's shell cannot leak in.
    RemoteOptions::default()
}

#[test]
fn clone_then_incremental_fetch_and_cheap_check_over_git_daemon() {
    let served = served();
    let (o, url, cache) = (&served.origin, served.url.clone(), served.cache.clone());

    let repo = Repo::mirror(&url, &cache, no_creds()).unwrap();
    let main = git(&o.path(), &["rev-parse", "main"]);
    assert_eq!(repo.branch_tip("main").unwrap(), Some(oid(&main)));
    assert_eq!(repo.remote_branch_tip("main").unwrap(), Some(oid(&main)));
    assert!(!repo.remote_branch_moved("main").unwrap());
    assert_eq!(repo.remote_branch_tip("nope").unwrap(), None);

    // Nothing new: no pack.
    let again = repo.fetch().unwrap();
    assert!(!again.received_pack);
    assert!(again.updated_refs.is_empty());

    let new = o.commit(
        "main",
        "bump web",
        &[("apps/web/env/staging.yaml", Some(&env_yaml(2, 7)))],
    );
    assert!(repo.remote_branch_moved("main").unwrap());
    assert_eq!(repo.remote_branch_tip("main").unwrap(), Some(oid(&new)));
    let fetched = repo.fetch().unwrap();
    assert!(fetched.received_pack);
    assert_eq!(
        fetched.updated_refs,
        vec![RefUpdate {
            name: "refs/heads/main".into(),
            old: Some(oid(&main)),
            new: Some(oid(&new)),
        }]
    );
    let tree = repo.tree_at_rev("main").unwrap();
    assert_eq!(
        tree.read_file("apps/web/env/staging.yaml").unwrap(),
        Some(env_yaml(2, 7))
    );

    // Branches deleted on the remote disappear from the mirror.
    git(&o.path(), &["branch", "short-lived", "main"]);
    repo.fetch().unwrap();
    assert_eq!(repo.branch_tip("short-lived").unwrap(), Some(oid(&new)));
    git(&o.path(), &["branch", "-D", "short-lived"]);
    let pruned = repo.fetch().unwrap();
    assert_eq!(
        pruned.updated_refs,
        vec![RefUpdate {
            name: "refs/heads/short-lived".into(),
            old: Some(oid(&new)),
            new: None,
        }]
    );
    assert_eq!(repo.branch_tip("short-lived").unwrap(), None);

    // A second handle on the same cache folder reuses the mirror.
    let reopened = Repo::open_mirror(&url, &cache, no_creds()).unwrap();
    assert_eq!(reopened.git_dir(), repo.git_dir());
    assert_eq!(reopened.branch_tip("main").unwrap(), Some(oid(&new)));
    assert_eq!(
        std::fs::read_dir(&cache)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "git"))
            .count(),
        1
    );
}

#[test]
fn read_files_and_folders_at_ref_tag_and_sha() {
    let tmp = tempfile::tempdir().unwrap();
    let o = origin(tmp.path());
    let url = format!("file://{}", o.path().display());
    let repo = Repo::mirror(&url, &tmp.path().join("cache"), no_creds()).unwrap();

    let first = git(&o.path(), &["rev-parse", "main~1"]);
    let old = repo.tree_at(oid(&first)).unwrap();
    assert_eq!(old.commit_id(), oid(&first));
    assert_eq!(
        old.read_file("apps/api/env/staging.yaml").unwrap(),
        Some(env_yaml(1, 1))
    );
    let by_abbrev = repo.tree_at_rev(&first[..10]).unwrap();
    assert_eq!(by_abbrev.commit_id(), oid(&first));
    let tag = repo.tree_at_rev("v1").unwrap();
    assert_eq!(
        tag.read_file("/apps/api/env/staging.yaml").unwrap(),
        Some(env_yaml(1, 2))
    );

    let d = |name: &str, kind| DirEntry {
        name: name.into(),
        kind,
    };
    assert_eq!(
        tag.list_dir("").unwrap(),
        Some(vec![
            d("README.md", EntryKind::File),
            d("apps", EntryKind::Dir)
        ])
    );
    assert_eq!(
        tag.list_dir("apps/api/env/").unwrap(),
        Some(vec![
            d("prod.yaml", EntryKind::File),
            d("staging.yaml", EntryKind::File)
        ])
    );
    assert_eq!(
        tag.read_file("apps").unwrap(),
        None,
        "a folder is not a file"
    );
    assert_eq!(
        tag.list_dir("README.md").unwrap(),
        None,
        "a file is not a folder"
    );
    assert_eq!(tag.read_file("apps/missing.yaml").unwrap(), None);
    assert!(matches!(
        tag.read_file("../etc/passwd"),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        repo.resolve("no-such-branch"),
        Err(Error::RevisionNotFound { .. })
    ));
}

#[test]
fn open_local_worktree_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("apps")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("apps/a.yaml"), "image:\n  tag: v1\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "init"]);
    let repo = Repo::open_local(&work).unwrap();
    let tree = repo.tree_at_rev("HEAD").unwrap();
    assert_eq!(
        tree.read_file("apps/a.yaml").unwrap().unwrap(),
        b"image:\n  tag: v1\n"
    );
    assert!(matches!(repo.fetch(), Err(Error::NoRemote { .. })));
}

#[test]
fn build_and_push_branch_with_compare_and_swap() {
    let served = served();
    let o = &served.origin;
    let repo = Repo::mirror(&served.url, &served.cache, no_creds()).unwrap();
    let main = repo.branch_tip("main").unwrap().unwrap();

    let mut edits = Edits::new();
    edits
        .write("apps/api/env/prod.yaml", env_yaml(1, 2))
        .write("apps/new/env/prod.yaml", env_yaml(3, 1))
        .delete("apps/web/env/staging.yaml")
        .delete("does/not/exist");
    let CommitOutcome::Created { commit, .. } = repo.build_commit(&request(main, edits)).unwrap()
    else {
        panic!("edits change the tree");
    };
    // Building alone moves nothing.
    assert_eq!(repo.branch_tip("main").unwrap(), Some(main));

    repo.push_branch("ladder/promote-api", commit, Lease::Absent)
        .unwrap();
    let origin_dir = o.path();
    assert_eq!(
        git(&origin_dir, &["rev-parse", "ladder/promote-api"]).trim(),
        commit.to_string()
    );
    assert_eq!(
        git(
            &origin_dir,
            &["show", "ladder/promote-api:apps/api/env/prod.yaml"]
        )
        .as_bytes(),
        env_yaml(1, 2)
    );
    let files = git(
        &origin_dir,
        &["ls-tree", "-r", "--name-only", "ladder/promote-api"],
    );
    assert!(
        !files.contains("apps/web/"),
        "empty folder removed: {files}"
    );
    assert!(files.contains("apps/new/env/prod.yaml"));
    let trailer = git(
        &origin_dir,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Ladder-Source-Commit,valueonly)%an <%ae>",
            "ladder/promote-api",
        ],
    );
    assert_eq!(trailer.trim(), "0123abc\nLadder <ladder@example.com>");
    assert_eq!(
        git(&origin_dir, &["rev-parse", "ladder/promote-api^"]).trim(),
        main.to_string()
    );
    assert_eq!(repo.branch_tip("ladder/promote-api").unwrap(), Some(commit));

    // Retrying the same push is a no-op success (the remote already has it), so a
    // lost response can be retried safely.
    repo.push_branch("ladder/promote-api", commit, Lease::Absent)
        .unwrap();
    // Create-only with other content: the branch exists now.
    let CommitOutcome::Created { commit: other, .. } = repo
        .build_commit(&request(main, Edits::new().write("x", "y").clone()))
        .unwrap()
    else {
        panic!()
    };
    let err = repo
        .push_branch("ladder/promote-api", other, Lease::Absent)
        .unwrap_err();
    assert!(err.is_remote_moved(), "{err}");
    assert!(err.to_string().contains("expected no branch"), "{err}");

    // Someone else pushes first; our update leased on the old tip is refused.
    let theirs = o.commit(
        "ladder/promote-api",
        "manual fix",
        &[("README.md", Some(b"edited by a human\n"))],
    );
    let mut edits = Edits::new();
    edits.write("apps/api/env/prod.yaml", env_yaml(1, 3));
    let CommitOutcome::Created { commit: ours, .. } =
        repo.build_commit(&request(commit, edits)).unwrap()
    else {
        panic!()
    };
    let err = repo
        .push_branch("ladder/promote-api", ours, Lease::At(commit))
        .unwrap_err();
    assert!(err.is_remote_moved(), "{err}");
    assert!(err.to_string().contains("fetch again"), "{err}");
    assert_eq!(
        git(&origin_dir, &["rev-parse", "ladder/promote-api"]).trim(),
        theirs,
        "their commit survived"
    );

    // The documented recovery: fetch, rebuild on the new tip, push leased on it.
    repo.fetch().unwrap();
    let tip = repo.branch_tip("ladder/promote-api").unwrap().unwrap();
    assert_eq!(tip, oid(&theirs));
    let mut edits = Edits::new();
    edits.write("apps/api/env/prod.yaml", env_yaml(1, 3));
    let CommitOutcome::Created {
        commit: rebuilt, ..
    } = repo.build_commit(&request(tip, edits.clone())).unwrap()
    else {
        panic!()
    };
    repo.push_branch("ladder/promote-api", rebuilt, Lease::At(tip))
        .unwrap();
    assert_eq!(
        git(&origin_dir, &["show", "ladder/promote-api:README.md"]),
        "edited by a human\n"
    );

    // Re-applying the same edits changes nothing, so no commit.
    assert_eq!(
        repo.build_commit(&request(rebuilt, edits)).unwrap(),
        CommitOutcome::Unchanged
    );
}

#[test]
fn concurrent_handles_fetch_the_same_cache_safely() {
    let served = served();
    let (o, url, cache) = (&served.origin, served.url.clone(), served.cache.clone());
    let tip = git(&o.path(), &["rev-parse", "main"]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (url, cache) = (url.clone(), cache.clone());
            std::thread::spawn(move || {
                let repo = Repo::mirror(&url, &cache, RemoteOptions::default()).unwrap();
                repo.fetch().unwrap();
                repo.branch_tip("main").unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(oid(&tip)));
    }
    let mirror = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "git"))
        .unwrap();
    git(&mirror, &["fsck", "--no-progress"]);
}

#[test]
fn smart_http_with_basic_auth_clone_check_and_push() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let o = origin(&srv);
    let server = HttpServer::start(&srv, "robot", "s3cret-token-42");
    let cache = tmp.path().join("cache");
    let plain = server.url("tenant.git");
    let with_creds = plain.replace("http://", "http://robot:s3cret-token-42@");

    let repo = Repo::mirror(&with_creds, &cache, no_creds()).unwrap();
    assert_eq!(
        repo.remote_url().unwrap().as_str(),
        plain,
        "URL kept without userinfo"
    );
    let main = repo.branch_tip("main").unwrap().unwrap();
    assert_eq!(
        main.to_string(),
        git(&o.path(), &["rev-parse", "main"]).trim()
    );
    assert_eq!(repo.remote_branch_tip("main").unwrap(), Some(main));

    let mut edits = Edits::new();
    edits.write("apps/api/env/prod.yaml", env_yaml(1, 2));
    let CommitOutcome::Created { commit, .. } = repo.build_commit(&request(main, edits)).unwrap()
    else {
        panic!()
    };
    repo.push_branch("main", commit, Lease::At(main)).unwrap();
    assert_eq!(
        git(&o.path(), &["rev-parse", "main"]).trim(),
        commit.to_string()
    );
    // The token never lands on disk in the mirror (no credential store, no URL in config).
    let config = std::fs::read_to_string(repo.git_dir().join("config")).unwrap();
    assert!(!config.contains("s3cret"), "{config}");

    // Explicit credentials (what the CLI passes from LADDER_GIT_*) work the same way.
    let explicit = RemoteOptions {
        credentials: Some(Credentials::new("robot", "s3cret-token-42")),
        ..RemoteOptions::default()
    };
    let repo2 = Repo::mirror(&plain, &tmp.path().join("cache2"), explicit).unwrap();
    assert_eq!(repo2.branch_tip("main").unwrap(), Some(commit));
}

#[test]
fn bad_or_missing_credentials_are_reported_without_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    origin(&srv);
    let server = HttpServer::start(&srv, "robot", "right-password");
    let wrong = server
        .url("tenant.git")
        .replace("http://", "http://robot:wrong-secret-777@");

    let err = Repo::mirror(&wrong, &tmp.path().join("cache"), no_creds()).expect_err("must fail");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::AuthFailed { .. }), "{text}");
    assert!(!text.contains("wrong-secret-777"), "secret leaked: {text}");
    // A library error names no CLI flag or variable: the binary adds that advice.
    assert!(
        !text.contains("LADDER_"),
        "CLI advice in a library error: {text}"
    );
    assert!(!err.is_transient(), "bad credentials need a person: {text}");
    eprintln!("as shown to users: {err}");

    // No credentials at all: the library never falls back to process-wide variables.
    let err = Repo::mirror(
        &server.url("tenant.git"),
        &tmp.path().join("c0"),
        no_creds(),
    )
    .expect_err("must fail");
    assert!(matches!(err, Error::AuthFailed { .. }), "{err}");
    assert!(err.to_string().contains("none were configured"), "{err}");

    // Credentials passed explicitly, and wrong.
    let opts = RemoteOptions {
        credentials: Some(Credentials::new("robot", "env-secret-888")),
        ..RemoteOptions::default()
    };
    let repo =
        Repo::open_mirror(&server.url("tenant.git"), &tmp.path().join("cache2"), opts).unwrap();
    let err = repo.remote_branch_tip("main").unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::AuthFailed { .. }), "{text}");
    assert!(!text.contains("env-secret-888"), "{text}");

    // A push with wrong credentials: same classification, same hygiene. The commit is
    // built in a mirror fetched with the right credentials from the same server.
    let good = server
        .url("tenant.git")
        .replace("http://", "http://robot:right-password@");
    let ok = Repo::mirror(&good, &tmp.path().join("cache3"), no_creds()).unwrap();
    let main = ok.branch_tip("main").unwrap().unwrap();
    let bad_push = Repo::open_mirror(&wrong, &tmp.path().join("cache3"), no_creds()).unwrap();
    let err = bad_push
        .push_branch("other", main, Lease::Absent)
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::AuthFailed { .. }), "{text}");
    assert!(!text.contains("wrong-secret-777"), "{text}");
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let port = support::free_port(); // nothing listens there any more
    for url in [
        format!("git://127.0.0.1:{port}/tenant.git"),
        format!("http://robot:hidden-pass-999@127.0.0.1:{port}/tenant.git"),
    ] {
        let err = Repo::mirror(&url, &tmp.path().join("cache"), no_creds()).expect_err("must fail");
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::Unreachable { .. }), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        eprintln!("as shown to users: {err}");
        assert!(!text.contains("hidden-pass-999"), "{text}");
    }
    let repo = Repo::open_mirror(
        &format!("git://127.0.0.1:{port}/x.git"),
        &tmp.path().join("c2"),
        no_creds(),
    )
    .unwrap();
    let empty_tree = oid("4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    let err = repo
        .push_branch("main", empty_tree, Lease::Absent)
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
}

#[test]
fn last_change_and_commits_touching_follow_the_yaml_value() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Origin {
        base: tmp.path().to_path_buf(),
        name: "h.git".into(),
    };
    let f = "apps/api/env/staging.yaml";
    let c1 = o.commit("main", "add api", &[(f, Some(&env_yaml(1, 1)))]);
    let c2 = o.commit("main", "bump api to v2", &[(f, Some(&env_yaml(1, 2)))]);
    // Same value, different bytes: touches the file but not image.tag.
    let c3 = o.commit(
        "main",
        "scale api",
        &[(
            f,
            Some(
                env_yaml(1, 2)
                    .iter()
                    .chain(b"# more\n")
                    .copied()
                    .collect::<Vec<_>>()
                    .as_slice(),
            ),
        )],
    );
    let c4 = o.commit("main", "unrelated", &[("README.md", Some(b"x\n"))]);
    let repo = Repo::mirror(
        &format!("file://{}", o.path().display()),
        &tmp.path().join("cache"),
        no_creds(),
    )
    .unwrap();

    let hit = repo.last_change("main", f, "image.tag").unwrap().unwrap();
    assert_eq!(hit.id, oid(&c2));
    assert_eq!(hit.subject, "bump api to v2");
    assert_eq!(hit.author_name, "Dev");
    assert!(hit.time > 1_700_000_000);
    assert_eq!(
        repo.last_change("main", f, "replicas").unwrap().unwrap().id,
        oid(&c1),
        "since creation"
    );
    assert_eq!(repo.last_change("main", f, "no.such.key").unwrap(), None);
    assert_eq!(repo.last_change("main", "missing.yaml", "a").unwrap(), None);

    let touching: Vec<_> = repo
        .commits_touching(f, None, oid(&c4))
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(touching, vec![oid(&c3), oid(&c2), oid(&c1)]);
    let touching: Vec<_> = repo
        .commits_touching(f, Some(oid(&c2)), oid(&c4))
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(touching, vec![oid(&c3)]);

    // The branch moves: the cached index is extended, not rebuilt, and answers change.
    let c5 = o.commit("main", "bump api to v3", &[(f, Some(&env_yaml(1, 3)))]);
    repo.fetch().unwrap();
    assert_eq!(
        repo.last_change("main", f, "image.tag")
            .unwrap()
            .unwrap()
            .id,
        oid(&c5)
    );
    // A rewritten branch (force push to an older commit) is handled too.
    git(&o.path(), &["update-ref", "refs/heads/main", &c3]);
    repo.fetch().unwrap();
    assert_eq!(
        repo.last_change("main", f, "image.tag")
            .unwrap()
            .unwrap()
            .id,
        oid(&c2)
    );
}

#[test]
fn ten_thousand_commits_history_and_fetch() {
    const COMMITS: usize = 10_000;
    const APPS: usize = 40;
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let repo_dir = srv.join("big.git");
    // Commit i bumps the staging tag of app i % APPS, except every third commit, which
    // only touches a notes file; the generator tracks the expected answers.
    let mut last_tag_change = vec![0usize; APPS];
    let mut tags = vec![0usize; APPS];
    let commits = (0..COMMITS).map(|i| {
        let mut files = Vec::new();
        if i == 0 {
            for app in 0..APPS {
                files.push((
                    format!("apps/app{app}/env/staging.yaml"),
                    Some(env_yaml(app, 0)),
                ));
                files.push((
                    format!("apps/app{app}/env/prod.yaml"),
                    Some(env_yaml(app, 0)),
                ));
            }
        } else if i % 3 == 0 {
            files.push(("NOTES.md".to_string(), Some(format!("{i}\n").into_bytes())));
        } else {
            let app = i % APPS;
            tags[app] += 1;
            last_tag_change[app] = i;
            files.push((
                format!("apps/app{app}/env/staging.yaml"),
                Some(env_yaml(app, tags[app])),
            ));
        }
        FiCommit {
            message: format!("commit {i}"),
            time: 1_600_000_000 + i as i64,
            files,
        }
    });
    let commits: Vec<_> = commits.collect();
    fast_import(&repo_dir, "main", commits);
    let daemon = GitDaemon::start(&srv);
    let repo = Repo::mirror(
        &daemon.url("big.git"),
        &tmp.path().join("cache"),
        no_creds(),
    )
    .unwrap();
    let count = git(repo.git_dir(), &["rev-list", "--count", "main"]);
    assert_eq!(count.trim(), COMMITS.to_string());

    for app in [0, 1, 7, APPS - 1] {
        let file = format!("apps/app{app}/env/staging.yaml");
        let hit = repo
            .last_change("main", &file, "image.tag")
            .unwrap()
            .unwrap();
        assert_eq!(
            hit.subject,
            format!("commit {}", last_tag_change[app]),
            "app{app}"
        );
        // Never bumped after creation: the answer is the root commit.
        let prod = repo
            .last_change("main", &format!("apps/app{app}/env/prod.yaml"), "image.tag")
            .unwrap()
            .unwrap();
        assert_eq!(prod.subject, "commit 0");
    }
    let file = "apps/app7/env/staging.yaml";
    let ours = repo
        .commits_touching(file, None, repo.resolve("main").unwrap())
        .unwrap();
    let cli = git(
        repo.git_dir(),
        &["log", "--first-parent", "--format=%H", "main", "--", file],
    );
    let ours: Vec<String> = ours.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ours, cli.lines().collect::<Vec<_>>());
}

/// Compile-time check of the README's promise: handles can be shared across threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Repo>();
    send_sync::<ladder_git::TreeAtCommit>();
    send_sync::<Error>();
};

#[test]
fn empty_remote_mirrors_to_an_empty_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    std::fs::create_dir_all(srv.join("empty.git")).unwrap();
    git(
        &srv.join("empty.git"),
        &["init", "-q", "--bare", "-b", "main"],
    );
    let daemon = GitDaemon::start(&srv);
    let repo = Repo::mirror(
        &daemon.url("empty.git"),
        &tmp.path().join("cache"),
        no_creds(),
    )
    .unwrap();
    assert_eq!(repo.branch_tip("main").unwrap(), None);
    assert_eq!(repo.remote_branch_tip("main").unwrap(), None);
    assert!(!repo.remote_branch_moved("main").unwrap());
}

#[test]
fn edits_keep_the_executable_bit_and_refuse_bad_paths() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("bin")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("bin/run.sh"), "#!/bin/sh\necho 1\n").unwrap();
    std::fs::set_permissions(
        work.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "init"]);
    let repo = Repo::open_local(&work).unwrap();
    let head = repo.resolve("HEAD").unwrap();

    let mut edits = Edits::new();
    edits
        .write("bin/run.sh", "#!/bin/sh\necho 2\n")
        .write("bin/new.sh", "x\n");
    let CommitOutcome::Created { commit, .. } = repo.build_commit(&request(head, edits)).unwrap()
    else {
        panic!()
    };
    let listing = git(&work, &["ls-tree", "-r", &commit.to_string()]);
    assert!(
        listing.contains("100755 blob") && listing.contains("bin/run.sh"),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("100644") && l.ends_with("bin/new.sh")),
        "{listing}"
    );

    for bad in ["../x", ".git/config", ""] {
        let mut edits = Edits::new();
        edits.write(bad, "x");
        let err = repo.build_commit(&request(head, edits)).unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{bad}: {err}");
    }
    let mut bad_trailer = request(head, Edits::new());
    bad_trailer.trailers = vec![("Two words".into(), "v".into())];
    assert!(matches!(
        repo.build_commit(&bad_trailer),
        Err(Error::InvalidCommit { .. })
    ));
}

#[test]
fn tree_after_edits_is_the_built_tree_and_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("bin")).unwrap();
    std::fs::create_dir_all(work.join("apps/api/env")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("bin/run.sh"), "#!/bin/sh\necho 1\n").unwrap();
    std::fs::set_permissions(
        work.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(work.join("apps/api/env/prod.yaml"), env_yaml(1, 1)).unwrap();
    std::fs::write(work.join("apps/api/env/staging.yaml"), env_yaml(1, 2)).unwrap();
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "init"]);
    let repo = Repo::open_local(&work).unwrap();
    let head = repo.resolve("HEAD").unwrap();
    let objects = || git(&work, &["count-objects", "-v"]);

    type Case = Vec<(&'static str, Option<Vec<u8>>)>;
    let cases: Vec<Case> = vec![
        vec![("apps/api/env/prod.yaml", Some(env_yaml(1, 2)))],
        vec![
            ("apps/api/env/prod.yaml", Some(env_yaml(1, 3))),
            ("bin/run.sh", Some(b"#!/bin/sh\necho 2\n".to_vec())),
            ("apps/web/env/prod.yaml", Some(env_yaml(2, 1))),
        ],
        vec![("README.md", None), ("apps/api/env/staging.yaml", None)],
    ];
    for case in cases {
        let mut edits = Edits::new();
        for (path, change) in &case {
            match change {
                Some(bytes) => edits.write(*path, bytes.clone()),
                None => edits.delete(*path),
            };
        }
        let before = objects();
        let computed = repo.tree_after_edits(head, &edits).unwrap();
        assert_eq!(objects(), before, "computing the tree wrote objects");
        let CommitOutcome::Created { tree, .. } = repo.build_commit(&request(head, edits)).unwrap()
        else {
            panic!("{case:?}: the edits change something")
        };
        assert_eq!(computed, tree, "{case:?}");
    }

    // No edit that changes anything: the parent's own tree.
    let mut same = Edits::new();
    same.write("README.md", "hello\n");
    let head_tree = oid(&git(&work, &["rev-parse", "HEAD^{tree}"]));
    assert_eq!(repo.tree_after_edits(head, &same).unwrap(), head_tree);
    let mut bad = Edits::new();
    bad.write("../x", "x");
    assert!(matches!(
        repo.tree_after_edits(head, &bad),
        Err(Error::InvalidPath { .. })
    ));
}

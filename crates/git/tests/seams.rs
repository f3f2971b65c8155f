//! What a long-running, multi-tenant process needs from the git layer, against real
//! servers on loopback: credentials scoped to their host (also across redirects), every
//! network and lock wait bounded and cancellable, batched pushes with a lease per ref,
//! deletes with a lease, compare-and-swap in a local repository, the remote's HEAD, and
//! a cache that can be pruned.

use std::path::Path;
use std::time::{Duration, Instant};

use ladder_git::{
    Cancel, CommitOutcome, CommitRequest, Credentials, Edits, Error, Identity, Lease, Limits,
    RefPush, RemoteOptions, RemoteUrl, Repo, prune_cache,
};
use ladder_testkit::{
    GitDaemon, HttpServer, HungServer, Origin, RedirectServer, SshServer, git, git_cmd,
};

fn origin(base: &Path) -> Origin {
    let o = Origin {
        base: base.to_path_buf(),
        name: "tenant.git".into(),
    };
    o.commit(
        "main",
        "initial",
        &[("apps/web/env/dev.yaml", Some(b"image:\n  tag: v1\n"))],
    );
    o
}

/// An origin served by `git daemon` under `root/srv`, and its mirror in `root/<cache>`.
struct Served {
    origin: Origin,
    daemon: GitDaemon,
    cache: std::path::PathBuf,
    mirror: Repo,
}

fn served(root: &Path, cache: &str) -> Served {
    let origin = origin(&root.join("srv"));
    let daemon = GitDaemon::start(&origin.base);
    let cache = root.join(cache);
    let mirror = Repo::mirror(&daemon.url("tenant.git"), &cache, RemoteOptions::default()).unwrap();
    Served {
        origin,
        daemon,
        cache,
        mirror,
    }
}

fn options(limits: Limits) -> RemoteOptions {
    RemoteOptions {
        limits,
        ..RemoteOptions::default()
    }
}

fn commit_on(repo: &Repo, parent: &str, file: &str, text: &str) -> ladder_git::ObjectId {
    let parent = repo.resolve(parent).unwrap();
    let mut edits = Edits::new();
    edits.write(file, text.as_bytes());
    let who = Identity::new("ladder", "ladder@example.com");
    match repo
        .build_commit(&CommitRequest {
            parent,
            edits,
            author: who.clone(),
            committer: who,
            message: format!("write {file}"),
            trailers: vec![],
            time: Some((1_700_000_000, 0)),
        })
        .unwrap()
    {
        CommitOutcome::Created { commit, .. } => commit,
        CommitOutcome::Unchanged => panic!("expected a change"),
    }
}

/// `user:password`, as a Basic `Authorization` header carries it once decoded.
fn basic(user: &str, password: &str) -> String {
    format!("{user}:{password}")
}

/// True when a recorded `Authorization` header carries `user:password`.
fn carries(header: &str, user_password: &str) -> bool {
    let Some(b64) = header.strip_prefix("Basic ") else {
        return false;
    };
    decode_base64(b64).is_some_and(|d| d == user_password.as_bytes())
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        bits = (bits << 6) | T.iter().position(|&t| t == c)? as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

#[test]
fn a_token_for_host_a_never_reaches_host_b_even_after_a_redirect() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    origin(&srv);
    // B serves the repo and would accept B's own credentials; A redirects to B.
    let b = HttpServer::start(&srv, "robot", "b-only-password");
    let a = RedirectServer::start(&format!("http://127.0.0.1:{}", b.port));
    let token_for_a = basic("robot", "token-for-host-a-123");
    let creds = Credentials::new("robot", "token-for-host-a-123");

    let err = Repo::mirror(
        &a.url("tenant.git"),
        &tmp.path().join("cache"),
        RemoteOptions {
            credentials: Some(creds.clone()),
            limits: Limits::idle(Duration::from_secs(10)),
            ..RemoteOptions::default()
        },
    )
    .expect_err("a redirect to another host must not be followed with credentials");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("token-for-host-a-123"), "{text}");
    assert!(!a.requests().is_empty(), "A was asked");

    // The URL form of the same credentials, and a push through the git CLI.
    let with_userinfo = a
        .url("tenant.git")
        .replace("http://", "http://robot:token-for-host-a-123@");
    let _ = Repo::mirror(
        &with_userinfo,
        &tmp.path().join("cache2"),
        RemoteOptions::default(),
    );
    let good = Repo::mirror(
        &b.url("tenant.git"),
        &tmp.path().join("cache3"),
        RemoteOptions {
            credentials: Some(Credentials::new("robot", "b-only-password")),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    let main = good.branch_tip("main").unwrap().unwrap();
    let via_a = Repo::open_mirror(
        &a.url("tenant.git"),
        &tmp.path().join("cache3"),
        RemoteOptions {
            credentials: Some(creds),
            limits: Limits::idle(Duration::from_secs(10)),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    let err = via_a
        .push_branch("ladder/dev/web", main, Lease::Absent)
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("token-for-host-a-123"));

    let leaked: Vec<_> = b
        .requests()
        .into_iter()
        .filter(|r| {
            r.authorization
                .as_deref()
                .is_some_and(|h| carries(h, &token_for_a))
        })
        .collect();
    assert!(leaked.is_empty(), "A's token reached B: {leaked:?}");
    // B's own password was only ever sent by the mirror configured for B.
    assert!(b.requests().iter().any(|r| r.authorization.is_some()));
}

#[test]
fn redirects_within_one_host_without_credentials_still_work() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    origin(&srv);
    let daemon_less = HttpServer::start(&srv, "robot", "pw");
    let url = daemon_less
        .url("tenant.git")
        .replace("http://", "http://robot:pw@");
    // Credentials in the URL go to the URL's own host: the normal case is unaffected.
    let repo = Repo::mirror(&url, &tmp.path().join("cache"), RemoteOptions::default()).unwrap();
    assert!(repo.branch_tip("main").unwrap().is_some());
}

/// Runs `call` and returns its error and how long it took.
fn timed<T: std::fmt::Debug>(call: impl FnOnce() -> Result<T, Error>) -> (Error, Duration) {
    let started = Instant::now();
    let err = call().expect_err("the call must fail");
    (err, started.elapsed())
}

#[test]
fn a_hung_server_fails_fetch_ls_remote_and_push_within_the_idle_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let hung = HungServer::start();
    let idle = Duration::from_millis(800);
    for scheme in ["git", "http"] {
        let url = hung.url(scheme, "tenant.git");
        let cache = tmp.path().join(format!("cache-{scheme}"));
        let (err, took) = timed(|| Repo::mirror(&url, &cache, options(Limits::idle(idle))));
        assert!(
            matches!(err, Error::TimedOut { .. }),
            "{scheme} fetch: {err}"
        );
        assert!(err.is_transient());
        assert!(
            took < Duration::from_secs(10),
            "{scheme} fetch took {took:?}"
        );

        let repo = Repo::open_mirror(&url, &cache, options(Limits::idle(idle))).unwrap();
        let (err, took) = timed(|| repo.remote_branch_tip("main"));
        assert!(
            matches!(err, Error::TimedOut { .. }),
            "{scheme} ls-remote: {err}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{scheme} ls-remote took {took:?}"
        );
    }
    // Push: the objects come from a real origin, the push goes to the hung server.
    let Served { cache, mirror, .. } = served(tmp.path(), "push-cache");
    let commit = commit_on(&mirror, "main", "x.yaml", "x: 1\n");
    for scheme in ["git", "http"] {
        let to_hung = Repo::open_mirror(
            &hung.url(scheme, "tenant.git"),
            &cache,
            options(Limits::idle(idle)),
        )
        .unwrap();
        let (err, took) = timed(|| to_hung.push_branch("ladder/x", commit, Lease::Absent));
        assert!(
            matches!(err, Error::TimedOut { .. }),
            "{scheme} push: {err}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{scheme} push took {took:?}"
        );
    }
    assert!(hung.accepted() >= 6, "every call reached the server");
}

#[test]
fn a_deadline_and_a_cancel_end_a_call_that_the_idle_limit_would_allow() {
    let tmp = tempfile::tempdir().unwrap();
    let hung = HungServer::start();
    let url = hung.url("git", "tenant.git");
    let long = Duration::from_secs(120);

    let limits = Limits::idle(long).with_deadline(Instant::now() + Duration::from_millis(500));
    let (err, took) = timed(|| Repo::mirror(&url, &tmp.path().join("a"), options(limits)));
    assert!(
        matches!(err, Error::TimedOut { deadline: true, .. }),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    let cancel = Cancel::new();
    let limits = Limits::idle(long).with_cancel(cancel.clone());
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let (err, took) = timed(|| Repo::mirror(&url, &tmp.path().join("b"), options(limits)));
    canceller.join().unwrap();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert!(!err.is_transient());
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The same for the git CLI behind push.
    let Served { cache, mirror, .. } = served(tmp.path(), "push-cache");
    let commit = commit_on(&mirror, "main", "x.yaml", "x: 1\n");
    for url in [url.clone(), hung.url("http", "tenant.git")] {
        // Over http git runs git-remote-http, which outlives a kill of git alone: the
        // whole process group goes, so the deadline holds.
        let limits = Limits::idle(long).with_deadline(Instant::now() + Duration::from_millis(500));
        let to_hung = Repo::open_mirror(&url, &cache, options(limits)).unwrap();
        let (err, took) = timed(|| to_hung.push_branch("ladder/x", commit, Lease::Absent));
        assert!(
            matches!(err, Error::TimedOut { deadline: true, .. }),
            "{url}: {err}"
        );
        assert!(took < Duration::from_secs(10), "{url}: {took:?}");
    }
    let limits = Limits::idle(long).with_deadline(Instant::now() + Duration::from_millis(500));
    let to_hung = Repo::open_mirror(&url, &cache, options(limits)).unwrap();
    let (err, took) = timed(|| to_hung.push_branch("ladder/x", commit, Lease::Absent));
    assert!(
        matches!(err, Error::TimedOut { deadline: true, .. }),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_held_lock_times_out_in_fetch_and_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let Served {
        cache,
        mirror: repo,
        daemon: _daemon,
        ..
    } = served(tmp.path(), "cache");
    // Another process holds the mirror's lock: `flock` from a child shell.
    let lock_file = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .unwrap();
    let mut holder = std::process::Command::new("flock")
        // --no-fork: the lock dies with the process we kill, not with a `sleep` child.
        .arg("--no-fork")
        .arg(&lock_file)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1) from util-linux");
    std::thread::sleep(Duration::from_millis(300));
    let bounded = repo.with_limits(Limits::idle(Duration::from_millis(500)));
    let (err, took) = timed(|| bounded.fetch());
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (err, _) = timed(|| {
        bounded.build_commit(&CommitRequest {
            parent: repo.resolve("main").unwrap(),
            edits: Edits::new(),
            author: Identity::new("a", "a@b"),
            committer: Identity::new("a", "a@b"),
            message: "m".into(),
            trailers: vec![],
            time: None,
        })
    });
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        bounded.fetch().is_ok(),
        "free again once the holder is gone"
    );
}

#[test]
fn many_branches_in_one_push_each_with_its_own_lease_and_deletes_with_a_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let Served {
        origin: o,
        mirror: repo,
        daemon: _daemon,
        ..
    } = served(tmp.path(), "cache");
    let c1 = commit_on(&repo, "main", "a.yaml", "a: 1\n");
    let c2 = commit_on(&repo, "main", "a.yaml", "a: 2\n");
    let created = repo
        .push_refs(&[
            RefPush::update("ladder/dev/a", c1, Lease::Absent),
            RefPush::update("ladder/dev/b", c1, Lease::Absent),
            RefPush::update("ladder/dev/c", c1, Lease::Absent),
            RefPush::update("side", c2, Lease::Absent),
        ])
        .unwrap();
    assert_eq!(created.len(), 4);
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    for b in ["a", "b", "c"] {
        assert_eq!(
            git(&o.path(), &["rev-parse", &format!("ladder/dev/{b}")]).trim(),
            c1.to_string()
        );
    }
    // Someone else moves b on the server; our lease on b is stale, a and c still land.
    git(
        &o.path(),
        &["update-ref", "refs/heads/ladder/dev/b", &c2.to_string()],
    );
    // (Pushing b's current value would be "up to date" and pass: the goal is reached.)
    let c3 = commit_on(&repo, "main", "a.yaml", "a: 3\n");
    let results = repo
        .push_refs(&[
            RefPush::update("ladder/dev/a", c2, Lease::At(c1)),
            RefPush::update("ladder/dev/b", c3, Lease::At(c1)),
            RefPush::delete("ladder/dev/c", c1),
        ])
        .unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(&results[1], Err(e) if e.is_remote_moved()),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(
        git(&o.path(), &["rev-parse", "ladder/dev/a"]).trim(),
        c2.to_string()
    );
    assert!(
        git_cmd(&o.path())
            .args(["rev-parse", "--verify", "-q", "refs/heads/ladder/dev/c"])
            .output()
            .unwrap()
            .stdout
            .is_empty(),
        "c was deleted"
    );
    assert_eq!(
        repo.branch_tip("ladder/dev/c").unwrap(),
        None,
        "and in the mirror"
    );
    // A delete with a stale lease is refused and leaves the branch.
    let err = repo.delete_branch("ladder/dev/b", c1).unwrap_err();
    assert!(err.is_remote_moved(), "{err}");
    assert_eq!(
        git(&o.path(), &["rev-parse", "ladder/dev/b"]).trim(),
        c2.to_string()
    );
    repo.delete_branch("ladder/dev/b", c2).unwrap();
}

#[test]
fn compare_and_swap_in_a_local_repository_and_its_checked_out_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("f.yaml"), "a: 1\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    let repo = Repo::open_local(&work).unwrap();
    assert_eq!(
        repo.checked_out_branches().unwrap(),
        vec!["main".to_string()]
    );
    let main = repo.resolve("main").unwrap();
    let next = commit_on(&repo, "main", "f.yaml", "a: 2\n");

    repo.update_branch("ladder/dev/web", Some(next), Lease::Absent)
        .unwrap();
    let err = repo
        .update_branch("ladder/dev/web", Some(main), Lease::Absent)
        .unwrap_err();
    assert!(
        matches!(err, Error::RefMoved { .. }) && err.is_remote_moved(),
        "{err}"
    );
    let err = repo
        .update_branch("ladder/dev/web", Some(main), Lease::At(main))
        .unwrap_err();
    assert!(
        err.to_string().contains(&next.to_string()),
        "names what it found: {err}"
    );
    repo.update_branch("ladder/dev/web", Some(main), Lease::At(next))
        .unwrap();
    assert_eq!(
        git(&work, &["rev-parse", "ladder/dev/web"]).trim(),
        main.to_string()
    );
    repo.update_branch("ladder/dev/web", None, Lease::At(main))
        .unwrap();
    assert_eq!(repo.branch_tip("ladder/dev/web").unwrap(), None);
    // The worktree's files and index were never touched.
    assert_eq!(
        std::fs::read_to_string(work.join("f.yaml")).unwrap(),
        "a: 1\n"
    );
    assert!(git(&work, &["status", "--porcelain"]).is_empty());
}

#[test]
fn the_mirror_records_the_remotes_head() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let o = Origin {
        base: srv.clone(),
        name: "tenant.git".into(),
    };
    o.commit(
        "trunk",
        "initial",
        &[("ladder.yaml", Some(b"tenant: acme\n"))],
    );
    git(&o.path(), &["symbolic-ref", "HEAD", "refs/heads/trunk"]);
    let daemon = GitDaemon::start(&srv);
    let repo = Repo::mirror(
        &daemon.url("tenant.git"),
        &tmp.path().join("cache"),
        RemoteOptions::default(),
    )
    .unwrap();
    assert_eq!(repo.default_branch().unwrap().as_deref(), Some("trunk"));
    // The default branch changes on the server: the next fetch follows.
    o.commit("release", "r", &[("x", Some(b"x\n"))]);
    git(&o.path(), &["symbolic-ref", "HEAD", "refs/heads/release"]);
    repo.fetch().unwrap();
    assert_eq!(repo.default_branch().unwrap().as_deref(), Some("release"));
}

#[test]
fn unused_mirrors_are_pruned_and_kept_ones_maintained() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    origin(&srv);
    let other = Origin {
        base: srv.clone(),
        name: "other.git".into(),
    };
    other.commit("main", "o", &[("a", Some(b"a\n"))]);
    let daemon = GitDaemon::start(&srv);
    let cache = tmp.path().join("cache");
    let keep = Repo::mirror(&daemon.url("tenant.git"), &cache, RemoteOptions::default()).unwrap();
    let gone = Repo::mirror(&daemon.url("other.git"), &cache, RemoteOptions::default()).unwrap();
    let gone_dir = gone.git_dir().to_path_buf();
    drop(gone);
    let (keep_url, _) = RemoteUrl::parse(&daemon.url("tenant.git")).unwrap();
    let removed = prune_cache(&cache, &[keep_url], &Limits::default()).unwrap();
    assert_eq!(removed, vec![gone_dir.clone()]);
    assert!(!gone_dir.exists());
    assert!(keep.git_dir().exists());
    // Two packs and a limit of one: `gc --auto` acts on that (its loose-object count
    // only samples one folder of 256). gc must run in the foreground, inside the call
    // (not detached into the background), and leave one pack.
    for i in 0..3 {
        let c = commit_on(&keep, "main", "gc.yaml", &format!("n: {i}\n"));
        git(
            keep.git_dir(),
            &["update-ref", &format!("refs/heads/gc-{i}"), &c.to_string()],
        );
    }
    git(keep.git_dir(), &["repack", "-q"]);
    git(keep.git_dir(), &["config", "gc.autoPackLimit", "1"]);
    let count = |repo: &Repo, what: &str| -> usize {
        let counts = git(repo.git_dir(), &["count-objects", "-v"]);
        counts
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{what}: ")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(count(&keep, "packs"), 2);
    keep.maintain().unwrap();
    assert_eq!(
        count(&keep, "packs"),
        1,
        "gc ran to its end within the call"
    );
    assert!(
        !keep.git_dir().join("gc.pid").exists(),
        "no gc left running"
    );
    assert!(
        keep.branch_tip("main").unwrap().is_some(),
        "still readable after gc"
    );
}

#[test]
fn ssh_remotes_fetch_and_push_with_the_callers_ssh_command() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let o = origin(&srv);
    let ssh = SshServer::start(&srv);
    let repo = Repo::mirror(
        &ssh.url("tenant.git"),
        &tmp.path().join("cache"),
        RemoteOptions {
            ssh_command: Some(ssh.ssh_command()),
            ..RemoteOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", ssh.log()));
    let main = repo.branch_tip("main").unwrap().unwrap();
    assert_eq!(repo.remote_branch_tip("main").unwrap(), Some(main));
    let next = commit_on(&repo, "main", "b.yaml", "b: 1\n");
    repo.push_branch("ladder/dev/b", next, Lease::Absent)
        .unwrap();
    assert_eq!(
        git(&o.path(), &["rev-parse", "ladder/dev/b"]).trim(),
        next.to_string()
    );

    // A hung ssh server: ConnectTimeout covers the banner exchange.
    let hung = HungServer::start();
    let (err, took) = timed(|| {
        Repo::mirror(
            &hung.url("ssh", "tenant.git"),
            &tmp.path().join("hung"),
            RemoteOptions {
                ssh_command: Some(ssh.ssh_command()),
                limits: Limits::idle(Duration::from_secs(1)),
                ..RemoteOptions::default()
            },
        )
    });
    assert!(took < Duration::from_secs(15), "{took:?}: {err}");
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");

    // A connection that stays up but carries nothing (a hung git-upload-pack behind a
    // live sshd, a stuck bastion): an ssh command that never says a word. The idle
    // limit ends fetch and ls-remote; a deadline or a cancel ends them too.
    let silent = tmp.path().join("silent-ssh");
    std::fs::write(&silent, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    let mut perms = std::fs::metadata(&silent).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&silent, perms).unwrap();
    let silent_opts = |limits: Limits| RemoteOptions {
        ssh_command: Some(silent.display().to_string()),
        limits,
        ..RemoteOptions::default()
    };
    let url = ssh.url("tenant.git");
    let (err, took) = timed(|| {
        Repo::mirror(
            &url,
            &tmp.path().join("silent"),
            silent_opts(Limits::idle(Duration::from_secs(1))),
        )
    });
    assert!(
        matches!(
            err,
            Error::TimedOut {
                deadline: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let repo = Repo::open_mirror(
        &url,
        &tmp.path().join("silent"),
        silent_opts(Limits::idle(Duration::from_secs(1))),
    )
    .unwrap();
    let (err, took) = timed(|| repo.remote_branch_tip("main"));
    assert!(
        matches!(
            err,
            Error::TimedOut {
                deadline: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let cancel = Cancel::new();
    let limits = Limits::idle(Duration::from_secs(120)).with_cancel(cancel.clone());
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let (err, took) =
        timed(|| Repo::mirror(&url, &tmp.path().join("silent2"), silent_opts(limits)));
    canceller.join().unwrap();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn each_error_kind_says_whether_a_retry_may_help() {
    use ladder_git::url::UrlError;
    use ladder_git::yamlpath::YamlPathError;
    let io = |kind| Error::Io {
        context: "c",
        path: "p".into(),
        source: std::io::Error::from(kind),
    };
    // Every variant, so a new one cannot slip through unclassified: the match below
    // fails to compile when a variant is added.
    let all = [
        Error::Url(UrlError::Unsupported {
            url: "u".into(),
            reason: "r",
        }),
        Error::Unreachable {
            url: "u".into(),
            detail: "d".into(),
        },
        Error::AuthFailed {
            url: "u".into(),
            detail: "d".into(),
        },
        Error::TimedOut {
            what: "w".into(),
            after: Duration::from_secs(1),
            deadline: false,
        },
        Error::Cancelled { what: "w".into() },
        Error::Redirected {
            url: "u".into(),
            detail: "d".into(),
        },
        Error::RemoteMoved {
            url: "u".into(),
            branch: "b".into(),
            expected: None,
            reason: "r".into(),
        },
        Error::PushRejected {
            url: "u".into(),
            branch: "b".into(),
            reason: "r".into(),
        },
        Error::RevisionNotFound {
            repo: "r".into(),
            rev: "v".into(),
        },
        Error::WrongObjectKind {
            repo: "r".into(),
            id: "i".into(),
            actual: "tree".into(),
            expected: "commit",
        },
        Error::InvalidPath {
            path: "p".into(),
            reason: "r",
        },
        Error::InvalidCommit { reason: "r".into() },
        Error::NoRemote { repo: "r".into() },
        Error::RefMoved {
            repo: "r".into(),
            name: "n".into(),
            expected: None,
            found: None,
        },
        Error::GitCli {
            command: "push".into(),
            detail: "the remote end hung up unexpectedly".into(),
        },
        Error::Remote {
            context: "c".into(),
            detail: "d".into(),
        },
        Error::Gix {
            context: "cannot decode commit".into(),
            detail: "d".into(),
        },
        io(std::io::ErrorKind::Interrupted),
        io(std::io::ErrorKind::PermissionDenied),
        Error::YamlPath(YamlPathError::Invalid {
            path: "a..b".into(),
            reason: "r".into(),
        }),
    ];
    for e in &all {
        let expected = match e {
            Error::Unreachable { .. }
            | Error::TimedOut { .. }
            | Error::RemoteMoved { .. }
            | Error::RefMoved { .. }
            | Error::GitCli { .. }
            | Error::Remote { .. } => true,
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::Interrupted,
            Error::Url(_)
            | Error::AuthFailed { .. }
            | Error::Cancelled { .. }
            | Error::Redirected { .. }
            | Error::PushRejected { .. }
            | Error::RevisionNotFound { .. }
            | Error::WrongObjectKind { .. }
            | Error::InvalidPath { .. }
            | Error::InvalidCommit { .. }
            | Error::NoRemote { .. }
            | Error::Gix { .. }
            | Error::YamlPath(_) => false,
        };
        assert_eq!(e.is_transient(), expected, "{e}");
    }
    // The errors the hung-server and credential tests provoke are checked there too.
}

#[test]
fn branches_commits_and_ancestry_are_read_in_process() {
    let tmp = tempfile::tempdir().unwrap();
    let Served {
        mirror: repo,
        daemon: _daemon,
        ..
    } = served(tmp.path(), "cache");
    let main = repo.resolve("main").unwrap();
    let a = commit_on(&repo, "main", "a.yaml", "a: 1\n");
    let b = commit_on(&repo, "main", "b.yaml", "b: 1\n");
    repo.push_refs(&[
        RefPush::update("ladder/dev/a", a, Lease::Absent),
        RefPush::update("ladder/prod/b", b, Lease::Absent),
        RefPush::update("other", a, Lease::Absent),
    ])
    .unwrap();
    assert_eq!(
        repo.branches_under("ladder/").unwrap(),
        vec![
            ("ladder/dev/a".to_string(), a),
            ("ladder/prod/b".to_string(), b)
        ]
    );
    assert!(repo.branches_under("nothing/").unwrap().is_empty());

    let data = repo.read_commit(a).unwrap().unwrap();
    assert_eq!(data.parents, vec![main]);
    assert_eq!(data.message, "write a.yaml\n");
    assert_eq!(data.time, 1_700_000_000);
    assert_eq!(data.tree, tree_of(&repo, a));
    let missing =
        ladder_git::ObjectId::from_hex(b"0123456789012345678901234567890123456789").unwrap();
    assert!(repo.read_commit(missing).unwrap().is_none());

    assert!(repo.is_ancestor(main, a).unwrap());
    assert!(repo.is_ancestor(a, a).unwrap());
    assert!(!repo.is_ancestor(a, main).unwrap());
    assert!(!repo.is_ancestor(a, b).unwrap(), "siblings");
    assert!(!repo.is_ancestor(missing, a).unwrap());
}

/// The tree of a commit, from the git program, to check `read_commit` against.
fn tree_of(repo: &Repo, commit: ladder_git::ObjectId) -> ladder_git::ObjectId {
    let text = git(
        repo.git_dir(),
        &["rev-parse", &format!("{commit}^{{tree}}")],
    );
    ladder_git::ObjectId::from_hex(text.trim().as_bytes()).unwrap()
}

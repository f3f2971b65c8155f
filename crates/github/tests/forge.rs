//! The GitHub forge end to end against the fake GitHub of ladder-testkit (smart HTTP
//! behind it, every exchange checked against GitHub's OpenAPI description).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ladder_git::{
    CommitOutcome, CommitRequest, Credentials, Edits, Identity, Lease, ObjectId, RemoteOptions,
    Repo,
};
use ladder_github::{Auth, CommitMode, GitHubForge, GitHubOptions, RepoName, Secret};
use ladder_promote::forge::{
    BranchWrite, Checks, CommitContent, Forge, ForgeError, MergeState, ProposalText,
};
use ladder_testkit::github::{FakeGitHub, Fault};

const REPO: &str = "acme/config";
const TOKEN: &str = "ghp_test_token_0123456789";
const VALUES: &str = "apps/web/values.yaml";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Fixture {
    gh: FakeGitHub,
    dir: tempfile::TempDir,
    bare: PathBuf,
    /// The mirror, without credentials of its own: the forge hands it its token.
    repo: Repo,
    main: ObjectId,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("config.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "config.git"],
        );
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(work.join("apps/web")).unwrap();
        std::fs::write(work.join(VALUES), "image:\n  tag: \"1.0\"\n").unwrap();
        std::fs::write(work.join("README.md"), "config\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "initial"]);
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

        let gh = FakeGitHub::start();
        gh.add_repo(REPO, &bare, "main");
        gh.add_token(TOKEN, &[REPO]);
        gh.add_collaborator(REPO, "alice");
        let url = gh.git_url(REPO);
        let cache = dir.path().join("cache");
        // Fetched once with credentials, then reopened without: pushes use the forge's.
        let fetched = Repo::mirror(
            &url,
            &cache,
            RemoteOptions {
                credentials: Some(Credentials::new("x-access-token", TOKEN)),
                ..RemoteOptions::default()
            },
        )
        .unwrap();
        drop(fetched);
        let repo = Repo::open_mirror(&url, &cache, RemoteOptions::default()).unwrap();
        let main = repo.branch_tip("main").unwrap().expect("main fetched");
        Fixture {
            gh,
            dir,
            bare,
            repo,
            main,
        }
    }

    fn options(&self, auth: Auth) -> GitHubOptions {
        GitHubOptions {
            api_url: self.gh.api_url(),
            retry_budget: Duration::from_secs(20),
            ..GitHubOptions::new(RepoName::parse(REPO).unwrap(), auth)
        }
    }

    fn forge(&self) -> GitHubForge {
        GitHubForge::new(self.options(Auth::Token(Secret::new(TOKEN))), &self.repo).unwrap()
    }

    fn request(&self, tag: &str) -> CommitRequest {
        let mut edits = Edits::new();
        edits.write(VALUES, format!("image:\n  tag: \"{tag}\"\n"));
        CommitRequest {
            parent: self.main,
            edits,
            author: Identity::new("ladder", "ladder@example.com"),
            committer: Identity::new("ladder", "ladder@example.com"),
            message: format!("promote web to {tag}"),
            trailers: vec![("Ladder-Promotion".into(), format!("web {tag}"))],
            time: Some((1_700_000_000, 0)),
        }
    }

    /// A commit in the mirror setting the tag.
    fn commit(&self, tag: &str) -> ObjectId {
        match self.repo.build_commit(&self.request(tag)).unwrap() {
            CommitOutcome::Created { commit, .. } => commit,
            CommitOutcome::Unchanged => panic!("no change"),
        }
    }

    fn write(&self, branch: &str, tag: &str) -> BranchWrite {
        let request = self.request(tag);
        BranchWrite {
            branch: branch.into(),
            new: Some(self.commit(tag)),
            lease: Lease::Absent,
            content: Some(CommitContent::of(&request).unwrap()),
        }
    }

    fn remote_tip(&self, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(&self.bare)
            .args([
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn remote_tree(&self, commit: &str) -> String {
        git(&self.bare, &["rev-parse", &format!("{commit}^{{tree}}")])
    }

    fn assert_conforms(&self) {
        let v = self.gh.openapi_violations();
        assert!(v.is_empty(), "OpenAPI violations:\n{}", v.join("\n"));
    }
}

fn text(title: &str) -> ProposalText {
    ProposalText {
        title: title.into(),
        body: format!("<!-- ladder:dev/web -->\n{title}\n"),
        labels: vec!["ladder".into()],
        reviewers: vec!["alice".into()],
    }
}

fn publish(f: &Fixture, forge: &GitHubForge, branch: &str, tag: &str) -> ObjectId {
    let results = forge.write_branches(&[f.write(branch, tag)]).unwrap();
    results.into_iter().next().unwrap().unwrap().unwrap()
}

#[test]
fn every_method_end_to_end_with_a_token() {
    let f = Fixture::new();
    let forge = f.forge();
    assert_eq!(forge.name(), "github");

    let head = publish(&f, &forge, "ladder/dev/web", "2.0");
    assert_eq!(f.remote_tip("ladder/dev/web"), Some(head.to_string()));
    assert_eq!(forge.branch_tip("ladder/dev/web").unwrap(), Some(head));
    assert_eq!(forge.branch_tip("main").unwrap(), Some(f.main));
    assert_eq!(forge.branch_tip("nope").unwrap(), None);

    let opened = forge
        .open("ladder/dev/web", "main", &text("Promote web to 2.0"))
        .unwrap();
    assert_eq!(opened.head, head);
    assert!(opened.url.as_deref().unwrap().contains("/pull/"));
    forge
        .label(&opened, &["ladder".into(), "ladder:held".into()])
        .unwrap();
    forge.request_reviewers(&opened, &["alice".into()]).unwrap();
    forge.comment(&opened, "held by soak").unwrap();

    let listed = forge.proposals("ladder/").unwrap();
    assert_eq!(listed.len(), 1);
    let p = &listed[0];
    assert_eq!(p.branch, "ladder/dev/web");
    assert_eq!(p.number, opened.number);
    assert_eq!(p.title.as_deref(), Some("Promote web to 2.0"));
    let mut labels = p.labels.clone();
    labels.sort();
    assert_eq!(labels, ["ladder", "ladder:held"]);
    assert!(forge.proposals("other/").unwrap().is_empty());

    forge.unlabel(p, &["ladder:held".into()]).unwrap();
    // Removing a label that is not there is fine.
    forge.unlabel(p, &["ladder:held".into()]).unwrap();
    let updated = forge
        .update(p, &text("Promote web to 2.0 (again)"))
        .unwrap();
    assert_eq!(updated.title.as_deref(), Some("Promote web to 2.0 (again)"));

    let snap = &f.gh.pulls(REPO)[0];
    assert_eq!(snap.labels, ["ladder"]);
    assert_eq!(snap.requested_reviewers, ["alice"]);
    assert_eq!(snap.comments, ["held by soak"]);
    assert_eq!(snap.title, "Promote web to 2.0 (again)");

    // An unknown reviewer: reported, not transient.
    let err = forge.request_reviewers(p, &["mallory".into()]).unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("mallory"), "{err}");

    // Not in the run that wrote it (no check may be registered yet): a later one.
    assert!(matches!(
        forge.merge_state(p, "main").unwrap(),
        MergeState::Blocked { reason } if reason.contains("in this run")
    ));
    forge.proposals("ladder/").unwrap();
    // GitHub computes mergeability in the background: unknown first, never guessed.
    assert_eq!(forge.merge_state(p, "main").unwrap(), MergeState::Unknown);
    assert_eq!(
        forge.merge_state(p, "main").unwrap(),
        MergeState::Mergeable {
            checks: Checks::None
        }
    );
    // A stale base refuses to merge.
    let err = forge.merge(p, "main", head).unwrap_err();
    assert!(matches!(err, ForgeError::Moved { .. }), "{err}");
    forge.merge(p, "main", f.main).unwrap();
    let merged_main = f.remote_tip("main").unwrap();
    assert_ne!(merged_main, f.main.to_string());
    assert_eq!(
        forge.branch_tip("main").unwrap().map(|o| o.to_string()),
        Some(merged_main)
    );
    let closed = forge.closed_proposal("ladder/dev/web").unwrap().unwrap();
    assert!(closed.merged);
    assert_eq!(closed.head, head);
    assert!(closed.body.contains("<!-- ladder:dev/web -->"));
    assert!(forge.proposals("ladder/").unwrap().is_empty());

    // Closed without merging, with the reason as a comment; deleted by a write.
    let other = publish(&f, &forge, "ladder/prod/web", "3.0");
    let p = forge
        .open("ladder/prod/web", "main", &text("Promote web to 3.0"))
        .unwrap();
    forge.close(&p, "the values are in sync").unwrap();
    let closed = forge.closed_proposal("ladder/prod/web").unwrap().unwrap();
    assert!(!closed.merged);
    assert_eq!(closed.head, other);
    let snap = f.gh.pulls(REPO);
    assert_eq!(snap[1].comments, ["the values are in sync"]);
    let deleted = forge
        .write_branches(&[BranchWrite {
            branch: "ladder/prod/web".into(),
            new: None,
            lease: Lease::At(other),
            content: None,
        }])
        .unwrap();
    assert_eq!(deleted[0].as_ref().unwrap(), &None);
    assert_eq!(f.remote_tip("ladder/prod/web"), None);
    assert_eq!(forge.closed_proposal("ladder/none").unwrap(), None);
    assert!(forge.rate_limit_remaining().is_some());
    f.assert_conforms();
}

#[test]
fn a_lease_that_no_longer_holds_is_moved_for_pushes() {
    let f = Fixture::new();
    let forge = f.forge();
    publish(&f, &forge, "ladder/dev/web", "2.0");
    let again = forge
        .write_branches(&[f.write("ladder/dev/web", "2.1")])
        .unwrap();
    assert!(
        matches!(again[0], Err(ForgeError::Moved { .. })),
        "{:?}",
        again[0]
    );
    f.assert_conforms();
}

#[test]
fn open_adopts_an_existing_pull_request() {
    let f = Fixture::new();
    let forge = f.forge();
    publish(&f, &forge, "ladder/dev/web", "2.0");
    let first = forge
        .open("ladder/dev/web", "main", &text("first"))
        .unwrap();
    let second = forge
        .open("ladder/dev/web", "main", &text("second"))
        .unwrap();
    assert_eq!(first.number, second.number);
    assert_eq!(second.title.as_deref(), Some("second"));
    assert_eq!(f.gh.pulls(REPO).len(), 1);
    f.assert_conforms();
}

#[test]
fn proposals_cover_every_page_and_repeat_for_free() {
    let f = Fixture::new();
    let forge = f.forge();
    let writes: Vec<BranchWrite> = (0..105)
        .map(|i| f.write(&format!("ladder/e{i}/web"), &format!("2.{i}")))
        .collect();
    let results = forge.write_branches(&writes).unwrap();
    assert!(results.iter().all(Result::is_ok));
    for i in 0..105 {
        forge
            .open(&format!("ladder/e{i}/web"), "main", &text(&format!("p{i}")))
            .unwrap();
    }
    f.gh.clear_requests();
    let before = forge.stats();
    let all = forge.proposals("ladder/").unwrap();
    assert_eq!(all.len(), 105);
    let pages =
        f.gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/pulls"))
            .count();
    assert_eq!(pages, 2, "{:?}", f.gh.requests());

    // Nothing changed: every page answers 304 and the remembered bodies serve.
    f.gh.clear_requests();
    let again = forge.proposals("ladder/").unwrap();
    assert_eq!(again, all);
    let requests = f.gh.requests();
    assert!(
        requests.iter().all(|r| r.conditional && r.status == 304),
        "{requests:?}"
    );
    let after = forge.stats();
    assert_eq!(after.not_modified - before.not_modified, 2);
    f.assert_conforms();
}

#[test]
fn checks_decide_whether_it_merges() {
    let f = Fixture::new();
    f.gh.set_mergeable_delay(0);
    let forge = f.forge();
    let head = publish(&f, &forge, "ladder/dev/web", "2.0");
    let p = forge.open("ladder/dev/web", "main", &text("t")).unwrap();
    let sha = head.to_string();
    let state = |forge: &GitHubForge| forge.merge_state(&p, "main").unwrap();
    assert!(matches!(state(&forge), MergeState::Blocked { .. }));
    // The next run.
    forge.proposals("ladder/").unwrap();
    f.gh.set_commit_status(REPO, &sha, "ci/lint", "pending");
    assert_eq!(
        state(&forge),
        MergeState::Mergeable {
            checks: Checks::Pending
        }
    );
    f.gh.set_commit_status(REPO, &sha, "ci/lint", "success");
    assert_eq!(
        state(&forge),
        MergeState::Mergeable {
            checks: Checks::Passed
        }
    );
    f.gh.add_check_run(REPO, &sha, "build", "in_progress", None);
    assert_eq!(
        state(&forge),
        MergeState::Mergeable {
            checks: Checks::Pending
        }
    );
    f.gh.add_check_run(REPO, &sha, "test", "completed", Some("failure"));
    assert_eq!(
        state(&forge),
        MergeState::Mergeable {
            checks: Checks::Failed
        }
    );
    f.assert_conforms();
}

#[test]
fn api_commits_have_the_pushed_tree_and_leases_hold() {
    let f = Fixture::new();
    let mut options = f.options(Auth::Token(Secret::new(TOKEN)));
    options.commit_mode = CommitMode::Api;
    let forge = GitHubForge::new(options, &f.repo).unwrap();
    let write = f.write("ladder/dev/web", "2.0");
    let local = write.new.unwrap();
    let results = forge.write_branches(std::slice::from_ref(&write)).unwrap();
    let made = results[0].as_ref().unwrap().unwrap();
    // GitHub's own commit, with exactly the tree ladder built.
    assert_ne!(made, local);
    assert_eq!(f.remote_tip("ladder/dev/web"), Some(made.to_string()));
    let local_tree = f.repo.read_commit(local).unwrap().unwrap().tree;
    assert_eq!(f.remote_tree(&made.to_string()), local_tree.to_string());
    let message = git(&f.bare, &["log", "-1", "--format=%B", &made.to_string()]);
    assert!(message.contains("Ladder-Promotion: web 2.0"), "{message}");

    // Creating it again: it exists.
    let api_write = |lease, content: CommitContent| BranchWrite {
        branch: "ladder/dev/web".into(),
        new: Some(local),
        lease,
        content: Some(content),
    };
    let one = |w: BranchWrite| {
        forge
            .write_branches(std::slice::from_ref(&w))
            .unwrap()
            .pop()
            .unwrap()
    };
    let err = one(api_write(Lease::Absent, write.content.clone().unwrap())).unwrap_err();
    assert!(matches!(err, ForgeError::Moved { .. }), "{err}");
    // Moving it from where it is not: nothing written.
    let err = one(api_write(Lease::At(f.main), write.content.clone().unwrap())).unwrap_err();
    assert!(matches!(err, ForgeError::Moved { .. }), "{err}");
    assert_eq!(f.remote_tip("ladder/dev/web"), Some(made.to_string()));
    // From where it is: moved.
    let next = one(api_write(
        Lease::At(made),
        CommitContent::of(&f.request("2.1")).unwrap(),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(f.remote_tip("ladder/dev/web"), Some(next.to_string()));
    // Deleting under a stale lease: moved; under the right one: gone.
    let delete = |lease| BranchWrite {
        branch: "ladder/dev/web".into(),
        new: None,
        lease,
        content: None,
    };
    let r = forge.write_branches(&[delete(Lease::At(made))]).unwrap();
    assert!(matches!(r[0], Err(ForgeError::Moved { .. })));
    let r = forge.write_branches(&[delete(Lease::At(next))]).unwrap();
    assert_eq!(r[0].as_ref().unwrap(), &None);
    assert_eq!(f.remote_tip("ladder/dev/web"), None);
    f.assert_conforms();
}

#[test]
fn a_secondary_rate_limit_on_every_third_call_still_succeeds() {
    let f = Fixture::new();
    let forge = f.forge();
    publish(&f, &forge, "ladder/dev/web", "2.0");
    f.gh.fail_every(
        3,
        Fault::SecondaryRateLimit {
            retry_after_secs: 0,
        },
    );
    let p = forge.open("ladder/dev/web", "main", &text("t")).unwrap();
    for i in 0..4 {
        forge.comment(&p, &format!("c{i}")).unwrap();
        assert_eq!(forge.proposals("ladder/").unwrap().len(), 1);
    }
    assert!(forge.stats().retries >= 3, "{:?}", forge.stats());
    assert_eq!(f.gh.pulls(REPO)[0].comments.len(), 4);
    f.assert_conforms();
}

#[test]
fn server_errors_are_retried_and_a_long_rate_limit_gives_up_in_budget() {
    let f = Fixture::new();
    let forge = f.forge();
    f.gh.fail_every(2, Fault::ServerError(502));
    assert_eq!(forge.branch_tip("main").unwrap(), Some(f.main));
    assert!(forge.proposals("ladder/").unwrap().is_empty());
    assert!(forge.stats().retries >= 1);

    f.gh.fail_every(
        1,
        Fault::PrimaryRateLimit {
            reset_in_secs: 3600,
        },
    );
    let started = std::time::Instant::now();
    let err = forge.proposals("ladder/").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_transient());
    assert!(err.to_string().contains("primary rate limit"), "{err}");
    f.gh.clear_faults();
    f.assert_conforms();
}

fn assert_secret_free(err: &ForgeError, secret: &str) {
    for text in [format!("{err}"), format!("{err:?}")] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn refused_and_missing_say_so_without_the_token() {
    let f = Fixture::new();
    let bad = "ghp_wrong_token_abcdef";
    let forge = GitHubForge::new(f.options(Auth::Token(Secret::new(bad))), &f.repo).unwrap();
    let err = forge.proposals("ladder/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitHub refused the credentials for acme/config (401 Bad credentials)"
    );
    assert!(!err.is_transient());
    assert_secret_free(&err, bad);
    let err = forge
        .write_branches(&[f.write("ladder/x", "9")])
        .unwrap_err();
    assert_secret_free(&err, bad);

    // A token that cannot see the repository: 404, with what access it needs.
    f.gh.add_token("ghp_other_repo_token", &["acme/other"]);
    let forge = GitHubForge::new(
        f.options(Auth::Token(Secret::new("ghp_other_repo_token"))),
        &f.repo,
    )
    .unwrap();
    for err in [
        forge.proposals("ladder/").unwrap_err(),
        forge.branch_tip("main").unwrap_err(),
    ] {
        assert_eq!(
            err.to_string(),
            "acme/config was not found, or the credentials cannot see it: they need read \
             and write access to contents and pull requests"
        );
        assert!(!err.is_transient());
        assert_secret_free(&err, "ghp_other_repo_token");
    }
    assert!(!format!("{forge:?}").contains("ghp_"));
    f.assert_conforms();
}

#[test]
fn a_mirror_of_another_repository_gets_no_token() {
    let f = Fixture::new();
    let mut options = f.options(Auth::Token(Secret::new(TOKEN)));
    options.repository = RepoName::parse("acme/other").unwrap();
    let err = GitHubForge::new(options, &f.repo).unwrap_err();
    assert!(err.to_string().contains("acme/config"), "{err}");
}

/// The App's private key (PEM text) and public key, for the fake.
fn app_key(dir: &Path) -> (String, String) {
    let (key, public) = ladder_testkit::github::app_key_pair(dir);
    (std::fs::read_to_string(key).unwrap(), public)
}

#[test]
fn a_github_app_obtains_and_refreshes_its_installation_token() {
    let f = Fixture::new();
    let (private, public) = app_key(f.dir.path());
    f.gh.add_app(4242, &public, 77, &[REPO]);
    f.gh.set_installation_token_ttl(Duration::from_secs(3));
    let forge = GitHubForge::new(
        f.options(Auth::App {
            app_id: 4242,
            private_key_pem: Secret::new(private.clone()),
        }),
        &f.repo,
    )
    .unwrap();
    // The push goes with the installation token too.
    let head = publish(&f, &forge, "ladder/dev/web", "2.0");
    let p = forge.open("ladder/dev/web", "main", &text("t")).unwrap();
    assert_eq!(p.head, head);
    let tokens = |gh: &FakeGitHub| {
        gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/access_tokens"))
            .count()
    };
    assert_eq!(tokens(&f.gh), 1);
    let installation_lookups =
        f.gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/installation"))
            .count();
    assert_eq!(installation_lookups, 1);
    assert!(
        f.gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/pulls"))
            .all(|r| r.auth == "installation")
    );
    // Past two thirds of its 3 s: replaced before it expires.
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(forge.proposals("ladder/").unwrap().len(), 1);
    assert_eq!(tokens(&f.gh), 2);
    // Past its expiry entirely: still works.
    std::thread::sleep(Duration::from_millis(3200));
    forge.comment(&p, "still here").unwrap();
    assert_eq!(tokens(&f.gh), 3);
    f.assert_conforms();
}

#[test]
fn an_app_that_is_not_installed_says_so() {
    let f = Fixture::new();
    let (private, public) = app_key(f.dir.path());
    f.gh.add_app(5, &public, 9, &["acme/other"]);
    let forge = GitHubForge::new(
        f.options(Auth::App {
            app_id: 5,
            private_key_pem: Secret::new(private.clone()),
        }),
        &f.repo,
    )
    .unwrap();
    let err = forge.proposals("ladder/").unwrap_err();
    assert!(
        err.to_string().contains("not installed on acme/config"),
        "{err}"
    );
    assert_secret_free(&err, "PRIVATE KEY");
    f.assert_conforms();
}

#[test]
fn a_cancelled_mirror_stops_the_forges_api_calls_too() {
    let f = Fixture::new();
    let limits = ladder_git::Limits::default();
    let cancel = limits.cancel.clone();
    let repo = f.repo.with_limits(limits);
    let forge = GitHubForge::new(f.options(Auth::Token(Secret::new(TOKEN))), &repo).unwrap();
    assert!(forge.proposals("ladder/").unwrap().is_empty());
    let sent = f.gh.requests().len();

    // The daemon stopping, or no longer leading: no request goes out, and the error is
    // one to retry later.
    cancel.cancel();
    let err = forge
        .open("ladder/dev/web", "main", &text("t"))
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("cancelled"), "{err}");
    let err = forge.proposals("ladder/").unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert_eq!(f.gh.requests().len(), sent);
}

//! `ladder promote` end to end with the `github` forge: the real binary against the fake
//! GitHub of the testkit (an in-process REST API checked against GitHub's OpenAPI
//! description, with a real bare repo behind it served over smart HTTP). Proposals are
//! pull requests.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{stderr, stdout};
use ladder_testkit::Origin;
use ladder_testkit::github::{FakeGitHub, Fault, PullSnapshot};

const REPO: &str = "acme/config";
const TOKEN: &str = "ghp_the-good-token";

fn env_file(name: &str, promotion: &str) -> String {
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

fn values(tag: &str) -> String {
    format!(
        "# web values\nreplicas: 2 # two\nimage:\n  repository: ghcr.io/acme/web\n  tag: \"{tag}\" # the tag\n"
    )
}

fn tenant_files(prod: &str) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "ladder.yaml".to_string(),
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\nforge:\n  type: github\n".to_string(),
        ),
        ("environments/dev.yaml".into(), env_file("dev", "")),
        (
            "environments/staging.yaml".into(),
            env_file(
                "staging",
                "promotion:\n  from: dev\n  labels: [promotion]\n  reviewers: [alice, nobody-here]\n",
            ),
        ),
        (
            "environments/prod.yaml".into(),
            env_file("prod", &format!("promotion:\n  from: staging\n  soak: 2s\n{prod}")),
        ),
        (
            "apps/web/app.yaml".into(),
            "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/web\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n".into(),
        ),
    ];
    for env in ["dev", "staging", "prod"] {
        files.push((format!("apps/web/env/{env}.yaml"), values("v1")));
    }
    files
}

/// A tenant repo on the fake GitHub: the bare origin behind it, its clone URL, and a
/// cache folder for ladder's mirror.
struct Hub {
    fake: FakeGitHub,
    origin: Origin,
    url: String,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hub {
    fn new() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let origin = Origin {
            base: dir.path().join("served"),
            name: "config.git".into(),
        };
        commit(&origin, "tenant", &tenant_files(""));
        let fake = FakeGitHub::start();
        fake.add_repo(REPO, &origin.path(), "main");
        fake.add_token(TOKEN, &[REPO]);
        fake.add_collaborator(REPO, "alice");
        let url = fake.git_url(REPO);
        Hub {
            fake,
            origin,
            url,
            cache: dir.path().join("cache"),
            _dir: dir,
        }
    }

    /// Runs ladder with the GitHub settings of an operator: the API URL and the token
    /// from the environment (the token also fetches the repo: same host as the API).
    fn ladder(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
        cmd.args(args)
            .args([
                "--repo",
                &self.url,
                "--cache-dir",
                self.cache.to_str().unwrap(),
            ])
            .env("LADDER_GITHUB_API_URL", self.fake.api_url())
            .env("LADDER_GITHUB_TOKEN", TOKEN)
            .env_remove("LADDER_GIT_PASSWORD")
            .env_remove("LADDER_GIT_PASSWORD_FILE")
            .env_remove("LADDER_GITHUB_TOKEN_FILE")
            .env_remove("LADDER_GITHUB_APP_ID")
            .env_remove("LADDER_GITHUB_APP_KEY_FILE");
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        cmd.output().expect("ladder runs")
    }

    /// `ladder promote -o json`, which must succeed; its actions as `kind branch`.
    fn promote(&self, extra: &[&str]) -> Vec<String> {
        self.promote_with(extra, &[])
    }

    fn promote_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let mut args = vec!["promote", "-o", "json"];
        args.extend_from_slice(extra);
        let run = self.ladder(&args, env);
        assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
        let json: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
        json["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {}",
                    a["kind"].as_str().unwrap(),
                    a["branch"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn pulls(&self) -> Vec<PullSnapshot> {
        self.fake.pulls(REPO)
    }

    fn pull(&self, head: &str) -> PullSnapshot {
        let mut matching: Vec<PullSnapshot> = self
            .pulls()
            .into_iter()
            .filter(|p| p.head_ref == head)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "one pull request from {head}: {matching:#?}"
        );
        matching.remove(0)
    }

    fn git(&self, args: &[&str]) -> String {
        ladder_testkit::git(&self.origin.path(), args)
            .trim()
            .to_string()
    }

    /// Write calls (POST, PATCH, PUT, DELETE) the API received since the last clear.
    fn api_writes(&self) -> Vec<String> {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.write)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn assert_conforms(&self) {
        assert_eq!(self.fake.openapi_violations(), Vec::<String>::new());
    }
}

fn commit(origin: &Origin, message: &str, files: &[(String, String)]) -> String {
    let files: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_bytes())))
        .collect();
    origin.commit("main", message, &files)
}

fn bump_dev(hub: &Hub, tag: &str) -> String {
    commit(
        &hub.origin,
        &format!("web {tag} in dev"),
        &[("apps/web/env/dev.yaml".into(), values(tag))],
    )
}

/// The lines a diff adds and removes, without the headers.
fn changed_lines(diff: &str) -> Vec<String> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(String::from)
        .collect()
}

#[test]
fn promotions_are_pull_requests_kept_one_per_promotion_through_merge_freeze_and_rollback() {
    FakeGitHub::load_openapi().expect("make reference");
    let hub = Hub::new();
    let before_bump = bump_dev(&hub, "v2");

    // One pull request into main, whose diff is the tag line; labels and reviewers set,
    // the reviewer GitHub does not know reported, not fatal.
    let run = hub.ladder(&["promote"], &[]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(
        stdout(&run)
            .contains("opened ladder/staging/web: Promote web to staging: image.tag v1 -> v2"),
        "{}",
        stdout(&run)
    );
    assert!(
        stdout(&run).contains("warning ladder/staging/web: requesting reviewers"),
        "{}",
        stdout(&run)
    );
    let pr = hub.pull("ladder/staging/web");
    assert_eq!((pr.state.as_str(), pr.base_ref.as_str()), ("open", "main"));
    assert_eq!(pr.title, "Promote web to staging: image.tag v1 -> v2");
    assert!(
        pr.body
            .as_deref()
            .unwrap_or("")
            .starts_with("<!-- ladder:promotion staging/web ")
    );
    assert_eq!(pr.labels, ["promotion"]);
    assert_eq!(pr.requested_reviewers, ["alice"]);
    assert_eq!(
        changed_lines(&hub.git(&["diff", "main", "ladder/staging/web"])),
        ["-  tag: \"v1\" # the tag", "+  tag: \"v2\" # the tag"]
    );

    // Again: nothing to do, and not one write call. The reads are conditional (the
    // answers of the last run are kept beside the mirror); once nothing changes between
    // two runs, they are 304s.
    hub.fake.clear_requests();
    assert_eq!(hub.promote(&[]), ["keep ladder/staging/web"]);
    assert_eq!(hub.api_writes(), Vec::<String>::new());
    hub.fake.clear_requests();
    assert_eq!(hub.promote(&[]), ["keep ladder/staging/web"]);
    assert_eq!(hub.api_writes(), Vec::<String>::new());
    let reads = hub.fake.requests();
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|r| r.conditional && r.status == 304),
        "{reads:#?}"
    );

    // A second bump before the merge updates the same pull request in place.
    bump_dev(&hub, "v3");
    assert_eq!(hub.promote(&[]), ["update ladder/staging/web"]);
    let updated = hub.pull("ladder/staging/web");
    assert_eq!(updated.number, pr.number);
    assert_eq!(updated.title, "Promote web to staging: image.tag v1 -> v3");
    assert_eq!(
        hub.git(&["rev-list", "--count", "main..ladder/staging/web"]),
        "1"
    );

    // A person merges it: staging is in sync, and prod waits for its soak, measured
    // from the merge commit, then is proposed.
    // The branch GitHub kept is ladder's to delete (under a lease), once.
    hub.fake.merge_as_person(REPO, pr.number);
    assert_eq!(hub.promote(&[]), ["close ladder/staging/web"]);
    assert_eq!(
        hub.git(&["branch", "--list", "ladder/staging/web"]),
        "",
        "the merged branch is deleted"
    );
    assert_eq!(hub.promote(&[]), Vec::<String>::new());
    let plan = hub.ladder(&["plan"], &[]);
    assert!(
        stdout(&plan).contains("prod/web: blocked (from staging)"),
        "{}",
        stdout(&plan)
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let after_merge = hub.promote(&[]);
    assert!(
        after_merge.contains(&"open ladder/prod/web".to_string()),
        "{after_merge:?}"
    );
    assert!(hub.pull("ladder/staging/web").merged);
    assert_eq!(
        hub.pull("ladder/prod/web").title,
        "Promote web to prod: image.tag v1 -> v3"
    );

    // Freezing prod labels its pull request, with one comment, once.
    let mut frozen = tenant_files("  frozen: true\n");
    frozen.retain(|(p, _)| p == "environments/prod.yaml");
    commit(&hub.origin, "freeze prod", &frozen);
    assert_eq!(hub.promote(&[]), ["hold ladder/prod/web"]);
    assert_eq!(hub.promote(&[]), ["hold ladder/prod/web"]);
    let held = hub.pull("ladder/prod/web");
    assert!(
        held.labels.contains(&"ladder/frozen".to_string()),
        "{held:#?}"
    );
    assert_eq!(held.comments.len(), 1, "{held:#?}");

    // A rollback of staging opens its own pull request. Here the reviewer request
    // fails (a 502): the pull request stands without reviewers and labels, exit 3, and
    // running the rollback again finishes it.
    let rollback = || {
        hub.ladder(
            &[
                "rollback",
                "--app",
                "web",
                "--env",
                "staging",
                "--to",
                &before_bump,
            ],
            &[],
        )
    };
    hub.fake
        .fail_next("POST", "/requested_reviewers", Fault::ServerError(502));
    let failed = rollback();
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    let rolled = hub.pull("ladder/rollback/staging/web");
    assert_eq!(
        (rolled.labels.len(), rolled.requested_reviewers.len()),
        (0, 0)
    );
    let again = rollback();
    assert!(
        again.status.success(),
        "{}\n{}",
        stdout(&again),
        stderr(&again)
    );
    let rolled = hub.pull("ladder/rollback/staging/web");
    assert_eq!(rolled.state, "open");
    assert_eq!(rolled.title, "Roll back web in staging: image.tag v3 -> v1");
    assert_eq!(rolled.labels, ["promotion"]);
    assert_eq!(rolled.requested_reviewers, ["alice"]);

    // `plan -o json` reports the API budget left.
    let plan = hub.ladder(&["plan", "-o", "json"], &[]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    assert_eq!(plan["forge"]["type"], "github");
    assert!(
        plan["forge"]["rateLimitRemaining"].as_u64().is_some(),
        "{plan:#}"
    );

    hub.assert_conforms();
}

#[test]
fn a_pull_request_closed_by_a_person_is_not_reopened_for_the_same_values() {
    let hub = Hub::new();
    bump_dev(&hub, "v2");
    assert_eq!(hub.promote(&[]), ["open ladder/staging/web"]);
    let pr = hub.pull("ladder/staging/web");
    hub.fake.close_as_person(REPO, pr.number);

    let plan = hub.ladder(&["plan"], &[]);
    assert!(
        stdout(&plan).contains("staging/web: held (from dev)"),
        "{}",
        stdout(&plan)
    );
    assert!(
        stdout(&plan).contains("was closed without merging"),
        "{}",
        stdout(&plan)
    );
    assert_eq!(hub.promote(&[]), Vec::<String>::new());
    assert_eq!(hub.pulls().len(), 1);

    // A new upstream value is proposed again (the old branch is ladder's: taken over).
    bump_dev(&hub, "v3");
    assert_eq!(hub.promote(&[]), ["open ladder/staging/web"]);
    let open: Vec<_> = hub
        .pulls()
        .into_iter()
        .filter(|p| p.state == "open")
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].title, "Promote web to staging: image.tag v1 -> v3");
    hub.assert_conforms();
}

#[test]
fn commit_mode_api_makes_the_same_tree_as_a_push() {
    let pushed = Hub::new();
    let through_api = Hub::new();
    for hub in [&pushed, &through_api] {
        bump_dev(hub, "v2");
    }
    assert_eq!(pushed.promote(&[]), ["open ladder/staging/web"]);
    assert_eq!(
        through_api.promote(&["--commit-mode", "api"]),
        ["open ladder/staging/web"]
    );
    let tree = |hub: &Hub| hub.git(&["rev-parse", "ladder/staging/web^{tree}"]);
    assert_eq!(tree(&pushed), tree(&through_api));
    // One commit on main, made through the API (no push reached the repo).
    assert_eq!(
        through_api.git(&["rev-parse", "ladder/staging/web^"]),
        through_api.git(&["rev-parse", "main"])
    );
    assert!(
        through_api
            .fake
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/git/commits")),
        "the commit was made through the Git Data API"
    );
    // Rerun through the API: up to date, no write.
    through_api.fake.clear_requests();
    assert_eq!(
        through_api.promote(&["--commit-mode", "api"]),
        ["keep ladder/staging/web"]
    );
    assert_eq!(through_api.api_writes(), Vec::<String>::new());
    pushed.assert_conforms();
    through_api.assert_conforms();
}

#[test]
fn a_wrong_token_is_refused_with_one_clear_message_naming_the_repository() {
    let hub = Hub::new();
    bump_dev(&hub, "v2");
    // Fetch with the good token (LADDER_GIT_*), the API with a wrong one.
    let run = hub.ladder(
        &["promote"],
        &[
            ("LADDER_GITHUB_TOKEN", "ghp_wrong"),
            ("LADDER_GIT_PASSWORD", TOKEN),
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}\n{}",
        stdout(&run),
        stderr(&run)
    );
    let err = stderr(&run);
    assert!(err.contains("acme/config") && err.contains("401"), "{err}");
    assert!(!err.contains("ghp_wrong") && !err.contains(TOKEN), "{err}");
    assert!(hub.pulls().is_empty());
}

#[test]
fn a_secondary_rate_limit_on_every_third_call_still_converges_on_the_same_end_state() {
    let clean = Hub::new();
    let limited = Hub::new();
    for hub in [&clean, &limited] {
        bump_dev(hub, "v2");
    }
    assert_eq!(clean.promote(&[]), ["open ladder/staging/web"]);
    limited.fake.fail_every(
        3,
        Fault::SecondaryRateLimit {
            retry_after_secs: 1,
        },
    );
    assert_eq!(limited.promote(&[]), ["open ladder/staging/web"]);
    limited.fake.clear_faults();
    let tree = |hub: &Hub| hub.git(&["rev-parse", "ladder/staging/web^{tree}"]);
    assert_eq!(tree(&clean), tree(&limited));
    let summary = |hub: &Hub| -> Vec<(String, String, Vec<String>, Vec<String>)> {
        hub.pulls()
            .into_iter()
            .map(|p| (p.state, p.title, p.labels, p.requested_reviewers))
            .collect()
    };
    assert_eq!(summary(&clean), summary(&limited));
    assert!(
        limited.fake.requests().iter().any(|r| r.status == 403),
        "the limit was hit"
    );
    limited.assert_conforms();
}

#[test]
fn a_github_app_gets_an_installation_token_for_the_repository() {
    let hub = Hub::new();
    bump_dev(&hub, "v2");
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = ladder_testkit::github::app_key_pair(keys.path());
    hub.fake.add_app(4242, &public, 77, &[REPO]);
    let key_path = key.to_str().unwrap();
    let actions = hub.promote_with(
        &[],
        &[
            ("LADDER_GITHUB_TOKEN", ""),
            ("LADDER_GITHUB_APP_ID", "4242"),
            ("LADDER_GITHUB_APP_KEY_FILE", key_path),
            // No LADDER_GIT_*: the App's installation token fetches and pushes too.
        ],
    );
    assert_eq!(actions, ["open ladder/staging/web"]);
    assert!(
        !hub.git(&[
            "rev-parse",
            "--verify",
            "-q",
            "refs/heads/ladder/staging/web"
        ])
        .is_empty(),
        "the branch was pushed with the installation token"
    );
    let requests = hub.fake.requests();
    // One token for the run: the fetch and the forge share it.
    let minted: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/access_tokens"))
        .collect();
    assert_eq!(minted.len(), 1, "{minted:#?}");
    assert_eq!(minted[0].auth, "jwt", "asked for with the App's JWT");
    assert!(
        requests
            .iter()
            .any(|r| r.auth == "installation" && r.method == "POST" && r.path.ends_with("/pulls")),
        "the pull request was opened with the installation token"
    );
    hub.assert_conforms();
}

/// A promote whose outcome is not asserted: whether it exited 0, its output.
fn promote_raw(hub: &Hub) -> (Option<i32>, String) {
    let run = hub.ladder(&["promote"], &[]);
    (
        run.status.code(),
        format!("{}\n{}", stdout(&run), stderr(&run)),
    )
}

/// One pull request as compared between hubs: state, title, hidden marker (the body's
/// first line), labels (sorted), reviewers asked, comments, and the head's tree.
type PullSummary = (
    String,
    String,
    String,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    String,
);

fn summary(hub: &Hub) -> Vec<PullSummary> {
    hub.pulls()
        .into_iter()
        .map(|p| {
            let mut labels = p.labels.clone();
            labels.sort();
            let marker = p
                .body
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let tree = hub.git(&["rev-parse", &format!("{}^{{tree}}", p.head_sha)]);
            // A comment's hidden marker names the proposal's head commit, whose id
            // carries the time it was built: compared without it.
            let comments = p
                .comments
                .iter()
                .map(|c| match c.split_once('\n') {
                    Some((first, rest)) if first.starts_with("<!-- ladder:") => {
                        let kind = first.split_whitespace().nth(1).unwrap_or_default();
                        format!("<!-- {kind} -->\n{rest}")
                    }
                    _ => c.clone(),
                })
                .collect();
            (
                p.state,
                p.title,
                marker,
                labels,
                p.requested_reviewers,
                comments,
                tree,
            )
        })
        .collect()
}

/// The steps of the fault scenario: a bump opens staging/web (labels, reviewers), a
/// second bump updates it, freezing staging labels it with one comment.
fn fault_step(hub: &Hub, step: usize) {
    match step {
        0 => {
            bump_dev(hub, "v2");
        }
        1 => {
            bump_dev(hub, "v3");
        }
        _ => {
            let mut files = tenant_files("");
            files.retain(|(p, _)| p == "environments/staging.yaml");
            files[0].1.push_str("  frozen: true\n");
            commit(&hub.origin, "freeze staging", &files);
        }
    }
}

#[test]
fn a_write_that_fails_before_or_after_it_lands_converges_on_the_rerun() {
    FakeGitHub::load_openapi().expect("make reference");
    // The clean hub: every step, one promote each.
    let clean = Hub::new();
    for step in 0..3 {
        fault_step(&clean, step);
        let (code, out) = promote_raw(&clean);
        assert_eq!(code, Some(0), "{out}");
    }
    let expected = summary(&clean);
    assert_eq!(expected.len(), 1, "{expected:#?}");
    let (state, title, _, labels, reviewers, comments, _) = &expected[0];
    assert_eq!(
        (state.as_str(), title.as_str()),
        ("open", "Promote web to staging: image.tag v1 -> v3")
    );
    assert_eq!(labels, &["ladder/frozen", "promotion"]);
    assert_eq!(reviewers, &["alice"]);
    assert_eq!(comments.len(), 1);
    clean.assert_conforms();

    // (step, method, path part, fault): the first such request of that step's promote
    // fails, before its effect (a 502) or after it (`LostReply`: it lands, its answer
    // is a 502).
    let lost = || Fault::LostReply;
    let before = || Fault::ServerError(502);
    let cases = [
        (0, "POST", "/repos/acme/config/pulls", lost()),
        (0, "POST", "/repos/acme/config/pulls", before()),
        (0, "POST", "/issues/1/labels", lost()),
        (0, "POST", "/issues/1/labels", before()),
        (0, "POST", "/pulls/1/requested_reviewers", lost()),
        (0, "POST", "/pulls/1/requested_reviewers", before()),
        (1, "PATCH", "/pulls/1", lost()),
        (1, "PATCH", "/pulls/1", before()),
        (2, "POST", "/issues/1/labels", lost()),
        (2, "POST", "/issues/1/comments", lost()),
        (2, "POST", "/issues/1/comments", before()),
    ];
    let expected = &expected;
    let failures: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(at, method, path, fault)| {
                s.spawn(move || {
                    let case = format!("step {at}: {method} {path} {fault:?}");
                    let hub = Hub::new();
                    for step in 0..3 {
                        fault_step(&hub, step);
                        if step == *at {
                            hub.fake.fail_next(method, path, fault.clone());
                            let (code, out) = promote_raw(&hub);
                            assert!(
                                hub.fake.pending_faults().is_empty(),
                                "{case}: no such request\n{out}"
                            );
                            // A reviewer request that fails for now (not a refused
                            // reviewer) leaves the pull request unfinished: exit 3.
                            assert_eq!(code, Some(3), "{case}: the exit code\n{out}");
                            assert!(out.contains("502"), "{case}: {out}");
                        }
                        let (code, out) = promote_raw(&hub);
                        assert_eq!(code, Some(0), "{case}: the rerun\n{out}");
                    }
                    let got = summary(&hub);
                    // Converged: nothing left to write.
                    hub.fake.clear_requests();
                    let (code, out) = promote_raw(&hub);
                    assert_eq!(code, Some(0), "{case}: {out}");
                    assert_eq!(hub.api_writes(), Vec::<String>::new(), "{case}");
                    hub.assert_conforms();
                    (got != *expected).then(|| format!("{case}: {got:#?}"))
                })
            })
            .collect();
        runs.into_iter().filter_map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(failures, Vec::<String>::new(), "expected {expected:#?}");
}

/// A hub whose staging merges by itself (`mode: auto-merge`) with `method`, and a bump
/// of dev's web to v2.
fn auto_merge_hub(method: &str) -> Hub {
    let hub = Hub::new();
    let mut files = tenant_files("");
    files.retain(|(p, _)| p == "ladder.yaml" || p == "environments/staging.yaml");
    for (path, text) in &mut files {
        if path == "ladder.yaml" {
            text.push_str(&format!("  mergeMethod: {method}\n"));
        } else {
            text.push_str("  mode: auto-merge\n");
        }
    }
    commit(&hub.origin, "staging merges by itself", &files);
    bump_dev(&hub, "v2");
    hub
}

/// `ladder promote` in text, which must exit 0: its output.
fn promote_text(hub: &Hub) -> String {
    let (code, out) = promote_raw(hub);
    assert_eq!(code, Some(0), "{out}");
    out
}

#[test]
fn auto_merge_waits_for_github_and_green_checks_then_merges_with_the_configured_method() {
    FakeGitHub::load_openapi().expect("make reference");
    for method in ["merge", "squash"] {
        let hub = auto_merge_hub(method);
        // Opened, not merged in the same run: no check is registered yet.
        let out = promote_text(&hub);
        assert!(out.contains("opened ladder/staging/web"), "{out}");
        assert!(out.contains("not merged"), "{out}");
        assert!(!out.contains("(auto-merge)"), "{out}");
        let pr = hub.pull("ladder/staging/web");
        assert_eq!(pr.state, "open");
        let sha = pr.head_sha.clone();

        // GitHub is still computing mergeability (`mergeable: null`): wait.
        let out = promote_text(&hub);
        assert!(out.contains("mergeability unknown"), "{method}: {out}");
        assert_eq!(hub.pull("ladder/staging/web").state, "open");

        // A failing check: not merged, and the output says why.
        hub.fake
            .set_commit_status(REPO, &sha, "ci/build", "failure");
        let out = promote_text(&hub);
        assert!(
            out.contains("not merged yet: checks Failed"),
            "{method}: {out}"
        );
        assert_eq!(hub.pull("ladder/staging/web").state, "open");

        // Green, but branch protection blocks it, or the head is behind: not merged,
        // each with its reason, and no error.
        hub.fake
            .set_commit_status(REPO, &sha, "ci/build", "success");
        hub.fake
            .add_check_run(REPO, &sha, "lint", "completed", Some("success"));
        for (state, why) in [
            ("blocked", "not merged: branch protection blocks it"),
            ("behind", "not merged: its head is behind the base branch"),
        ] {
            hub.fake.set_mergeable_state(REPO, pr.number, state);
            let out = promote_text(&hub);
            assert!(out.contains(why), "{method} {state}: {out}");
            assert_eq!(hub.pull("ladder/staging/web").state, "open", "{state}");
        }

        // `unstable` (a check that is not required failed) with the checks ladder reads
        // green, or clean: merged, with the configured method.
        let state = if method == "merge" {
            "clean"
        } else {
            "unstable"
        };
        hub.fake.set_mergeable_state(REPO, pr.number, state);
        let main_before = hub.git(&["rev-parse", "main"]);
        let out = promote_text(&hub);
        assert!(
            out.contains("merged ladder/staging/web (auto-merge)"),
            "{method}: {out}"
        );
        let merged = hub.pull("ladder/staging/web");
        assert!(merged.merged, "{merged:#?}");
        let parents = hub.git(&["rev-list", "--parents", "-n", "1", "main"]);
        let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
        match method {
            "merge" => assert_eq!(parents, [main_before.as_str(), sha.as_str()]),
            _ => assert_eq!(parents, [main_before.as_str()]),
        }
        assert_eq!(
            hub.git(&["rev-parse", "main^{tree}"]),
            hub.git(&["rev-parse", &format!("{sha}^{{tree}}")]),
            "{method}: main holds the promotion"
        );
        let merge = hub
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
            .collect::<Vec<_>>();
        assert_eq!(merge.len(), 1, "{merge:#?}");
        // Staging is in sync now: the kept branch is deleted, nothing else.
        let out = promote_text(&hub);
        assert!(out.contains("closed ladder/staging/web"), "{out}");
        assert_eq!(hub.pulls().len(), 1);
        hub.assert_conforms();
    }
}

//! `ladder promote` end to end with the `git` forge: the real binary on a tenant repo
//! served by `git daemon` (proposals are pushed branches), and on a folder (proposals
//! are branches of the folder's own repository).

mod common;

use std::path::Path;

use common::*;
use ladder_testkit::{GitDaemon, Origin};

fn env_file(name: &str, promotion: &str) -> String {
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

fn values(app: &str, tag: &str) -> String {
    format!(
        "# {app} values\nreplicas: 2 # two\nimage:\n  repository: ghcr.io/acme/{app}\n  tag: \"{tag}\" # the tag\n"
    )
}

/// dev -> staging -> prod, app `web` at `tags`.
fn tenant_files(tags: [&str; 3]) -> Vec<(String, String)> {
    tenant_files_with(tags, "")
}

/// The same, with more of staging's `promotion` settings.
fn tenant_files_with(tags: [&str; 3], staging: &str) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "ladder.yaml".to_string(),
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n".to_string(),
        ),
        ("environments/dev.yaml".into(), env_file("dev", "")),
        (
            "environments/staging.yaml".into(),
            env_file("staging", &format!("promotion:\n  from: dev\n{staging}")),
        ),
        (
            "environments/prod.yaml".into(),
            env_file("prod", "promotion:\n  from: staging\n"),
        ),
        (
            "apps/web/app.yaml".into(),
            "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/web\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n".into(),
        ),
    ];
    for (env, tag) in ["dev", "staging", "prod"].iter().zip(tags) {
        files.push((format!("apps/web/env/{env}.yaml"), values("web", tag)));
    }
    files
}

/// The bare origin `acme.git` under `<dir>/served` (created by the first commit).
fn acme_origin(dir: &Path) -> Origin {
    Origin {
        base: dir.join("served"),
        name: "acme.git".into(),
    }
}

/// `git daemon` serving `origin`, its URL, and a cache folder for ladder's mirror. The
/// daemon stops when the returned handle is dropped.
fn serve(origin: &Origin, dir: &Path) -> (GitDaemon, String, std::path::PathBuf) {
    let daemon = GitDaemon::start(&origin.base);
    let url = daemon.url(&origin.name);
    (daemon, url, dir.join("cache"))
}

fn commit(origin: &Origin, message: &str, files: &[(String, String)]) -> String {
    commit_on(origin, message, files, "main")
}

fn commit_on(origin: &Origin, message: &str, files: &[(String, String)], branch: &str) -> String {
    let files: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_bytes())))
        .collect();
    origin.commit(branch, message, &files)
}

fn git(dir: &Path, args: &[&str]) -> String {
    ladder_testkit::git(dir, args).trim().to_string()
}

fn promote(repo: &str, cache: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "promote",
        "--repo",
        repo,
        "--cache-dir",
        cache.to_str().unwrap(),
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let run = ladder(&args);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    serde_json::from_str(&stdout(&run)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&run)))
}

fn kinds(outcome: &serde_json::Value) -> Vec<String> {
    outcome["actions"]
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

/// The lines a diff adds and removes, without the headers.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

fn ladder_branches(repo: &Path) -> Vec<String> {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/ladder/",
        ],
    )
    .lines()
    .map(String::from)
    .collect()
}

#[test]
fn promote_keeps_exactly_one_commit_per_promotion_on_a_served_repo() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    commit(&origin, "tenant", &tenant_files(["v1"; 3]));
    let bump = commit(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());

    // A dry run writes nothing.
    let dry = promote(&url, &cache, &["--dry-run"]);
    assert_eq!(kinds(&dry), ["open ladder/staging/web"]);
    assert_eq!(dry["writes"], 0);
    assert!(ladder_branches(&bare).is_empty());

    // One staging branch, one commit on main, whose diff is exactly the tag line.
    let first = promote(&url, &cache, &[]);
    assert_eq!(kinds(&first), ["open ladder/staging/web"], "{first:#}");
    assert_eq!(first["actions"][0]["written"], true);
    assert_eq!(ladder_branches(&bare), ["ladder/staging/web"]);
    let branch = "ladder/staging/web";
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{branch}^")]),
        git(&bare, &["rev-parse", "main"])
    );
    let diff = git(&bare, &["diff", "main", branch]);
    assert_eq!(
        changed_lines(&diff),
        ["-  tag: \"v1\" # the tag", "+  tag: \"v2\" # the tag"],
        "{diff}"
    );
    assert!(diff.contains("apps/web/env/staging.yaml"), "{diff}");
    let message = git(&bare, &["log", "-1", "--format=%B", branch]);
    assert!(
        message.starts_with("Promote web to staging: image.tag v1 -> v2\n"),
        "{message}"
    );
    assert!(message.contains("Ladder-Upstream: dev"), "{message}");
    assert!(
        message.contains(&format!("Ladder-Source-Commit: {bump}")),
        "{message}"
    );
    let tip = git(&bare, &["rev-parse", branch]);

    // Again: nothing changes, nothing is written.
    let again = promote(&url, &cache, &[]);
    assert_eq!(kinds(&again), ["keep ladder/staging/web"]);
    assert_eq!(again["writes"], 0);
    assert_eq!(git(&bare, &["rev-parse", branch]), tip);

    // A second dev bump before the merge: the branch is rebuilt, still one commit.
    commit(
        &origin,
        "web v3 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v3"))],
    );
    let moved = promote(&url, &cache, &[]);
    assert_eq!(kinds(&moved), ["update ladder/staging/web"]);
    let new_tip = git(&bare, &["rev-parse", branch]);
    assert_ne!(new_tip, tip);
    assert_eq!(
        git(&bare, &["rev-list", "--count", &format!("main..{branch}")]),
        "1"
    );
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{branch}^")]),
        git(&bare, &["rev-parse", "main"])
    );
    assert_eq!(
        changed_lines(&git(&bare, &["diff", "main", branch])),
        ["-  tag: \"v1\" # the tag", "+  tag: \"v3\" # the tag"]
    );

    // Merged (fast-forward): the staging proposal is closed and prod is proposed.
    git(&bare, &["update-ref", "refs/heads/main", &new_tip]);
    let merged = promote(&url, &cache, &[]);
    let mut got = kinds(&merged);
    got.sort();
    assert_eq!(
        got,
        ["close ladder/staging/web", "open ladder/prod/web"],
        "{merged:#}"
    );
    assert_eq!(ladder_branches(&bare), ["ladder/prod/web"]);
    assert_eq!(
        changed_lines(&git(&bare, &["diff", "main", "ladder/prod/web"])),
        ["-  tag: \"v1\" # the tag", "+  tag: \"v3\" # the tag"]
    );

    // Someone pushes to ladder's branch: ladder neither overwrites nor deletes it.
    commit_on(
        &origin,
        "a person's tweak",
        &[("apps/web/env/prod.yaml".into(), values("web", "v9"))],
        "ladder/prod/web",
    );
    let theirs = git(&bare, &["rev-parse", "ladder/prod/web"]);
    let foreign = promote(&url, &cache, &[]);
    assert_eq!(kinds(&foreign), ["foreign ladder/prod/web"], "{foreign:#}");
    assert_eq!(foreign["writes"], 0);
    assert_eq!(git(&bare, &["rev-parse", "ladder/prod/web"]), theirs);
    assert!(
        foreign["actions"][0].get("alreadyReported").is_none(),
        "{foreign:#}"
    );
    // Said once: the next run knows it reported this push (a mark in the mirror, never
    // pushed), and the text output stays quiet about it.
    let again = promote(&url, &cache, &[]);
    assert_eq!(again["actions"][0]["alreadyReported"], true, "{again:#}");
    let run = ladder(&[
        "promote",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(
        !stdout(&run).contains("ladder/prod/web"),
        "{}",
        stdout(&run)
    );
    assert_eq!(git(&bare, &["for-each-ref", "refs/ladder/"]), "");
    // A new push by the person is reported again.
    commit_on(
        &origin,
        "another tweak",
        &[("apps/web/env/prod.yaml".into(), values("web", "v10"))],
        "ladder/prod/web",
    );
    let newer = promote(&url, &cache, &[]);
    assert!(
        newer["actions"][0].get("alreadyReported").is_none(),
        "{newer:#}"
    );

    // --env limits the reconcile to that environment.
    let only_staging = promote(&url, &cache, &["--env", "staging"]);
    assert_eq!(kinds(&only_staging), Vec::<String>::new());
}

#[test]
fn promote_in_a_folder_creates_the_branch_locally_and_leaves_the_checkout_alone() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (path, text) in tenant_files(["v2", "v1", "v1"]) {
        let file = work.join(&path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "tenant"]);
    let main = git(&work, &["rev-parse", "main"]);
    let cache = dir.path().join("cache");

    let outcome = promote(work.to_str().unwrap(), &cache, &[]);
    assert_eq!(kinds(&outcome), ["open ladder/staging/web"], "{outcome:#}");
    assert_eq!(ladder_branches(&work), ["ladder/staging/web"]);
    assert_eq!(git(&work, &["rev-parse", "main"]), main);
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
    assert_eq!(git(&work, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(
        changed_lines(&git(&work, &["diff", "main", "ladder/staging/web"])),
        ["-  tag: \"v1\" # the tag", "+  tag: \"v2\" # the tag"]
    );

    // Idempotent here too.
    let again = promote(work.to_str().unwrap(), &cache, &[]);
    assert_eq!(kinds(&again), ["keep ladder/staging/web"]);

    // `ladder plan` shows the proposal.
    let run = ladder(&["plan", "--repo", work.to_str().unwrap(), "-o", "json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    let staging = &plan["promotions"][0];
    assert_eq!(staging["env"], "staging");
    assert_eq!(staging["state"], "proposed");
    assert_eq!(
        staging["proposal"],
        serde_json::json!({"branch": "ladder/staging/web", "url": null, "number": null})
    );
}

#[test]
fn a_prod_hotfix_is_diverged_and_only_forced_promotions_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    commit(&origin, "tenant", &tenant_files(["1.4.0"; 3]));
    commit(
        &origin,
        "hotfix straight to prod",
        &[("apps/web/env/prod.yaml".into(), values("web", "1.4.1"))],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());

    let run = ladder(&[
        "plan",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = stdout(&run);
    assert!(text.contains("prod/web: diverged (from staging)"), "{text}");
    assert!(
        text.contains("prod has 1.4.1, which never was in staging"),
        "{text}"
    );

    // A routine promote leaves the hotfix alone.
    let routine = promote(&url, &cache, &[]);
    assert_eq!(kinds(&routine), Vec::<String>::new());
    assert!(ladder_branches(&bare).is_empty());

    // --force needs the promotion named.
    let usage = ladder(&["promote", "--repo", &url, "--force"]);
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));

    let forced = promote(&url, &cache, &["--force", "--app", "web", "--env", "prod"]);
    assert_eq!(kinds(&forced), ["open ladder/prod/web"]);
    assert_eq!(
        changed_lines(&git(&bare, &["diff", "main", "ladder/prod/web"])),
        ["-  tag: \"1.4.1\" # the tag", "+  tag: \"1.4.0\" # the tag"]
    );

    // A routine run keeps the forced proposal as it is.
    let forced_tip = git(&bare, &["rev-parse", "ladder/prod/web"]);
    let routine = promote(&url, &cache, &[]);
    assert_eq!(kinds(&routine), ["hold ladder/prod/web"]);
    assert_eq!(git(&bare, &["rev-parse", "ladder/prod/web"]), forced_tip);

    // A newer upstream version goes over the hotfix without --force.
    commit(
        &origin,
        "1.5.0 in dev and staging",
        &[
            ("apps/web/env/dev.yaml".into(), values("web", "1.5.0")),
            ("apps/web/env/staging.yaml".into(), values("web", "1.5.0")),
        ],
    );
    let newer = promote(&url, &cache, &[]);
    assert_eq!(kinds(&newer), ["update ladder/prod/web"], "{newer:#}");
    assert_eq!(
        changed_lines(&git(&bare, &["diff", "main", "ladder/prod/web"])),
        ["-  tag: \"1.4.1\" # the tag", "+  tag: \"1.5.0\" # the tag"]
    );
}

#[test]
fn auto_merge_fast_forwards_the_config_branch_of_a_served_repo_but_not_a_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    let files = tenant_files_with(["v1"; 3], "  mode: auto-merge\n");
    commit(&origin, "tenant", &files);
    commit(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());

    let merged = promote(&url, &cache, &[]);
    assert_eq!(kinds(&merged), ["open ladder/staging/web"]);
    assert_eq!(merged["actions"][0]["merged"], true, "{merged:#}");
    let branch_tip = git(&bare, &["rev-parse", "ladder/staging/web"]);
    assert_eq!(git(&bare, &["rev-parse", "main"]), branch_tip);
    // The next run deletes the merged branch and proposes prod (pull-request mode).
    let next = promote(&url, &cache, &[]);
    let mut got = kinds(&next);
    got.sort();
    assert_eq!(got, ["close ladder/staging/web", "open ladder/prod/web"]);
    assert!(
        next["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["merged"] == false)
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), branch_tip);

    // In a folder, main is checked out: never moved; the branch waits for a person.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (path, text) in tenant_files_with(["v2", "v1", "v1"], "  mode: auto-merge\n") {
        let file = work.join(&path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "tenant"]);
    let main = git(&work, &["rev-parse", "main"]);
    let local = promote(work.to_str().unwrap(), &cache, &[]);
    assert_eq!(kinds(&local), ["open ladder/staging/web"]);
    assert_eq!(local["actions"][0]["merged"], false);
    let reason = local["actions"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("main is checked out"), "{reason}");
    assert_eq!(local["ok"], true);
    assert_eq!(git(&work, &["rev-parse", "main"]), main);
}

/// `git diff main <branch>`'s changed lines in `dir`.
fn branch_diff(dir: &Path, branch: &str) -> Vec<String> {
    changed_lines(&git(dir, &["diff", "main", branch]))
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn helm_kustomize_and_directory_apps_of_the_example_promote_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("acme");
    copy_tree(&example_repo(), &work);
    // No soak and no sync window in prod: the test must not depend on the clock.
    std::fs::write(
        work.join("environments/prod.yaml"),
        env_file("prod", "promotion:\n  from: staging\n"),
    )
    .unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "example"]);
    let deployment = work.join("apps/docs/dev/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(
        &deployment,
        text.replace("ghcr.io/acme/docs:0.9.0", "ghcr.io/acme/docs:0.9.1"),
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "docs 0.9.1 in dev"]);
    let cache = dir.path().join("cache");

    let outcome = promote(work.to_str().unwrap(), &cache, &[]);
    let mut got = kinds(&outcome);
    got.sort();
    assert_eq!(
        got,
        [
            "open ladder/prod/docs",
            "open ladder/staging/shop",
            "open ladder/staging/web"
        ],
        "{outcome:#}"
    );
    // Helm values: the tag line, its comment kept.
    assert_eq!(
        branch_diff(&work, "ladder/staging/web"),
        [
            "-  tag: \"1.4.2\" # promoted by ladder",
            "+  tag: \"1.5.0\" # promoted by ladder"
        ]
    );
    // Kustomize: images[name=ghcr.io/acme/shop].newTag in the overlay.
    assert_eq!(
        branch_diff(&work, "ladder/staging/shop"),
        [
            "-    newTag: \"2.0.1\" # promoted by ladder",
            "+    newTag: \"2.1.0\" # promoted by ladder"
        ]
    );
    // A directory app's container image, from dev: docs is not deployed to staging.
    assert_eq!(
        branch_diff(&work, "ladder/prod/docs"),
        [
            "-          image: ghcr.io/acme/docs:0.9.0",
            "+          image: ghcr.io/acme/docs:0.9.1"
        ]
    );
    let subject = git(&work, &["log", "-1", "--format=%s", "ladder/prod/docs"]);
    assert_eq!(
        subject,
        "Promote docs to prod: spec.template.spec.containers[name=docs].image ghcr.io/acme/docs:0.9.0 -> ghcr.io/acme/docs:0.9.1"
    );
    assert!(
        git(&work, &["log", "-1", "--format=%B", "ladder/prod/docs"])
            .contains("Ladder-Upstream: dev")
    );
}

#[test]
fn a_rollback_restores_the_old_tag_and_holds_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    commit(&origin, "tenant", &tenant_files(["v1"; 3]));
    let before = commit(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());
    let c = cache.to_str().unwrap();

    // v2 reaches staging.
    promote(&url, &cache, &[]);
    let tip = git(&bare, &["rev-parse", "ladder/staging/web"]);
    git(&bare, &["update-ref", "refs/heads/main", &tip]);
    promote(&url, &cache, &[]);

    // Roll staging back to the values of `before`.
    let args = [
        "rollback",
        "--repo",
        &url,
        "--cache-dir",
        c,
        "--app",
        "web",
        "--env",
        "staging",
        "--to",
        &before,
        "--reason",
        "v2 crashes on start",
    ];
    let run = ladder(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains(
            "opened ladder/rollback/staging/web: Roll back web in staging: image.tag v2 -> v1"
        ),
        "{}",
        stdout(&run)
    );
    let branch = "ladder/rollback/staging/web";
    assert_eq!(
        branch_diff(&bare, branch),
        ["-  tag: \"v2\" # the tag", "+  tag: \"v1\" # the tag"]
    );
    let message = git(&bare, &["log", "-1", "--format=%B", branch]);
    assert!(message.contains("v2 crashes on start"), "{message}");
    assert!(
        message.contains(&format!("Ladder-Rollback-To: {before}")),
        "{message}"
    );
    // Again: up to date, nothing written.
    let rollback_tip = git(&bare, &["rev-parse", branch]);
    let again = ladder(&args);
    assert!(
        stdout(&again).contains("up to date ladder/rollback/staging/web"),
        "{}",
        stdout(&again)
    );
    assert_eq!(git(&bare, &["rev-parse", branch]), rollback_tip);

    // Merged: staging is held at v1 while dev holds the value rolled back from.
    git(&bare, &["update-ref", "refs/heads/main", &rollback_tip]);
    let plan = ladder(&["plan", "--repo", &url, "--cache-dir", c]);
    assert!(
        stdout(&plan).contains("staging/web: held (from dev)"),
        "{}",
        stdout(&plan)
    );
    let held = promote(&url, &cache, &[]);
    assert!(
        !kinds(&held)
            .iter()
            .any(|k| k.contains("ladder/staging/web")),
        "{held:#}"
    );
    // The merged rollback's branch goes, and only once.
    assert!(
        kinds(&held).contains(&"close ladder/rollback/staging/web".to_string()),
        "{held:#}"
    );
    assert!(
        !ladder_branches(&bare).contains(&branch.to_string()),
        "the merged rollback branch is deleted: {:?}",
        ladder_branches(&bare)
    );
    let after = promote(&url, &cache, &[]);
    assert!(
        !kinds(&after).iter().any(|k| k.contains("rollback")),
        "{after:#}"
    );
    // The next different value is promoted.
    commit(
        &origin,
        "web v3 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v3"))],
    );
    let next = promote(&url, &cache, &[]);
    assert!(
        kinds(&next).contains(&"open ladder/staging/web".to_string()),
        "{next:#}"
    );

    // A frozen environment refuses a rollback unless forced.
    commit(
        &origin,
        "freeze prod",
        &[(
            "environments/prod.yaml".into(),
            env_file("prod", "promotion:\n  from: staging\n  frozen: true\n"),
        )],
    );
    let prod = [
        "rollback",
        "--repo",
        &url,
        "--cache-dir",
        c,
        "--app",
        "web",
        "--env",
        "prod",
        "--to",
        &before,
    ];
    commit(
        &origin,
        "hotfix prod",
        &[("apps/web/env/prod.yaml".into(), values("web", "v1.1"))],
    );
    let refused = ladder(&prod);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("prod is frozen"),
        "{}",
        stderr(&refused)
    );
    let mut forced = prod.to_vec();
    forced.push("--force");
    let run = ladder(&forced);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(
        branch_diff(&bare, "ladder/rollback/prod/web"),
        ["-  tag: \"v1.1\" # the tag", "+  tag: \"v1\" # the tag"]
    );
}

#[test]
fn a_grouped_environment_gets_one_proposal_for_every_due_app() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    let mut files = tenant_files_with(["v1"; 3], "  group: environment\n");
    files.push((
        "apps/api/app.yaml".into(),
        "name: api\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/api\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n".into(),
    ));
    for env in ["dev", "staging", "prod"] {
        files.push((format!("apps/api/env/{env}.yaml"), values("api", "a1")));
    }
    commit(&origin, "tenant", &files);
    commit(
        &origin,
        "web v2 and api a2 in dev",
        &[
            ("apps/web/env/dev.yaml".into(), values("web", "v2")),
            ("apps/api/env/dev.yaml".into(), values("api", "a2")),
        ],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());

    let first = promote(&url, &cache, &[]);
    assert_eq!(kinds(&first), ["open ladder/staging/_all"], "{first:#}");
    assert_eq!(ladder_branches(&bare), ["ladder/staging/_all"]);
    let diff = git(&bare, &["diff", "main", "ladder/staging/_all"]);
    assert_eq!(
        changed_lines(&diff),
        [
            "-  tag: \"a1\" # the tag",
            "+  tag: \"a2\" # the tag",
            "-  tag: \"v1\" # the tag",
            "+  tag: \"v2\" # the tag"
        ],
        "{diff}"
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%s", "ladder/staging/_all"]),
        "Promote 2 apps to staging"
    );
    assert_eq!(
        git(&bare, &["rev-list", "--count", "main..ladder/staging/_all"]),
        "1"
    );
    let again = promote(&url, &cache, &[]);
    assert_eq!(kinds(&again), ["keep ladder/staging/_all"]);
    assert_eq!(again["writes"], 0);

    let run = ladder(&[
        "plan",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    for app in ["api", "web"] {
        let row = plan["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["app"] == app && r["env"] == "staging")
            .unwrap();
        assert_eq!(row["state"], "proposed");
        assert_eq!(row["proposal"]["branch"], "ladder/staging/_all");
    }

    // Merged: the group is closed, prod (per app) gets one proposal per app.
    let tip = git(&bare, &["rev-parse", "ladder/staging/_all"]);
    git(&bare, &["update-ref", "refs/heads/main", &tip]);
    let merged = promote(&url, &cache, &[]);
    let mut got = kinds(&merged);
    got.sort();
    assert_eq!(
        got,
        [
            "close ladder/staging/_all",
            "open ladder/prod/api",
            "open ladder/prod/web"
        ]
    );
}

#[test]
fn backflow_proposes_a_prod_hotfix_back_to_staging() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    let mut files = tenant_files(["1.4.0"; 3]);
    for (path, text) in &mut files {
        if path == "environments/prod.yaml" {
            *text = env_file("prod", "promotion:\n  from: staging\n  backflow: true\n");
        }
    }
    commit(&origin, "tenant", &files);
    commit(
        &origin,
        "hotfix straight to prod",
        &[("apps/web/env/prod.yaml".into(), values("web", "1.4.1"))],
    );
    let bare = origin.path();
    let (_daemon, url, cache) = serve(&origin, dir.path());

    let first = promote(&url, &cache, &[]);
    assert_eq!(
        kinds(&first),
        ["open ladder/backflow/staging/web"],
        "{first:#}"
    );
    let branch = "ladder/backflow/staging/web";
    let diff = git(&bare, &["diff", "main", branch]);
    assert!(diff.contains("apps/web/env/staging.yaml"), "{diff}");
    assert_eq!(
        changed_lines(&diff),
        ["-  tag: \"1.4.0\" # the tag", "+  tag: \"1.4.1\" # the tag"]
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%s", branch]),
        "Backflow web to staging: image.tag 1.4.0 -> 1.4.1"
    );
    let again = promote(&url, &cache, &[]);
    assert_eq!(kinds(&again), ["keep ladder/backflow/staging/web"]);
    assert_eq!(again["writes"], 0);

    // Merged: prod and staging agree; the backflow branch goes.
    let tip = git(&bare, &["rev-parse", branch]);
    git(&bare, &["update-ref", "refs/heads/main", &tip]);
    let merged = promote(&url, &cache, &[]);
    assert_eq!(
        kinds(&merged),
        ["close ladder/backflow/staging/web"],
        "{merged:#}"
    );
    assert!(ladder_branches(&bare).is_empty());
}

#[test]
fn a_tenant_in_a_monorepo_subfolder_prefixes_its_branches_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    let bare = served.join("platform.git");
    ladder_testkit::example_platform(
        &example_repo(),
        &dir.path().join("work"),
        Some("tenants/acme"),
        "main",
        &bare,
    );
    let daemon = GitDaemon::start(&served);
    let url = daemon.url("platform.git");
    let cache = dir.path().join("cache");

    let outcome = promote(&url, &cache, &["--subfolder", "tenants/acme"]);
    let mut got = kinds(&outcome);
    got.sort();
    assert_eq!(
        got,
        [
            "open ladder/acme/staging/shop",
            "open ladder/acme/staging/web"
        ],
        "{outcome:#}"
    );
    let diff = git(&bare, &["diff", "main", "ladder/acme/staging/web"]);
    assert!(
        diff.contains("tenants/acme/apps/web/env/staging.yaml"),
        "{diff}"
    );
    assert_eq!(
        changed_lines(&diff),
        [
            "-  tag: \"1.4.2\" # promoted by ladder",
            "+  tag: \"1.5.0\" # promoted by ladder"
        ]
    );
    let again = promote(&url, &cache, &["--subfolder", "tenants/acme"]);
    assert_eq!(again["writes"], 0, "{again:#}");
}

#[test]
fn a_revert_in_dev_is_promoted_to_staging_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let origin = acme_origin(dir.path());
    commit(&origin, "tenant", &tenant_files(["v1"; 3]));
    commit(
        &origin,
        "v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    commit(
        &origin,
        "v2 promoted to staging",
        &[("apps/web/env/staging.yaml".into(), values("web", "v2"))],
    );
    // dev reverts: staging once had v1, but it is dev that moved last.
    commit(
        &origin,
        "revert dev to v1",
        &[("apps/web/env/dev.yaml".into(), values("web", "v1"))],
    );
    let (_daemon, url, cache) = serve(&origin, dir.path());
    let run = ladder(&[
        "plan",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = stdout(&run);
    assert!(text.contains("staging/web: due (from dev)"), "{text}");

    // A rollback of staging (staging moves last) is held.
    commit(
        &origin,
        "v2 in dev again",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    commit(
        &origin,
        "roll staging back to v1",
        &[("apps/web/env/staging.yaml".into(), values("web", "v1"))],
    );
    let run = ladder(&[
        "plan",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    let text = stdout(&run);
    assert!(text.contains("staging/web: held (from dev)"), "{text}");
}

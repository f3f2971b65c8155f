//! `ladder plan` end to end: the real binary on a tenant repo served by `git daemon`,
//! with commits dated by the test so that soak is measured from history.

mod common;

use std::path::Path;

use common::*;
use ladder_testkit::{FiCommit, GitDaemon, Origin, fast_import};

pub fn env_file(name: &str, promotion: &str) -> String {
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

pub fn values(app: &str, tag: &str) -> String {
    format!(
        "# {app} values\nreplicas: 2 # two\nimage:\n  repository: ghcr.io/acme/{app}\n  tag: \"{tag}\" # the tag\n"
    )
}

pub fn app_yaml(name: &str) -> String {
    format!(
        "name: {name}\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/{name}\nvalues:\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
    )
}

/// dev -> staging (soak 24h) -> prod (frozen); apps `web` and `api`.
fn tenant_files(web: [&str; 3], api: [&str; 3]) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "ladder.yaml".to_string(),
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n".to_string(),
        ),
        ("environments/dev.yaml".into(), env_file("dev", "")),
        (
            "environments/staging.yaml".into(),
            env_file("staging", "promotion:\n  from: dev\n  soak: 24h\n"),
        ),
        (
            "environments/prod.yaml".into(),
            env_file("prod", "promotion:\n  from: staging\n  frozen: true\n"),
        ),
    ];
    for (app, tags) in [("web", web), ("api", api)] {
        files.push((format!("apps/{app}/app.yaml"), app_yaml(app)));
        for (env, tag) in ["dev", "staging", "prod"].iter().zip(tags) {
            files.push((format!("apps/{app}/env/{env}.yaml"), values(app, tag)));
        }
    }
    files
}

fn commit_files(origin: &Origin, message: &str, files: &[(String, String)]) -> String {
    let files: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_bytes())))
        .collect();
    origin.commit("main", message, &files)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn plan_json(url: &str, cache: &Path) -> serde_json::Value {
    let run = ladder(&[
        "plan",
        "--repo",
        url,
        "--cache-dir",
        cache.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    serde_json::from_str(&stdout(&run)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&run)))
}

fn row<'a>(plan: &'a serde_json::Value, app: &str, env: &str) -> &'a serde_json::Value {
    plan["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == app && r["env"] == env)
        .unwrap_or_else(|| panic!("no row {app}/{env} in {plan:#}"))
}

#[test]
fn plan_shows_due_soaking_and_frozen_promotions_from_a_served_repo() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    let origin = Origin {
        base: served.clone(),
        name: "acme.git".into(),
    };
    // Long ago: everything at v1, api already ahead in staging.
    commit_files(
        &origin,
        "tenant",
        &tenant_files(["v1"; 3], ["v4", "v5", "v4"]),
    );
    // Long ago too (Origin dates commits in 2023): web bumped in dev.
    commit_files(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("web", "v2"))],
    );
    // An hour ago: api bumped in dev.
    fast_import(
        &origin.path(),
        "main",
        [FiCommit {
            message: "api v6 in dev".into(),
            time: now() - 3600,
            files: vec![(
                "apps/api/env/dev.yaml".into(),
                Some(values("api", "v6").into_bytes()),
            )],
        }],
    );
    let daemon = GitDaemon::start(&served);
    let url = daemon.url("acme.git");
    let cache = dir.path().join("cache");

    let plan = plan_json(&url, &cache);
    // The old dev bump is due in staging, with exactly the tag line.
    let web = row(&plan, "web", "staging");
    assert_eq!(web["state"], "due", "{web:#}");
    assert_eq!(web["from"], "dev");
    assert_eq!(
        web["fields"],
        serde_json::json!([{"file": "apps/web/env/staging.yaml", "path": "image.tag", "current": "v1", "upstream": "v2"}])
    );
    assert_eq!(web["gates"][0]["name"], "soak");
    assert_eq!(web["gates"][0]["passed"], true);
    assert_eq!(web["proposal"], serde_json::Value::Null);
    // The fresh one soaks: held, with the time left, measured from its commit.
    let api = row(&plan, "api", "staging");
    assert_eq!(api["state"], "blocked", "{api:#}");
    assert_eq!(api["gates"][0]["name"], "soak");
    assert_eq!(api["gates"][0]["passed"], false);
    let reason = api["gates"][0]["reason"].as_str().unwrap();
    // An hour of 24 has passed (a second more if the clock ticked meanwhile).
    assert!(
        reason.contains("soak is 24h")
            && (reason.contains(": 23h left") || reason.contains(": 22h59m")),
        "{reason}"
    );
    // Frozen prod holds api (v5 in staging, v4 in prod); web is in sync there.
    let prod = row(&plan, "api", "prod");
    assert_eq!(prod["state"], "blocked");
    assert_eq!(
        prod["gates"],
        serde_json::json!([{"name": "frozen", "passed": false, "reason": "prod is frozen (`promotion.frozen: true`)"}])
    );
    assert_eq!(row(&plan, "web", "prod")["state"], "in-sync");
    // Every row has exactly the keys the issue names.
    for r in plan["promotions"].as_array().unwrap() {
        let mut keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["app", "env", "fields", "from", "gates", "proposal", "state"]
        );
    }
    // Beside the promotions, only the forge and its API budget (issue 11).
    let mut top: Vec<_> = plan.as_object().unwrap().keys().cloned().collect();
    top.sort();
    assert_eq!(top, ["forge", "promotions"]);
    assert_eq!(plan["forge"]["type"], "git");
    assert!(plan["forge"]["rateLimitRemaining"].is_null());

    // Text: one line per promotion, the held reason, exit 0 although rows are blocked.
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
    assert!(
        text.contains("apps/web/env/staging.yaml image.tag: v1 -> v2"),
        "{text}"
    );
    assert!(text.contains("staging/api: blocked"), "{text}");
    assert!(text.contains("held: prod is frozen"), "{text}");
}

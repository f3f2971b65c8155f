//! `plan` as a pure function: a tenant in memory, a fake history, a fixed clock.

use std::cell::RefCell;

use ladder_git::{CommitInfo, ObjectId};
use ladder_model::{LoadOptions, Tenant};
use ladder_promote::forge::Proposal;
use ladder_promote::plan::{History, PlanInput, branch_prefix, plan};
use ladder_testkit::MemTree;

const NOW: i64 = 1_800_000_000;
const HOUR: i64 = 3600;

fn env_file(name: &str, from: Option<&str>, extra: &str) -> String {
    let promotion = from
        .map(|f| format!("promotion:\n  from: {f}\n{extra}"))
        .unwrap_or_default();
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

fn values(tag: &str) -> String {
    format!(
        "# web values\nreplicas: 2\nimage:\n  repository: ghcr.io/acme/web\n  tag: {tag} # the tag\n"
    )
}

fn app(name: &str, envs: Option<&str>) -> String {
    let envs = envs
        .map(|e| format!("environments: [{e}]\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: chart\nvalues:\n  - env/{{env}}.yaml\n{envs}promote:\n  - image.tag\n"
    )
}

/// dev -> staging -> prod; web everywhere, docs in dev and prod only.
fn tree(staging_extra: &str, prod_extra: &str, tags: [&str; 3], docs: [&str; 2]) -> MemTree {
    MemTree::new()
        .with(
            "ladder.yaml",
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n",
        )
        .with("environments/dev.yaml", env_file("dev", None, ""))
        .with(
            "environments/staging.yaml",
            env_file("staging", Some("dev"), staging_extra),
        )
        .with(
            "environments/prod.yaml",
            env_file("prod", Some("staging"), prod_extra),
        )
        .with("apps/web/app.yaml", app("web", None))
        .with("apps/web/env/dev.yaml", values(tags[0]))
        .with("apps/web/env/staging.yaml", values(tags[1]))
        .with("apps/web/env/prod.yaml", values(tags[2]))
        .with("apps/docs/app.yaml", app("docs", Some("dev, prod")))
        .with("apps/docs/env/dev.yaml", values(docs[0]))
        .with("apps/docs/env/prod.yaml", values(docs[1]))
}

fn load(tree: &MemTree) -> Tenant {
    ladder_model::load(tree, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A history that answers from a table: (file, time) per upstream file, and records
/// every question.
struct FakeHistory {
    times: Vec<(&'static str, i64)>,
    asked: RefCell<Vec<(String, String, String)>>,
    /// (file, value): values that never were in that file, whatever `files` says.
    never: Vec<(&'static str, &'static str)>,
    /// (file, value): values that were in that file too.
    had: Vec<(&'static str, &'static str)>,
    /// The values each promoted file had, as the normal flow leaves them: its own and
    /// those of the environments downstream (which came from it). Filled by `run`.
    files: RefCell<Vec<(String, String)>>,
}

fn id(n: u8) -> ObjectId {
    ObjectId::from_hex(format!("{n:02x}").repeat(20).as_bytes()).unwrap()
}

impl History for FakeHistory {
    fn last_change(
        &self,
        branch: &str,
        file: &str,
        path: &str,
    ) -> Result<Option<CommitInfo>, ladder_git::Error> {
        self.asked
            .borrow_mut()
            .push((branch.into(), file.into(), path.into()));
        Ok(self
            .times
            .iter()
            .position(|(f, _)| *f == file)
            .map(|i| CommitInfo {
                id: id(i as u8 + 1),
                time: self.times[i].1,
                author_name: "Dev".into(),
                author_email: "dev@example.com".into(),
                subject: format!("bump {file}"),
            }))
    }

    fn had_value(
        &self,
        _branch: &str,
        file: &str,
        _path: &str,
        value: &yamledit::Value,
    ) -> Result<bool, ladder_git::Error> {
        let value = value.to_string();
        if self.never.iter().any(|(f, v)| *f == file && *v == value) {
            return Ok(false);
        }
        Ok(self.had.iter().any(|(f, v)| *f == file && *v == value)
            || self
                .files
                .borrow()
                .iter()
                .any(|(f, v)| f == file && *v == value))
    }
}

fn history(times: Vec<(&'static str, i64)>) -> FakeHistory {
    FakeHistory {
        times,
        asked: RefCell::new(Vec::new()),
        never: Vec::new(),
        had: Vec::new(),
        files: RefCell::new(Vec::new()),
    }
}

fn run(tree: &MemTree, history: &FakeHistory, proposals: &[Proposal]) -> serde_json::Value {
    run_forced(tree, history, proposals, &[])
}

fn run_forced(
    tree: &MemTree,
    history: &FakeHistory,
    proposals: &[Proposal],
    force: &[(String, String)],
) -> serde_json::Value {
    let tenant = load(tree);
    // The normal flow: each file had its own value and those downstream of it.
    let mut files = Vec::new();
    for app in &tenant.apps {
        let envs: Vec<_> = tenant
            .environments
            .iter()
            .filter(|e| app.deployed_to(&e.name))
            .collect();
        for (i, env) in envs.iter().enumerate() {
            let field = &tenant.promoted_fields(app, env)[0];
            for later in &envs[i..] {
                let f = &tenant.promoted_fields(app, later)[0];
                let text = String::from_utf8(tree.read(&f.file).unwrap().to_vec()).unwrap();
                let path = yamledit::Path::parse(&f.path).unwrap();
                let value = yamledit::get(&text, &yamledit::DocSelector::Auto, &path).unwrap();
                files.push((field.file.clone(), value.to_string()));
            }
        }
    }
    *history.files.borrow_mut() = files;
    let prefix = branch_prefix(&tenant, false);
    let plan = plan(&PlanInput {
        tenant: &tenant,
        tree,
        branch: "main",
        history,
        now: NOW,
        proposals,
        branch_prefix: &prefix,
        force,
    })
    .unwrap();
    serde_json::to_value(&plan).unwrap()
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
fn a_dev_bump_is_due_in_staging_with_the_exact_json_shape() {
    let t = tree("", "", ["v2", "v1", "v1"], ["d1", "d1"]);
    let h = history(vec![("apps/web/env/dev.yaml", NOW - HOUR)]);
    let plan = run(&t, &h, &[]);
    let staging = row(&plan, "web", "staging");
    assert_eq!(
        *staging,
        serde_json::json!({
            "app": "web",
            "env": "staging",
            "from": "dev",
            "state": "due",
            "fields": [{"file": "apps/web/env/staging.yaml", "path": "image.tag", "current": "v1", "upstream": "v2"}],
            "gates": [{"name": "frozen", "passed": true, "reason": "not frozen"}],
            "proposal": null,
        })
    );
    // prod takes web from staging, where it is v1 as in prod.
    assert_eq!(row(&plan, "web", "prod")["state"], "in-sync");
    assert_eq!(row(&plan, "web", "prod")["from"], "staging");
    assert_eq!(row(&plan, "web", "prod")["gates"], serde_json::json!([]));
    // Only the differing field's upstream history was asked for, on the config branch.
    assert_eq!(
        *h.asked.borrow(),
        vec![(
            "main".to_string(),
            "apps/web/env/dev.yaml".to_string(),
            "image.tag".to_string()
        )]
    );
    // Environments in promotion order: staging before prod; dev promotes from nothing.
    let envs: Vec<_> = plan["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["env"].as_str().unwrap(),
                r["app"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(envs, ["staging/web", "prod/docs", "prod/web"]);
}

#[test]
fn an_app_missing_upstream_comes_from_the_nearest_ancestor() {
    let t = tree("", "", ["v1", "v1", "v1"], ["d2", "d1"]);
    let h = history(vec![("apps/docs/env/dev.yaml", NOW - HOUR)]);
    let plan = run(&t, &h, &[]);
    let docs = row(&plan, "docs", "prod");
    assert_eq!(docs["from"], "dev");
    assert_eq!(docs["state"], "due");
    assert_eq!(docs["fields"][0]["upstream"], "d2");
    assert_eq!(docs["fields"][0]["current"], "d1");
    assert!(
        plan["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !(r["app"] == "docs" && r["env"] == "staging")),
        "docs is not deployed to staging: never promoted there"
    );
}

#[test]
fn soak_counts_from_the_commit_that_introduced_the_upstream_value() {
    let soak = "  soak: 24h\n";
    let t = tree(soak, "", ["v2", "v1", "v1"], ["d1", "d1"]);
    // Introduced 2 hours ago: held, with the time left.
    let fresh = run(
        &t,
        &history(vec![("apps/web/env/dev.yaml", NOW - 2 * HOUR)]),
        &[],
    );
    let staging = row(&fresh, "web", "staging");
    assert_eq!(staging["state"], "blocked");
    let gate = &staging["gates"][0];
    assert_eq!(gate["name"], "soak");
    assert_eq!(gate["passed"], false);
    assert!(
        gate["reason"].as_str().unwrap().contains("22h left"),
        "{gate}"
    );
    // Introduced 30 hours ago: through.
    let old = run(
        &t,
        &history(vec![("apps/web/env/dev.yaml", NOW - 30 * HOUR)]),
        &[],
    );
    let staging = row(&old, "web", "staging");
    assert_eq!(staging["state"], "due");
    assert_eq!(staging["gates"][0]["name"], "soak");
    assert_eq!(staging["gates"][0]["passed"], true);
}

#[test]
fn frozen_blocks_and_an_open_proposal_shows() {
    let t = tree("", "  frozen: true\n", ["v1", "v2", "v1"], ["d1", "d1"]);
    let h = history(vec![("apps/web/env/staging.yaml", NOW - HOUR)]);
    let proposals = [Proposal {
        branch: "ladder/prod/web".into(),
        head: id(9),
        number: Some(7),
        url: Some("https://example.com/pr/7".into()),
        title: None,
        body: None,
        base: None,
        labels: Vec::new(),
    }];
    let plan = run(&t, &h, &proposals);
    let prod = row(&plan, "web", "prod");
    assert_eq!(prod["state"], "blocked");
    assert_eq!(
        prod["gates"],
        serde_json::json!([{"name": "frozen", "passed": false, "reason": "prod is frozen (`promotion.frozen: true`)"}])
    );
    assert_eq!(
        prod["proposal"],
        serde_json::json!({"branch": "ladder/prod/web", "url": "https://example.com/pr/7", "number": 7})
    );

    // Not frozen, with a proposal open: proposed.
    let t = tree("", "", ["v1", "v2", "v1"], ["d1", "d1"]);
    let plan = run(&t, &h, &proposals);
    assert_eq!(row(&plan, "web", "prod")["state"], "proposed");
}

#[test]
fn typed_values_keep_their_json_type() {
    let t = tree("", "", ["3", "2", "2"], ["d1", "d1"]);
    let h = history(vec![]);
    let plan = run(&t, &h, &[]);
    let staging = row(&plan, "web", "staging");
    assert_eq!(staging["fields"][0]["upstream"], 3);
    // No recorded change: the value is as old as history, soak passes.
    assert_eq!(staging["state"], "due");
}

#[test]
fn an_active_deny_window_holds_matching_apps_only() {
    let always = "syncWindows:\n  - kind: deny\n    schedule: \"* * * * *\"\n    duration: 1h\n    applications: [\"web-*\"]\n";
    let t = tree("", always, ["v1", "v2", "v1"], ["d2", "d1"]);
    let h = history(vec![]);
    let plan = run(&t, &h, &[]);
    let web = row(&plan, "web", "prod");
    assert_eq!(web["state"], "blocked", "{web:#}");
    let gate = &web["gates"][1];
    assert_eq!(gate["name"], "syncWindow");
    assert_eq!(gate["passed"], false);
    assert!(!gate["reason"].as_str().unwrap().is_empty());
    // docs-prod does not match `web-*`: the window does not hold it.
    let docs = row(&plan, "docs", "prod");
    assert_eq!(docs["state"], "due", "{docs:#}");
    assert_eq!(docs["gates"][1]["name"], "syncWindow");
    assert_eq!(docs["gates"][1]["passed"], true);
}

#[test]
fn the_readiness_gate_lists_every_checklist_item() {
    let t = tree(
        "  requireReadiness: true\n",
        "",
        ["v2", "v1", "v1"],
        ["d1", "d1"],
    );
    let h = history(vec![]);
    let plan = run(&t, &h, &[]);
    let web = row(&plan, "web", "staging");
    let gate = web["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "readiness")
        .unwrap_or_else(|| panic!("no readiness gate: {web:#}"));
    let items = gate["items"].as_array().unwrap();
    assert_eq!(items.len(), ladder_promote::readiness::ITEMS.len());
    for item in items {
        let keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["name", "result"]);
        assert!(["passed", "failed", "unknown"].contains(&item["result"].as_str().unwrap()));
    }
    let failed = items.iter().any(|i| i["result"] == "failed");
    assert_eq!(gate["passed"], !failed);
    assert_eq!(web["state"], if failed { "blocked" } else { "due" });
    // Other gates carry no items.
    assert!(web["gates"][0].get("items").is_none());
}

#[test]
fn a_failed_checklist_item_holds_a_directory_app() {
    let deployment = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: site\nspec:\n  template:\n    spec:\n      containers:\n        - name: site\n          image: {image}\n"
        )
    };
    let t = tree("  requireReadiness: true\n", "", ["v1", "v1", "v1"], ["d1", "d1"])
        .with(
            "apps/site/app.yaml",
            "name: site\nsource:\n  type: directory\n  path: apps/site/{env}\npromote:\n  - file: \"{env}/deployment.yaml\"\n    path: spec.template.spec.containers[0].image\n",
        )
        .with("apps/site/dev/deployment.yaml", deployment("ghcr.io/acme/site:2"))
        .with("apps/site/staging/deployment.yaml", deployment("ghcr.io/acme/site:1"))
        .with("apps/site/prod/deployment.yaml", deployment("ghcr.io/acme/site:1"));
    let plan = run(&t, &history(vec![]), &[]);
    let site = row(&plan, "site", "staging");
    assert_eq!(site["state"], "blocked", "{site:#}");
    assert_eq!(
        site["fields"][0],
        serde_json::json!({"file": "apps/site/staging/deployment.yaml", "path": "spec.template.spec.containers[0].image", "current": "ghcr.io/acme/site:1", "upstream": "ghcr.io/acme/site:2"})
    );
    let gate = site["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "readiness")
        .unwrap();
    assert_eq!(gate["passed"], false);
    assert!(
        gate["reason"].as_str().unwrap().contains("livenessProbe"),
        "{gate:#}"
    );
    assert!(
        gate["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "livenessProbe" && i["result"] == "failed")
    );
}

#[test]
fn a_hotfix_that_never_was_upstream_is_not_undone() {
    // prod was hotfixed to v1.2.4; staging never had it and holds the older v1.2.3.
    let t = tree("", "", ["v1.2.3", "v1.2.3", "v1.2.4"], ["d1", "d1"]);
    let mut h = history(vec![("apps/web/env/staging.yaml", NOW - HOUR)]);
    h.never.push(("apps/web/env/staging.yaml", "v1.2.4"));
    let plan = run(&t, &h, &[]);
    let prod = row(&plan, "web", "prod");
    assert_eq!(prod["state"], "diverged", "{prod:#}");

    // `promote --force` naming it lets it through.
    let forced = run_forced(&t, &h, &[], &[("prod".into(), "web".into())]);
    assert_eq!(row(&forced, "web", "prod")["state"], "due");

    // A newer upstream version is promoted over the hotfix.
    let t = tree("", "", ["v1.3.0", "v1.3.0", "v1.2.4"], ["d1", "d1"]);
    let plan = run(&t, &h, &[]);
    assert_eq!(row(&plan, "web", "prod")["state"], "due");

    // Values that are not versions: the later change in history wins.
    let t = tree("", "", ["main-abc", "main-abc", "hotfix-1"], ["d1", "d1"]);
    let mut older = history(vec![
        ("apps/web/env/staging.yaml", NOW - 2 * HOUR),
        ("apps/web/env/prod.yaml", NOW - HOUR),
    ]);
    older.never.push(("apps/web/env/staging.yaml", "hotfix-1"));
    assert_eq!(
        row(&run(&t, &older, &[]), "web", "prod")["state"],
        "diverged"
    );
    let mut newer = history(vec![
        ("apps/web/env/prod.yaml", NOW - 2 * HOUR),
        ("apps/web/env/staging.yaml", NOW - HOUR),
    ]);
    newer.never.push(("apps/web/env/staging.yaml", "hotfix-1"));
    assert_eq!(row(&run(&t, &newer, &[]), "web", "prod")["state"], "due");
}

#[test]
fn a_rolled_back_value_is_held_until_the_next_one() {
    // staging went v1 -> v2 -> v1 (a rollback, after dev got v2); dev still holds v2.
    let t = tree("", "", ["v2", "v1", "v1"], ["d1", "d1"]);
    let mut h = history(vec![
        ("apps/web/env/dev.yaml", NOW - HOUR),
        ("apps/web/env/staging.yaml", NOW - HOUR / 2),
    ]);
    h.had.push(("apps/web/env/staging.yaml", "v2"));
    let plan = run(&t, &h, &[]);
    assert_eq!(row(&plan, "web", "staging")["state"], "held");
    // The next different value in dev is promoted.
    let t = tree("", "", ["v3", "v1", "v1"], ["d1", "d1"]);
    let plan = run(&t, &h, &[]);
    assert_eq!(row(&plan, "web", "staging")["state"], "due");
}

#[test]
fn a_revert_upstream_is_promoted_not_held() {
    // dev went v1 -> v2, staging was promoted to v2, then dev reverted to v1: staging
    // once had v1, but the upstream change is the later one, so v1 is due in staging
    // (and prod, which has v2 from staging, stays in sync until then).
    let t = tree("", "", ["v1", "v2", "v2"], ["d1", "d1"]);
    let mut h = history(vec![
        ("apps/web/env/staging.yaml", NOW - 2 * HOUR),
        ("apps/web/env/dev.yaml", NOW - HOUR),
    ]);
    h.had.push(("apps/web/env/staging.yaml", "v1"));
    h.had.push(("apps/web/env/dev.yaml", "v2"));
    let plan = run(&t, &h, &[]);
    assert_eq!(row(&plan, "web", "staging")["state"], "due", "{plan:#}");
    assert_eq!(row(&plan, "web", "prod")["state"], "in-sync");
    // The same values after a rollback of staging (staging's change is the later one):
    // held.
    let mut h = history(vec![
        ("apps/web/env/dev.yaml", NOW - 2 * HOUR),
        ("apps/web/env/staging.yaml", NOW - HOUR),
    ]);
    h.had.push(("apps/web/env/staging.yaml", "v1"));
    h.had.push(("apps/web/env/dev.yaml", "v2"));
    let plan = run(&t, &h, &[]);
    assert_eq!(row(&plan, "web", "staging")["state"], "held", "{plan:#}");
}

//! `ladder run` with the GitHub forge: the real binary as a daemon against the fake
//! GitHub of the testkit (its API checked against GitHub's OpenAPI description, a real
//! bare repo behind it). A signed push webhook opens the staging pull request; a merge
//! event, and then the soak's own wake-up, open the prod one. A GitHub App's
//! installation token is asked for once and serves every poll and reconcile after.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{http, sign_github as sign, wait_for};

use ladder_testkit::github::FakeGitHub;
use ladder_testkit::{Origin, free_port};

const REPO: &str = "acme/config";
const TOKEN: &str = "ghp_daemon-token";

fn env_file(name: &str, promotion: &str) -> String {
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

fn values(tag: &str) -> String {
    format!("image:\n  repository: ghcr.io/acme/web\n  tag: \"{tag}\"\n")
}

fn commit(origin: &Origin, message: &str, files: &[(&str, String)]) -> String {
    let files: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (*p, Some(c.as_bytes())))
        .collect();
    origin.commit("main", message, &files)
}

/// The tenant: dev, staging from dev, prod from staging after a 3 s soak; web at v1.
fn seed(origin: &Origin) {
    commit(
        origin,
        "tenant",
        &[
            (
                "ladder.yaml",
                "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\nforge:\n  type: github\n".into(),
            ),
            ("environments/dev.yaml", env_file("dev", "")),
            ("environments/staging.yaml", env_file("staging", "promotion:\n  from: dev\n")),
            (
                "environments/prod.yaml",
                env_file("prod", "promotion:\n  from: staging\n  soak: 3s\n"),
            ),
            (
                "apps/web/app.yaml",
                "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/web\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n".into(),
            ),
            ("apps/web/env/dev.yaml", values("v1")),
            ("apps/web/env/staging.yaml", values("v1")),
            ("apps/web/env/prod.yaml", values("v1")),
        ],
    );
}

/// The seeded tenant repo in `dir`, served by a new fake GitHub as `REPO`.
fn served(dir: &Path) -> (Origin, FakeGitHub) {
    let origin = Origin {
        base: dir.join("served"),
        name: "config.git".into(),
    };
    seed(&origin);
    let fake = FakeGitHub::start();
    fake.add_repo(REPO, &origin.path(), "main");
    (origin, fake)
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ladder run` on a config with `tenants` (YAML list entries), its cache in `dir`, on a
/// free port; returned once `/readyz` answers 200, with the port.
fn run_ready(dir: &Path, tenants: &str) -> (Running, u16) {
    let port = free_port();
    let config = dir.join("ladder.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\ncacheDir: {}\ntenants:\n{tenants}",
            dir.join("cache").display()
        ),
    )
    .unwrap();
    let daemon = Running(
        Command::new(env!("CARGO_BIN_EXE_ladder"))
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("/readyz", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/readyz", &[], b"").0 == 200
    });
    (daemon, port)
}

#[test]
fn webhooks_open_the_staging_pull_request_and_a_merge_opens_prod_after_soak() {
    FakeGitHub::load_openapi().expect("make reference");
    let dir = tempfile::tempdir().unwrap();
    let (origin, fake) = served(dir.path());
    fake.add_token(TOKEN, &[REPO]);
    let url = fake.git_url(REPO);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let secret_file = dir.path().join("webhook");
    std::fs::write(&secret_file, "hook-secret").unwrap();
    let (_daemon, port) = run_ready(
        dir.path(),
        &format!(
            "  - name: acme\n    repo: {url}\n    pollInterval: 0\n    forge: {{apiUrl: {}, tokenFile: {}}}\n    webhookSecretFile: {}\n",
            fake.api_url(),
            token_file.display(),
            secret_file.display()
        ),
    );
    assert!(fake.pulls(REPO).is_empty());

    // A dev bump, then GitHub's push webhook: the staging pull request.
    commit(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml", values("v2"))],
    );
    let push = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"full_name": REPO, "clone_url": url, "html_url": url},
    })
    .to_string();
    let (code, _) = http(
        port,
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &sign("hook-secret", push.as_bytes())),
        ],
        push.as_bytes(),
    );
    assert_eq!(code, 202);
    wait_for("the staging pull request", Duration::from_secs(30), || {
        fake.pulls(REPO)
            .iter()
            .any(|p| p.head_ref == "ladder/staging/web" && p.state == "open")
    });
    let staging = fake
        .pulls(REPO)
        .into_iter()
        .find(|p| p.head_ref == "ladder/staging/web")
        .unwrap();
    assert_eq!(staging.title, "Promote web to staging: image.tag v1 -> v2");

    // A person merges it; GitHub sends `pull_request` closed+merged. Prod waits for its
    // 3 s soak, measured from the merge commit, and the daemon wakes up for it by itself.
    fake.merge_as_person(REPO, staging.number);
    let merged = serde_json::json!({
        "action": "closed",
        "number": staging.number,
        "pull_request": {"merged": true, "base": {"ref": "main"}, "head": {"ref": "ladder/staging/web"}},
        "repository": {"full_name": REPO, "clone_url": url, "html_url": url},
    })
    .to_string();
    let (code, _) = http(
        port,
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "pull_request"),
            (
                "X-Hub-Signature-256",
                &sign("hook-secret", merged.as_bytes()),
            ),
        ],
        merged.as_bytes(),
    );
    assert_eq!(code, 202);
    wait_for("prod blocked by its soak", Duration::from_secs(30), || {
        let status: serde_json::Value =
            serde_json::from_str(&http(port, "GET", "/api/v1/status", &[], b"").1).unwrap();
        status["tenants"][0]["pending"]
            .as_array()
            .is_some_and(|rows| {
                rows.iter()
                    .any(|r| r["env"] == "prod" && r["state"] == "blocked")
            })
    });
    wait_for(
        "the prod pull request after the soak",
        Duration::from_secs(30),
        || {
            fake.pulls(REPO)
                .iter()
                .any(|p| p.head_ref == "ladder/prod/web" && p.state == "open")
        },
    );
    let pulls = fake.pulls(REPO);
    assert_eq!(pulls.len(), 2, "{pulls:#?}");
    // The forge's calls are counted by kind, and its budget reported.
    let (_, metrics) = http(port, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("ladder_forge_api_calls_total{tenant=\"acme\",kind=\"write\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ladder_forge_rate_limit_remaining{tenant=\"acme\"}"),
        "{metrics}"
    );
    assert_eq!(fake.openapi_violations(), Vec::<String>::new());
}

#[test]
fn a_github_apps_installation_token_serves_every_poll_and_reconcile_of_its_lifetime() {
    FakeGitHub::load_openapi().expect("make reference");
    let dir = tempfile::tempdir().unwrap();
    let (origin, fake) = served(dir.path());
    let (key, public) = ladder_testkit::github::app_key_pair(dir.path());
    fake.add_app(4242, &public, 77, &[REPO]);
    let url = fake.git_url(REPO);
    let (_daemon, _port) = run_ready(
        dir.path(),
        &format!(
            "  - name: acme\n    repo: {url}\n    pollInterval: 1s\n    forge: {{apiUrl: {}, appId: 4242, appKeyFile: {}}}\n",
            fake.api_url(),
            key.display()
        ),
    );

    // Polling alone finds the dev bump: a fetch and a reconcile with the App's token.
    commit(
        &origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml", values("v2"))],
    );
    wait_for("the staging pull request", Duration::from_secs(30), || {
        fake.pulls(REPO)
            .iter()
            .any(|p| p.head_ref == "ladder/staging/web" && p.state == "open")
    });
    // Three more polls, each a remote check with the token.
    let seen = fake.ref_advertisements();
    wait_for("three more polls", Duration::from_secs(30), || {
        fake.ref_advertisements() >= seen + 3
    });
    let minted = || {
        fake.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/access_tokens"))
            .count()
    };
    assert_eq!(
        minted(),
        1,
        "one installation token for {} ref advertisements",
        fake.ref_advertisements()
    );

    // The token is revoked (the App reinstalled, say): the poll that git refuses drops
    // it, the next asks for a new one, and polling goes on.
    fake.revoke_installation_tokens();
    wait_for("a new installation token", Duration::from_secs(30), || {
        minted() == 2
    });
    let seen = fake.ref_advertisements();
    wait_for("polls with the new token", Duration::from_secs(30), || {
        fake.ref_advertisements() >= seen + 2
    });
    assert_eq!(minted(), 2);
    assert_eq!(fake.openapi_violations(), Vec::<String>::new());
}

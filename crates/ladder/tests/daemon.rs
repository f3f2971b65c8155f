//! `ladder run` end to end: the real binary as a daemon, tenant repos served by `git
//! daemon`, webhooks signed like GitHub signs them, polling, the status API, metrics,
//! readiness with a broken tenant, SIGTERM, and kill -9 in the middle of a reconcile.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{http, sign_github, wait_for};

use ladder_testkit::{GitDaemon, Origin, free_port};

fn env_file(name: &str, promotion: &str, sync: &str) -> String {
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: {sync}\n{promotion}")
}

fn values(tag: &str) -> String {
    format!("image:\n  repository: ghcr.io/acme/web\n  tag: \"{tag}\"\n")
}

fn tenant_files(tenant: &str) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "ladder.yaml".to_string(),
            format!("version: 1\ntenant: {tenant}\nconfigRepo:\n  url: https://github.com/{tenant}/config.git\n  branch: main\n"),
        ),
        ("environments/dev.yaml".into(), env_file("dev", "", "auto")),
        (
            "environments/staging.yaml".into(),
            env_file("staging", "promotion:\n  from: dev\n", "auto"),
        ),
        (
            "apps/web/app.yaml".into(),
            "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: charts/web\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n".into(),
        ),
    ];
    for env in ["dev", "staging"] {
        files.push((format!("apps/web/env/{env}.yaml"), values("v1")));
    }
    files
}

fn commit(origin: &Origin, message: &str, files: &[(String, String)]) -> String {
    let files: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_bytes())))
        .collect();
    origin.commit("main", message, &files)
}

fn git(dir: &Path, args: &[&str]) -> String {
    ladder_testkit::git(dir, args).trim().to_string()
}

/// The branches of `repo` under `prefix`, or nothing.
fn branches(repo: &Path, prefix: &str) -> Vec<String> {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            &format!("refs/heads/{prefix}"),
        ],
    )
    .lines()
    .map(String::from)
    .collect()
}

/// A GitHub push event for `url`'s repository and branch `main`.
fn push_event(url: &str) -> Vec<u8> {
    serde_json::json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "repository": {
            "full_name": "acme/config",
            "clone_url": url,
            "html_url": url,
        },
        "pusher": {"name": "someone"},
    })
    .to_string()
    .into_bytes()
}

struct Daemon {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(config: &str, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ladder.yaml");
        let port = free_port();
        std::fs::write(&file, config.replace("PORT", &port.to_string())).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
        cmd.args(["run", "--config", file.to_str().unwrap()])
            .env("LADDER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let daemon = Daemon {
            child,
            port,
            _dir: dir,
        };
        wait_for("the daemon to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        daemon
    }

    fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, &[], b"")
    }

    /// A GitHub `push` delivery of `body` to `/hooks/github`, signed with `secret`
    /// (not at all: `None`), with `extra` headers: the status and body of the answer.
    fn push_hook(
        &self,
        secret: Option<&str>,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let signature = secret.map(|secret| sign_github(secret, body));
        let mut headers = vec![("X-GitHub-Event", "push")];
        if let Some(signature) = &signature {
            headers.push(("X-Hub-Signature-256", signature));
        }
        headers.extend_from_slice(extra);
        http(self.port, "POST", "/hooks/github", &headers, body)
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/api/v1/status").1).unwrap()
    }

    fn wait_ready(&self) {
        wait_for("/readyz", Duration::from_secs(60), || {
            self.get("/readyz").0 == 200
        });
    }

    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        (status, started.elapsed())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Served {
    origin: Origin,
    _daemon: GitDaemon,
    url: String,
    dir: tempfile::TempDir,
}

fn served(tenant: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin {
        base: dir.path().join("served"),
        name: format!("{tenant}.git"),
    };
    commit(&origin, "tenant", &tenant_files(tenant));
    let daemon = GitDaemon::start(&origin.base);
    let url = daemon.url(&origin.name);
    Served {
        origin,
        _daemon: daemon,
        url,
        dir,
    }
}

fn cache(served: &Served) -> PathBuf {
    served.dir.path().join("cache")
}

#[test]
fn the_daemon_renders_promotes_on_webhooks_and_polls_and_stops_on_sigterm() {
    let acme = served("acme");
    let secret_file = acme.dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\nshutdownTimeout: 20s\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n    webhookSecretFile: {}\n    render: {{branch: rendered}}\n",
        cache(&acme).display(),
        acme.url,
        secret_file.display()
    );
    let mut daemon = Daemon::start(&config, &[]);
    daemon.wait_ready();
    let origin = acme.origin.path();

    // The first reconcile published the render: one commit naming the source commit.
    let main = git(&origin, &["rev-parse", "main"]);
    assert_eq!(git(&origin, &["rev-list", "--count", "rendered"]), "1");
    assert!(
        git(&origin, &["log", "-1", "--format=%B", "rendered"])
            .contains(&format!("Ladder-Rendered-From: {main}")),
    );
    assert!(git(&origin, &["ls-tree", "-r", "--name-only", "rendered"]).contains("staging/"));

    // A dev bump and a signed push webhook: the staging proposal appears. The bump does
    // not change the render (values files are read by Argo CD), so no render commit.
    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    let body = push_event(&acme.url);
    let (code, _) = daemon.push_hook(
        Some("s3cret"),
        &body,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(code, 202);
    wait_for("the staging proposal", Duration::from_secs(30), || {
        branches(&origin, "ladder/") == ["ladder/staging/web"]
    });
    wait_for("the reconcile to finish", Duration::from_secs(30), || {
        daemon.status()["tenants"][0]["syncing"] == false
    });
    assert_eq!(git(&origin, &["rev-list", "--count", "rendered"]), "1");

    // A wrong signature: 401, and nothing happens.
    commit(
        &acme.origin,
        "web v3 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v3"))],
    );
    let (code, _) = daemon.push_hook(Some("wrong"), &body, &[]);
    assert_eq!(code, 401);
    // Unknown repository: 404; too large: 413.
    let other = push_event("https://github.com/nobody/else.git");
    let (code, _) = daemon.push_hook(Some("s3cret"), &other, &[]);
    assert_eq!(code, 404);
    let big = vec![b' '; (1 << 20) + 1];
    assert_eq!(daemon.push_hook(None, &big, &[]).0, 413);
    std::thread::sleep(Duration::from_secs(1));
    let staging_tip = git(&origin, &["log", "-1", "--format=%s", "ladder/staging/web"]);
    assert!(staging_tip.ends_with("v1 -> v2"), "{staging_tip}");

    // A commit that changes the render (a sync policy) gives `rendered` exactly one
    // commit naming it.
    let mut manual = tenant_files("acme");
    manual.retain(|(p, _)| p == "environments/dev.yaml");
    manual[0].1 = env_file("dev", "", "manual");
    let policy = commit(&acme.origin, "dev syncs by hand", &manual);
    let (code, _) = daemon.push_hook(Some("s3cret"), &body, &[]);
    assert_eq!(code, 202);
    wait_for("the render commit", Duration::from_secs(30), || {
        git(&origin, &["rev-list", "--count", "rendered"]) == "2"
    });
    assert!(
        git(&origin, &["log", "-1", "--format=%B", "rendered"])
            .contains(&format!("Ladder-Rendered-From: {policy}"))
    );
    wait_for(
        "the proposal to move to v3",
        Duration::from_secs(30),
        || git(&origin, &["log", "-1", "--format=%s", "ladder/staging/web"]).ends_with("v1 -> v3"),
    );

    // The status API: the matrix, the pending promotion and its proposal.
    wait_for("the reconcile to finish", Duration::from_secs(30), || {
        daemon.status()["tenants"][0]["syncing"] == false
    });
    let status = daemon.status();
    let tenant = &status["tenants"][0];
    assert_eq!(tenant["name"], "acme");
    assert_eq!(tenant["ready"], true);
    assert_eq!(tenant["configCommit"], policy.as_str());
    assert_eq!(tenant["apps"][0]["values"]["dev"][0]["value"], "v3");
    assert_eq!(tenant["apps"][0]["values"]["staging"][0]["value"], "v1");
    assert_eq!(tenant["pending"][0]["state"], "proposed");
    assert_eq!(tenant["proposals"][0]["branch"], "ladder/staging/web");

    // Metrics in the exposition format.
    let (code, metrics) = daemon.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("ladder_reconciles_total{tenant=\"acme\",outcome=\"success\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "ladder_webhook_deliveries_total{provider=\"github\",result=\"unauthorized\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("ladder_last_successful_sync_timestamp_seconds{tenant=\"acme\"}"),
        "{metrics}"
    );

    // Valid Prometheus text, as Prometheus' own checker reads it.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus; .ci/run installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // SIGTERM: exit 0, well within the bound.
    let (status, took) = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn polling_finds_a_change_without_webhooks() {
    let acme = served("acme");
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 1s\n    render: {{none: true}}\n",
        cache(&acme).display(),
        acme.url
    );
    let daemon = Daemon::start(&config, &[]);
    daemon.wait_ready();
    assert_eq!(
        branches(&acme.origin.path(), "ladder/"),
        Vec::<String>::new()
    );
    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    wait_for(
        "the poll to find the change",
        Duration::from_secs(30),
        || branches(&acme.origin.path(), "ladder/") == ["ladder/staging/web"],
    );
}

#[test]
fn one_broken_tenant_does_not_stop_another_and_readyz_names_it() {
    let good = served("acme");
    let broken = served("beta");
    commit(
        &broken.origin,
        "break it",
        &[(
            "environments/dev.yaml".into(),
            "name: dev\ncluster: [oops\n".into(),
        )],
    );
    // A third repo that claims to be acme: refused, under its configured name.
    let impostor = served("acme");
    commit(
        &good.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n  - name: beta\n    repo: {}\n    pollInterval: 0\n  - name: gamma\n    repo: {}\n    pollInterval: 0\n",
        cache(&good).display(),
        good.url,
        broken.url,
        impostor.url
    );
    let daemon = Daemon::start(&config, &[]);
    wait_for("acme's proposal", Duration::from_secs(60), || {
        branches(&good.origin.path(), "ladder/") == ["ladder/staging/web"]
    });
    wait_for(
        "every tenant's first reconcile",
        Duration::from_secs(60),
        || {
            let status = daemon.status();
            status["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| !t["lastAttempt"].is_null())
        },
    );
    let (code, body) = daemon.get("/readyz");
    assert_eq!(code, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    let not_ready: Vec<&str> = ready["notReady"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(not_ready, ["beta", "gamma"]);
    let status = daemon.status();
    let beta = &status["tenants"][1];
    assert_eq!(beta["lastError"]["config"], true);
    assert!(
        beta["lastError"]["message"]
            .as_str()
            .unwrap()
            .contains("environments/dev.yaml:3:1: YAML syntax"),
        "{beta}"
    );
    let gamma = &status["tenants"][2];
    assert!(
        gamma["lastError"]["message"]
            .as_str()
            .unwrap()
            .contains("configured as tenant `gamma`"),
        "{gamma}"
    );
    assert_eq!(
        branches(&impostor.origin.path(), "ladder/"),
        Vec::<String>::new()
    );
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics.contains("ladder_reconciles_total{tenant=\"beta\",outcome=\"config_error\"}"),
        "{metrics}"
    );
}

#[test]
fn kill_9_in_the_middle_of_a_reconcile_converges_on_restart() {
    let acme = served("acme");
    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    let pause = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\nshutdownTimeout: 5s\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n    render: {{branch: rendered}}\n",
        cache(&acme).display(),
        acme.url
    );
    let pause_dir = pause.path().to_str().unwrap();
    let mut first = Daemon::start(&config, &[("LADDER_TEST_PAUSE_DIR", pause_dir)]);
    // Held after publishing the render, before promoting: kill -9 there.
    wait_for("the pause point", Duration::from_secs(60), || {
        pause.path().join("acme.paused").exists()
    });
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(
        git(&acme.origin.path(), &["rev-list", "--count", "rendered"]),
        "1"
    );
    assert_eq!(
        branches(&acme.origin.path(), "ladder/"),
        Vec::<String>::new()
    );

    // Restarted (no pause): the render is not committed again, the promotion is made once.
    std::fs::write(pause.path().join("acme.resume"), b"").unwrap();
    let second = Daemon::start(&config, &[("LADDER_TEST_PAUSE_DIR", pause_dir)]);
    second.wait_ready();
    assert_eq!(
        git(&acme.origin.path(), &["rev-list", "--count", "rendered"]),
        "1"
    );
    assert_eq!(
        branches(&acme.origin.path(), "ladder/"),
        ["ladder/staging/web"]
    );
    assert_eq!(
        git(
            &acme.origin.path(),
            &["rev-list", "--count", "main..ladder/staging/web"]
        ),
        "1"
    );
}

#[test]
fn sigterm_during_a_reconcile_waits_for_it_within_the_bound_and_exits_0() {
    let acme = served("acme");
    let pause = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\nshutdownTimeout: 2s\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n",
        cache(&acme).display(),
        acme.url
    );
    let mut daemon = Daemon::start(
        &config,
        &[("LADDER_TEST_PAUSE_DIR", pause.path().to_str().unwrap())],
    );
    wait_for("the pause point", Duration::from_secs(60), || {
        pause.path().join("acme.paused").exists()
    });
    // Held past the bound: the daemon gives up on it and still exits 0, promptly.
    let (status, took) = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn check_config_reaches_every_repo_and_lists_every_problem() {
    let acme = served("acme");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ladder.yaml");
    let good = format!(
        "cacheDir: {}\ntenants:\n  - name: acme\n    repo: {}\n",
        cache(&acme).display(),
        acme.url
    );
    std::fs::write(&file, &good).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["run", "--config", file.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("1 tenant(s) reached"));

    let closed = free_port();
    let bad = format!(
        "{good}    webhookSecretFile: {}/missing\n  - name: beta\n    repo: git://127.0.0.1:{closed}/beta.git\n",
        dir.path().display()
    );
    std::fs::write(&file, bad).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args([
            "run",
            "--config",
            file.to_str().unwrap(),
            "--check-config",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let problems: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("tenant acme: cannot read the webhook secret file"),
        "{problems:?}"
    );
    assert!(problems[1].starts_with("tenant beta: "), "{problems:?}");

    // A config error names its line, and starts nothing.
    std::fs::write(
        &file,
        "tenants:\n  - name: acme\n    repo: x\n    pollInterval: soon\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["run", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("ladder.yaml:4:5: `tenants[0].pollInterval`"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_render_into_a_folder_is_proposed_and_its_branch_goes_once_merged() {
    let acme = served("acme");
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 1s\n    render: {{path: rendered}}\n",
        cache(&acme).display(),
        acme.url
    );
    let daemon = Daemon::start(&config, &[]);
    daemon.wait_ready();
    let origin = acme.origin.path();
    assert_eq!(branches(&origin, "ladder/"), ["ladder/render"]);
    assert_eq!(
        git(&origin, &["rev-parse", "ladder/render^"]),
        git(&origin, &["rev-parse", "main"])
    );
    let changed = git(&origin, &["diff", "--name-only", "main", "ladder/render"]);
    assert!(
        !changed.is_empty() && changed.lines().all(|f| f.starts_with("rendered/")),
        "{changed}"
    );
    let status = daemon.status();
    assert_eq!(status["tenants"][0]["render"]["target"], "path");
    assert_eq!(status["tenants"][0]["render"]["branch"], "ladder/render");

    // A person merges it (a fast-forward here): the folder holds the render, and the
    // proposal's branch goes.
    let proposal = git(&origin, &["rev-parse", "ladder/render"]);
    git(&origin, &["update-ref", "refs/heads/main", &proposal]);
    wait_for("the render branch to go", Duration::from_secs(30), || {
        branches(&origin, "ladder/").is_empty()
    });
    wait_for(
        "the status to show the render in place",
        Duration::from_secs(30),
        || {
            let status = daemon.status();
            status["tenants"][0]["render"]["branch"].is_null()
                && status["tenants"][0]["configCommit"] == proposal.as_str()
        },
    );
}

/// The sum of a counter's samples in a /metrics answer.
fn counter(daemon: &Daemon, name: &str) -> f64 {
    daemon
        .get("/metrics")
        .1
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A fake Kubernetes API with a service-account token, for replicas that elect a leader
/// on the Lease `ladder-system/ladder`.
struct Election {
    kube: ladder_testkit::kube::FakeKube,
    token_file: PathBuf,
}

impl Election {
    fn new(dir: &Path) -> Election {
        let token_file = dir.join("sa-token");
        std::fs::write(&token_file, "sa-token\n").unwrap();
        Election {
            kube: ladder_testkit::kube::FakeKube::start("sa-token"),
            token_file,
        }
    }

    /// `ladder run` with `config` as pod `pod`, contending for the Lease, with `extra`
    /// environment.
    fn replica(&self, config: &str, pod: &str, extra: &[(&str, &str)]) -> Daemon {
        let api_url = self.kube.url();
        let mut env = vec![
            ("LADDER_LEADER_ELECTION", "true"),
            ("LADDER_LEASE_NAMESPACE", "ladder-system"),
            ("POD_NAME", pod),
            ("LADDER_KUBE_API_URL", api_url.as_str()),
            ("LADDER_KUBE_TOKEN_FILE", self.token_file.to_str().unwrap()),
        ];
        env.extend_from_slice(extra);
        Daemon::start(config, &env)
    }

    fn lease(&self) -> serde_json::Value {
        self.kube
            .lease("ladder-system", "ladder")
            .unwrap_or_default()
    }

    /// The Lease's holder; empty when nobody holds it.
    fn holder(&self) -> String {
        self.lease()["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[test]
fn two_replicas_elect_one_leader_on_a_lease_and_the_standby_takes_over_after_kill_9() {
    let acme = served("acme");
    let origin = acme.origin.path();
    let election = Election::new(acme.dir.path());
    let start = |pod: &str| {
        let config = format!(
            "listen: 127.0.0.1:PORT\ncacheDir: {}/{pod}\nshutdownTimeout: 10s\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 1s\n    render: {{branch: rendered}}\n",
            cache(&acme).display(),
            acme.url
        );
        election.replica(&config, pod, &[("LADDER_LEASE_NAME", "ladder")])
    };
    let holder = || election.holder();
    let a = start("ladder-a");
    let b = start("ladder-b");
    wait_for("a leader", Duration::from_secs(60), || !holder().is_empty());
    let (leader, mut standby, standby_name) = if holder() == "ladder-a" {
        (a, b, "ladder-b")
    } else {
        (b, a, "ladder-a")
    };
    leader.wait_ready();
    // A standby is ready: a rollout does not stall on it.
    standby.wait_ready();
    let ready =
        |d: &Daemon| serde_json::from_str::<serde_json::Value>(&d.get("/readyz").1).unwrap();
    assert_eq!(ready(&leader)["leader"], true);
    assert_eq!(ready(&standby)["leader"], false);
    assert_eq!(git(&origin, &["rev-list", "--count", "rendered"]), "1");

    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    wait_for("the staging proposal", Duration::from_secs(60), || {
        branches(&origin, "ladder/") == ["ladder/staging/web"]
    });
    assert_eq!(
        counter(&standby, "ladder_reconciles_total"),
        0.0,
        "the standby did nothing"
    );

    // kill -9 the leader: no release; the standby takes the Lease once it expires.
    drop(leader);
    wait_for(
        "the standby to take the lease",
        Duration::from_secs(120),
        || holder() == standby_name,
    );
    assert_eq!(election.lease()["spec"]["leaseTransitions"], 1);
    commit(
        &acme.origin,
        "web v3 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v3"))],
    );
    wait_for(
        "the new leader to update the proposal",
        Duration::from_secs(120),
        || {
            git(
                &origin,
                &["show", "ladder/staging/web:apps/web/env/staging.yaml"],
            )
            .contains("v3")
        },
    );
    assert_eq!(ready(&standby)["leader"], true);
    assert_eq!(branches(&origin, "ladder/"), ["ladder/staging/web"]);
    assert_eq!(git(&origin, &["rev-list", "--count", "rendered"]), "1");

    // The Lease changed hands exactly once: every successful write names the first
    // leader, then only the second.
    let mut holders: Vec<String> = election
        .kube
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.status < 300)
        .filter_map(|r| r.holder().filter(|h| !h.is_empty()).map(String::from))
        .collect();
    holders.dedup();
    assert_eq!(holders.len(), 2, "{holders:?}");
    assert_eq!(holders[1], standby_name);

    // SIGTERM: exit 0 and the Lease released for the next pod.
    let (status, _) = standby.terminate();
    assert!(status.success());
    assert_eq!(holder(), "");
}

#[test]
fn a_webhook_that_reaches_the_standby_is_passed_on_to_the_leader() {
    let acme = served("acme");
    let origin = acme.origin.path();
    let secret_file = acme.dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let election = Election::new(acme.dir.path());
    // Webhooks only: nothing would find the change otherwise.
    let start = |pod: &str| {
        let config = format!(
            "listen: 127.0.0.1:PORT\ncacheDir: {}/{pod}\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n    webhookSecretFile: {}\n",
            cache(&acme).display(),
            acme.url,
            secret_file.display()
        );
        election.replica(&config, pod, &[("POD_IP", "127.0.0.1")])
    };
    let a = start("ladder-a");
    let b = start("ladder-b");
    wait_for("a leader", Duration::from_secs(60), || {
        !election.holder().is_empty()
    });
    let (leader, standby) = if election.holder() == "ladder-a" {
        (a, b)
    } else {
        (b, a)
    };
    leader.wait_ready();
    standby.wait_ready();
    // The leader wrote where it listens on the Lease.
    assert_eq!(
        election.lease()["metadata"]["annotations"]["ladder.dev/leader-address"],
        format!("http://127.0.0.1:{}", leader.port).as_str()
    );

    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    let body = push_event(&acme.url);
    let deliver = |to: &Daemon, extra: &[(&str, &str)]| {
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend_from_slice(extra);
        to.push_hook(Some("s3cret"), &body, &headers)
    };
    // The standby may not have read the Lease since the leader took it: until it has,
    // it answers 503 (the sender redelivers), never 202 without acting.
    let mut answer = (0, String::new());
    wait_for("the standby to pass it on", Duration::from_secs(30), || {
        answer = deliver(&standby, &[]);
        answer.0 != 503
    });
    // The leader's own answer.
    assert_eq!(answer.0, 202, "{}", answer.1);
    assert!(answer.1.contains("\"accepted\""), "{}", answer.1);
    wait_for("the staging proposal", Duration::from_secs(60), || {
        branches(&origin, "ladder/") == ["ladder/staging/web"]
    });
    let forwarded = |d: &Daemon| {
        counter(
            d,
            "ladder_webhook_deliveries_total{provider=\"github\",result=\"forwarded\"}",
        )
    };
    assert_eq!(forwarded(&standby), 1.0);
    assert_eq!(counter(&standby, "ladder_reconciles_total"), 0.0);
    assert!(counter(&leader, "ladder_reconciles_total") >= 2.0);

    // A delivery marked as passed on is never passed on again: a loop cannot start.
    let (code, text) = deliver(&standby, &[("X-Ladder-Forwarded", "1")]);
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("not_leader"), "{text}");
    // A wrong signature is refused by the standby itself, and not passed on.
    let (code, _) = standby.push_hook(Some("wrong"), &body, &[]);
    assert_eq!(code, 401);
    assert_eq!(forwarded(&standby), 1.0);

    // The leader dies; until the Lease expires, the standby cannot pass anything on:
    // 503, so the sender redelivers, rather than a 202 for a delivery nobody acts on.
    drop(leader);
    let (code, text) = deliver(&standby, &[]);
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("no_leader"), "{text}");
}

#[test]
fn a_leader_that_loses_the_lease_mid_reconcile_writes_nothing_more() {
    let acme = served("acme");
    let origin = acme.origin.path();
    commit(
        &acme.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    let election = Election::new(acme.dir.path());
    let pause = tempfile::tempdir().unwrap();
    let config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\ntenants:\n  - name: acme\n    repo: {}\n    pollInterval: 0\n",
        cache(&acme).display(),
        acme.url
    );
    let daemon = election.replica(
        &config,
        "ladder-a",
        &[("LADDER_TEST_PAUSE_DIR", pause.path().to_str().unwrap())],
    );
    // The leader's first reconcile, held before it promotes.
    wait_for("the pause point", Duration::from_secs(60), || {
        pause.path().join("acme.paused").exists()
    });
    // Another replica takes the Lease (as one would after this one's renewals failed):
    // this one's next renewal gets 409 and it steps down.
    election
        .kube
        .edit_lease("ladder-system", "ladder", |lease| {
            lease["spec"]["holderIdentity"] = "ladder-b".into();
        });
    let leader = || {
        serde_json::from_str::<serde_json::Value>(&daemon.get("/readyz").1).unwrap()["leader"]
            .clone()
    };
    wait_for("it to step down", Duration::from_secs(30), || {
        leader() == false
    });
    // Let the reconcile go on: its promotion's push is cancelled, nothing is written.
    std::fs::write(pause.path().join("acme.resume"), b"").unwrap();
    wait_for("the reconcile to end", Duration::from_secs(30), || {
        daemon.status()["tenants"][0]["syncing"] == false
    });
    assert_eq!(branches(&origin, "ladder/"), Vec::<String>::new());

    // Nobody renews ladder-b's record: once it expires this replica leads again, and
    // its new term promotes.
    wait_for("the promotion", Duration::from_secs(90), || {
        branches(&origin, "ladder/") == ["ladder/staging/web"]
    });
    assert_eq!(leader(), true);
}

#[test]
fn hung_servers_delay_only_their_own_tenants() {
    let good = served("acme");
    commit(
        &good.origin,
        "web v2 in dev",
        &[("apps/web/env/dev.yaml".into(), values("v2"))],
    );
    // More tenants on a server that accepts and never answers than this machine has
    // cores, listed first so that they are the first to start.
    let hung = ladder_testkit::HungServer::start();
    let count = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let mut config = format!(
        "listen: 127.0.0.1:PORT\ncacheDir: {}\ntenants:\n",
        cache(&good).display()
    );
    for n in 1..=count {
        config.push_str(&format!(
            "  - name: hung{n}\n    repo: {}\n    pollInterval: 0\n",
            hung.url("git", &format!("hung{n}.git"))
        ));
    }
    config.push_str(&format!(
        "  - name: acme\n    repo: {}\n    pollInterval: 0\n",
        good.url
    ));
    let daemon = Daemon::start(&config, &[]);
    wait_for("acme's proposal", Duration::from_secs(60), || {
        branches(&good.origin.path(), "ladder/") == ["ladder/staging/web"]
    });
    // acme did not wait for them: all of them are still hanging (each gives up after
    // 30 s of silence), their fetches in flight beside acme's reconcile.
    assert!(hung.accepted() >= count, "{} connections", hung.accepted());
    let status = daemon.status();
    let tenants = status["tenants"].as_array().unwrap();
    for tenant in &tenants[..count] {
        assert_eq!(tenant["lastError"], serde_json::Value::Null, "{tenant}");
        assert_eq!(tenant["ready"], false, "{tenant}");
    }
    assert_eq!(tenants[count]["name"], "acme");
    assert_eq!(tenants[count]["ready"], true, "{}", tenants[count]);
}

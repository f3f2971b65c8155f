//! `ladder run`: the daemon. This module only turns the command line and the process
//! environment into the daemon's options, installs the signal handlers and maps the
//! result to an exit code; crates/daemon does the work.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ladder_daemon::config::{DaemonConfig, RenderConfig, TenantConfig};
use ladder_daemon::sync::{PausePoint, TenantRuntime};
use ladder_daemon::{DaemonOptions, check_config};
use ladder_git::Identity;
use ladder_model::LoadOptions;

use crate::OutputFormat;
use crate::remote_env;
use crate::report::{Exit, Failure};

/// Watch tenant repos and render, publish and promote continuously.
///
/// With --config FILE, every tenant the file names (see docs/daemon.md); every scalar of
/// the file can be overridden with LADDER__KEY__SUB variables (LADDER__LISTEN,
/// LADDER__TENANTS__0__POLLINTERVAL). With --repo DIR and no file, one local tenant:
/// the checkout's commits (not its working tree) are watched with inotify, rendered to
/// its branch `rendered`, and promoted with the `git` forge.
///
/// Serves /healthz, /readyz, /metrics, /api/v1/status and webhooks on /hooks/github,
/// /hooks/gitea and /hooks/gitlab. SIGTERM or SIGINT stops it: no new work, the
/// reconciles in flight finish within `shutdownTimeout`, exit 0. Logs are JSON when
/// stderr is not a terminal (LADDER_LOG sets the level; info by default).
///
/// Several replicas: LADDER_LEADER_ELECTION=true makes them contend for a Kubernetes
/// Lease (LADDER_LEASE_NAME, LADDER_LEASE_NAMESPACE or POD_NAMESPACE), held as POD_NAME;
/// only the holder reconciles. With POD_IP set, the holder writes its address on the
/// Lease and the others pass the webhooks they receive on to it.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The daemon's configuration file (YAML).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "repo",
        required_unless_present = "repo"
    )]
    pub config: Option<PathBuf>,

    /// Check the configuration, reach every tenant's repo once, print every problem and
    /// exit 0 or 1, without starting.
    #[arg(long, requires = "config")]
    pub check_config: bool,

    /// Run one local tenant from this checkout, with no configuration file.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// With --repo: where to listen.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        requires = "repo"
    )]
    pub listen: String,

    /// With --repo: the branch of the checkout the render is committed to.
    #[arg(
        long,
        value_name = "BRANCH",
        default_value = "rendered",
        requires = "repo"
    )]
    pub render_branch: String,

    /// With --repo: where mirrors are kept [default: $XDG_CACHE_HOME/ladder].
    #[arg(long, value_name = "DIR", env = "LADDER_CACHE_DIR", requires = "repo")]
    pub cache_dir: Option<PathBuf>,

    /// How to print --check-config's result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The daemon's configuration: the file with the environment's overrides, or the one
/// local tenant of --repo.
fn load_config(args: &RunArgs) -> anyhow::Result<DaemonConfig> {
    if let Some(file) = &args.config {
        let env = std::env::vars().filter(|(k, _)| k.starts_with("LADDER__"));
        return ladder_daemon::config::load(file, env).map_err(|e| {
            let exit = match e {
                ladder_daemon::config::ConfigError::Read { .. } => Exit::Environment,
                ladder_daemon::config::ConfigError::Invalid(_) => Exit::Input,
            };
            Failure::new(exit, e.to_string()).into()
        });
    }
    let repo = args
        .repo
        .as_deref()
        .expect("clap requires --config or --repo");
    let path = std::path::absolute(repo).with_context(|| format!("--repo {}", repo.display()))?;
    let name = local_tenant_name(&path)?;
    let listen = args.listen.parse().map_err(|_| {
        Failure::new(
            Exit::Usage,
            format!(
                "--listen `{}` is not an address and port such as 127.0.0.1:8080",
                args.listen
            ),
        )
    })?;
    Ok(DaemonConfig {
        listen,
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(crate::tenant_args::default_cache_dir),
        shutdown_timeout: Duration::from_secs(30),
        reconcile_slots: None,
        tenants: vec![TenantConfig {
            name,
            repo: None,
            path: Some(path),
            subfolder: None,
            branch: None,
            poll_interval: Duration::ZERO,
            forge: Default::default(),
            webhook_secret_file: None,
            render: RenderConfig {
                branch: Some(args.render_branch.clone()),
                path: None,
                none: false,
            },
        }],
    })
}

/// The tenant name a local checkout's `ladder.yaml` gives, at its HEAD commit: with no
/// platform configuration, the checkout names itself.
fn local_tenant_name(path: &Path) -> anyhow::Result<String> {
    let spec = ladder_engine::RepoSpec::Folder(path.to_path_buf());
    let options = ladder_engine::OpenOptions {
        git_ref: Some("HEAD".into()),
        ..Default::default()
    };
    let opened = ladder_engine::open(&spec, &options)
        .map_err(|e| Failure::new(Exit::Input, format!("--repo {}: {e}", path.display())))?;
    match ladder_engine::load(&opened, &LoadOptions::default())
        .map_err(|e| Failure::new(Exit::Environment, format!("--repo {}: {e}", path.display())))?
    {
        Ok(tenant) => Ok(tenant.settings.tenant),
        Err(problems) => Err(Failure::new(
            Exit::Input,
            format!(
                "--repo {}: the config at HEAD has problems:\n{}",
                path.display(),
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        )
        .into()),
    }
}

fn runtimes(config: &DaemonConfig) -> Vec<TenantRuntime> {
    config
        .tenants
        .iter()
        .map(|tenant| TenantRuntime {
            config: tenant.clone(),
            cache_dir: config.cache_dir.clone(),
            child_env: remote_env::child_env(),
            policy: platform_policy(),
            identity: Identity::new("ladder", "ladder@localhost"),
            github_answers: Default::default(),
            github_tokens: Default::default(),
        })
        .collect()
}

/// The platform policy of the environment (`LADDER_DENY_NAMESPACES`,
/// `LADDER_DENY_KINDS`), as the other commands take it.
fn platform_policy() -> LoadOptions {
    let mut policy = LoadOptions::default();
    let list = |name: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    policy
        .denied_namespaces
        .extend(list("LADDER_DENY_NAMESPACES"));
    policy.denied_kinds.extend(list("LADDER_DENY_KINDS"));
    policy
}

/// A test's hold inside the reconcile (`LADDER_TEST_PAUSE_DIR`): the reconcile writes
/// `<dir>/<tenant>.paused` and waits until `<dir>/<tenant>.resume` exists. For the
/// end-to-end tests of kill -9 and SIGTERM; never set in production.
struct FilePause(PathBuf);

impl PausePoint for FilePause {
    fn reached(&self, tenant: &str) {
        let resume = self.0.join(format!("{tenant}.resume"));
        if resume.exists() {
            return;
        }
        let _ = std::fs::write(self.0.join(format!("{tenant}.paused")), b"");
        while !resume.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args)?;
    let tenants = runtimes(&config);
    if args.check_config {
        let problems = check_config(&tenants);
        match args.output {
            OutputFormat::Json => println!(
                "{}",
                serde_json::json!({"ok": problems.is_empty(), "problems": problems})
            ),
            OutputFormat::Text => {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                if problems.is_empty() {
                    println!("configuration ok: {} tenant(s) reached", tenants.len());
                } else {
                    eprintln!("{} problem(s) found", problems.len());
                }
            }
        }
        return Ok(if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let pause = std::env::var_os("LADDER_TEST_PAUSE_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| Arc::new(FilePause(PathBuf::from(d))) as Arc<dyn PausePoint>);
    let election = leader_election()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The pod's IP (the chart sets POD_IP from the downward API): where a standby
    // passes webhooks on to this replica when it leads.
    let advertise_host = std::env::var("POD_IP")
        .ok()
        .filter(|ip| !ip.trim().is_empty());
    if election.is_some() && advertise_host.is_none() {
        tracing::warn!(
            "POD_IP is not set: when this replica leads, a standby cannot pass the webhooks it receives on to it (they get 503); set POD_IP from the downward API (status.podIP)"
        );
    }
    let options = DaemonOptions {
        config,
        tenants,
        pause,
        election,
        advertise_host,
    };
    let result = runtime.block_on(ladder_daemon::run(options, shutdown_signal(), |addr| {
        eprintln!("ladder is running: http://{addr}/api/v1/status");
    }));
    // A reconcile still blocked past the shutdown bound (a hung server that ignores
    // cancellation) must not keep the process: the daemon has already given up on it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map_err(|e| {
        let exit =
            match e {
                ladder_daemon::DaemonError::Listen { .. }
                | ladder_daemon::DaemonError::Serve(_) => Exit::Environment,
                ladder_daemon::DaemonError::Watch { .. }
                | ladder_daemon::DaemonError::Election(_) => Exit::Input,
            };
        Failure::new(exit, e.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Leader election, when `LADDER_LEADER_ELECTION` is `true` (the Helm chart sets it for
/// several replicas): the Lease `LADDER_LEASE_NAME` (default `ladder`) in
/// `LADDER_LEASE_NAMESPACE` (default: the pod's namespace), held as `POD_NAME`, on the
/// API server the pod's service account reaches (`LADDER_KUBE_API_URL` and
/// `LADDER_KUBE_TOKEN_FILE` override it, for tests).
fn leader_election() -> anyhow::Result<Option<ladder_lease::LeaseConfig>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if var("LADDER_LEADER_ELECTION").as_deref() != Some("true") {
        return Ok(None);
    }
    let usage = |message: String| Failure::new(Exit::Usage, message);
    let identity = var("POD_NAME").ok_or_else(|| {
        usage("leader election needs POD_NAME (the pod's name, from the downward API)".into())
    })?;
    let api_url = match var("LADDER_KUBE_API_URL") {
        Some(url) => url,
        None => match (
            var("KUBERNETES_SERVICE_HOST"),
            var("KUBERNETES_SERVICE_PORT"),
        ) {
            (Some(host), Some(port)) => ladder_lease::in_cluster_api_url(&host, &port),
            _ => {
                return Err(usage(
                    "leader election needs the Kubernetes API: run in a pod, or set LADDER_KUBE_API_URL".into(),
                )
                .into());
            }
        },
    };
    let namespace = match var("LADDER_LEASE_NAMESPACE").or_else(|| var("POD_NAMESPACE")) {
        Some(ns) => ns,
        None => std::fs::read_to_string(ladder_lease::IN_CLUSTER_NAMESPACE_FILE)
            .map(|ns| ns.trim().to_string())
            .map_err(|_| {
                usage("leader election needs LADDER_LEASE_NAMESPACE or POD_NAMESPACE".into())
            })?,
    };
    let name = var("LADDER_LEASE_NAME").unwrap_or_else(|| "ladder".into());
    let mut config = ladder_lease::LeaseConfig::new(api_url.clone(), namespace, name, identity);
    if let Some(token) = var("LADDER_KUBE_TOKEN_FILE") {
        config.token_file = Some(PathBuf::from(token));
    }
    if api_url.starts_with("http://") {
        config.ca_file = None;
    }
    Ok(Some(config))
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

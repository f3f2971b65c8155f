//! The arguments every command that reads a tenant config repo shares.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ladder_engine::{OpenOptions, OpenedRepo, RepoSpec};
use ladder_model::{LoadOptions, Problems, Tenant};
use ladder_render::Schemas;

use crate::remote_env;

#[derive(Args, Debug)]
pub struct TenantArgs {
    /// The tenant config repo: a folder holding ladder.yaml, or a Git URL (https://,
    /// ssh://, git://, file://) read without a checkout. Credentials come from
    /// LADDER_GIT_USERNAME and LADDER_GIT_PASSWORD (or LADDER_GIT_PASSWORD_FILE) and are
    /// sent only to this repo's host; ssh uses GIT_SSH_COMMAND if set.
    #[arg(long, value_name = "DIR|URL")]
    pub repo: String,

    /// Read the repo at this branch, tag or commit (default for URLs: the remote's
    /// default branch). With a folder, reads that commit of the folder's Git repo
    /// instead of the files on disk.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    /// The tenant's folder inside the repo (a platform monorepo); paths in its files
    /// stay relative to it. A folder given as --repo inside a Git repo is found there
    /// by itself.
    #[arg(long, value_name = "PATH")]
    pub subfolder: Option<String>,

    /// Where mirrors of remote repos are kept [default: $XDG_CACHE_HOME/ladder].
    #[arg(long, value_name = "DIR", env = "LADDER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Fail when a remote sends nothing for this many seconds (also bounds waits for
    /// another ladder process's lock on the same mirror).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Also refuse apps in this namespace (glob; repeatable). Platform policy: adds to the
    /// built-in list argocd, kube-system, kube-public.
    #[arg(
        long = "deny-namespace",
        value_name = "NAMESPACE",
        env = "LADDER_DENY_NAMESPACES",
        value_delimiter = ','
    )]
    pub deny_namespaces: Vec<String>,

    /// Also deny this namespaced kind in every AppProject (repeatable): KIND in any API
    /// group (NetworkPolicy) or GROUP/KIND (networking.k8s.io/NetworkPolicy). Platform
    /// policy: adds to the built-in ResourceQuota and LimitRange.
    #[arg(
        long = "deny-kind",
        value_name = "KIND",
        env = "LADDER_DENY_KINDS",
        value_delimiter = ',',
        value_parser = parse_kind
    )]
    pub deny_kinds: Vec<String>,

    /// Also check rendered documents against Argo CD's JSON Schemas in this folder
    /// (application[.strict].schema.json, appproject[.strict].schema.json).
    #[arg(long, value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,
}

impl TenantArgs {
    /// The platform policy: the built-in denied namespaces and kinds, and those given.
    pub fn policy(&self) -> LoadOptions {
        let mut policy = LoadOptions::default();
        for ns in &self.deny_namespaces {
            if !policy.denied_namespaces.contains(ns) {
                policy.denied_namespaces.push(ns.clone());
            }
        }
        for kind in &self.deny_kinds {
            if !policy.denied_kinds.contains(kind) {
                policy.denied_kinds.push(kind.clone());
            }
        }
        policy
    }

    pub fn schemas(&self) -> anyhow::Result<Option<Schemas>> {
        self.schema_dir
            .as_deref()
            .map(Schemas::load)
            .transpose()
            .context("loading --schema-dir")
    }

    /// How to open `--repo`: the credentials and ssh command of this process's
    /// environment, for this repo only.
    fn open_options(
        &self,
        spec: &RepoSpec,
        fallback: Option<ladder_git::Credentials>,
    ) -> anyhow::Result<OpenOptions> {
        let mut remote = ladder_git::RemoteOptions {
            limits: ladder_git::Limits::idle(Duration::from_secs(self.timeout)),
            ssh_command: remote_env::ssh_command(),
            child_env: remote_env::child_env(),
            ..Default::default()
        };
        if matches!(spec, RepoSpec::Url(_)) {
            remote.credentials = remote_env::credentials()?.or(fallback);
        }
        Ok(OpenOptions {
            git_ref: self.git_ref.clone(),
            subfolder: self.subfolder.clone(),
            cache_dir: self.cache_dir.clone().unwrap_or_else(default_cache_dir),
            remote,
        })
    }

    /// The engine's error with what to do about it from the command line.
    fn engine_error(&self, e: ladder_engine::Error) -> anyhow::Error {
        match e {
            ladder_engine::Error::NotARepo { .. } => anyhow::anyhow!(
                "--repo `{}` is not a folder or a Git URL; give the root of a tenant config repo (the folder that holds ladder.yaml) or a Git URL",
                self.repo
            ),
            e => with_advice(e, self),
        }
    }

    /// Opens the tenant's config branch from Git (`--ref`, else `configRepo.branch`)
    /// and loads it: `Err(problems)` inside when the config is wrong. `fallback`: the
    /// credentials a URL is fetched with when `LADDER_GIT_*` sets none
    /// (a forge's token for its own host).
    pub fn open_config_branch(
        &self,
        fallback: Option<ladder_git::Credentials>,
    ) -> anyhow::Result<Result<ladder_engine::ConfigBranch, Problems>> {
        let spec = RepoSpec::parse(&self.repo);
        let options = self.open_options(&spec, fallback)?;
        let loaded = ladder_engine::open_config_branch(&spec, &options, &self.policy())
            .map_err(|e| self.engine_error(e))?;
        if let Ok(config) = &loaded
            && let Some(description) = config.opened.description()
        {
            eprintln!("reading {description}");
        }
        Ok(loaded)
    }

    /// Opens `--repo` with the credentials and ssh command of this process's
    /// environment, for this repo only.
    pub fn open(&self) -> anyhow::Result<OpenedRepo> {
        let spec = RepoSpec::parse(&self.repo);
        let options = self.open_options(&spec, None)?;
        let started = std::time::Instant::now();
        let opened = ladder_engine::open(&spec, &options).map_err(|e| self.engine_error(e))?;
        tracing::debug!(repo = %self.repo, elapsed = ?started.elapsed(), "opened");
        if let Some(description) = opened.description() {
            eprintln!("reading {description}");
        }
        Ok(opened)
    }

    /// Opens and loads the tenant: `Err(problems)` inside when the config itself is
    /// wrong. The opened repo comes back for rendering (it knows the tenant's folder).
    pub fn load(&self) -> anyhow::Result<(OpenedRepo, Result<Tenant, Problems>)> {
        let opened = self.open()?;
        let loaded =
            ladder_engine::load(&opened, &self.policy()).map_err(|e| with_advice(e, self))?;
        Ok((opened, loaded))
    }
}

/// `--deny-kind`: `Kind` or `group/Kind`, as Kubernetes spells them.
fn parse_kind(text: &str) -> Result<String, String> {
    let text = text.trim();
    let (group, kind) = text.rsplit_once('/').unwrap_or(("", text));
    let kind_ok = kind.starts_with(|c: char| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    let group_ok = group
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !(text.contains('/') && group.is_empty());
    if kind_ok && group_ok {
        Ok(text.to_string())
    } else {
        Err("write a kind (NetworkPolicy) or group/kind (networking.k8s.io/NetworkPolicy)".into())
    }
}

/// The engine's error with what the user can do about it from the command line.
fn with_advice(err: ladder_engine::Error, args: &TenantArgs) -> anyhow::Error {
    use ladder_git::Error as G;
    let hint = match (&err, err.git_error()) {
        // With --ref given, the error names its value; advice to pass it would be noise.
        (ladder_engine::Error::RefNotFound { .. }, _) if args.git_ref.is_some() => None,
        (ladder_engine::Error::RefNotFound { .. }, _) => {
            Some("pass an existing branch, tag or commit with --ref".to_string())
        }
        (ladder_engine::Error::BadSubfolder { .. }, _) if args.subfolder.is_some() => {
            Some("--subfolder is relative to the repo's root and must name a folder".to_string())
        }
        (_, Some(G::AuthFailed { .. })) => Some(format!(
            "set a valid user and token in the URL, or in {} and {} (or {})",
            remote_env::ENV_USERNAME,
            remote_env::ENV_PASSWORD,
            remote_env::ENV_PASSWORD_FILE
        )),
        (
            _,
            Some(G::TimedOut {
                deadline: false, ..
            }),
        ) => Some(format!(
            "check that the server is up, or allow it more than {} s with --timeout",
            args.timeout
        )),
        (_, Some(G::Unreachable { .. })) => {
            Some("check that the host and port are right and the server is up".to_string())
        }
        _ => None,
    };
    anyhow::Error::new(Advised { err, hint })
}

/// An engine error and what to do about it, printed as one line: cause first, then the
/// advice.
#[derive(Debug)]
pub struct Advised {
    pub err: ladder_engine::Error,
    pub hint: Option<String>,
}

impl std::fmt::Display for Advised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.err)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Advised {}

/// The default mirror cache: `$XDG_CACHE_HOME/ladder`, else `~/.cache/ladder`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("ladder");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/ladder"),
        None => std::env::temp_dir().join("ladder-cache"),
    }
}

/// Checks `--env` names against the tenant's environments.
pub fn check_env_names(tenant: &Tenant, names: &[String]) -> anyhow::Result<()> {
    let known: Vec<&str> = tenant
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    for name in names {
        if !known.contains(&name.as_str()) {
            let hint = ladder_model::did_you_mean(name, &known)
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            anyhow::bail!(
                "--env `{name}` is not an environment of this tenant; {hint}environments: {}",
                known.join(", ")
            );
        }
    }
    Ok(())
}

fn no_settings(problems: &Problems) -> bool {
    problems
        .iter()
        .any(|p| p.file == ladder_model::SETTINGS_FILE && p.message == ladder_model::NO_SETTINGS)
}

impl TenantArgs {
    /// Advice for problems whose fix is a flag (a tree without `ladder.yaml` was
    /// probably chosen wrongly), naming only flags the user did not pass.
    pub fn problems_advice(&self, problems: &Problems) -> Option<&'static str> {
        if !no_settings(problems) {
            return None;
        }
        Some(match &self.subfolder {
            Some(_) => {
                "point --repo and --subfolder at the tenant's folder (the one that holds ladder.yaml)"
            }
            None => {
                "point --repo at the root of a tenant config repo, or name the tenant's folder inside it with --subfolder"
            }
        })
    }
}

/// Problems as JSON objects, for `--output json`.
pub fn problems_json(problems: &Problems) -> serde_json::Value {
    problems
        .iter()
        .map(|p| {
            serde_json::json!({
                "file": p.file,
                "line": p.position.map(|p| p.line),
                "column": p.position.map(|p| p.column),
                "message": p.message,
            })
        })
        .collect()
}

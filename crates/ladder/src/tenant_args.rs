//! The arguments every command that reads a tenant config repo shares.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ladder_model::{LoadError, LoadOptions, Problems, Tenant};
use ladder_render::Schemas;

use crate::repo_source::{RepoSource, default_cache_dir};

#[derive(Args, Debug)]
pub struct TenantArgs {
    /// The tenant config repo: a folder holding ladder.yaml, or a Git URL (https://,
    /// ssh://, git://, file://) read without a checkout. Credentials come from
    /// LADDER_GIT_USERNAME and LADDER_GIT_PASSWORD (or LADDER_GIT_PASSWORD_FILE).
    #[arg(long, value_name = "DIR|URL")]
    pub repo: String,

    /// Read the repo at this branch, tag or commit (default for URLs: main). With a
    /// folder, reads that commit of the folder's Git repo instead of the files on disk.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    /// Where mirrors of remote repos are kept [default: $XDG_CACHE_HOME/ladder].
    #[arg(long, value_name = "DIR", env = "LADDER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Also refuse apps in this namespace (glob; repeatable). Platform policy: adds to the
    /// built-in list argocd, kube-system, kube-public.
    #[arg(
        long = "deny-namespace",
        value_name = "NAMESPACE",
        env = "LADDER_DENY_NAMESPACES",
        value_delimiter = ','
    )]
    pub deny_namespaces: Vec<String>,

    /// Also check rendered documents against Argo CD's JSON Schemas in this folder
    /// (application[.strict].schema.json, appproject[.strict].schema.json).
    #[arg(long, value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,
}

impl TenantArgs {
    pub fn policy(&self) -> LoadOptions {
        let mut policy = LoadOptions::default();
        for ns in &self.deny_namespaces {
            if !policy.denied_namespaces.contains(ns) {
                policy.denied_namespaces.push(ns.clone());
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

    /// Loads the tenant: `Ok(Err(problems))` when the config itself is wrong.
    pub fn load(&self) -> anyhow::Result<Result<Tenant, Problems>> {
        let cache_dir = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let source = RepoSource::open(&self.repo, self.git_ref.as_deref(), &cache_dir)?;
        if let Some(description) = source.description() {
            eprintln!("reading {description}");
        }
        match ladder_model::load(source.tree(), &self.policy()) {
            Ok(tenant) => Ok(Ok(tenant)),
            Err(LoadError::Invalid(problems)) => Ok(Err(problems)),
            Err(LoadError::Tree(e)) => Err(e).context("reading the tenant config repo"),
        }
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

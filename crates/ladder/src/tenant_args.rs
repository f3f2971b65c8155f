//! The arguments every command that reads a tenant config repo shares.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ladder_model::{FsTree, LoadError, LoadOptions, Problems, Tenant};
use ladder_render::Schemas;

#[derive(Args, Debug)]
pub struct TenantArgs {
    /// The tenant config repo: a folder holding ladder.yaml.
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,

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
        if !self.repo.is_dir() {
            anyhow::bail!(
                "--repo `{}` is not a folder; give the root of a tenant config repo",
                self.repo.display()
            );
        }
        let tree = FsTree::new(&self.repo);
        match ladder_model::load(&tree, &self.policy()) {
            Ok(tenant) => Ok(Ok(tenant)),
            Err(LoadError::Invalid(problems)) => Ok(Err(problems)),
            Err(LoadError::Tree(e)) => {
                Err(e).with_context(|| format!("reading {}", self.repo.display()))
            }
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

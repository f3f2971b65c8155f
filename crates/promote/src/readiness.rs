//! The readiness gate: the platform's production checklist, evaluated on the manifests
//! ladder can see, for one app in one environment.
//!
//! # API
//!
//! ```text
//! pub fn evaluate(tree: &dyn ConfigTree, tenant: &Tenant, app: &App, env: &Environment)
//!     -> Result<Readiness, ReadinessError>
//! pub struct Readiness { pub items: Vec<Item> }      // always the ten ITEMS, in order
//!     fn blocks(&self) -> bool                        // some item failed
//!     fn failed(&self) / unknown(&self) / passed(&self) -> impl Iterator<Item = &Item>
//!     fn item(&self, name: &str) -> Option<&Item>
//! pub struct Item { pub name: &'static str, pub result: ItemResult, pub detail: String }
//! pub enum ItemResult { Passed, Failed, Unknown }    // serde: "passed" | "failed" | "unknown"
//! ```
//!
//! Failed blocks a promotion; unknown is shown and does not block. `detail` says why,
//! naming the file and the object (or the value file and key).
//!
//! # Items
//!
//! Named in camelCase, like the gate names (`syncWindow`) and the Kubernetes fields they
//! check ([`ITEMS`]): `livenessProbe`, `readinessProbe` (every container of every
//! long-running workload), `cpuRequest`, `memoryRequest`, `cpuLimit`, `memoryLimit`
//! (`resources.{requests,limits}.{cpu,memory}` of every container of every workload),
//! `service` (some Service), `httpRoute` (an HTTPRoute where the app is exposed: its
//! manifests hold an HTTPRoute, an Ingress or a `LoadBalancer` Service),
//! `scrapeAnnotations` (`k8s.grafana.com/scrape` or `prometheus.io/scrape` set to
//! `"true"` on the pod template of every long-running workload), `seccompProfile` (the
//! pod's `securityContext.seccompProfile.type: RuntimeDefault`, or that of every
//! container, init and ephemeral containers included; a container overriding the pod's
//! with another type fails).
//!
//! Workloads are Deployments, StatefulSets, DaemonSets, ReplicaSets,
//! ReplicationControllers, Pods and Argo Rollouts (long-running), and Jobs and CronJobs
//! (checked for resources and seccomp only). With no workload in sight, the workload
//! items and `service` are unknown: ladder cannot tell what runs.
//!
//! # What ladder sees
//!
//! Only sources in the config repo are read; a directory or Kustomize app from another
//! repo is unknown throughout.
//!
//! - Directory apps: every `.yaml`, `.yml` and `.json` file directly in the source path
//!   (Argo CD does not recurse into subfolders unless told to, and ladder never tells
//!   it), each with any number of documents; a `kind: List` is unpacked.
//! - Kustomize apps: the overlay merged with its bases, as far as documented in
//!   `readiness/kustomize.rs`: `resources`/`bases` (files and folders), `components`,
//!   `patches`, `patchesStrategicMerge` and `patchesJson6902` (strategic merge with the
//!   pod spec's merge keys and `$patch: delete|replace`, every JSON6902 operation),
//!   `namePrefix`/`nameSuffix` and `commonAnnotations`; fields that cannot change an item
//!   (`images`, `replicas`, `namespace`, labels, generators of ConfigMaps and Secrets)
//!   are ignored. Anything else (remote bases, `helmCharts`, `replacements`,
//!   transformers, a patch directive or target selector not understood) makes the items
//!   it may affect unknown, never passed.
//! - Helm apps: only the conventional values keys (`resources`, `livenessProbe`,
//!   `readinessProbe`, `service`, `httpRoute.enabled`, `ingress.enabled`,
//!   `podAnnotations`, `podSecurityContext`/`securityContext` `.seccompProfile`), from
//!   the app's value files for the environment merged in order as Helm merges them (a
//!   chart kept in the config repo adds its own `values.yaml` first; the app's inline
//!   values go last, as Argo CD gives them precedence). A chart's templates are never
//!   rendered: what the values do not say is unknown, what they remove (`null`,
//!   `enabled: false`) fails.

mod checks;
mod helm;
mod kustomize;
mod manifests;
mod patch;

use ladder_model::{App, Environment, SourceType, Tenant};
use ladder_tree::{ConfigTree, TreeError};
use serde::Serialize;

pub const LIVENESS_PROBE: &str = "livenessProbe";
pub const READINESS_PROBE: &str = "readinessProbe";
pub const CPU_REQUEST: &str = "cpuRequest";
pub const MEMORY_REQUEST: &str = "memoryRequest";
pub const CPU_LIMIT: &str = "cpuLimit";
pub const MEMORY_LIMIT: &str = "memoryLimit";
pub const SERVICE: &str = "service";
pub const HTTP_ROUTE: &str = "httpRoute";
pub const SCRAPE_ANNOTATIONS: &str = "scrapeAnnotations";
pub const SECCOMP_PROFILE: &str = "seccompProfile";

/// Every item of the checklist, in the order a [`Readiness`] lists them.
pub const ITEMS: [&str; 10] = [
    LIVENESS_PROBE,
    READINESS_PROBE,
    CPU_REQUEST,
    MEMORY_REQUEST,
    CPU_LIMIT,
    MEMORY_LIMIT,
    SERVICE,
    HTTP_ROUTE,
    SCRAPE_ANNOTATIONS,
    SECCOMP_PROFILE,
];

/// The result of one checklist item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemResult {
    Passed,
    Failed,
    /// ladder cannot see enough to say (a remote chart's templates, a remote base, a
    /// Kustomize feature it does not understand).
    Unknown,
}

/// One checklist item for one app in one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// One of [`ITEMS`].
    pub name: &'static str,
    pub result: ItemResult,
    /// Why, naming the file and the object (or value file and key).
    pub detail: String,
}

impl Item {
    pub(crate) fn new(name: &'static str, result: ItemResult, detail: impl Into<String>) -> Self {
        Item {
            name,
            result,
            detail: detail.into(),
        }
    }
}

/// The checklist of one app in one environment: every item of [`ITEMS`], in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub items: Vec<Item>,
}

impl Readiness {
    /// Whether the gate holds the promotion: some item failed.
    pub fn blocks(&self) -> bool {
        self.failed().next().is_some()
    }

    pub fn failed(&self) -> impl Iterator<Item = &Item> {
        self.with(ItemResult::Failed)
    }

    pub fn unknown(&self) -> impl Iterator<Item = &Item> {
        self.with(ItemResult::Unknown)
    }

    pub fn passed(&self) -> impl Iterator<Item = &Item> {
        self.with(ItemResult::Passed)
    }

    /// The item named `name` (one of [`ITEMS`]).
    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.name == name)
    }

    fn with(&self, result: ItemResult) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |item| item.result == result)
    }

    /// Every item unknown for the same reason.
    fn all_unknown(detail: &str) -> Self {
        Readiness {
            items: ITEMS
                .iter()
                .map(|name| Item::new(name, ItemResult::Unknown, detail))
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A manifest, kustomization or value file that is not YAML.
    #[error("{file}:{line}:{column}: {message}")]
    Yaml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A build Argo CD would refuse too: a missing kustomization or resource, a patch
    /// that matches nothing, a cycle of bases.
    #[error("{file}: {message}")]
    Kustomize { file: String, message: String },
    /// A file the app names is not in the repo.
    #[error("`{path}` is not in the repo ({what})")]
    Missing { path: String, what: String },
}

/// Evaluates the checklist for `app` in `env` on the manifests in `tree` (the config
/// repo at one state). Paths resolve as the model resolves them for rendering.
pub fn evaluate(
    tree: &dyn ConfigTree,
    tenant: &Tenant,
    app: &App,
    env: &Environment,
) -> Result<Readiness, ReadinessError> {
    if app.source.kind == SourceType::Helm {
        return helm::evaluate(tree, tenant, app, env);
    }
    if !tenant.is_config_repo(&app.source) {
        let repo = app.source.repo_url.as_deref().unwrap_or_default();
        return Ok(Readiness::all_unknown(&format!(
            "the manifests of {} are in {repo}, which ladder does not read",
            app.name
        )));
    }
    let Some(path) = tenant.source_path(app, env) else {
        return Ok(Readiness::all_unknown(&format!(
            "{} names no source path in the config repo",
            app.file
        )));
    };
    let manifests = match app.source.kind {
        SourceType::Kustomize => kustomize::build(tree, &path)?,
        _ => manifests::directory(tree, &path)?,
    };
    Ok(checks::check(&manifests))
}

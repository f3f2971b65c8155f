//! The tenant config model, format v1, as loaded and checked.

use serde::Serialize;

use crate::pattern::Placeholders;

/// A tenant config repo, loaded and checked: every name is valid, every reference resolves.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub settings: Settings,
    /// In promotion order: an environment comes after the one it promotes from; ties by name.
    pub environments: Vec<Environment>,
    /// Sorted by name.
    pub apps: Vec<App>,
    /// Template overrides from the repo's `templates/` folder.
    pub templates: Vec<TemplateFile>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub tenant: String,
    pub config_repo: ConfigRepo,
    pub argocd: ArgoSettings,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRepo {
    pub url: String,
    pub branch: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoSettings {
    /// The namespace Argo CD runs in, where Applications and AppProjects live.
    pub namespace: String,
    /// The project name pattern; may use `{tenant}`, `{env}`, `{cluster}`.
    pub project: String,
    /// False where the platform provides the AppProject.
    pub render_projects: bool,
    /// Extra repo globs the AppProject allows, beyond the config repo and the apps' repos.
    pub source_repos: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub name: String,
    pub cluster: String,
    /// The app namespace pattern; may use `{tenant}`, `{env}`, `{cluster}`, `{app}`.
    pub namespace: String,
    pub sync: SyncMode,
    /// Argo CD sync windows, kept verbatim after checking.
    pub sync_windows: Vec<serde_json::Value>,
    pub promotion: Option<Promotion>,
    /// The file it was loaded from, or `<built-in>/environments/<name>.yaml`.
    pub file: String,
}

/// The four automated-sync policies of Argo CD's sync table, plus manual sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    Manual,
    Auto,
    AutoPrune,
    AutoSelfheal,
    AutoPruneSelfheal,
}

impl SyncMode {
    pub const NAMES: [&'static str; 5] = [
        "manual",
        "auto",
        "auto-prune",
        "auto-selfheal",
        "auto-prune-selfheal",
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "manual" => SyncMode::Manual,
            "auto" => SyncMode::Auto,
            "auto-prune" => SyncMode::AutoPrune,
            "auto-selfheal" => SyncMode::AutoSelfheal,
            "auto-prune-selfheal" => SyncMode::AutoPruneSelfheal,
            _ => return None,
        })
    }

    /// `syncPolicy.automated.{prune, selfHeal}`, or `None` for manual sync.
    pub fn automated(self) -> Option<(bool, bool)> {
        match self {
            SyncMode::Manual => None,
            SyncMode::Auto => Some((false, false)),
            SyncMode::AutoPrune => Some((true, false)),
            SyncMode::AutoSelfheal => Some((false, true)),
            SyncMode::AutoPruneSelfheal => Some((true, true)),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The environment this one takes its promoted values from.
    pub from: String,
    /// Where `from` is written, for messages.
    #[serde(skip)]
    pub from_at: crate::yaml::Position,
    /// Other promotion settings, kept for the promoter.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub name: String,
    pub source: Source,
    /// Helm value files, relative to the app folder, in order; may use placeholders.
    pub values: Vec<String>,
    /// The environments the app is deployed to; `None` means all.
    pub environments: Option<Vec<String>>,
    /// The app's own namespace pattern, which wins over the environment's.
    pub namespace: Option<String>,
    pub promote: Vec<PromoteField>,
    /// `apps/<name>/app.yaml`.
    pub file: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    Helm,
    Kustomize,
    Directory,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// `None` means the config repo.
    pub repo_url: Option<String>,
    /// `None` means the config repo's branch (for the config repo) or `HEAD`.
    pub target_revision: Option<String>,
    /// Relative to the source repo's root; may use placeholders.
    pub path: String,
    pub helm_release_name: Option<String>,
}

/// A value that moves between environments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromoteField {
    /// Relative to the app folder; may use placeholders.
    pub file: String,
    /// A YAML path such as `image.tag` or `images[name=ghcr.io/acme/web].newTag`.
    pub path: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFile {
    /// The file name under `templates/`, e.g. `application.yaml.hbs` or `_labels.hbs`.
    pub name: String,
    pub text: String,
}

impl Tenant {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The Argo CD destination name of an environment: always `<tenant>-<cluster>`.
    pub fn destination_name(&self, env: &Environment) -> String {
        format!("{}-{}", self.settings.tenant, env.cluster)
    }

    pub fn project_name(&self, env: &Environment) -> String {
        self.placeholders(env, None)
            .expand(&self.settings.argocd.project)
            .expect("project pattern checked at load")
    }

    /// The apps deployed to an environment, by name.
    pub fn apps_in<'a>(&'a self, env: &'a Environment) -> impl Iterator<Item = &'a App> + 'a {
        self.apps
            .iter()
            .filter(move |app| app.deployed_to(&env.name))
    }

    pub fn app_namespace(&self, app: &App, env: &Environment) -> String {
        let pattern = app.namespace.as_deref().unwrap_or(&env.namespace);
        self.placeholders(env, Some(app))
            .expand(pattern)
            .expect("namespace pattern checked at load")
    }

    pub fn placeholders<'a>(
        &'a self,
        env: &'a Environment,
        app: Option<&'a App>,
    ) -> Placeholders<'a> {
        Placeholders {
            tenant: Some(&self.settings.tenant),
            env: Some(&env.name),
            cluster: Some(&env.cluster),
            app: app.map(|a| a.name.as_str()),
        }
    }

    /// Whether a source is the config repo itself.
    pub fn is_config_repo(&self, source: &Source) -> bool {
        source
            .repo_url
            .as_deref()
            .is_none_or(|url| same_repo(url, &self.settings.config_repo.url))
    }
}

impl App {
    pub fn deployed_to(&self, env: &str) -> bool {
        self.environments
            .as_ref()
            .is_none_or(|envs| envs.iter().any(|e| e == env))
    }

    /// The Argo CD Application name for an environment.
    pub fn application_name(&self, env: &str) -> String {
        format!("{}-{}", self.name, env)
    }
}

/// Compares repo URLs the way Argo CD does for `sourceRepos`: ignoring a trailing `.git`
/// and `/`, and case.
pub fn same_repo(a: &str, b: &str) -> bool {
    fn normal(url: &str) -> String {
        let url = url.trim_end_matches('/');
        url.strip_suffix(".git").unwrap_or(url).to_ascii_lowercase()
    }
    normal(a) == normal(b)
}

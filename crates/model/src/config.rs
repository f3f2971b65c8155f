//! The tenant config model, format v1, as loaded and checked.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::pattern::{AppFile, AppVars, EnvPattern, EnvVars, Pattern};

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
    pub forge: ForgeSettings,
}

/// `forge`: where the tenant's promotion proposals live. Only what the tenant may
/// choose; where the forge's API is and who ladder is there are the operator's settings,
/// never read from the tenant's repo.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgeSettings {
    #[serde(rename = "type")]
    pub kind: ForgeKind,
    /// `owner/name` on the forge; `None`: the last two path segments of the repo URL
    /// ladder reads.
    pub repository: Option<String>,
    pub commit_mode: CommitMode,
    pub merge_method: MergeMethod,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForgeKind {
    /// No forge API: a proposal is a branch of the repo.
    #[default]
    Git,
    /// GitHub or GitHub Enterprise pull requests.
    #[serde(rename = "github")]
    GitHub,
}

impl Keyword for ForgeKind {
    const WHAT: &'static str = "forge type";
    const WORDS: &'static [(&'static str, Self)] =
        &[("git", ForgeKind::Git), ("github", ForgeKind::GitHub)];
}

/// How a forge with an API gets proposal commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    /// Built locally and pushed with compare-and-swap.
    #[default]
    Push,
    /// Created through the forge's API, which signs them (no push rights needed).
    Api,
}

impl Keyword for CommitMode {
    const WHAT: &'static str = "commit mode";
    const WORDS: &'static [(&'static str, Self)] =
        &[("push", CommitMode::Push), ("api", CommitMode::Api)];
}

/// How `auto-merge` merges a pull request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeMethod {
    #[default]
    Merge,
    Squash,
    Rebase,
}

impl Keyword for MergeMethod {
    const WHAT: &'static str = "merge method";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("merge", MergeMethod::Merge),
        ("squash", MergeMethod::Squash),
        ("rebase", MergeMethod::Rebase),
    ];
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
    pub project: EnvPattern,
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
    pub namespace: Pattern,
    pub sync: SyncMode,
    /// Argo CD sync windows, kept verbatim after checking.
    pub sync_windows: Vec<serde_json::Value>,
    pub promotion: Option<Promotion>,
    /// What deleting one of the environment's Applications does to its workloads.
    pub finalizer: Finalizer,
    /// Removing one of the environment's Applications needs `retire` (checked against
    /// the previous output by the renderer's output folder).
    pub protected: bool,
    /// Apps removed from this environment on purpose (a protected environment needs
    /// them named); none of them may still be deployed to it.
    pub retire: Vec<String>,
    /// The file it was loaded from, or `<built-in>/environments/<name>.yaml`.
    pub file: String,
    /// Where its settings are written in `file`, for messages about them.
    #[serde(skip)]
    pub at: EnvPositions,
}

/// Where an environment's settings are written, for messages that point at them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvPositions {
    /// `namespace:`, when the file sets it.
    pub namespace: Option<crate::yaml::Position>,
    /// Each `retire:` entry, in order.
    pub retire: Vec<crate::yaml::Position>,
}

/// Argo CD's resources finalizer on an environment's Applications: what deleting an
/// Application does to the workloads it deployed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finalizer {
    /// `resources-finalizer.argocd.argoproj.io`: Argo CD deletes the Application's
    /// resources first (foreground cascading deletion), then the Application.
    #[default]
    Foreground,
    /// `resources-finalizer.argocd.argoproj.io/background`: the Application goes at
    /// once and Kubernetes deletes its resources afterwards (background cascading).
    Background,
    /// No finalizer: deleting the Application leaves its resources running, unmanaged.
    None,
}

impl Keyword for Finalizer {
    const WHAT: &'static str = "finalizer";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("foreground", Finalizer::Foreground),
        ("background", Finalizer::Background),
        ("none", Finalizer::None),
    ];
}

/// Argo CD's resources finalizer; with a `/background` or `/foreground` suffix it picks
/// the propagation policy, without one it is foreground.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

impl Finalizer {
    /// The `metadata.finalizers` entry of an Application, or `None` for no finalizer.
    pub fn argo_finalizer(self) -> Option<&'static str> {
        match self {
            Finalizer::Foreground => Some(RESOURCES_FINALIZER),
            Finalizer::Background => Some("resources-finalizer.argocd.argoproj.io/background"),
            Finalizer::None => None,
        }
    }
}

/// An enum written in the config as one of a few words.
pub trait Keyword: Copy + 'static {
    /// What the words name, for messages: "sync policy".
    const WHAT: &'static str;
    /// Every word and its value, in the order messages list them.
    const WORDS: &'static [(&'static str, Self)];

    fn parse(text: &str) -> Option<Self> {
        Self::WORDS
            .iter()
            .find(|(word, _)| *word == text)
            .map(|(_, value)| *value)
    }
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

impl Keyword for SyncMode {
    const WHAT: &'static str = "sync policy";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("manual", SyncMode::Manual),
        ("auto", SyncMode::Auto),
        ("auto-prune", SyncMode::AutoPrune),
        ("auto-selfheal", SyncMode::AutoSelfheal),
        ("auto-prune-selfheal", SyncMode::AutoPruneSelfheal),
    ];
}

impl SyncMode {
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

/// How values are promoted into an environment (its `promotion:`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The environment this one takes its promoted values from.
    pub from: String,
    /// Where `from` is written, for messages.
    #[serde(skip)]
    pub from_at: crate::yaml::Position,
    pub mode: PromotionMode,
    /// How long a value must have been in `from` before it is promoted here.
    #[serde(serialize_with = "serialize_duration")]
    pub soak: Duration,
    /// No promotions into this environment while set.
    pub frozen: bool,
    /// Promote only apps whose manifests pass the platform's production checklist
    /// (probes, requests and limits, a Service, an HTTPRoute where exposed, metrics
    /// scrape annotations, `seccompProfile: RuntimeDefault`).
    pub require_readiness: bool,
    pub group: PromotionGroup,
    /// Labels of the pull requests that promote into this environment.
    pub labels: Vec<String>,
    /// Reviewers asked on those pull requests.
    pub reviewers: Vec<String>,
    /// Propose values changed directly in this environment back to `from`.
    pub backflow: bool,
}

impl Promotion {
    /// A promotion from `from` with every other setting at its default.
    pub fn new(from: impl Into<String>) -> Self {
        Promotion {
            from: from.into(),
            from_at: crate::yaml::Position::default(),
            mode: PromotionMode::PullRequest,
            soak: Duration::ZERO,
            frozen: false,
            require_readiness: false,
            group: PromotionGroup::App,
            labels: Vec::new(),
            reviewers: Vec::new(),
            backflow: false,
        }
    }
}

/// Durations serialize as the config writes them (`24h`, `1h30m`).
fn serialize_duration<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::duration::format_duration(*duration))
}

/// What the promoter does with a promotion into an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionMode {
    /// Opens a pull request; a person merges it.
    PullRequest,
    /// Opens a pull request and merges it once its checks pass.
    AutoMerge,
    /// Opens nothing; the promotion is only reported as pending.
    Manual,
}

impl Keyword for PromotionMode {
    const WHAT: &'static str = "promotion mode";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("pull-request", PromotionMode::PullRequest),
        ("auto-merge", PromotionMode::AutoMerge),
        ("manual", PromotionMode::Manual),
    ];
}

/// What one promotion pull request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromotionGroup {
    /// One pull request per app.
    App,
    /// One pull request per environment, with every app's values.
    Environment,
}

impl Keyword for PromotionGroup {
    const WHAT: &'static str = "promotion group";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("app", PromotionGroup::App),
        ("environment", PromotionGroup::Environment),
    ];
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub name: String,
    pub source: Source,
    /// Helm value files, relative to the app folder, in order; may use placeholders.
    pub values: Vec<AppFile>,
    /// The environments the app is deployed to; `None` means all.
    pub environments: Option<Vec<String>>,
    /// The app's own namespace pattern, which wins over the environment's.
    pub namespace: Option<Pattern>,
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

impl Keyword for SourceType {
    const WHAT: &'static str = "source type";
    const WORDS: &'static [(&'static str, Self)] = &[
        ("helm", SourceType::Helm),
        ("kustomize", SourceType::Kustomize),
        ("directory", SourceType::Directory),
    ];
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// `None` means the config repo. A Git repo, a Helm chart repository (with
    /// `chart`), an OCI registry as Argo CD names one for `chart` (`host/path`, no
    /// scheme), or an OCI artifact (`oci://host/path/name`).
    pub repo_url: Option<String>,
    /// `None` means the config repo's branch (for the config repo) or `HEAD`; required
    /// for a chart from a chart repository and for an OCI artifact (its version or tag).
    pub target_revision: Option<String>,
    /// Relative to the source repo's root, without `..`; may use placeholders. `None`
    /// for a chart named by `chart`; `.` by default for an `oci://` artifact.
    pub path: Option<Pattern>,
    /// The chart's name in the Helm chart repository or OCI registry of `repo_url`.
    pub chart: Option<String>,
    pub helm_release_name: Option<String>,
    /// Inline Helm values for every environment (`source.helm.valuesObject`), a mapping.
    pub helm_values: Option<serde_json::Value>,
    /// Inline Helm values per environment (`source.helm.envValuesObject`), merged over
    /// `helm_values`.
    pub helm_env_values: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Source {
    /// An OCI artifact named by an `oci://` URL (Argo CD 3.1+), read at `path` (`.`).
    pub fn is_oci_artifact(&self) -> bool {
        self.repo_url
            .as_deref()
            .is_some_and(|url| url.starts_with("oci://"))
    }

    /// The inline Helm values in an environment: `valuesObject` with the environment's
    /// `envValuesObject` merged over it as Helm merges value files (mappings key by key,
    /// anything else replaced); `None` when there are none.
    pub fn helm_values_in(&self, env: &str) -> Option<serde_json::Value> {
        let env_values = self.helm_env_values.get(env);
        match (&self.helm_values, env_values) {
            (None, None) => None,
            (Some(v), None) | (None, Some(v)) => Some(v.clone()),
            (Some(base), Some(over)) => {
                let mut merged = base.clone();
                merge_values(&mut merged, over);
                Some(merged)
            }
        }
    }
}

/// Merges `over` into `base` the way Helm merges value files.
fn merge_values(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) => merge_values(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// A value that moves between environments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromoteField {
    /// Relative to the app folder; may use placeholders.
    pub file: AppFile,
    /// A YAML path such as `image.tag` or `images[name=ghcr.io/acme/web].newTag`.
    pub path: String,
}

/// A promoted value of one app in one environment: where it lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedField {
    /// The file, `/`-separated from the repo root.
    pub file: String,
    /// The YAML path in it.
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
        self.settings.project_name(env)
    }

    /// The apps deployed to an environment, by name.
    pub fn apps_in<'a>(&'a self, env: &'a Environment) -> impl Iterator<Item = &'a App> + 'a {
        self.apps
            .iter()
            .filter(move |app| app.deployed_to(&env.name))
    }

    pub fn app_namespace(&self, app: &App, env: &Environment) -> String {
        app.namespace_in(&self.settings.tenant, env)
    }

    /// The app's `source.path` in an environment, from its repo's root; `None` for a
    /// chart named by `source.chart`.
    pub fn source_path(&self, app: &App, env: &Environment) -> Option<String> {
        app.source
            .path
            .as_ref()
            .map(|path| path.expand(&app.vars(&self.settings.tenant, env)))
    }

    /// The app's Helm value files in an environment, in order, each `/`-separated from the
    /// config repo's root.
    pub fn value_files(&self, app: &App, env: &Environment) -> Vec<String> {
        app.value_files_in(&self.settings.tenant, env)
    }

    /// Where the app's promoted values live in an environment, in `promote` order.
    pub fn promoted_fields(&self, app: &App, env: &Environment) -> Vec<ResolvedField> {
        app.promoted_fields_in(&self.settings.tenant, env)
    }

    /// What placeholders expand to in an environment-wide pattern.
    pub fn env_vars<'a>(&'a self, env: &'a Environment) -> EnvVars<'a> {
        self.settings.env_vars(env)
    }

    /// What placeholders expand to for an app in an environment.
    pub fn app_vars<'a>(&'a self, app: &'a App, env: &'a Environment) -> AppVars<'a> {
        app.vars(&self.settings.tenant, env)
    }

    /// Whether a source is the config repo itself.
    pub fn is_config_repo(&self, source: &Source) -> bool {
        source
            .repo_url
            .as_deref()
            .is_none_or(|url| same_repo(url, &self.settings.config_repo.url))
    }
}

impl Settings {
    pub(crate) fn env_vars<'a>(&'a self, env: &'a Environment) -> EnvVars<'a> {
        EnvVars {
            tenant: &self.tenant,
            env: &env.name,
            cluster: &env.cluster,
        }
    }

    pub(crate) fn project_name(&self, env: &Environment) -> String {
        self.argocd.project.expand(&self.env_vars(env))
    }
}

// The loader checks files and namespaces before a `Tenant` exists, with the tenant name
// alone; these are the one resolution both it and the `Tenant` methods use.
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

    pub(crate) fn vars<'a>(&'a self, tenant: &'a str, env: &'a Environment) -> AppVars<'a> {
        AppVars {
            tenant,
            env: &env.name,
            cluster: &env.cluster,
            app: &self.name,
        }
    }

    /// The app's namespace pattern, or else the environment's.
    pub(crate) fn namespace_pattern<'a>(&'a self, env: &'a Environment) -> &'a Pattern {
        self.namespace.as_ref().unwrap_or(&env.namespace)
    }

    pub(crate) fn namespace_in(&self, tenant: &str, env: &Environment) -> String {
        self.namespace_pattern(env).expand(&self.vars(tenant, env))
    }

    pub(crate) fn value_files_in(&self, tenant: &str, env: &Environment) -> Vec<String> {
        let vars = self.vars(tenant, env);
        self.values.iter().map(|file| file.resolve(&vars)).collect()
    }

    pub(crate) fn promoted_fields_in(&self, tenant: &str, env: &Environment) -> Vec<ResolvedField> {
        let vars = self.vars(tenant, env);
        self.promote
            .iter()
            .map(|field| ResolvedField {
                file: field.file.resolve(&vars),
                path: field.path.clone(),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A word the config takes is the word the model serializes, so the two never drift.
    fn words_serialize_as_written<K: Keyword + Serialize>() {
        for (word, value) in K::WORDS {
            assert_eq!(serde_json::to_value(value).unwrap(), *word, "{}", K::WHAT);
            assert!(
                K::parse(word).is_some_and(|parsed| serde_json::to_value(parsed).unwrap() == *word)
            );
        }
        assert!(K::parse("nope").is_none());
    }

    #[test]
    fn keywords_round_trip() {
        words_serialize_as_written::<SyncMode>();
        words_serialize_as_written::<SourceType>();
        words_serialize_as_written::<PromotionMode>();
        words_serialize_as_written::<PromotionGroup>();
        words_serialize_as_written::<Finalizer>();
    }
}

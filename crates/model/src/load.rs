//! Loading a tenant config repo: `ladder.yaml`, `environments/`, `apps/`, `templates/`.

use ladder_threads::ThreadBudget;

use crate::config::{App, Environment, TemplateFile, Tenant};
use crate::decode::Decoder;
use crate::diag::{Problem, Problems, did_you_mean};
use crate::tree::{ConfigTree, EntryKind, TreeError};
use crate::yaml::{self, Node};
use crate::{load_app, load_env, load_settings};

/// Namespaces no tenant app may deploy into unless the platform says otherwise.
pub const DEFAULT_DENIED_NAMESPACES: [&str; 3] = ["argocd", "kube-system", "kube-public"];

/// Namespaced kinds the platform manages for the tenant, denied in every AppProject
/// unless the platform says otherwise.
pub const DEFAULT_DENIED_KINDS: [&str; 2] = ["ResourceQuota", "LimitRange"];

/// Platform policy, set by whoever runs ladder, never by the tenant's repo.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// App namespaces that are refused; globs `*` and `?` allowed. `argocd.namespace`
    /// is checked against them too.
    pub denied_namespaces: Vec<String>,
    /// Namespaced kinds no tenant app may deploy, rendered into each AppProject's
    /// `namespaceResourceBlacklist` and checked there: `KIND` (in any API group, e.g.
    /// `ResourceQuota`) or `GROUP/KIND` (`networking.k8s.io/NetworkPolicy`).
    pub denied_kinds: Vec<String>,
    /// The thread budget the load runs within: the app folders are loaded on the
    /// workers it allows (the calling thread counts as one), and YAML parses that split
    /// over threads use it as well. The default is the process's; a daemon loading many
    /// tenants at once gives them one shared budget.
    pub budget: ThreadBudget,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            denied_namespaces: DEFAULT_DENIED_NAMESPACES.map(String::from).to_vec(),
            denied_kinds: DEFAULT_DENIED_KINDS.map(String::from).to_vec(),
            budget: ThreadBudget::process_default(),
        }
    }
}

impl LoadOptions {
    pub fn is_denied(&self, namespace: &str) -> bool {
        self.denied_namespaces
            .iter()
            .any(|pattern| crate::names::glob_matches(pattern, namespace))
    }

    /// The denied kinds as Argo CD `{group, kind}` pairs: `KIND` is in any group (`*`).
    pub fn denied_group_kinds(&self) -> Vec<(String, String)> {
        self.denied_kinds
            .iter()
            .map(|entry| match entry.rsplit_once('/') {
                Some((group, kind)) => (group.to_string(), kind.to_string()),
                None => ("*".to_string(), entry.clone()),
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Invalid(Problems),
    #[error(transparent)]
    Tree(#[from] TreeError),
}

pub const SETTINGS_FILE: &str = "ladder.yaml";

/// The problem reported when the tree holds no `ladder.yaml`: callers that know how
/// the tree was chosen (a CLI flag, a daemon setting) add how to choose another.
pub const NO_SETTINGS: &str =
    "not found; this is not the root of a tenant config repo (the folder that holds ladder.yaml)";
/// Environment names the promoter's branches use (`ladder/rollback/...`,
/// `ladder/backflow/...`): an environment of that name would share their branches.
pub const RESERVED_ENVIRONMENT_NAMES: [&str; 2] = ["rollback", "backflow"];
pub const TEMPLATE_NAMES: [&str; 2] = ["application.yaml.hbs", "appproject.yaml.hbs"];

/// The default environment ladder, used by a repo that defines none.
pub const BUILT_IN_ENVIRONMENTS: [(&str, &str); 3] = [
    ("dev", include_str!("../../../environments/dev.yaml")),
    (
        "staging",
        include_str!("../../../environments/staging.yaml"),
    ),
    ("prod", include_str!("../../../environments/prod.yaml")),
];

/// Loads and checks a tenant config; on failure, returns every problem found.
pub fn load(tree: &dyn ConfigTree, options: &LoadOptions) -> Result<Tenant, LoadError> {
    // Code without a budget parameter of its own (a YAML parse in two halves) asks for
    // the current budget: make it this load's.
    options.budget.install(|| load_within_budget(tree, options))
}

fn load_within_budget(tree: &dyn ConfigTree, options: &LoadOptions) -> Result<Tenant, LoadError> {
    let mut problems = Vec::new();

    let settings = match read_yaml(tree, SETTINGS_FILE, &mut problems)? {
        Some(node) => {
            load_settings::settings(&node, &mut Decoder::new(SETTINGS_FILE, &mut problems))
        }
        None => {
            if !problems.iter().any(|p| p.file == SETTINGS_FILE) {
                let root = tree.list_dir("")?.unwrap_or_default();
                let near = root.iter().find(|e| {
                    e.kind == EntryKind::File
                        && (e.name.eq_ignore_ascii_case(SETTINGS_FILE)
                            || e.name.eq_ignore_ascii_case("ladder.yml")
                            || did_you_mean(&e.name, &[SETTINGS_FILE]).is_some())
                });
                problems.push(Problem::in_file(
                    SETTINGS_FILE,
                    match near {
                        Some(near) => format!(
                            "not found, but {} is here: did you mean ladder.yaml? rename it",
                            near.name
                        ),
                        None => NO_SETTINGS.to_string(),
                    },
                ));
            }
            None
        }
    };
    check_folder_names(tree, &mut problems)?;

    let (environments, broken) = load_environments(tree, &mut problems)?;
    let environments = load_env::promotion_order(environments, &broken, &mut problems);
    if let Some(settings) = &settings {
        load_settings::check_projects(settings, &environments, &mut problems);
        load_settings::check_argocd_namespace(settings, options, &mut problems);
    }

    let apps = load_app::apps(
        tree,
        settings.as_ref(),
        &environments,
        &broken,
        options,
        &mut problems,
    )?;
    check_retired(&environments, &apps, &mut problems);
    let templates = load_templates(tree, &mut problems)?;

    match settings {
        Some(loaded) if problems.is_empty() => Ok(Tenant {
            settings: loaded.settings,
            environments,
            apps,
            templates,
        }),
        _ => Err(LoadError::Invalid(Problems::sorted(problems))),
    }
}

/// The folders ladder reads; a near miss (`environment/`, `app/`, `template/`) would
/// be ignored without a word, so it is reported while the folder it resembles is absent.
const FOLDERS: [&str; 3] = ["apps", "environments", "templates"];

fn check_folder_names(tree: &dyn ConfigTree, problems: &mut Vec<Problem>) -> Result<(), TreeError> {
    let root = tree.list_dir("")?.unwrap_or_default();
    let present = |name: &str| {
        root.iter()
            .any(|e| e.kind == EntryKind::Dir && e.name == name)
    };
    for entry in root.iter().filter(|e| e.kind == EntryKind::Dir) {
        if FOLDERS.contains(&entry.name.as_str()) {
            continue;
        }
        let close = did_you_mean(&entry.name, &FOLDERS)
            .or_else(|| (entry.name == "env" || entry.name == "envs").then_some("environments"));
        if let Some(close) = close
            && !present(close)
        {
            problems.push(Problem::in_file(
                &format!("{}/", entry.name),
                format!("ladder does not read this folder; did you mean {close}/? rename it"),
            ));
        }
    }
    Ok(())
}

/// `retire` names apps removed from an environment on purpose: one still deployed there
/// is a mistake that would let its removal later pass unnoticed.
fn check_retired(environments: &[Environment], apps: &[App], problems: &mut Vec<Problem>) {
    for env in environments {
        for (name, at) in env.retire.iter().zip(&env.at.retire) {
            if apps
                .iter()
                .any(|app| app.name == *name && app.deployed_to(&env.name))
            {
                problems.push(Problem::at(
                    &env.file,
                    *at,
                    format!(
                        "`retire` names app `{name}`, which is still deployed to environment {}; retire is for removed apps: remove the entry, or remove the app (or {} from its `environments`)",
                        env.name, env.name
                    ),
                ));
            }
        }
    }
}

/// Reads and parses a YAML file; `None` when absent or unreadable as YAML (reported).
pub(crate) fn read_yaml(
    tree: &dyn ConfigTree,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Result<Option<Node>, TreeError> {
    let Some(bytes) = tree.read_file(path)? else {
        return Ok(None);
    };
    Ok(parse_yaml(path, &bytes, problems))
}

pub(crate) fn parse_yaml(path: &str, bytes: &[u8], problems: &mut Vec<Problem>) -> Option<Node> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem::in_file(
                path,
                format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            ));
            return None;
        }
    };
    match yaml::parse(text) {
        Ok(node) => Some(node),
        Err(e) => {
            problems.push(Problem::at(
                path,
                e.position,
                format!("YAML syntax: {}", e.message),
            ));
            None
        }
    }
}

/// Loads `environments/`; also returns the names of environment files that failed to
/// load, so that references to them are not reported a second time as unknown.
fn load_environments(
    tree: &dyn ConfigTree,
    problems: &mut Vec<Problem>,
) -> Result<(Vec<Environment>, Vec<String>), TreeError> {
    let mut environments = Vec::new();
    let mut broken = Vec::new();
    let entries = tree.list_dir("environments")?.unwrap_or_default();
    for entry in entries.iter().filter(|e| e.kind == EntryKind::File) {
        let path = format!("environments/{}", entry.name);
        if let Some(stem) = entry.name.strip_suffix(".yml") {
            problems.push(Problem::in_file(
                &path,
                format!("environment files end in .yaml; rename it to environments/{stem}.yaml"),
            ));
            continue;
        }
        let Some(stem) = entry.name.strip_suffix(".yaml") else {
            continue;
        };
        let loaded = read_yaml(tree, &path, problems)?.and_then(|node| {
            load_env::environment(&node, stem, &mut Decoder::new(&path, problems))
        });
        match loaded {
            Some(env) => environments.push(env),
            None => broken.push(stem.to_string()),
        }
    }
    if environments.is_empty() && !problems.iter().any(|p| p.file.starts_with("environments/")) {
        for (name, text) in BUILT_IN_ENVIRONMENTS {
            let path = format!("<built-in>/environments/{name}.yaml");
            let node = parse_yaml(&path, text.as_bytes(), problems)
                .expect("built-in environments are valid YAML");
            let mut decoder = Decoder::new(&path, problems);
            environments.extend(load_env::environment(&node, name, &mut decoder));
        }
    }
    Ok((environments, broken))
}

fn load_templates(
    tree: &dyn ConfigTree,
    problems: &mut Vec<Problem>,
) -> Result<Vec<TemplateFile>, TreeError> {
    let mut templates = Vec::new();
    let entries = tree.list_dir("templates")?.unwrap_or_default();
    for entry in entries.iter().filter(|e| e.kind == EntryKind::File) {
        let path = format!("templates/{}", entry.name);
        if !entry.name.ends_with(".hbs") {
            continue;
        }
        let is_partial = entry.name.starts_with('_');
        if !is_partial && !TEMPLATE_NAMES.contains(&entry.name.as_str()) {
            let hint = match did_you_mean(&entry.name, &TEMPLATE_NAMES) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "templates are {}; partials start with `_`",
                    TEMPLATE_NAMES.join(" and ")
                ),
            };
            problems.push(Problem::in_file(&path, format!("unknown template; {hint}")));
            continue;
        }
        let bytes = tree.read_file(&path)?.unwrap_or_default();
        match String::from_utf8(bytes) {
            Ok(text) => templates.push(TemplateFile {
                name: entry.name.clone(),
                text,
            }),
            Err(_) => problems.push(Problem::in_file(&path, "not UTF-8 text")),
        }
    }
    Ok(templates)
}

//! `apps/<app>/app.yaml`: one app, checked against the environments it is deployed to.

use std::collections::BTreeMap;

use crate::config::{App, Environment, PromoteField, Source, SourceType};
use crate::decode::Decoder;
use crate::diag::{Problem, did_you_mean};
use crate::load::{LoadOptions, read_yaml};
use crate::load_settings::{LoadedSettings, repo_url};
use crate::names::check_dns_label;
use crate::pattern::{AppFile, Pattern};
use crate::tree::{ConfigTree, EntryKind, TreeError};
use crate::yaml::{Node, Scalar, Value};

const KEYS: [&str; 6] = [
    "name",
    "source",
    "values",
    "environments",
    "namespace",
    "promote",
];
const SOURCE_KEYS: [&str; 6] = ["type", "repoURL", "targetRevision", "path", "chart", "helm"];
const HELM_KEYS: [&str; 3] = ["releaseName", "valuesObject", "envValuesObject"];
const PROMOTE_KEYS: [&str; 2] = ["file", "path"];
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/// App folders below which a chunk is not worth a thread of its own.
const MIN_CHUNK: usize = 32;
/// Argo CD puts the Application name in the `app.kubernetes.io/instance` label.
const MAX_APPLICATION_NAME: usize = 63;

pub(crate) fn apps(
    tree: &dyn ConfigTree,
    settings: Option<&LoadedSettings>,
    environments: &[Environment],
    broken_environments: &[String],
    options: &LoadOptions,
    problems: &mut Vec<Problem>,
) -> Result<Vec<App>, TreeError> {
    let entries = tree.list_dir("apps")?.unwrap_or_default();
    let folders: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| e.name.as_str())
        .collect();
    let context = AppContext {
        tree,
        settings,
        environments,
        broken_environments,
        options,
    };
    // Apps load independently, and loading is mostly waiting on the file system (or the
    // object database): spread the folders over the workers the budget allows, in
    // contiguous chunks whose results come back in folder order.
    let loaded: Vec<Result<Vec<LoadedApp>, TreeError>> =
        options.budget.map_chunks(&folders, MIN_CHUNK, |part| {
            part.iter().map(|folder| context.load(folder)).collect()
        });
    let mut apps = Vec::new();
    for (app, app_problems) in loaded
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        problems.extend(app_problems);
        apps.extend(app);
    }
    check_application_names(&apps, environments, problems);
    Ok(apps)
}

/// One app folder's result: the app if it loaded, and its problems.
type LoadedApp = (Option<App>, Vec<Problem>);

fn app(
    node: &Node,
    folder: &str,
    environments: &[Environment],
    broken_environments: &[String],
    d: &mut Decoder,
) -> Option<App> {
    let fields = d.fields(node, "app", &KEYS)?;
    let name = d.required(&fields, node, "name", "app").and_then(|n| {
        let name = d.dns_label(n, "name")?;
        if name != folder {
            d.problem(
                n,
                format!("`name` is `{name}` but the folder is apps/{folder}; they must match"),
            );
            return None;
        }
        Some(name)
    });
    let env_names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let source = d
        .required(&fields, node, "source", "app")
        .and_then(|n| source(n, &env_names, d));

    let mut values = Vec::new();
    if let Some(n) = fields.get("values") {
        for (text, item) in d.string_list(n, "values") {
            values.extend(d.app_file(item, text, "values", "value file"));
        }
        if source.as_ref().is_some_and(|s| s.kind != SourceType::Helm) {
            d.problem(n, "`values` are only for helm apps; kustomize and directory apps keep their config in `source.path`");
        }
    }

    let environments = fields.get("environments").map(|n| {
        let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
        let mut chosen = Vec::new();
        for (env, item) in d.string_list(n, "environments") {
            if names.contains(&env.as_str()) {
                chosen.push(env);
            } else if !broken_environments.contains(&env) {
                let hint = did_you_mean(&env, &names)
                    .map(|c| format!("did you mean `{c}`? "))
                    .unwrap_or_default();
                d.problem(
                    item,
                    format!(
                        "unknown environment `{env}`; {hint}environments: {}",
                        names.join(", ")
                    ),
                );
            }
        }
        chosen
    });

    let namespace = fields
        .get("namespace")
        .and_then(|n| d.pattern(n, "namespace"));

    if let (Some(source), Some(chosen)) = (&source, &environments) {
        for env in source.helm_env_values.keys() {
            if !chosen.contains(env) {
                let at = env_values_key(node, env).unwrap_or(node);
                d.problem(at, format!("`source.helm.envValuesObject` sets values for environment `{env}`, which this app is not deployed to (`environments`: {})", chosen.join(", ")));
            }
        }
    }

    let promote = match (fields.get("promote"), &source) {
        (Some(n), Some(source)) => promote(n, source, &values, d),
        _ => Vec::new(),
    };

    Some(App {
        name: name?,
        source: source?,
        values,
        environments,
        namespace,
        promote,
        file: d.file.clone(),
    })
}

fn source(node: &Node, environments: &[&str], d: &mut Decoder) -> Option<Source> {
    let fields = d.fields(node, "source", &SOURCE_KEYS)?;
    let kind = d
        .required(&fields, node, "type", "source")
        .and_then(|n| d.keyword::<SourceType>(n, "source.type"));
    let chart_node = fields.get("chart");
    let chart = chart_node.map(|n| {
        if kind.is_some_and(|k| k != SourceType::Helm) {
            d.problem(n, "`source.chart` is only for `type: helm`");
            return None;
        }
        d.string(n, "source.chart")
    });
    let repo_url = fields.get("repoURL").map(|n| {
        let url = source_repo_url(n, chart_node.is_some(), d)?;
        if let Some(chart_node) = chart_node
            && url.starts_with("oci://")
        {
            let chart = chart_node.as_str().unwrap_or("CHART");
            let bare = url.trim_start_matches("oci://").trim_end_matches('/');
            d.problem(
                n,
                format!(
                    "`source.repoURL` `{url}` with `source.chart`: Argo CD names an OCI registry for `chart` without the oci:// scheme; write `repoURL: {bare}` with `chart: {chart}`, or `repoURL: oci://{bare}/{chart}` without `chart`"
                ),
            );
            return None;
        }
        Some(url)
    });
    let target_revision = fields
        .get("targetRevision")
        .map(|n| d.string(n, "source.targetRevision"));
    let oci = fields
        .get("repoURL")
        .and_then(|n| n.as_str())
        .is_some_and(|u| u.starts_with("oci://"));
    let path = match (fields.get("path"), chart_node) {
        (Some(n), Some(_)) => {
            d.problem(
                n,
                "`source.path` and `source.chart` exclude each other: a chart from a chart repository or OCI registry is named by `chart`, one in a Git repo by `path`",
            );
            None
        }
        (Some(n), None) => source_path(n, d).map(Some),
        (None, Some(_)) => Some(None),
        // An OCI artifact is read from its root unless a path says otherwise.
        (None, None) if oci => Some(Some(Pattern::parse(".").expect("a plain path"))),
        // A repoURL that failed to load says what is wrong; a missing path would not.
        (None, None) if matches!(repo_url, Some(None)) => None,
        (None, None) => {
            d.required(&fields, node, "path", "source");
            None
        }
    };
    if let Some(n) = chart_node
        && fields.get("repoURL").is_none()
    {
        d.problem(
            n,
            "`source.chart` names a chart in a Helm chart repository or OCI registry, so it needs `source.repoURL`; a chart in this repo is named by `source.path`",
        );
    }
    if (chart_node.is_some() || oci) && fields.get("targetRevision").is_none() {
        let at = chart_node.or(fields.get("repoURL")).unwrap_or(node);
        d.problem(
            at,
            "a chart from a chart repository or OCI registry needs `source.targetRevision`: its version, such as 6.7.1",
        );
    }
    let mut helm_release_name = None;
    let mut helm_values = None;
    let mut helm_env_values = BTreeMap::new();
    let mut helm_ok = true;
    if let Some(helm) = fields.get("helm") {
        if kind.is_some_and(|k| k != SourceType::Helm) {
            d.problem(helm, "`source.helm` is only for `type: helm`");
        }
        let before = d.problems.len();
        if let Some(h) = d.fields(helm, "source.helm", &HELM_KEYS) {
            if let Some(n) = h.get("releaseName") {
                helm_release_name = d.dns_label(n, "source.helm.releaseName");
            }
            if let Some(n) = h.get("valuesObject") {
                helm_values = values_object(n, "source.helm.valuesObject", d);
            }
            if let Some(n) = h.get("envValuesObject")
                && let Some(f) = d.fields(n, "source.helm.envValuesObject", environments)
            {
                for env in environments {
                    if let Some(value) = f.get(env)
                        && let Some(values) =
                            values_object(value, &format!("source.helm.envValuesObject.{env}"), d)
                    {
                        helm_env_values.insert(env.to_string(), values);
                    }
                }
            }
        }
        helm_ok = d.problems.len() == before;
    }
    Some(Source {
        kind: kind?,
        repo_url: repo_url.map_or(Some(None), |u| u.map(Some))?,
        target_revision: target_revision.map_or(Some(None), |t| t.map(Some))?,
        path: path?,
        chart: chart.map_or(Some(None), |c| c.map(Some))?,
        helm_release_name,
        helm_values: if helm_ok { helm_values } else { return None },
        helm_env_values,
    })
}

/// `source.path`: relative, without `..`.
fn source_path(n: &Node, d: &mut Decoder) -> Option<Pattern> {
    let path: Pattern = d.pattern(n, "source.path")?;
    let text = path.as_str();
    if text.starts_with('/') || text.split('/').any(|p| p == "..") {
        d.problem(
            n,
            format!("`source.path` `{path}` must be relative to the repo root, without `..`"),
        );
        return None;
    }
    Some(path)
}

/// `source.repoURL`: a repo URL as for the config repo, an `oci://` artifact, or (for
/// `chart`) an OCI registry written as Argo CD takes it, `host/path` without a scheme.
fn source_repo_url(n: &Node, chart: bool, d: &mut Decoder) -> Option<String> {
    let Some(text) = n.as_str() else {
        return repo_url(n, "source.repoURL", d);
    };
    let registry_like = !text.contains("://")
        && !text.contains('@')
        && text
            .split('/')
            .next()
            .is_some_and(|host| host.contains('.') || host.contains(':') || host == "localhost")
        && text.contains('/');
    if let Some(rest) = text.strip_prefix("oci://") {
        if rest.split('/').filter(|p| !p.is_empty()).count() < 2 {
            d.problem(
                n,
                format!("`source.repoURL` `{text}` names no artifact; write oci://REGISTRY/PATH/NAME, e.g. oci://ghcr.io/stefanprodan/charts/podinfo"),
            );
            return None;
        }
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            d.problem(n, "`source.repoURL` must not hold a password or token; ladder takes credentials from its operator's settings, never from the repo");
            return None;
        }
        return Some(text.to_string());
    }
    if registry_like {
        if chart {
            return Some(text.to_string());
        }
        d.problem(
            n,
            format!("`source.repoURL` `{text}` looks like an OCI registry: name the chart in it with `source.chart`, or write the artifact as oci://{text}"),
        );
        return None;
    }
    repo_url(n, "source.repoURL", d)
}

/// Inline Helm values: a mapping, kept as written. Kubernetes drops `null` entries, so a
/// `null` meant to remove a chart default would silently vanish: refused.
fn values_object(n: &Node, what: &str, d: &mut Decoder) -> Option<serde_json::Value> {
    if !matches!(n.value, Value::Mapping(_)) {
        let found = n.value.kind();
        d.problem(
            n,
            format!("`{what}` must be a mapping of Helm values, found {found}"),
        );
        return None;
    }
    let before = d.problems.len();
    refuse_nulls(n, what, d);
    (d.problems.len() == before).then(|| n.to_json())
}

fn refuse_nulls(n: &Node, what: &str, d: &mut Decoder) {
    match &n.value {
        Value::Scalar(Scalar::Null) => d.problem(
            n,
            format!("`{what}` holds null, which Argo CD drops from inline values; to remove a chart default, set it in a value file"),
        ),
        Value::Sequence(items) => items.iter().for_each(|i| refuse_nulls(i, what, d)),
        Value::Mapping(entries) => {
            for (key, value) in entries {
                let what = match key.as_str() {
                    Some(k) => format!("{what}.{k}"),
                    None => what.to_string(),
                };
                refuse_nulls(value, &what, d);
            }
        }
        Value::Scalar(_) => {}
    }
}

fn promote(node: &Node, source: &Source, values: &[AppFile], d: &mut Decoder) -> Vec<PromoteField> {
    let mut fields: Vec<PromoteField> = Vec::new();
    let Some(items) = d.sequence(node, "promote") else {
        return fields;
    };
    for item in items {
        let field = match &item.value {
            Value::Scalar(Scalar::String(path)) => match values.last() {
                Some(last) if source.kind == SourceType::Helm => PromoteField {
                    file: last.clone(),
                    path: path.clone(),
                },
                _ => {
                    d.problem(item, format!("`promote` entry `{path}` names no file, so it lives in the last of `values`, but this app has no `values`; write `{{file: ..., path: {path}}}`"));
                    continue;
                }
            },
            Value::Mapping(_) => {
                let Some(f) = d.fields(item, "promote[]", &PROMOTE_KEYS) else {
                    continue;
                };
                let file = d.required(&f, item, "file", "promote[]").and_then(|n| {
                    let text = d.string(n, "promote[].file")?;
                    d.app_file(n, text, "promote[].file", "promoted file")
                });
                let path = d
                    .required(&f, item, "path", "promote[]")
                    .and_then(|n| d.string(n, "promote[].path"));
                let (Some(file), Some(path)) = (file, path) else {
                    continue;
                };
                PromoteField { file, path }
            }
            other => {
                d.problem(
                    item,
                    format!(
                        "a `promote` entry is a YAML path or {{file, path}}, found {}",
                        other.kind()
                    ),
                );
                continue;
            }
        };
        if let Err(why) = check_promote_path(&field.path) {
            d.problem(
                item,
                format!("`promote` path `{}` is not a YAML path: {why}", field.path),
            );
            continue;
        }
        if fields.contains(&field) {
            d.problem(
                item,
                format!(
                    "duplicate `promote` entry `{}` in {}",
                    field.path, field.file
                ),
            );
            continue;
        }
        fields.push(field);
    }
    fields
}

/// What loading an app needs beyond its own folder.
struct AppContext<'a> {
    tree: &'a dyn ConfigTree,
    settings: Option<&'a LoadedSettings>,
    environments: &'a [Environment],
    broken_environments: &'a [String],
    options: &'a LoadOptions,
}

impl AppContext<'_> {
    /// Loads and checks `apps/<folder>/app.yaml`.
    fn load(&self, folder: &str) -> Result<LoadedApp, TreeError> {
        let mut problems = Vec::new();
        let file = format!("apps/{folder}/app.yaml");
        let Some(node) = read_yaml(self.tree, &file, &mut problems)? else {
            if problems.is_empty() {
                let names: Vec<String> = self
                    .tree
                    .list_dir(&format!("apps/{folder}"))?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e.kind == EntryKind::File)
                    .map(|e| e.name)
                    .collect();
                let near = names.iter().find(|n| {
                    n.as_str() == "app.yml"
                        || did_you_mean(n, &["app.yaml"]).is_some()
                        || n.eq_ignore_ascii_case("app.yaml")
                });
                let message = match near {
                    Some(near) => format!(
                        "no app.yaml; found {near}: did you mean app.yaml? rename it to apps/{folder}/app.yaml"
                    ),
                    None => "no app.yaml; every folder under apps/ is an app and needs one".into(),
                };
                problems.push(Problem::in_file(&format!("apps/{folder}"), message));
            }
            return Ok((None, problems));
        };
        let mut d = Decoder::new(&file, &mut problems);
        let loaded = app(
            &node,
            folder,
            self.environments,
            self.broken_environments,
            &mut d,
        );
        if let Some(app) = &loaded {
            self.check(app, &node, &mut d)?;
        }
        Ok((loaded, problems))
    }

    /// Checks what depends on each environment: namespaces and the files the app names.
    fn check(&self, app: &App, node: &Node, d: &mut Decoder) -> Result<(), TreeError> {
        let Some(settings) = self.settings else {
            return Ok(());
        };
        let Value::Mapping(entries) = &node.value else {
            return Ok(());
        };
        let at = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v)
        };
        let in_config_repo = app
            .source
            .repo_url
            .as_deref()
            .is_none_or(|u| crate::config::same_repo(u, &settings.config_repo.url));
        let tenant = settings.tenant.as_str();

        for env in self
            .environments
            .iter()
            .filter(|e| app.deployed_to(&e.name))
        {
            // The namespace is reported where it was decided: the app's `namespace`, else
            // the environment's `namespace`, else the app's name (the default `{app}`).
            let namespace = app.namespace_in(tenant, env);
            let (file, pattern_at, origin) = match (&app.namespace, env.at.namespace) {
                (Some(_), _) => (
                    d.file.clone(),
                    at("namespace").unwrap_or(node).position,
                    String::new(),
                ),
                (None, Some(env_at)) => (
                    env.file.clone(),
                    env_at,
                    format!(", pattern from {}", env.file),
                ),
                (None, None) => (
                    d.file.clone(),
                    at("name").unwrap_or(node).position,
                    format!(", the app name, as {} names no `namespace`", env.file),
                ),
            };
            if let Err(why) = check_dns_label(&namespace) {
                d.problems.push(Problem::at(&file, pattern_at, format!("namespace `{namespace}` (environment {}{origin}) is not a DNS-1123 label: {why}", env.name)));
            } else if self.options.is_denied(&namespace) {
                let fix = if app.namespace.is_some() {
                    "deploy into a namespace of your own"
                } else if env.at.namespace.is_some() {
                    "set a namespace of your own here, or `namespace` in the app"
                } else {
                    "set `namespace` in the app"
                };
                d.problems.push(Problem::at(&file, pattern_at, format!("namespace `{namespace}` (environment {}{origin}) is reserved for the platform; {fix}", env.name)));
            }

            if let Some(values_node) = at("values")
                && let Value::Sequence(items) = &values_node.value
            {
                // Entries that failed to load were reported and left out of
                // `app.values`; match the rest to their nodes by text.
                for (file, path) in app.values.iter().zip(app.value_files_in(tenant, env)) {
                    let item = items
                        .iter()
                        .find(|i| i.as_str() == Some(file.as_str()))
                        .unwrap_or(values_node);
                    self.check_file(&path, env, item, "value file", d)?;
                }
            }
            if let Some(promote_node) = at("promote")
                && let Value::Sequence(items) = &promote_node.value
            {
                for resolved in app.promoted_fields_in(tenant, env) {
                    let item = items
                        .iter()
                        .find(|i| promote_entry_matches(i, &resolved.path))
                        .unwrap_or(promote_node);
                    if self.check_file(&resolved.file, env, item, "promoted file", d)? {
                        self.check_promoted_value(&resolved, env, item, d)?;
                    }
                }
            }
            if in_config_repo && let Some(path) = &app.source.path {
                let path = path.expand(&app.vars(tenant, env));
                let path_at = at("source")
                    .and_then(|s| match &s.value {
                        Value::Mapping(e) => e
                            .iter()
                            .find(|(k, _)| k.as_str() == Some("path"))
                            .map(|(_, v)| v),
                        _ => None,
                    })
                    .unwrap_or(node);
                self.check_source_path(app, &path, env, path_at, d)?;
            }
        }
        Ok(())
    }

    /// Checks that a file an app names exists; `path` is from the repo root.
    fn check_file(
        &self,
        path: &str,
        env: &Environment,
        at: &Node,
        what: &str,
        d: &mut Decoder,
    ) -> Result<bool, TreeError> {
        if !self.tree.is_file(path)? {
            d.problem(at, format!("{what} `{path}` (environment {}) does not exist; create it or remove the entry", env.name));
            return Ok(false);
        }
        Ok(true)
    }

    /// A promoted value must be in the environment's file, and must survive YAML: a
    /// plain scalar that a reader takes for another type or another number (`1.20`,
    /// `010`, `yes`, `1e3`, `0x1F`) would be promoted as something else than written.
    fn check_promoted_value(
        &self,
        field: &crate::config::ResolvedField,
        env: &Environment,
        entry: &Node,
        d: &mut Decoder,
    ) -> Result<(), TreeError> {
        let Some(root) = read_yaml(self.tree, &field.file, d.problems)? else {
            return Ok(());
        };
        let Ok(path) = yamledit::Path::parse(&field.path) else {
            return Ok(()); // reported where the entry was loaded
        };
        let Some(node) = follow(&root, &path) else {
            d.problem(
                entry,
                format!(
                    "promoted path `{}` is not in {} (environment {}); add it there, or fix the path",
                    field.path, field.file, env.name
                ),
            );
            return Ok(());
        };
        if let Some(message) = ambiguous_scalar(node) {
            d.problems.push(Problem::at(
                &field.file,
                node.position,
                format!("promoted value `{}` {message}", field.path),
            ));
        }
        Ok(())
    }

    fn check_source_path(
        &self,
        app: &App,
        path: &str,
        env: &Environment,
        at: &Node,
        d: &mut Decoder,
    ) -> Result<(), TreeError> {
        let Some(entries) = self.tree.list_dir(path)? else {
            d.problem(
                at,
                format!(
                    "`source.path` `{path}` (environment {}) is not a folder in the config repo",
                    env.name
                ),
            );
            return Ok(());
        };
        let has = |name: &str| {
            entries
                .iter()
                .any(|e| e.name == name && e.kind == EntryKind::File)
        };
        match app.source.kind {
            SourceType::Kustomize if !KUSTOMIZATION_FILES.iter().any(|f| has(f)) => {
                d.problem(
                    at,
                    format!(
                        "`source.path` `{path}` (environment {}) has no kustomization.yaml",
                        env.name
                    ),
                );
            }
            SourceType::Helm if !has("Chart.yaml") => {
                d.problem(
                    at,
                    format!(
                        "`source.path` `{path}` (environment {}) has no Chart.yaml",
                        env.name
                    ),
                );
            }
            _ => {}
        }
        Ok(())
    }
}

/// The node at a YAML path, as the editor's path names it.
fn follow<'n>(root: &'n Node, path: &yamledit::Path) -> Option<&'n Node> {
    let mut at = root;
    for segment in &path.segments {
        at = match (segment, &at.value) {
            (yamledit::Segment::Key(key), Value::Mapping(entries)) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key.as_str()))
                .map(|(_, v)| v)?,
            (yamledit::Segment::Index(i), Value::Sequence(items)) => items.get(*i)?,
            (yamledit::Segment::Select { key, value }, Value::Sequence(items)) => {
                items.iter().find(|item| {
                    mapping_value(item, key)
                        .is_some_and(|v| v.scalar().is_some() && v.written_text() == *value)
                })?
            }
            _ => return None,
        };
    }
    Some(at)
}

/// Why a promoted scalar does not survive YAML as written, or `None` when it does.
fn ambiguous_scalar(node: &Node) -> Option<String> {
    if !node.plain {
        return None;
    }
    let written = node.written_text();
    let quoted = format!("\"{written}\"");
    let read_as = match node.scalar()? {
        Scalar::Null | Scalar::String(_) => {
            if !yamledit::reads_as_non_string(&written) {
                return None;
            }
            return Some(format!(
                "is written `{written}`, a string in YAML 1.2 but not in YAML 1.1, which Helm and kubectl read; quote it: {quoted}"
            ));
        }
        Scalar::Bool(b) if written == b.to_string() => return None,
        Scalar::Int(i) if written == i.to_string() => return None,
        Scalar::Float(f) if written == f.to_string() => return None,
        Scalar::Bool(b) => format!("the boolean {b}"),
        Scalar::Int(i) => format!("the number {i}"),
        Scalar::Float(f) => format!("the number {f}"),
    };
    Some(format!(
        "is written `{written}`, which YAML reads as {read_as}; quote it to keep it as written: {quoted}"
    ))
}

/// The key of `source.helm.envValuesObject.<env>` in an app file.
fn env_values_key<'n>(node: &'n Node, env: &str) -> Option<&'n Node> {
    let mut at = node;
    for key in ["source", "helm", "envValuesObject"] {
        at = mapping_value(at, key)?;
    }
    match &at.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(env))
            .map(|(k, _)| k),
        _ => None,
    }
}

fn mapping_value<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn promote_entry_matches(item: &Node, path: &str) -> bool {
    match &item.value {
        Value::Scalar(Scalar::String(written)) => written == path,
        Value::Mapping(entries) => entries
            .iter()
            .any(|(k, v)| k.as_str() == Some("path") && v.as_str() == Some(path)),
        _ => false,
    }
}

/// Application names are `<app>-<env>`: they must fit a label and must not collide
/// (app `a-b` in env `c` and app `a` in env `b-c` are both `a-b-c`).
fn check_application_names(
    apps: &[App],
    environments: &[Environment],
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<String, (&App, &Environment)> = BTreeMap::new();
    for app in apps {
        for env in environments.iter().filter(|e| app.deployed_to(&e.name)) {
            let name = app.application_name(&env.name);
            if name.len() > MAX_APPLICATION_NAME {
                problems.push(Problem::in_file(&app.file, format!("Application name `{name}` has {} characters; Argo CD allows {MAX_APPLICATION_NAME} (it becomes a label value); shorten the app or environment name", name.len())));
            }
            if let Some((other, other_env)) = seen.get(&name) {
                problems.push(Problem::in_file(&app.file, format!("Application name `{name}` (app {}, environment {}) is also the name of app {} in environment {}; rename one of the apps", app.name, env.name, other.name, other_env.name)));
            } else {
                seen.insert(name, (app, env));
            }
        }
    }
}

/// The editor's own path parser decides what a promotable path is, so a path that loads
/// is one the promoter can follow.
fn check_promote_path(path: &str) -> Result<(), String> {
    if path.trim().is_empty() || path.trim() == "." {
        return Err("it names the whole document; name the value to promote".into());
    }
    yamledit::Path::parse(path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_promote_path;

    #[test]
    fn promote_paths_are_checked_by_the_editor() {
        for ok in [
            "image.tag",
            "podAnnotations.\"k8s.grafana.com/scrape\"",
            "containers[0].image",
            "images[name=ghcr.io/acme/web].newTag",
            "parameters[name=image.tag].value",
        ] {
            assert_eq!(check_promote_path(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "a..b", "a[", "a[]", "a]", "\"a"] {
            assert!(check_promote_path(bad).is_err(), "{bad}");
        }
    }
}

//! What templates see: every name, namespace and source already resolved, so templates
//! only lay values out and never compute names (which is where isolation could slip).

use ladder_model::{App, Environment, LoadOptions, SourceType, Tenant};
use serde_json::{Map, Value, json};

pub const LABEL_TENANT: &str = "ladder.kupe.cloud/tenant";
pub const LABEL_ENVIRONMENT: &str = "ladder.kupe.cloud/environment";
const FINALIZER_NOTE: &str = "managed by ladder";

/// The values every document of an environment shares.
fn common(tenant: &Tenant, env: &Environment) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("tenant".into(), json!(tenant.settings.tenant));
    map.insert(
        "env".into(),
        json!({
            "name": env.name,
            "cluster": env.cluster,
            "sync": env.sync,
            "finalizer": env.finalizer,
            "protected": env.protected,
        }),
    );
    map.insert("namespace".into(), json!(tenant.settings.argocd.namespace));
    map.insert("project".into(), json!(tenant.project_name(env)));
    map
}

fn labels(tenant: &Tenant, env: &Environment, app: Option<&App>) -> Value {
    let mut labels = Map::new();
    if let Some(app) = app {
        labels.insert("app.kubernetes.io/name".into(), json!(app.name));
    }
    labels.insert(
        "app.kubernetes.io/part-of".into(),
        json!(tenant.settings.tenant),
    );
    labels.insert("app.kubernetes.io/managed-by".into(), json!("ladder"));
    labels.insert(LABEL_TENANT.into(), json!(tenant.settings.tenant));
    labels.insert(LABEL_ENVIRONMENT.into(), json!(env.name));
    Value::Object(labels)
}

/// The Application's `metadata.finalizers` for the environment's `finalizer`, or `null`
/// (no key) for `none`.
pub fn finalizers(env: &Environment) -> Value {
    match env.finalizer.argo_finalizer() {
        Some(finalizer) => json!([finalizer]),
        None => Value::Null,
    }
}

/// `path` (relative to the tenant's folder) relative to the repository root.
fn from_repo_root(subfolder: &str, path: &str) -> String {
    match (subfolder, path) {
        ("", path) => path.to_string(),
        (sub, "") | (sub, ".") => sub.to_string(),
        (sub, path) => format!("{sub}/{path}"),
    }
}

/// `file` relative to the folder `from`, both `/`-separated from the same root:
/// `relative_to("apps/web/chart", "apps/web/values.yaml")` is `../values.yaml`.
pub fn relative_to(from: &str, file: &str) -> String {
    let from: Vec<&str> = from
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let file: Vec<&str> = file
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let common = from.iter().zip(&file).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&file[common..]);
    parts.join("/")
}

/// The context of `application.yaml.hbs` for one app in one environment; `subfolder` is
/// the tenant's folder inside the config repo (see `RenderOptions::subfolder`).
pub fn application(tenant: &Tenant, env: &Environment, app: &App, subfolder: &str) -> Value {
    let mut map = common(tenant, env);
    let settings = &tenant.settings;
    map.insert(
        "app".into(),
        json!({"name": app.name, "type": app.source.kind}),
    );
    map.insert("name".into(), json!(app.application_name(&env.name)));
    map.insert("labels".into(), labels(tenant, env, Some(app)));
    map.insert("finalizers".into(), finalizers(env));
    map.insert(
        "destination".into(),
        json!({"name": tenant.destination_name(env), "namespace": tenant.app_namespace(app, env)}),
    );

    let in_config_repo = tenant.is_config_repo(&app.source);
    let repo_url = match (&app.source.repo_url, in_config_repo) {
        (Some(url), false) => url.clone(),
        _ => settings.config_repo.url.clone(),
    };
    let target_revision = app.source.target_revision.clone().unwrap_or_else(|| {
        if in_config_repo {
            settings.config_repo.branch.clone()
        } else {
            "HEAD".into()
        }
    });
    let mut source = Map::new();
    source.insert("repoURL".into(), json!(repo_url));
    source.insert("targetRevision".into(), json!(target_revision));
    let path = tenant.source_path(app, env).map(|path| {
        if in_config_repo {
            from_repo_root(subfolder, &path)
        } else {
            path
        }
    });
    if let Some(chart) = &app.source.chart {
        source.insert("chart".into(), json!(chart));
    }
    if let Some(path) = &path {
        source.insert("path".into(), json!(path));
    }

    let (single, multi) = if app.source.kind == SourceType::Helm {
        let release = app.source.helm_release_name.as_deref().unwrap_or(&app.name);
        let value_files = tenant.value_files(app, env);
        let mut helm = Map::new();
        helm.insert("releaseName".into(), json!(release));
        let values_ref = if value_files.is_empty() {
            None
        } else if in_config_repo {
            // A chart in the config repo reads the value files from its own checkout:
            // one source (which keeps Argo CD's rollback), value files relative to the
            // chart's folder.
            let chart = path.as_deref().unwrap_or("");
            let files: Vec<String> = value_files
                .iter()
                .map(|file| relative_to(chart, &from_repo_root(subfolder, file)))
                .collect();
            helm.insert("valueFiles".into(), json!(files));
            None
        } else {
            let files: Vec<String> = value_files
                .iter()
                .map(|file| format!("$values/{}", from_repo_root(subfolder, file)))
                .collect();
            helm.insert("valueFiles".into(), json!(files));
            Some(json!({
                "repoURL": settings.config_repo.url,
                "targetRevision": settings.config_repo.branch,
                "ref": "values",
            }))
        };
        if let Some(values) = app.source.helm_values_in(&env.name) {
            helm.insert("valuesObject".into(), values);
        }
        source.insert("helm".into(), Value::Object(helm));
        match values_ref {
            None => (Value::Object(source), Value::Null),
            Some(values_ref) => (Value::Null, json!([Value::Object(source), values_ref])),
        }
    } else {
        (Value::Object(source), Value::Null)
    };
    map.insert("source".into(), single);
    map.insert("sources".into(), multi);

    let mut sync_policy = Map::new();
    if let Some((prune, self_heal)) = env.sync.automated() {
        sync_policy.insert(
            "automated".into(),
            json!({"prune": prune, "selfHeal": self_heal}),
        );
    }
    sync_policy.insert("syncOptions".into(), json!(["CreateNamespace=true"]));
    sync_policy.insert(
        "retry".into(),
        json!({"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}),
    );
    map.insert("syncPolicy".into(), Value::Object(sync_policy));
    Value::Object(map)
}

/// The repos an environment's project allows: the config repo, the apps' repos and the
/// configured extras, sorted and without duplicates.
pub fn source_repos(tenant: &Tenant, env: &Environment) -> Vec<String> {
    let mut repos = vec![tenant.settings.config_repo.url.clone()];
    repos.extend(
        tenant
            .apps_in(env)
            .filter_map(|a| a.source.repo_url.clone()),
    );
    repos.extend(tenant.settings.argocd.source_repos.iter().cloned());
    repos.sort();
    repos.dedup_by(|a, b| ladder_model::same_repo(a, b));
    repos
}

/// The context of `appproject.yaml.hbs` for one environment; `policy` is the
/// platform's (`RenderOptions::policy`), whose denied kinds the project denies.
pub fn appproject(tenant: &Tenant, env: &Environment, policy: &LoadOptions) -> Value {
    let mut map = common(tenant, env);
    map.insert("name".into(), json!(tenant.project_name(env)));
    map.insert("labels".into(), labels(tenant, env, None));
    map.insert(
        "description".into(),
        json!(format!(
            "{} {} environment ({FINALIZER_NOTE})",
            tenant.settings.tenant, env.name
        )),
    );
    map.insert("sourceRepos".into(), json!(source_repos(tenant, env)));
    let mut namespaces: Vec<String> = tenant
        .apps_in(env)
        .map(|a| tenant.app_namespace(a, env))
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let destination = tenant.destination_name(env);
    let destinations: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"name": destination, "namespace": ns}))
        .collect();
    map.insert("destinations".into(), json!(destinations));
    map.insert(
        "clusterResourceWhitelist".into(),
        json!([{"group": "", "kind": "Namespace"}]),
    );
    let denied: Vec<Value> = policy
        .denied_group_kinds()
        .into_iter()
        .map(|(group, kind)| json!({"group": group, "kind": kind}))
        .collect();
    map.insert("namespaceResourceBlacklist".into(), json!(denied));
    map.insert("syncWindows".into(), json!(env.sync_windows));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::relative_to;

    #[test]
    fn value_files_relative_to_the_chart() {
        assert_eq!(
            relative_to("apps/web/chart", "apps/web/values.yaml"),
            "../values.yaml"
        );
        assert_eq!(
            relative_to("apps/web/chart", "apps/web/chart/values-dev.yaml"),
            "values-dev.yaml"
        );
        assert_eq!(
            relative_to(
                "tenants/acme/charts/web",
                "tenants/acme/apps/web/env/dev.yaml"
            ),
            "../../apps/web/env/dev.yaml"
        );
        assert_eq!(
            relative_to(".", "apps/web/values.yaml"),
            "apps/web/values.yaml"
        );
        assert_eq!(relative_to("", "values.yaml"), "values.yaml");
    }
}

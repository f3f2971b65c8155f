//! What templates see: every name, namespace and source already resolved, so templates
//! only lay values out and never compute names (which is where isolation could slip).

use ladder_model::{App, Environment, SourceType, Tenant};
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
    let path = tenant.source_path(app, env);
    let path = if in_config_repo {
        from_repo_root(subfolder, &path)
    } else {
        path
    };
    source.insert("path".into(), json!(path));

    let (single, multi) = if app.source.kind == SourceType::Helm {
        let release = app.source.helm_release_name.as_deref().unwrap_or(&app.name);
        let value_files: Vec<String> = tenant
            .value_files(app, env)
            .into_iter()
            .map(|path| format!("$values/{}", from_repo_root(subfolder, &path)))
            .collect();
        let mut helm = Map::new();
        helm.insert("releaseName".into(), json!(release));
        if value_files.is_empty() {
            source.insert("helm".into(), Value::Object(helm));
            (Value::Object(source), Value::Null)
        } else {
            helm.insert("valueFiles".into(), json!(value_files));
            source.insert("helm".into(), Value::Object(helm));
            let values_ref = json!({
                "repoURL": settings.config_repo.url,
                "targetRevision": settings.config_repo.branch,
                "ref": "values",
            });
            (Value::Null, json!([Value::Object(source), values_ref]))
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

/// The context of `appproject.yaml.hbs` for one environment.
pub fn appproject(tenant: &Tenant, env: &Environment) -> Value {
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
    map.insert("syncWindows".into(), json!(env.sync_windows));
    Value::Object(map)
}

//! A Helm app: the conventional values keys only, from the app's value files for the
//! environment, merged in order as Helm merges them. A chart's templates are not
//! rendered, so a key the values do not set is unknown; a key they remove (`null`,
//! `enabled: false`) or set to something else fails.
//!
//! Keys: `livenessProbe`, `readinessProbe`, `resources.{requests,limits}.{cpu,memory}`,
//! `service.enabled` / `service`, `httpRoute.enabled` (with `ingress.enabled` and
//! `service.type: LoadBalancer` saying the app is exposed), `podAnnotations` with a scrape
//! annotation, `podSecurityContext.seccompProfile.type` /
//! `securityContext.seccompProfile.type`.

use ladder_model::{App, Environment, Tenant};
use ladder_tree::{ConfigTree, join_repo_path};
use serde_json::Value;

use super::checks::SCRAPE_KEYS;
use super::manifests::parse_documents;
use super::{
    CPU_LIMIT, CPU_REQUEST, HTTP_ROUTE, Item, ItemResult, LIVENESS_PROBE, MEMORY_LIMIT,
    MEMORY_REQUEST, READINESS_PROBE, Readiness, ReadinessError, SCRAPE_ANNOTATIONS,
    SECCOMP_PROFILE, SERVICE,
};

/// The value files in order, lowest precedence first: (where, values).
struct Values {
    layers: Vec<(String, Value)>,
    /// Why what the values do not say is unknown.
    unseen: String,
}

/// What the merged values hold at a path.
enum Found<'a> {
    /// Set, in that file.
    Set(&'a Value, &'a str),
    /// Set to `null` (at the path or above it) in that file: Helm removes the chart's
    /// default.
    Removed(&'a str),
    Absent,
}

impl Values {
    /// The value at `path` after merging: the last file that says anything about it
    /// decides, as mappings merge key by key and anything else replaces.
    fn get(&self, path: &[&str]) -> Found<'_> {
        'layers: for (file, layer) in self.layers.iter().rev() {
            let mut current = layer;
            for (depth, key) in path.iter().enumerate() {
                match current {
                    Value::Object(map) => match map.get(*key) {
                        Some(Value::Null) => return Found::Removed(file),
                        Some(value) => current = value,
                        None => continue 'layers,
                    },
                    // A whole document that is no mapping says nothing.
                    _ if depth == 0 => continue 'layers,
                    // A scalar or list replaces the mapping the path needs.
                    _ => return Found::Absent,
                }
            }
            return Found::Set(current, file);
        }
        Found::Absent
    }

    fn unknown(&self, name: &'static str, key: &str) -> Item {
        Item::new(
            name,
            ItemResult::Unknown,
            format!("the values do not set `{key}`; {}", self.unseen),
        )
    }
}

fn truthy(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

fn falsy(value: &Value) -> bool {
    value.as_bool() == Some(false) || value.as_str() == Some("false")
}

pub(crate) fn evaluate(
    tree: &dyn ConfigTree,
    tenant: &Tenant,
    app: &App,
    env: &Environment,
) -> Result<Readiness, ReadinessError> {
    let mut layers = Vec::new();
    let in_repo = tenant.is_config_repo(&app.source);
    let chart = tenant.source_path(app, env).filter(|_| in_repo);
    let unseen = match (&chart, &app.source.repo_url) {
        (Some(path), _) => {
            let file = join_repo_path(path, "values.yaml").unwrap_or_default();
            if let Some(bytes) = tree.read_file(&file)? {
                let value = parse_documents(&file, &bytes)?.into_iter().next();
                layers.push((file, value.unwrap_or_default()));
            }
            format!("ladder does not render the chart's templates in {path}")
        }
        (None, Some(repo)) => format!("the chart's templates in {repo} cannot be seen"),
        (None, None) => "the chart's templates cannot be seen".to_string(),
    };
    for file in tenant.value_files(app, env) {
        let bytes = tree
            .read_file(&file)?
            .ok_or_else(|| ReadinessError::Missing {
                path: file.clone(),
                what: format!("a value file of {}", app.name),
            })?;
        let value = parse_documents(&file, &bytes)?.into_iter().next();
        layers.push((file, value.unwrap_or_default()));
    }
    if let Some(inline) = app.source.helm_values_in(&env.name) {
        layers.push((format!("{} (inline values)", app.file), inline));
    }
    let values = Values { layers, unseen };
    Ok(Readiness {
        items: vec![
            probe(&values, LIVENESS_PROBE),
            probe(&values, READINESS_PROBE),
            resource(&values, CPU_REQUEST, "requests", "cpu"),
            resource(&values, MEMORY_REQUEST, "requests", "memory"),
            resource(&values, CPU_LIMIT, "limits", "cpu"),
            resource(&values, MEMORY_LIMIT, "limits", "memory"),
            service(&values),
            http_route(&values),
            scrape(&values),
            seccomp(&values),
        ],
    })
}

fn removed(name: &'static str, key: &str, file: &str) -> Item {
    Item::new(
        name,
        ItemResult::Failed,
        format!("`{key}` is null in {file}, which removes the chart's default"),
    )
}

fn probe(values: &Values, name: &'static str) -> Item {
    match values.get(&[name]) {
        Found::Set(Value::Object(map), file) => {
            if map.get("enabled").is_some_and(falsy) {
                Item::new(
                    name,
                    ItemResult::Failed,
                    format!("`{name}.enabled` is false in {file}"),
                )
            } else if map.is_empty() {
                values.unknown(name, name)
            } else {
                Item::new(
                    name,
                    ItemResult::Passed,
                    format!("`{name}` is set in {file}"),
                )
            }
        }
        Found::Set(value, file) if falsy(value) => Item::new(
            name,
            ItemResult::Failed,
            format!("`{name}` is false in {file}"),
        ),
        Found::Removed(file) => removed(name, name, file),
        _ => values.unknown(name, name),
    }
}

fn resource(values: &Values, name: &'static str, bound: &str, resource: &str) -> Item {
    let key = format!("resources.{bound}.{resource}");
    match values.get(&["resources", bound, resource]) {
        Found::Set(Value::String(s), file) if s.is_empty() => Item::new(
            name,
            ItemResult::Failed,
            format!("`{key}` is empty in {file}"),
        ),
        Found::Set(Value::String(_) | Value::Number(_), file) => Item::new(
            name,
            ItemResult::Passed,
            format!("`{key}` is set in {file}"),
        ),
        Found::Set(_, file) => Item::new(
            name,
            ItemResult::Failed,
            format!("`{key}` in {file} is not a quantity"),
        ),
        Found::Removed(file) => removed(name, &key, file),
        Found::Absent => values.unknown(name, &key),
    }
}

fn service(values: &Values) -> Item {
    match values.get(&["service", "enabled"]) {
        Found::Set(value, file) if falsy(value) => {
            return Item::new(
                SERVICE,
                ItemResult::Failed,
                format!("`service.enabled` is false in {file}"),
            );
        }
        Found::Set(value, file) if truthy(value) => {
            return Item::new(
                SERVICE,
                ItemResult::Passed,
                format!("`service.enabled` is true in {file}"),
            );
        }
        _ => {}
    }
    match values.get(&["service"]) {
        Found::Set(Value::Object(map), file) if !map.is_empty() => Item::new(
            SERVICE,
            ItemResult::Passed,
            format!("`service` is set in {file}"),
        ),
        Found::Set(value, file) if falsy(value) => Item::new(
            SERVICE,
            ItemResult::Failed,
            format!("`service` is false in {file}"),
        ),
        Found::Removed(file) => removed(SERVICE, "service", file),
        _ => values.unknown(SERVICE, "service"),
    }
}

fn http_route(values: &Values) -> Item {
    let route = values.get(&["httpRoute", "enabled"]);
    if let Found::Set(value, file) = route
        && truthy(value)
    {
        return Item::new(
            HTTP_ROUTE,
            ItemResult::Passed,
            format!("`httpRoute.enabled` is true in {file}"),
        );
    }
    let route_off = match route {
        Found::Set(value, file) if falsy(value) => Some(file),
        Found::Removed(file) => Some(file),
        _ => None,
    };
    let mut exposed_by = Vec::new();
    let ingress = values.get(&["ingress", "enabled"]);
    if let Found::Set(value, file) = ingress
        && truthy(value)
    {
        exposed_by.push(format!("`ingress.enabled: true` in {file}"));
    }
    if let Found::Set(value, file) = values.get(&["service", "type"])
        && value.as_str() == Some("LoadBalancer")
    {
        exposed_by.push(format!("`service.type: LoadBalancer` in {file}"));
    }
    if !exposed_by.is_empty() {
        let exposed = format!("exposed by {}", exposed_by.join(" and "));
        return match route_off {
            Some(file) => Item::new(
                HTTP_ROUTE,
                ItemResult::Failed,
                format!("{exposed}, but `httpRoute.enabled` is off in {file}"),
            ),
            None => Item::new(
                HTTP_ROUTE,
                ItemResult::Unknown,
                format!(
                    "{exposed}; the values do not enable `httpRoute`; {}",
                    values.unseen
                ),
            ),
        };
    }
    let ingress_off = matches!(ingress, Found::Set(v, _) if falsy(v));
    if let Some(file) = route_off
        && ingress_off
    {
        return Item::new(
            HTTP_ROUTE,
            ItemResult::Passed,
            format!(
                "not exposed: `httpRoute.enabled` is off in {file} and `ingress.enabled` is false"
            ),
        );
    }
    Item::new(
        HTTP_ROUTE,
        ItemResult::Unknown,
        format!(
            "the values enable no HTTPRoute, Ingress or LoadBalancer Service; whether the chart exposes the app by default is not visible: {}",
            values.unseen
        ),
    )
}

fn scrape(values: &Values) -> Item {
    let mut off = None;
    for key in SCRAPE_KEYS {
        match values.get(&["podAnnotations", key]) {
            Found::Set(value, file) if truthy(value) => {
                return Item::new(
                    SCRAPE_ANNOTATIONS,
                    ItemResult::Passed,
                    format!("`podAnnotations` sets `{key}: \"true\"` in {file}"),
                );
            }
            Found::Set(_, file) | Found::Removed(file) => {
                off = Some(format!("`podAnnotations.{key}` is not \"true\" in {file}"));
            }
            Found::Absent => {}
        }
    }
    match off {
        Some(detail) => Item::new(SCRAPE_ANNOTATIONS, ItemResult::Failed, detail),
        None => values.unknown(SCRAPE_ANNOTATIONS, "podAnnotations.k8s.grafana.com/scrape"),
    }
}

fn seccomp(values: &Values) -> Item {
    let at = |context: &str| match values.get(&[context, "seccompProfile", "type"]) {
        Found::Set(value, file) => Some((value.as_str().unwrap_or("?").to_string(), file)),
        _ => None,
    };
    // The container's wins over the pod's, as in Kubernetes.
    for context in ["securityContext", "podSecurityContext"] {
        if let Some((kind, file)) = at(context) {
            let key = format!("{context}.seccompProfile.type");
            return if kind == "RuntimeDefault" {
                Item::new(
                    SECCOMP_PROFILE,
                    ItemResult::Passed,
                    format!("`{key}` is RuntimeDefault in {file}"),
                )
            } else {
                Item::new(
                    SECCOMP_PROFILE,
                    ItemResult::Failed,
                    format!("`{key}` is {kind} in {file}, not RuntimeDefault"),
                )
            };
        }
    }
    values.unknown(SECCOMP_PROFILE, "podSecurityContext.seccompProfile.type")
}

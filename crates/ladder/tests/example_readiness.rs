//! The example tenant's own Kubernetes manifests meet the platform's production
//! checklist, since tenants copy them: every Deployment's containers have liveness and
//! readiness probes, CPU and memory requests and limits, and a restricted securityContext
//! (seccomp `RuntimeDefault`, non-root, read-only root filesystem, no privilege
//! escalation, all capabilities dropped); its pods carry metrics scrape annotations; a
//! Service beside it selects it; and an HTTPRoute (Gateway API v1) routes to each
//! Service that exposes an `http` port. A Helm app's value files give the chart the same.
//!
//! The manifests are read as plain YAML, one or many documents per file: kustomize bases
//! and overlays as they are, without running kustomize.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::example_repo;
use serde_yaml::Value;

/// A document and the file it came from, relative to the example.
struct Doc {
    file: String,
    dir: String,
    value: Value,
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Every document of every YAML file under `apps/`.
fn documents() -> Vec<Doc> {
    let root = example_repo();
    let mut files = Vec::new();
    yaml_files(&root.join("apps"), &mut files);
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let dir = path
            .parent()
            .unwrap()
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = <Value as serde::Deserialize>::deserialize(document)
                .unwrap_or_else(|e| panic!("{file}: not YAML: {e}"));
            if !value.is_null() {
                docs.push(Doc {
                    file: file.clone(),
                    dir: dir.clone(),
                    value,
                });
            }
        }
    }
    docs
}

/// The value at a dotted path of mapping keys.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| v.as_mapping()?.get(key))
}

fn str_at<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

fn kind(doc: &Doc) -> (&str, &str) {
    (
        str_at(&doc.value, "apiVersion").unwrap_or(""),
        str_at(&doc.value, "kind").unwrap_or(""),
    )
}

fn name(doc: &Doc) -> &str {
    str_at(&doc.value, "metadata.name").unwrap_or("")
}

/// `pod` or `container`'s securityContext says `key: want` (the container's wins).
fn secured(pod: &Value, container: &Value, key: &str, want: &Value) -> bool {
    match at(container, &format!("securityContext.{key}")) {
        Some(v) => v == want,
        None => at(pod, &format!("securityContext.{key}")) == Some(want),
    }
}

/// Everything wrong with one Deployment's pod template.
fn check_deployment(doc: &Doc, problems: &mut Vec<String>) {
    let what = format!("{}: Deployment {}", doc.file, name(doc));
    let mut problem = |p: String| problems.push(format!("{what}: {p}"));
    let template = at(&doc.value, "spec.template").cloned().unwrap_or_default();
    let pod = at(&template, "spec").cloned().unwrap_or_default();

    let scrape = ["k8s.grafana.com/scrape", "prometheus.io/scrape"]
        .iter()
        .any(|key| {
            at(&template, "metadata.annotations")
                .and_then(|a| a.as_mapping()?.get(*key))
                .and_then(Value::as_str)
                == Some("true")
        });
    if !scrape {
        problem(
            "the pod template has no `k8s.grafana.com/scrape: \"true\"` or `prometheus.io/scrape: \"true\"` annotation".into(),
        );
    }

    let containers = at(&pod, "containers")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    if containers.is_empty() {
        problem("no containers".into());
    }
    for container in &containers {
        let c = str_at(container, "name").unwrap_or("?");
        for probe in ["livenessProbe", "readinessProbe"] {
            if !at(container, probe).is_some_and(Value::is_mapping) {
                problem(format!("container {c} has no {probe}"));
            }
        }
        for bound in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                if at(container, &format!("resources.{bound}.{resource}")).is_none() {
                    problem(format!("container {c} has no resources.{bound}.{resource}"));
                }
            }
        }
        let checks: [(&str, Value); 4] = [
            ("seccompProfile.type", Value::from("RuntimeDefault")),
            ("runAsNonRoot", Value::from(true)),
            ("readOnlyRootFilesystem", Value::from(true)),
            ("allowPrivilegeEscalation", Value::from(false)),
        ];
        for (key, want) in &checks {
            if !secured(&pod, container, key, want) {
                problem(format!(
                    "container {c}: securityContext.{key} is not {} (pod or container level)",
                    serde_yaml::to_string(want).unwrap().trim()
                ));
            }
        }
        let drops_all = at(container, "securityContext.capabilities.drop")
            .and_then(Value::as_sequence)
            .is_some_and(|drop| drop.iter().any(|d| d.as_str() == Some("ALL")));
        if !drops_all {
            problem(format!(
                "container {c}: securityContext.capabilities.drop does not hold ALL"
            ));
        }
    }
}

/// Whether a Service's selector picks the Deployment's pods.
fn selects(service: &Doc, deployment: &Doc) -> bool {
    let Some(selector) = at(&service.value, "spec.selector").and_then(Value::as_mapping) else {
        return false;
    };
    let labels = at(&deployment.value, "spec.template.metadata.labels")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container port names and numbers of a Deployment.
fn container_ports(deployment: &Doc) -> Vec<Value> {
    let mut ports = Vec::new();
    for container in at(&deployment.value, "spec.template.spec.containers")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        for port in at(container, "ports")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            ports.extend(at(port, "name").cloned());
            ports.extend(at(port, "containerPort").cloned());
        }
    }
    ports
}

/// Every problem of the Deployments, Services and HTTPRoutes under `apps/`, and how many
/// Deployments there were.
fn manifest_problems(docs: &[Doc]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let deployments: Vec<&Doc> = docs
        .iter()
        .filter(|d| kind(d) == ("apps/v1", "Deployment"))
        .collect();
    for deployment in &deployments {
        check_deployment(deployment, &mut problems);

        // Its Service and route live beside it (a kustomize base, or an environment's
        // folder of a directory app), so wherever it is deployed, they are too.
        let services: Vec<&Doc> = docs
            .iter()
            .filter(|d| d.dir == deployment.dir && kind(d) == ("v1", "Service"))
            .filter(|s| selects(s, deployment))
            .collect();
        let what = format!("{}: Deployment {}", deployment.file, name(deployment));
        if services.is_empty() {
            problems.push(format!("{what}: no Service beside it selects its pods"));
        }
        let ports = container_ports(deployment);
        for service in services {
            let service_ports = at(&service.value, "spec.ports")
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            for port in &service_ports {
                let target = at(port, "targetPort").or_else(|| at(port, "port"));
                if !target.is_some_and(|t| ports.contains(t)) {
                    problems.push(format!(
                        "{}: Service {}: targetPort {:?} is no port of Deployment {}",
                        service.file,
                        name(service),
                        target,
                        name(deployment)
                    ));
                }
            }
            // Exposed: a port named http. Then an HTTPRoute beside it routes to it.
            let Some(http) = service_ports
                .iter()
                .find(|p| str_at(p, "name") == Some("http"))
            else {
                continue;
            };
            let routed = docs
                .iter()
                .filter(|d| {
                    d.dir == deployment.dir
                        && kind(d) == ("gateway.networking.k8s.io/v1", "HTTPRoute")
                })
                .any(|route| {
                    let has = |path: &str| {
                        at(&route.value, path)
                            .and_then(Value::as_sequence)
                            .is_some_and(|s| !s.is_empty())
                    };
                    has("spec.parentRefs")
                        && has("spec.hostnames")
                        && at(&route.value, "spec.rules")
                            .and_then(Value::as_sequence)
                            .into_iter()
                            .flatten()
                            .flat_map(|rule| {
                                at(rule, "backendRefs")
                                    .and_then(Value::as_sequence)
                                    .cloned()
                                    .unwrap_or_default()
                            })
                            .any(|backend| {
                                str_at(&backend, "name") == Some(name(service))
                                    && at(&backend, "port") == at(http, "port")
                            })
                });
            if !routed {
                problems.push(format!(
                    "{}: Service {} is exposed (port http) but no gateway.networking.k8s.io/v1 HTTPRoute beside it, with parentRefs and hostnames, routes to it",
                    service.file,
                    name(service)
                ));
            }
        }
    }
    (problems, deployments.len())
}

#[test]
fn every_deployment_of_the_example_meets_the_production_checklist() {
    let docs = documents();
    let (problems, deployments) = manifest_problems(&docs);
    assert!(
        problems.is_empty(),
        "the example's manifests miss the checklist:\n{}",
        problems.join("\n")
    );
    // shop's base, docs in dev and in prod: the check above was not vacuous.
    assert!(deployments >= 3, "only {deployments} Deployments found");
}

#[test]
fn the_checklist_catches_what_it_checks() {
    // The same check on a Deployment stripped of everything finds each missing item.
    let docs = vec![
        Doc {
            file: "apps/x/deployment.yaml".into(),
            dir: "apps/x".into(),
            value: serde_yaml::from_str(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers:\n        - name: x\n          image: x\n          ports: [{name: http, containerPort: 8080}]\n",
            )
            .unwrap(),
        },
        Doc {
            file: "apps/x/service.yaml".into(),
            dir: "apps/x".into(),
            value: serde_yaml::from_str(
                "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  selector: {app: x}\n  ports: [{name: http, port: 80, targetPort: http}]\n",
            )
            .unwrap(),
        },
    ];
    let (problems, _) = manifest_problems(&docs);
    let text = problems.join("\n");
    for expected in [
        "scrape",
        "no livenessProbe",
        "no readinessProbe",
        "no resources.requests.cpu",
        "no resources.requests.memory",
        "no resources.limits.cpu",
        "no resources.limits.memory",
        "seccompProfile.type is not RuntimeDefault",
        "runAsNonRoot is not true",
        "readOnlyRootFilesystem is not true",
        "allowPrivilegeEscalation is not false",
        "capabilities.drop does not hold ALL",
        "no gateway.networking.k8s.io/v1 HTTPRoute",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` not found in:\n{text}"
        );
    }
    let (problems, _) = manifest_problems(&docs[..1]);
    assert!(
        problems.iter().any(|p| p.contains("no Service beside it")),
        "{problems:?}"
    );
}

#[test]
fn every_kustomization_lists_resources_that_exist() {
    // A manifest beside a kustomization.yaml that it does not list is never deployed.
    let root = example_repo();
    let docs = documents();
    let mut problems = Vec::new();
    let mut seen = 0;
    for doc in docs
        .iter()
        .filter(|d| kind(d) == ("kustomize.config.k8s.io/v1beta1", "Kustomization"))
    {
        seen += 1;
        let resources: Vec<&str> = at(&doc.value, "resources")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for resource in &resources {
            let path = root.join(&doc.dir).join(resource);
            let ok = path.is_file() || path.join("kustomization.yaml").is_file();
            if !ok {
                problems.push(format!("{}: resource {resource} does not exist", doc.file));
            }
        }
        for other in docs
            .iter()
            .filter(|d| d.dir == doc.dir && d.file != doc.file)
        {
            let file = Path::new(&other.file)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            if !resources.contains(&file) {
                problems.push(format!("{}: does not list {file}", doc.file));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(seen >= 4, "only {seen} kustomizations found");
}

/// Deep-merges Helm value files, later ones winning.
fn merge(into: &mut Value, from: &Value) {
    match (into.as_mapping_mut(), from.as_mapping()) {
        (Some(into), Some(from)) => {
            for (k, v) in from {
                match into.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        into.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *into = from.clone(),
    }
}

#[test]
fn helm_apps_give_their_chart_the_checklist_in_every_environment() {
    let root = example_repo();
    let environments: Vec<String> = std::fs::read_dir(root.join("environments"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut problems = Vec::new();
    let mut helm_apps = 0;
    let mut apps: Vec<_> = std::fs::read_dir(root.join("apps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    apps.sort();
    for app in apps {
        let spec: Value =
            serde_yaml::from_str(&std::fs::read_to_string(app.join("app.yaml")).unwrap()).unwrap();
        if str_at(&spec, "source.type") != Some("helm") {
            continue;
        }
        helm_apps += 1;
        let files: Vec<&str> = at(&spec, "values")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut per_env: BTreeMap<&str, Value> = BTreeMap::new();
        for env in &environments {
            let mut values = Value::Mapping(Default::default());
            for file in &files {
                let path = app.join(file.replace("{env}", env));
                if let Ok(text) = std::fs::read_to_string(&path) {
                    merge(&mut values, &serde_yaml::from_str(&text).unwrap());
                }
            }
            per_env.insert(env, values);
        }
        let app_name = app.file_name().unwrap().to_string_lossy().into_owned();
        for (env, values) in &per_env {
            let what = format!("apps/{app_name} in {env}");
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    if at(values, &format!("resources.{bound}.{resource}")).is_none() {
                        problems.push(format!("{what}: no resources.{bound}.{resource}"));
                    }
                }
            }
            let scrape = at(values, "podAnnotations")
                .and_then(Value::as_mapping)
                .is_some_and(|a| {
                    ["k8s.grafana.com/scrape", "prometheus.io/scrape"]
                        .iter()
                        .any(|k| a.get(*k).and_then(Value::as_str) == Some("true"))
                });
            if !scrape {
                problems.push(format!("{what}: no scrape annotation in podAnnotations"));
            }
            if at(values, "httpRoute.enabled") != Some(&Value::from(true)) {
                problems.push(format!("{what}: httpRoute.enabled is not true"));
            }
            // The promoted key is still where ladder promotes it.
            if str_at(values, "image.tag").is_none() {
                problems.push(format!("{what}: no image.tag"));
            }
        }
        // Each environment has a hostname of its own.
        let mut prefixes: Vec<_> = per_env
            .values()
            .map(|v| str_at(v, "httpRoute.hostPrefix").unwrap_or(""))
            .collect();
        prefixes.sort();
        let count = prefixes.len();
        prefixes.dedup();
        if prefixes.len() != count {
            problems.push(format!(
                "apps/{app_name}: environments share an httpRoute.hostPrefix"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(helm_apps >= 1, "no Helm app found");
}

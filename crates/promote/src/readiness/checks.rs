//! The checklist on manifests ladder sees (directory and Kustomize apps).

use serde_json::Value;

use super::manifests::{Manifests, Object, at, str_at};
use super::{
    CPU_LIMIT, CPU_REQUEST, HTTP_ROUTE, Item, ItemResult, LIVENESS_PROBE, MEMORY_LIMIT,
    MEMORY_REQUEST, READINESS_PROBE, Readiness, SCRAPE_ANNOTATIONS, SECCOMP_PROFILE, SERVICE,
};

/// The pod-template annotations that ask the platform to scrape metrics.
pub(crate) const SCRAPE_KEYS: [&str; 2] = ["k8s.grafana.com/scrape", "prometheus.io/scrape"];

const RUNTIME_DEFAULT: &str = "RuntimeDefault";

enum Verdict {
    Pass(String),
    Fail(String),
    Unknown(String),
}

/// An object that runs pods.
struct Workload<'a> {
    object: &'a Object,
    /// The pod template (`metadata` and `spec`); the Pod itself for a Pod.
    template: &'a Value,
    /// Serves (Deployment, ...) rather than runs to completion (Job, CronJob).
    long_running: bool,
    /// Why its pods cannot be seen (a Rollout's `workloadRef`).
    opaque: Option<String>,
}

static NULL: Value = Value::Null;

fn workloads(manifests: &Manifests) -> Vec<Workload<'_>> {
    let mut out = Vec::new();
    for object in &manifests.objects {
        let v = &object.value;
        let (template, long_running) = match object.kind() {
            "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "ReplicationController"
            | "Rollout" => (at(v, &["spec", "template"]), true),
            "Pod" => (Some(v), true),
            "Job" => (at(v, &["spec", "template"]), false),
            "CronJob" => (at(v, &["spec", "jobTemplate", "spec", "template"]), false),
            _ => continue,
        };
        let opaque = (object.kind() == "Rollout" && at(v, &["spec", "workloadRef"]).is_some())
            .then(|| "its pods are those of the workload its `workloadRef` names".to_string());
        out.push(Workload {
            object,
            template: template.unwrap_or(&NULL),
            long_running,
            opaque,
        });
    }
    out
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    at(value, &[key])
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn pod_spec<'a>(workload: &Workload<'a>) -> &'a Value {
    at(workload.template, &["spec"]).unwrap_or(&NULL)
}

fn container_name(container: &Value) -> &str {
    str_at(container, &["name"]).unwrap_or("?")
}

/// Set to something: not null, not an empty mapping or string.
fn set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Every container of the pod (not init containers) passes `ok`.
fn every_container(workload: &Workload, what: &str, ok: impl Fn(&Value) -> bool) -> Verdict {
    let object = workload.object.describe();
    let containers = list(pod_spec(workload), "containers");
    if containers.is_empty() {
        return Verdict::Fail(format!("{object}: no containers"));
    }
    let missing: Vec<&str> = containers
        .iter()
        .filter(|c| !ok(c))
        .map(container_name)
        .collect();
    if missing.is_empty() {
        Verdict::Pass(format!("{object}: every container sets {what}"))
    } else {
        Verdict::Fail(format!(
            "{object}: container {} sets no {what}",
            missing.join(", ")
        ))
    }
}

fn scrape(workload: &Workload) -> Verdict {
    let object = workload.object.describe();
    let annotations = at(workload.template, &["metadata", "annotations"]);
    for key in SCRAPE_KEYS {
        let value = annotations.and_then(|a| a.get(key));
        if value.is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true)) {
            return Verdict::Pass(format!("{object}: the pod template has `{key}: \"true\"`"));
        }
    }
    Verdict::Fail(format!(
        "{object}: the pod template has no `{}` or `{}` annotation set to \"true\"",
        SCRAPE_KEYS[0], SCRAPE_KEYS[1]
    ))
}

fn seccomp(workload: &Workload) -> Verdict {
    let object = workload.object.describe();
    let pod = pod_spec(workload);
    let profile = |v: &'_ Value| -> Option<String> {
        str_at(v, &["securityContext", "seccompProfile", "type"]).map(String::from)
    };
    let pod_type = profile(pod);
    let all: Vec<&Value> = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|key| list(pod, key))
        .collect();
    if all.is_empty() {
        return Verdict::Fail(format!("{object}: no containers"));
    }
    let mut wrong = Vec::new();
    for container in all {
        let own = profile(container);
        let effective = own.clone().or_else(|| pod_type.clone());
        if effective.as_deref() != Some(RUNTIME_DEFAULT) {
            wrong.push(match (own, effective) {
                (Some(t), _) => format!("container {} sets type {t}", container_name(container)),
                (None, Some(t)) => format!(
                    "container {} runs with the pod's type {t}",
                    container_name(container)
                ),
                (None, None) => format!(
                    "neither the pod nor container {} sets one",
                    container_name(container)
                ),
            });
        }
    }
    if !wrong.is_empty() {
        return Verdict::Fail(format!(
            "{object}: no seccompProfile RuntimeDefault: {}",
            wrong.join(", ")
        ));
    }
    Verdict::Pass(if pod_type.as_deref() == Some(RUNTIME_DEFAULT) {
        format!("{object}: the pod sets seccompProfile RuntimeDefault")
    } else {
        format!("{object}: every container sets seccompProfile RuntimeDefault")
    })
}

/// Why the object may differ from what ladder sees, if it may.
fn doubts(object: &Object, manifests: &Manifests) -> Option<String> {
    let reasons: Vec<&str> = object
        .unknown
        .iter()
        .chain(&manifests.changed)
        .map(String::as_str)
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn doubted(verdict: Verdict, object: &Object, manifests: &Manifests) -> Verdict {
    match (verdict, doubts(object, manifests)) {
        (Verdict::Pass(d) | Verdict::Fail(d), Some(why)) => {
            Verdict::Unknown(format!("{d}, but {why}"))
        }
        (verdict, _) => verdict,
    }
}

fn per_workload(
    manifests: &Manifests,
    workloads: &[Workload],
    name: &'static str,
    long_running_only: bool,
    check: impl Fn(&Workload) -> Verdict,
) -> Item {
    let (mut passes, mut fails, mut unknowns) = (Vec::new(), Vec::new(), Vec::new());
    for workload in workloads
        .iter()
        .filter(|w| w.long_running || !long_running_only)
    {
        let verdict = match &workload.opaque {
            Some(why) => Verdict::Unknown(format!("{}: {why}", workload.object.describe())),
            None => doubted(check(workload), workload.object, manifests),
        };
        match verdict {
            Verdict::Pass(d) => passes.push(d),
            Verdict::Fail(d) => fails.push(d),
            Verdict::Unknown(d) => unknowns.push(d),
        }
    }
    let hidden = manifests.hidden.join("; ");
    if !fails.is_empty() {
        Item::new(name, ItemResult::Failed, fails.join("; "))
    } else if !unknowns.is_empty() {
        Item::new(name, ItemResult::Unknown, unknowns.join("; "))
    } else if passes.is_empty() {
        let what = if long_running_only {
            "no long-running workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Rollout)"
        } else {
            "no workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Rollout, Job, CronJob)"
        };
        let mut detail = format!("{what} in {}", manifests.source);
        if !hidden.is_empty() {
            detail = format!("{detail}; {hidden}");
        }
        Item::new(name, ItemResult::Unknown, detail)
    } else if !hidden.is_empty() {
        Item::new(
            name,
            ItemResult::Unknown,
            format!("{}; but {hidden}", passes.join("; ")),
        )
    } else {
        Item::new(name, ItemResult::Passed, passes.join("; "))
    }
}

/// The objects passing `pick`, split into those seen for sure and those that
/// may differ.
fn sure_and_doubted(
    manifests: &Manifests,
    pick: impl Fn(&Object) -> bool,
) -> (Vec<&Object>, Vec<(&Object, String)>) {
    let (mut sure, mut doubtful) = (Vec::new(), Vec::new());
    for object in manifests.objects.iter().filter(|o| pick(o)) {
        match doubts(object, manifests) {
            None => sure.push(object),
            Some(why) => doubtful.push((object, why)),
        }
    }
    (sure, doubtful)
}

fn describe_all(objects: &[&Object]) -> String {
    objects
        .iter()
        .map(|o| o.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_doubted(objects: &[(&Object, String)]) -> String {
    objects
        .iter()
        .map(|(o, why)| format!("{}, but {why}", o.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn service(manifests: &Manifests, workloads: &[Workload]) -> Item {
    let (sure, doubtful) = sure_and_doubted(manifests, |o| o.kind() == "Service");
    if !sure.is_empty() {
        return Item::new(SERVICE, ItemResult::Passed, describe_all(&sure));
    }
    if !doubtful.is_empty() {
        return Item::new(SERVICE, ItemResult::Unknown, describe_doubted(&doubtful));
    }
    let unseen: Vec<&str> = manifests
        .hidden
        .iter()
        .chain(&manifests.changed)
        .map(String::as_str)
        .collect();
    if !unseen.is_empty() {
        return Item::new(
            SERVICE,
            ItemResult::Unknown,
            format!(
                "no Service in what ladder sees of {}; {}",
                manifests.source,
                unseen.join("; ")
            ),
        );
    }
    let serving: Vec<&Object> = workloads
        .iter()
        .filter(|w| w.long_running)
        .map(|w| w.object)
        .collect();
    if serving.is_empty() {
        return Item::new(
            SERVICE,
            ItemResult::Unknown,
            format!(
                "no Service and no long-running workload in {}",
                manifests.source
            ),
        );
    }
    Item::new(
        SERVICE,
        ItemResult::Failed,
        format!(
            "no Service in {} for {}",
            manifests.source,
            describe_all(&serving)
        ),
    )
}

fn exposes(object: &Object) -> bool {
    object.kind() == "Ingress"
        || (object.kind() == "Service"
            && str_at(&object.value, &["spec", "type"]) == Some("LoadBalancer"))
}

fn http_route(manifests: &Manifests) -> Item {
    let (routes, doubtful_routes) = sure_and_doubted(manifests, |o| o.kind() == "HTTPRoute");
    if !routes.is_empty() {
        return Item::new(HTTP_ROUTE, ItemResult::Passed, describe_all(&routes));
    }
    if !doubtful_routes.is_empty() {
        return Item::new(
            HTTP_ROUTE,
            ItemResult::Unknown,
            describe_doubted(&doubtful_routes),
        );
    }
    let (exposed_by, _) = sure_and_doubted(manifests, exposes);
    if !exposed_by.is_empty() {
        let detail = format!(
            "exposed by {}, with no HTTPRoute in {}",
            describe_all(&exposed_by),
            manifests.source
        );
        if manifests.hidden.is_empty() {
            return Item::new(HTTP_ROUTE, ItemResult::Failed, detail);
        }
        let hidden = manifests.hidden.join("; ");
        return Item::new(
            HTTP_ROUTE,
            ItemResult::Unknown,
            format!("{detail}; {hidden}"),
        );
    }
    // Not exposed by what ladder sees: sure only when nothing can differ.
    let mut unseen: Vec<String> = manifests
        .hidden
        .iter()
        .chain(&manifests.changed)
        .cloned()
        .collect();
    let (_, doubtful_services) =
        sure_and_doubted(manifests, |o| matches!(o.kind(), "Service" | "Ingress"));
    unseen.extend(
        doubtful_services
            .iter()
            .map(|(o, why)| format!("{} may differ: {why}", o.describe())),
    );
    if unseen.is_empty() {
        Item::new(
            HTTP_ROUTE,
            ItemResult::Passed,
            format!(
                "not exposed: no HTTPRoute, Ingress or LoadBalancer Service in {}",
                manifests.source
            ),
        )
    } else {
        Item::new(
            HTTP_ROUTE,
            ItemResult::Unknown,
            format!(
                "no HTTPRoute, Ingress or LoadBalancer Service in what ladder sees of {}; {}",
                manifests.source,
                unseen.join("; ")
            ),
        )
    }
}

fn resource(
    manifests: &Manifests,
    workloads: &[Workload],
    name: &'static str,
    bound: &str,
    resource: &str,
) -> Item {
    let what = format!("resources.{bound}.{resource}");
    per_workload(manifests, workloads, name, false, |w| {
        every_container(w, &what, |c| set(at(c, &["resources", bound, resource])))
    })
}

/// The checklist on `manifests`: every item, in [`super::ITEMS`] order.
pub(crate) fn check(manifests: &Manifests) -> Readiness {
    let workloads = workloads(manifests);
    let probe = |name: &'static str| {
        per_workload(manifests, &workloads, name, true, |w| {
            every_container(w, name, |c| set(at(c, &[name])))
        })
    };
    Readiness {
        items: vec![
            probe(LIVENESS_PROBE),
            probe(READINESS_PROBE),
            resource(manifests, &workloads, CPU_REQUEST, "requests", "cpu"),
            resource(manifests, &workloads, MEMORY_REQUEST, "requests", "memory"),
            resource(manifests, &workloads, CPU_LIMIT, "limits", "cpu"),
            resource(manifests, &workloads, MEMORY_LIMIT, "limits", "memory"),
            service(manifests, &workloads),
            http_route(manifests),
            per_workload(manifests, &workloads, SCRAPE_ANNOTATIONS, true, scrape),
            per_workload(manifests, &workloads, SECCOMP_PROFILE, false, seccomp),
        ],
    }
}

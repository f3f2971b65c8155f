//! Checks on rendered documents: Argo CD's run-time rules that its CRD schema cannot
//! express, and tenant isolation. They run on the output, not on the inputs, because a
//! tenant's own templates decide what the output holds.

use ladder_model::LoadOptions;
use serde_json::Value;

const API_VERSION: &str = "argoproj.io/v1alpha1";

/// What an Application must say, computed from the model.
pub struct ExpectedApplication<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub project: &'a str,
    pub destination_name: &'a str,
    pub destination_namespace: &'a str,
    /// The environment's resources finalizer (`finalizer:`), or `None` for none.
    pub finalizer: Option<&'a str>,
}

/// What an AppProject must say, computed from the model.
pub struct ExpectedProject<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub destination_name: &'a str,
    pub policy: &'a LoadOptions,
}

/// A JSON pointer lookup without escapes (ladder's pointers have none), which unlike
/// `Value::pointer` allocates nothing: the rules run on every document.
fn at<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    pointer
        .split('/')
        .skip(1)
        .try_fold(doc, |value, token| match value {
            Value::Object(map) => map.get(token),
            Value::Array(items) => items.get(token.parse::<usize>().ok()?),
            _ => None,
        })
}

fn text<'v>(doc: &'v Value, pointer: &str) -> Option<&'v str> {
    at(doc, pointer).and_then(Value::as_str)
}

fn expect_text(doc: &Value, pointer: &str, expected: &str, why: &str, problems: &mut Vec<String>) {
    match text(doc, pointer) {
        Some(found) if found == expected => {}
        Some(found) => problems.push(format!(
            "{pointer} is `{found}`, must be `{expected}` ({why})"
        )),
        None => problems.push(format!(
            "{pointer} is missing, must be `{expected}` ({why})"
        )),
    }
}

fn header(doc: &Value, kind: &str, name: &str, namespace: &str, problems: &mut Vec<String>) {
    expect_text(doc, "/apiVersion", API_VERSION, "Argo CD's API", problems);
    expect_text(doc, "/kind", kind, "the template's kind", problems);
    expect_text(doc, "/metadata/name", name, "ladder's naming", problems);
    expect_text(
        doc,
        "/metadata/namespace",
        namespace,
        "Argo CD's namespace",
        problems,
    );
    if !doc.get("spec").is_some_and(Value::is_object) {
        problems.push("/spec is missing".into());
    }
}

/// Exactly one of `server`/`name`, and the name must be the tenant's cluster.
fn destination(dest: &Value, pointer: &str, expected_name: &str, problems: &mut Vec<String>) {
    let has_server = dest.get("server").is_some();
    let name = dest.get("name").and_then(Value::as_str);
    if has_server && name.is_some() {
        problems.push(format!(
            "{pointer} sets both `server` and `name`; Argo CD takes exactly one"
        ));
    }
    if has_server {
        problems.push(format!("{pointer} sets `server`; a tenant's destinations are named clusters, use `name: {expected_name}`"));
    }
    match name {
        Some(n) if n == expected_name => {}
        Some(n) => problems.push(format!("{pointer}/name is `{n}`, outside this tenant's environment; it must be `{expected_name}`")),
        None if !has_server => problems.push(format!("{pointer} needs `name: {expected_name}`")),
        None => {}
    }
}

pub fn check_application(doc: &Value, expect: &ExpectedApplication) -> Vec<String> {
    let mut problems = Vec::new();
    header(
        doc,
        "Application",
        expect.name,
        expect.namespace,
        &mut problems,
    );
    expect_text(
        doc,
        "/spec/project",
        expect.project,
        "the tenant's project",
        &mut problems,
    );
    check_finalizers(doc, expect.finalizer, &mut problems);
    match at(doc, "/spec/destination") {
        Some(dest) => {
            destination(
                dest,
                "/spec/destination",
                expect.destination_name,
                &mut problems,
            );
            expect_text(
                doc,
                "/spec/destination/namespace",
                expect.destination_namespace,
                "the app's namespace",
                &mut problems,
            );
        }
        None => problems.push("/spec/destination is missing".into()),
    }

    let present: Vec<&str> = ["source", "sources", "sourceHydrator"]
        .into_iter()
        .filter(|k| at(doc, &format!("/spec/{k}")).is_some())
        .collect();
    if present.len() != 1 {
        problems.push(format!(
            "/spec must set exactly one of source, sources, sourceHydrator; found {}",
            if present.is_empty() {
                "none".to_string()
            } else {
                present.join(", ")
            }
        ));
    }
    if let Some(source) = at(doc, "/spec/source") {
        check_source(source, "/spec/source", false, &[], &mut problems);
    }
    if let Some(sources) = at(doc, "/spec/sources") {
        match sources.as_array() {
            Some(list) if !list.is_empty() => {
                let refs: Vec<&str> = list
                    .iter()
                    .filter_map(|s| s.get("ref").and_then(Value::as_str))
                    .collect();
                for (i, source) in list.iter().enumerate() {
                    check_source(
                        source,
                        &format!("/spec/sources/{i}"),
                        true,
                        &refs,
                        &mut problems,
                    );
                }
            }
            _ => problems.push("/spec/sources must be a non-empty list".into()),
        }
    }
    if let Some(automated) = at(doc, "/spec/syncPolicy/automated") {
        for key in ["prune", "selfHeal", "allowEmpty", "enabled"] {
            if let Some(v) = automated.get(key)
                && !v.is_boolean()
            {
                problems.push(format!(
                    "/spec/syncPolicy/automated/{key} must be true or false, found {v}"
                ));
            }
        }
    }
    if let Some(options) = at(doc, "/spec/syncPolicy/syncOptions").and_then(Value::as_array) {
        for option in options {
            match option.as_str() {
                Some(o)
                    if o.split_once('=')
                        .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty()) => {}
                _ => problems.push(format!(
                    "/spec/syncPolicy/syncOptions entry {option} is not `Key=Value`"
                )),
            }
        }
    }
    problems
}

/// The resources finalizer decides whether deleting the Application deletes its workloads:
/// it must be the environment's choice, whatever a template writes. Other finalizers
/// (Argo CD's post-delete hooks, say) are the template's business.
fn check_finalizers(doc: &Value, expected: Option<&str>, problems: &mut Vec<String>) {
    let found: Vec<&str> = match at(doc, "/metadata/finalizers") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|f| f.starts_with(ladder_model::RESOURCES_FINALIZER))
            .collect(),
        Some(_) => {
            problems.push("/metadata/finalizers must be a list".into());
            return;
        }
    };
    let wanted: Vec<&str> = expected.into_iter().collect();
    if found != wanted {
        let list = |l: &[&str]| {
            if l.is_empty() {
                "none".to_string()
            } else {
                l.join(", ")
            }
        };
        problems.push(format!(
            "/metadata/finalizers has resources finalizer {}, must have {} (the environment's `finalizer`)",
            list(&found),
            list(&wanted)
        ));
    }
}

fn check_source(
    source: &Value,
    pointer: &str,
    multi: bool,
    refs: &[&str],
    problems: &mut Vec<String>,
) {
    let has = |k: &str| source.get(k).is_some();
    if !has("repoURL") {
        problems.push(format!("{pointer} needs repoURL"));
    }
    if !(has("path") || has("chart") || (multi && has("ref"))) {
        problems.push(format!(
            "{pointer} needs `path` or `chart`{}",
            if multi { " (or `ref`)" } else { "" }
        ));
    }
    if has("chart") && !has("targetRevision") {
        problems.push(format!(
            "{pointer} sets `chart` and so needs `targetRevision`"
        ));
    }
    if has("ref") && has("chart") {
        problems.push(format!(
            "{pointer} is a `ref` source and must not set `chart`"
        ));
    }
    if let Some(files) = at(source, "/helm/valueFiles").and_then(Value::as_array) {
        for file in files.iter().filter_map(Value::as_str) {
            if let Some(rest) = file.strip_prefix('$') {
                let name = rest.split('/').next().unwrap_or("");
                if !refs.contains(&name) {
                    problems.push(format!("{pointer}/helm/valueFiles entry `{file}` names `${name}`, but no source has `ref: {name}`"));
                }
            }
        }
    }
}

pub fn check_appproject(doc: &Value, expect: &ExpectedProject) -> Vec<String> {
    let mut problems = Vec::new();
    header(
        doc,
        "AppProject",
        expect.name,
        expect.namespace,
        &mut problems,
    );
    match at(doc, "/spec/destinations") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, dest) in list.iter().enumerate() {
                let pointer = format!("/spec/destinations/{i}");
                destination(dest, &pointer, expect.destination_name, &mut problems);
                match dest.get("namespace").and_then(Value::as_str) {
                    Some(ns) => {
                        if let Some(denied) = expect.policy.denied_namespaces.iter().find(|d| {
                            ladder_model::names::glob_matches(ns, d)
                                || ladder_model::names::glob_matches(d, ns)
                        }) {
                            problems.push(format!("{pointer}/namespace `{ns}` would allow the platform namespace `{denied}`"));
                        }
                    }
                    None => problems.push(format!("{pointer} needs a namespace")),
                }
            }
        }
        Some(_) => problems.push("/spec/destinations must be a list".into()),
    }
    if let Some(list) = at(doc, "/spec/clusterResourceWhitelist") {
        for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
            let group = entry.get("group").and_then(Value::as_str);
            let kind = entry.get("kind").and_then(Value::as_str);
            if (group, kind) != (Some(""), Some("Namespace")) {
                problems.push(format!("/spec/clusterResourceWhitelist/{i} allows {entry}; a tenant may only create the cluster-scoped kind Namespace"));
            }
        }
    }
    check_denied_kinds(doc, expect.policy, &mut problems);
    if at(doc, "/spec/clusterResourceBlacklist").is_some() {
        // A blacklist means "everything else is allowed".
        problems.push("/spec/clusterResourceBlacklist must not be set; list allowed kinds in clusterResourceWhitelist".into());
    }
    for (i, role) in at(doc, "/spec/roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = role.get("name").and_then(Value::as_str).unwrap_or("");
        if !is_role_name(name) {
            problems.push(format!(
                "/spec/roles/{i}/name `{name}` must match ^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$"
            ));
        }
    }
    problems
}

/// Every kind the platform denies must be in `namespaceResourceBlacklist`, by an entry
/// that covers it in every group it names (Argo CD matches both fields as globs).
fn check_denied_kinds(doc: &Value, policy: &LoadOptions, problems: &mut Vec<String>) {
    let listed: Vec<(&str, &str)> = match at(doc, "/spec/namespaceResourceBlacklist") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| {
                (
                    e.get("group").and_then(Value::as_str).unwrap_or(""),
                    e.get("kind").and_then(Value::as_str).unwrap_or(""),
                )
            })
            .collect(),
        Some(_) => {
            problems.push("/spec/namespaceResourceBlacklist must be a list".into());
            return;
        }
    };
    for (group, kind) in policy.denied_group_kinds() {
        let covered = listed.iter().any(|(g, k)| {
            ladder_model::names::glob_matches(k, &kind)
                && (*g == "*" || ladder_model::names::glob_matches(g, &group))
        });
        if !covered {
            problems.push(format!(
                "/spec/namespaceResourceBlacklist must deny `{{group: '{group}', kind: {kind}}}`; the platform manages {kind} for the tenant"
            ));
        }
    }
}

fn is_role_name(name: &str) -> bool {
    let ok_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ok_edge(name.chars().next())
        && ok_edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> ExpectedApplication<'static> {
        ExpectedApplication {
            name: "web-dev",
            namespace: "argocd",
            project: "acme-dev",
            destination_name: "acme-dev",
            destination_namespace: "web",
            finalizer: Some("resources-finalizer.argocd.argoproj.io"),
        }
    }

    fn app() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web-dev", "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {
                "project": "acme-dev",
                "destination": {"name": "acme-dev", "namespace": "web"},
                "sources": [
                    {"repoURL": "https://x/chart.git", "path": "chart", "helm": {"valueFiles": ["$values/apps/web/values.yaml"]}},
                    {"repoURL": "https://x/config.git", "ref": "values"}
                ],
                "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}
            }
        })
    }

    #[test]
    fn a_good_application_passes() {
        assert_eq!(check_application(&app(), &expected()), Vec::<String>::new());
    }

    #[test]
    fn catches_each_runtime_rule() {
        let cases: [(&str, Value, &str); 10] = [
            (
                "/metadata/finalizers",
                json!(["resources-finalizer.argocd.argoproj.io/background"]),
                "must have resources-finalizer.argocd.argoproj.io (the environment's `finalizer`)",
            ),
            (
                "/metadata/finalizers",
                json!([]),
                "has resources finalizer none",
            ),
            (
                "/spec/destination/server",
                json!("https://kubernetes.default.svc"),
                "sets both `server` and `name`",
            ),
            (
                "/spec/destination/name",
                json!("other-prod"),
                "outside this tenant's environment",
            ),
            ("/spec/project", json!("other-dev"), "must be `acme-dev`"),
            (
                "/spec/sources/0/helm/valueFiles/0",
                json!("$nope/x.yaml"),
                "no source has `ref: nope`",
            ),
            (
                "/spec/syncPolicy/automated/prune",
                json!("yes"),
                "must be true or false",
            ),
            (
                "/spec/syncPolicy/syncOptions/0",
                json!("CreateNamespace"),
                "is not `Key=Value`",
            ),
            (
                "/spec/source",
                json!({"repoURL": "x", "path": "p"}),
                "exactly one of source, sources",
            ),
            ("/spec/sources/1/chart", json!("c"), "must not set `chart`"),
        ];
        for (pointer, value, message) in cases {
            let mut doc = app();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let target = doc.pointer_mut(parent).unwrap();
            match target {
                Value::Object(m) => {
                    m.insert(key.to_string(), value);
                }
                Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
                _ => unreachable!(),
            }
            let problems = check_application(&doc, &expected());
            assert!(
                problems.iter().any(|p| p.contains(message)),
                "{pointer}: {problems:?}"
            );
        }
    }

    #[test]
    fn projects_stay_inside_the_tenant() {
        let policy = LoadOptions::default();
        let expect = ExpectedProject {
            name: "acme-dev",
            namespace: "argocd",
            destination_name: "acme-dev",
            policy: &policy,
        };
        let doc = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "acme-dev", "namespace": "argocd"},
            "spec": {
                "destinations": [{"name": "acme-dev", "namespace": "*"}, {"server": "https://x", "namespace": "web"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                "roles": [{"name": "-bad"}]
            }
        });
        let problems = check_appproject(&doc, &expect).join("\n");
        assert!(
            problems.contains("would allow the platform namespace `argocd`"),
            "{problems}"
        );
        assert!(problems.contains("sets `server`"), "{problems}");
        assert!(
            problems.contains("may only create the cluster-scoped kind Namespace"),
            "{problems}"
        );
        assert!(problems.contains("/spec/roles/0/name"), "{problems}");
    }
}

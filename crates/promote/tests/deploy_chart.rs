//! ladder's own Helm chart (deploy/helm/ladder) meets the platform's production
//! checklist, as ladder's readiness gate evaluates it.
//!
//! deploy/check_chart.py lints and renders the chart with the Helm SDK (PyPI's
//! helm-python-sdk; no helm binary), with the default values and with the webhook
//! HTTPRoute on, into a folder of plain manifests per scenario. Each folder becomes a
//! directory app of a throwaway tenant repo, and [`readiness::evaluate`] must pass every
//! item of the checklist on it. The rendered objects are then checked for what the
//! checklist does not cover (security context, writable volumes, RBAC for the Lease,
//! secrets as files).
//!
//! Needs `python3` with `helm-python-sdk==0.2.2` (`.ci/run` installs it); a missing one
//! fails the test, naming what to install. `PYTHON` overrides the interpreter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ladder_promote::readiness::{self, HTTP_ROUTE, ITEMS, ItemResult, Readiness};
use ladder_tree::FsTree;
use serde_json::Value;

/// The scenarios check_chart.py renders, each into `<out>/<scenario>/manifests.yaml`.
const SCENARIOS: [&str; 2] = ["default", "httproute"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs deploy/check_chart.py, rendering into `out`.
fn render_chart(out: &Path) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = repo_root().join("deploy/check_chart.py");
    let started = Instant::now();
    let output = Command::new(&python)
        .arg(&script)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{python}` ({e}): the chart checks need python3 with \
                 helm-python-sdk==0.2.2 (`python3 -m pip install helm-python-sdk==0.2.2`; \
                 .ci/run installs it)"
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}check_chart.py took {:?}", started.elapsed()),
        Some(2) => panic!(
            "helm-python-sdk is missing: `python3 -m pip install helm-python-sdk==0.2.2` \
             (.ci/run installs it)\n{stderr}"
        ),
        _ => panic!(
            "deploy/check_chart.py failed ({}):\n{stderr}",
            output.status
        ),
    }
}

/// A tenant repo in `root` with one directory app per scenario, reading the rendered
/// manifests in `rendered/<scenario>`.
fn write_tenant(root: &Path) {
    std::fs::write(
        root.join("ladder.yaml"),
        "version: 1\n\
         tenant: platform\n\
         configRepo:\n  url: https://github.com/kupecloud/platform-config.git\n  branch: main\n\
         argocd:\n  namespace: argocd\n  project: \"{tenant}-{env}\"\n",
    )
    .unwrap();
    for scenario in SCENARIOS {
        let app = root.join(format!("apps/ladder-{scenario}"));
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            app.join("app.yaml"),
            format!(
                "name: ladder-{scenario}\n\
                 source:\n  type: directory\n  path: rendered/{scenario}\n\
                 environments: [dev]\n\
                 namespace: ladder-system\n"
            ),
        )
        .unwrap();
    }
}

fn evaluate(root: &Path, scenario: &str) -> Readiness {
    let tree = FsTree::new(root.to_path_buf());
    let tenant = ladder_model::load(&tree, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let app = tenant
        .apps
        .iter()
        .find(|a| a.name == format!("ladder-{scenario}"))
        .expect("app");
    let env = tenant.environment("dev").expect("dev");
    readiness::evaluate(&tree, &tenant, app, env).unwrap_or_else(|e| panic!("{e}"))
}

/// The rendered objects of a scenario, as JSON values.
fn objects(root: &Path, scenario: &str) -> Vec<Value> {
    let path = root.join(format!("rendered/{scenario}/manifests.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value: Value =
            serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        if !value.is_null() {
            out.push(value);
        }
    }
    out
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind)
}

fn get<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    find(objects, kind).unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[track_caller]
fn assert_all_passed(readiness: &Readiness, scenario: &str) {
    let names: Vec<&str> = readiness.items.iter().map(|i| i.name).collect();
    assert_eq!(names, ITEMS);
    let not_passed: Vec<String> = readiness
        .items
        .iter()
        .filter(|i| i.result != ItemResult::Passed)
        .map(|i| format!("{} {:?}: {}", i.name, i.result, i.detail))
        .collect();
    assert!(
        not_passed.is_empty(),
        "{scenario}: the chart does not meet the checklist:\n  {}",
        not_passed.join("\n  ")
    );
}

#[test]
fn the_chart_meets_the_production_checklist() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    render_chart(&root.join("rendered"));
    write_tenant(root);

    for scenario in SCENARIOS {
        let readiness = evaluate(root, scenario);
        assert_all_passed(&readiness, scenario);
        let route = &readiness.item(HTTP_ROUTE).unwrap().detail;
        match scenario {
            // ClusterIP only: not exposed, so no HTTPRoute is needed.
            "default" => assert!(route.starts_with("not exposed"), "{route}"),
            _ => assert!(route.contains("HTTPRoute ladder"), "{route}"),
        }
        check_objects(&objects(root, scenario), scenario);
    }
}

/// What the checklist does not cover but the platform (and issue 12) asks of the chart.
fn check_objects(objects: &[Value], scenario: &str) {
    // No Secret is ever rendered: secrets come from existing Secrets.
    assert!(
        find(objects, "Secret").is_none(),
        "{scenario}: a Secret rendered"
    );

    let deployment = get(objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2, "{scenario}");
    let pod = &deployment["spec"]["template"];
    let annotations = &pod["metadata"]["annotations"];
    for (key, want) in [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "8080"),
        ("prometheus.io/path", "/metrics"),
        ("k8s.grafana.com/scrape", "true"),
    ] {
        assert_eq!(annotations[key], want, "{scenario}: annotation {key}");
    }
    let spec = &pod["spec"];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{scenario}");
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{scenario}"
    );
    assert_eq!(spec["automountServiceAccountToken"], true, "{scenario}");
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let security = &c["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["ports"][0]["name"], "http");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{scenario}: {probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{scenario}: {probe}");
    }
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][bound][resource].is_string(),
                "{scenario}: resources.{bound}.{resource}"
            );
        }
    }
    assert_eq!(c["args"][0], "run");

    // Writable emptyDirs, size-limited, at the cache and /tmp.
    let volumes = spec["volumes"].as_array().unwrap();
    let mounts = c["volumeMounts"].as_array().unwrap();
    let volume_at = |path: &str| {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("{scenario}: nothing mounted at {path}"));
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("{scenario}: no volume {}", mount["name"]))
    };
    for path in ["/var/cache/ladder", "/tmp"] {
        let volume = volume_at(path);
        assert!(
            volume["emptyDir"]["sizeLimit"].is_string(),
            "{scenario}: {path}: {volume}"
        );
    }
    let env = c["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "LADDER_CACHE_DIR" && e["value"] == "/var/cache/ladder")
    );
    // No secret value in the environment: secretKeyRef only if a user adds one.
    assert!(env.iter().all(|e| e["valueFrom"]["secretKeyRef"].is_null()));

    // The daemon config: listening beyond loopback (probes, Service), the cache on its
    // volume, and only the keys the daemon knows (it refuses others; TOP_KEYS in
    // crates/daemon/src/config.rs).
    let config = &get(objects, "ConfigMap")["data"]["config.yaml"];
    let config: Value = serde_yaml::from_str(config.as_str().unwrap()).unwrap();
    assert_eq!(config["listen"], "0.0.0.0:8080");
    assert_eq!(config["cacheDir"], "/var/cache/ladder");
    for key in config.as_object().unwrap().keys() {
        assert!(
            [
                "listen",
                "cacheDir",
                "shutdownTimeout",
                "reconcileSlots",
                "tenants"
            ]
            .contains(&key.as_str()),
            "{scenario}: config key {key}"
        );
    }
    // Leader election on, through the environment, for the Lease the Role covers.
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{scenario}: no {name}"))
    };
    assert_eq!(var("LADDER_LEADER_ELECTION")["value"], "true");
    assert_eq!(var("LADDER_LEASE_NAME")["value"], "ladder");
    assert_eq!(var("LADDER_LEASE_NAMESPACE")["value"], "ladder-system");
    assert_eq!(
        var("POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    // RBAC: exactly the Lease verbs leader election needs, in the release namespace.
    let role = get(objects, "Role");
    assert_eq!(role["metadata"]["namespace"], "ladder-system");
    assert_eq!(
        role["rules"],
        serde_json::json!([{
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        }])
    );
    let binding = get(objects, "RoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"][0]["name"],
        get(objects, "ServiceAccount")["metadata"]["name"]
    );
    assert_eq!(spec["serviceAccountName"], binding["subjects"][0]["name"]);

    let service = get(objects, "Service");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");

    match scenario {
        "default" => assert!(find(objects, "HTTPRoute").is_none()),
        _ => {
            let route = get(objects, "HTTPRoute");
            assert_eq!(route["apiVersion"], "gateway.networking.k8s.io/v1");
            let rule = &route["spec"]["rules"][0];
            assert_eq!(rule["matches"][0]["path"]["value"], "/hooks");
            assert_eq!(rule["backendRefs"][0]["name"], service["metadata"]["name"]);
            // Secrets mounted read-only as files from the named Secrets.
            for name in ["acme-github", "acme-webhook"] {
                let volume = volume_at(&format!("/etc/ladder/secrets/{name}"));
                assert_eq!(volume["secret"]["secretName"], name);
                assert_eq!(volume["secret"]["defaultMode"], 0o440);
            }
            assert!(
                mounts
                    .iter()
                    .filter(|m| m["mountPath"].as_str().unwrap().starts_with("/etc/ladder/"))
                    .all(|m| m["readOnly"] == true)
            );
        }
    }
}

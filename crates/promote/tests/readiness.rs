//! The readiness gate on the bundled example, which meets the production checklist, and
//! on copies of it held in memory with one thing broken at a time.

use std::path::PathBuf;

use ladder_promote::readiness::{
    self, CPU_LIMIT, CPU_REQUEST, HTTP_ROUTE, ITEMS, ItemResult, LIVENESS_PROBE, MEMORY_LIMIT,
    MEMORY_REQUEST, READINESS_PROBE, Readiness, ReadinessError, SCRAPE_ANNOTATIONS,
    SECCOMP_PROFILE, SERVICE,
};
use ladder_testkit::MemTree;
use ladder_tree::{ConfigTree, FsTree};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme")
}

fn try_evaluate(tree: &dyn ConfigTree, app: &str, env: &str) -> Result<Readiness, ReadinessError> {
    let tenant = ladder_model::load(tree, &Default::default()).unwrap_or_else(|e| panic!("{e:?}"));
    let app = tenant.apps.iter().find(|a| a.name == app).expect("app");
    let env = tenant.environment(env).expect("environment");
    readiness::evaluate(tree, &tenant, app, env)
}

fn evaluate(tree: &dyn ConfigTree, app: &str, env: &str) -> Readiness {
    try_evaluate(tree, app, env).unwrap_or_else(|e| panic!("{e}"))
}

/// Every item in order; those in `failed` failed, those in `unknown` unknown, the rest
/// passed.
#[track_caller]
fn assert_items(readiness: &Readiness, failed: &[&str], unknown: &[&str]) {
    let names: Vec<&str> = readiness.items.iter().map(|i| i.name).collect();
    assert_eq!(names, ITEMS);
    for item in &readiness.items {
        let want = if failed.contains(&item.name) {
            ItemResult::Failed
        } else if unknown.contains(&item.name) {
            ItemResult::Unknown
        } else {
            ItemResult::Passed
        };
        assert_eq!(
            item.result, want,
            "{}: {}\nall: {readiness:#?}",
            item.name, item.detail
        );
        assert!(!item.detail.is_empty());
    }
    assert_eq!(readiness.blocks(), !failed.is_empty());
}

fn example_tree() -> MemTree {
    MemTree::from_dir(&example())
}

fn text(tree: &MemTree, path: &str) -> String {
    String::from_utf8(tree.read(path).unwrap_or_else(|| panic!("{path}")).to_vec()).unwrap()
}

/// Replaces the one occurrence of `from` in `path`.
#[track_caller]
fn edit(tree: &mut MemTree, path: &str, from: &str, to: &str) {
    let old = text(tree, path);
    assert_eq!(old.matches(from).count(), 1, "{from:?} in {path}");
    tree.write(path, old.replacen(from, to, 1));
}

fn append(tree: &mut MemTree, path: &str, more: &str) {
    let old = text(tree, path);
    tree.write(path, format!("{old}\n{more}"));
}

const DOCS_LIVENESS: &str = "          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
";
const SHOP_POD_SECCOMP: &str = "        seccompProfile:\n          type: RuntimeDefault\n";
const SHOP_CONTAINER_SECCOMP: &str =
    "            seccompProfile:\n              type: RuntimeDefault\n";

#[test]
fn the_example_meets_the_checklist() {
    let tree = FsTree::new(example());
    for env in ["dev", "staging", "prod"] {
        let shop = evaluate(&tree, "shop", env);
        assert_items(&shop, &[], &[]);
        assert!(
            shop.item(LIVENESS_PROBE)
                .unwrap()
                .detail
                .contains("Deployment shop (apps/shop/base/deployment.yaml"),
            "{shop:#?}"
        );
    }
    for env in ["dev", "prod"] {
        let docs = evaluate(&tree, "docs", env);
        assert_items(&docs, &[], &[]);
        assert!(
            docs.item(HTTP_ROUTE)
                .unwrap()
                .detail
                .contains(&format!("apps/docs/{env}/httproute.yaml"))
        );
    }
    // The prod overlay's JSON6902 patch touches the Deployment, and says so.
    let prod = evaluate(&tree, "shop", "prod");
    assert!(
        prod.item(CPU_LIMIT)
            .unwrap()
            .detail
            .contains("patched by apps/shop/overlays/prod/kustomization.yaml")
    );
}

#[test]
fn a_remote_chart_passes_what_its_values_set_and_the_rest_is_unknown() {
    let tree = FsTree::new(example());
    for env in ["dev", "staging", "prod"] {
        let web = evaluate(&tree, "web", env);
        assert_items(
            &web,
            &[],
            &[LIVENESS_PROBE, READINESS_PROBE, SERVICE, SECCOMP_PROFILE],
        );
        assert!(
            web.item(CPU_LIMIT)
                .unwrap()
                .detail
                .contains("apps/web/values.yaml")
        );
        let unknown = web.item(SERVICE).unwrap();
        assert!(
            unknown
                .detail
                .contains("https://github.com/kupecloud/hello-kupe.git"),
            "{unknown:?}"
        );
        assert_eq!(web.unknown().count(), 4);
        assert_eq!(web.failed().count(), 0);
        assert_eq!(web.passed().count(), 6);
    }
    let json = serde_json::to_value(evaluate(&tree, "web", "dev")).unwrap();
    assert_eq!(json["items"][0]["name"], "livenessProbe");
    assert_eq!(json["items"][0]["result"], "unknown");
    assert_eq!(json["items"][2]["result"], "passed");
}

#[test]
fn a_missing_probe_fails_only_that_item() {
    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/docs/dev/deployment.yaml",
        DOCS_LIVENESS,
        "",
    );
    let dev = evaluate(&tree, "docs", "dev");
    assert_items(&dev, &[LIVENESS_PROBE], &[]);
    let detail = &dev.item(LIVENESS_PROBE).unwrap().detail;
    assert!(
        detail.contains("Deployment docs (apps/docs/dev/deployment.yaml)")
            && detail.contains("container docs sets no livenessProbe"),
        "{detail}"
    );
    // prod is its own folder, untouched.
    assert_items(&evaluate(&tree, "docs", "prod"), &[], &[]);

    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/shop/base/deployment.yaml",
        "          readinessProbe:",
        "          notAReadinessProbe:",
    );
    for env in ["dev", "staging", "prod"] {
        assert_items(&evaluate(&tree, "shop", env), &[READINESS_PROBE], &[]);
    }
}

#[test]
fn a_missing_limit_fails_only_that_item() {
    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/docs/prod/deployment.yaml",
        "              cpu: 200m\n              memory: 128Mi\n",
        "              cpu: 200m\n",
    );
    assert_items(&evaluate(&tree, "docs", "prod"), &[MEMORY_LIMIT], &[]);
    assert_items(&evaluate(&tree, "docs", "dev"), &[], &[]);
}

#[test]
fn seccomp_on_the_pod_or_on_every_container() {
    let base = "apps/shop/base/deployment.yaml";
    // Either alone is enough.
    let mut tree = example_tree();
    edit(&mut tree, base, SHOP_POD_SECCOMP, "");
    assert_items(&evaluate(&tree, "shop", "dev"), &[], &[]);
    let mut tree = example_tree();
    edit(&mut tree, base, SHOP_CONTAINER_SECCOMP, "");
    assert_items(&evaluate(&tree, "shop", "dev"), &[], &[]);
    // Neither fails.
    let mut tree = example_tree();
    edit(&mut tree, base, SHOP_POD_SECCOMP, "");
    edit(&mut tree, base, SHOP_CONTAINER_SECCOMP, "");
    for env in ["dev", "staging", "prod"] {
        assert_items(&evaluate(&tree, "shop", env), &[SECCOMP_PROFILE], &[]);
    }
    // A container overriding the pod's profile fails.
    let mut tree = example_tree();
    edit(
        &mut tree,
        base,
        SHOP_CONTAINER_SECCOMP,
        "            seccompProfile:\n              type: Unconfined\n",
    );
    let dev = evaluate(&tree, "shop", "dev");
    assert_items(&dev, &[SECCOMP_PROFILE], &[]);
    assert!(
        dev.item(SECCOMP_PROFILE)
            .unwrap()
            .detail
            .contains("container shop sets type Unconfined")
    );
}

#[test]
fn an_exposed_app_without_an_httproute_fails() {
    // docs exposed by an Ingress instead of its HTTPRoute.
    let mut tree = example_tree();
    tree.remove("apps/docs/dev/httproute.yaml");
    tree.write(
        "apps/docs/dev/ingress.yaml",
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: docs
spec:
  rules:
    - host: docs-dev.acme.kupe.cloud
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: docs
                port:
                  number: 80
",
    );
    let dev = evaluate(&tree, "docs", "dev");
    assert_items(&dev, &[HTTP_ROUTE], &[]);
    assert!(
        dev.item(HTTP_ROUTE)
            .unwrap()
            .detail
            .contains("Ingress docs (apps/docs/dev/ingress.yaml)")
    );

    // shop without its HTTPRoute: not exposed, so none is needed...
    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/shop/base/kustomization.yaml",
        "  - httproute.yaml\n",
        "",
    );
    assert_items(&evaluate(&tree, "shop", "staging"), &[], &[]);
    // ...until an overlay makes its Service a LoadBalancer.
    append(
        &mut tree,
        "apps/shop/overlays/dev/kustomization.yaml",
        "patchesStrategicMerge:
  - |-
    apiVersion: v1
    kind: Service
    metadata:
      name: shop
    spec:
      type: LoadBalancer
",
    );
    let dev = evaluate(&tree, "shop", "dev");
    assert_items(&dev, &[HTTP_ROUTE], &[]);
    assert!(
        dev.item(HTTP_ROUTE)
            .unwrap()
            .detail
            .contains("Service shop")
    );
    assert_items(&evaluate(&tree, "shop", "staging"), &[], &[]);
}

#[test]
fn scrape_annotations_on_the_pod_template() {
    let mut tree = example_tree();
    let file = "apps/docs/prod/deployment.yaml";
    edit(
        &mut tree,
        file,
        "        k8s.grafana.com/scrape: \"true\"\n",
        "",
    );
    assert_items(&evaluate(&tree, "docs", "prod"), &[SCRAPE_ANNOTATIONS], &[]);
    // Prometheus' annotation does as well.
    let mut tree = example_tree();
    edit(
        &mut tree,
        file,
        "        k8s.grafana.com/scrape: \"true\"\n",
        "        prometheus.io/scrape: \"true\"\n",
    );
    assert_items(&evaluate(&tree, "docs", "prod"), &[], &[]);
    // Switched off fails.
    let mut tree = example_tree();
    edit(
        &mut tree,
        file,
        "k8s.grafana.com/scrape: \"true\"",
        "k8s.grafana.com/scrape: \"false\"",
    );
    assert_items(&evaluate(&tree, "docs", "prod"), &[SCRAPE_ANNOTATIONS], &[]);
    // Kustomize's commonAnnotations reach the pod template.
    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/shop/base/deployment.yaml",
        "        k8s.grafana.com/scrape: \"true\"\n",
        "",
    );
    assert_items(&evaluate(&tree, "shop", "dev"), &[SCRAPE_ANNOTATIONS], &[]);
    append(
        &mut tree,
        "apps/shop/overlays/dev/kustomization.yaml",
        "commonAnnotations:\n  prometheus.io/scrape: \"true\"\n",
    );
    assert_items(&evaluate(&tree, "shop", "dev"), &[], &[]);
}

#[test]
fn kustomize_patches_that_remove_or_override_resources() {
    let prod = "apps/shop/overlays/prod/kustomization.yaml";
    // A strategic-merge patch, matched by kind and name, deleting one limit.
    let mut tree = example_tree();
    append(
        &mut tree,
        prod,
        "patchesStrategicMerge:
  - |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: shop
    spec:
      template:
        spec:
          containers:
            - name: shop
              resources:
                limits:
                  cpu: null
",
    );
    assert_items(&evaluate(&tree, "shop", "prod"), &[CPU_LIMIT], &[]);
    assert_items(&evaluate(&tree, "shop", "staging"), &[], &[]);

    // A JSON6902 patch from a file, under `patches:` with a target.
    let mut tree = example_tree();
    tree.write(
        "apps/shop/overlays/prod/no-requests.yaml",
        "- op: remove\n  path: /spec/template/spec/containers/0/resources/requests\n",
    );
    edit(
        &mut tree,
        prod,
        "patches:\n",
        "patches:\n  - path: no-requests.yaml\n    target:\n      kind: Deployment\n      name: shop\n",
    );
    let readiness = evaluate(&tree, "shop", "prod");
    assert_items(&readiness, &[CPU_REQUEST, MEMORY_REQUEST], &[]);
    assert!(
        readiness
            .item(CPU_REQUEST)
            .unwrap()
            .detail
            .contains("patched by apps/shop/overlays/prod/no-requests.yaml")
    );

    // `patchesJson6902` replacing the whole resources.
    let mut tree = example_tree();
    append(
        &mut tree,
        prod,
        "patchesJson6902:
  - target:
      group: apps
      version: v1
      kind: Deployment
      name: shop
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources
        value:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m}
",
    );
    assert_items(&evaluate(&tree, "shop", "prod"), &[MEMORY_LIMIT], &[]);

    // A patch that changes a container merges with it by name: nothing lost.
    let mut tree = example_tree();
    append(
        &mut tree,
        prod,
        "patchesStrategicMerge:
  - |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: shop
    spec:
      template:
        spec:
          containers:
            - name: shop
              env:
                - name: MODE
                  value: prod
",
    );
    assert_items(&evaluate(&tree, "shop", "prod"), &[], &[]);

    // A sidecar added by a patch is checked like any container.
    let mut tree = example_tree();
    append(
        &mut tree,
        prod,
        "patchesStrategicMerge:
  - sidecar.yaml
",
    );
    tree.write(
        "apps/shop/overlays/prod/sidecar.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: proxy
          image: envoy
",
    );
    let readiness = evaluate(&tree, "shop", "prod");
    assert_items(
        &readiness,
        &[
            LIVENESS_PROBE,
            READINESS_PROBE,
            CPU_REQUEST,
            MEMORY_REQUEST,
            CPU_LIMIT,
            MEMORY_LIMIT,
        ],
        &[],
    );
    assert!(
        readiness
            .item(LIVENESS_PROBE)
            .unwrap()
            .detail
            .contains("container proxy sets no livenessProbe")
    );

    // `$patch: delete` removes the Service.
    let mut tree = example_tree();
    edit(
        &mut tree,
        prod,
        "patches:\n",
        "patches:\n  - patch: |-\n      apiVersion: v1\n      kind: Service\n      metadata:\n        name: shop\n      $patch: delete\n",
    );
    assert_items(&evaluate(&tree, "shop", "prod"), &[SERVICE], &[]);
}

#[test]
fn multi_document_files() {
    let mut tree = example_tree();
    let dir = "apps/docs/dev";
    let all = ["deployment.yaml", "service.yaml", "httproute.yaml"]
        .iter()
        .map(|f| text(&tree, &format!("{dir}/{f}")))
        .collect::<Vec<_>>();
    // The Service and HTTPRoute in one file, with an empty document and a comment-only
    // one (the promoted deployment.yaml must stay a single document).
    for f in ["service.yaml", "httproute.yaml"] {
        tree.remove(&format!("{dir}/{f}"));
    }
    let network = format!("---\n# nothing here\n---\n{}\n---\n{}", all[1], all[2]);
    tree.write(&format!("{dir}/network.yaml"), &network);
    let readiness = evaluate(&tree, "docs", "dev");
    assert_items(&readiness, &[], &[]);
    for (item, object) in [(SERVICE, "Service docs"), (HTTP_ROUTE, "HTTPRoute docs")] {
        let detail = &readiness.item(item).unwrap().detail;
        assert!(
            detail.contains(&format!("{object} (apps/docs/dev/network.yaml)")),
            "{detail}"
        );
    }

    // A second Deployment in the same file, without a readiness probe, fails it.
    let second = all[0]
        .replace("name: docs\n  labels", "name: docs-worker\n  labels")
        .replace(
            "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: http\n            periodSeconds: 5\n",
            "",
        );
    tree.write(
        &format!("{dir}/network.yaml"),
        format!("{network}\n---\n{second}"),
    );
    let readiness = evaluate(&tree, "docs", "dev");
    assert_items(&readiness, &[READINESS_PROBE], &[]);
    let detail = &readiness.item(READINESS_PROBE).unwrap().detail;
    assert!(
        detail.contains("Deployment docs-worker (apps/docs/dev/network.yaml)")
            && !detail.contains("Deployment docs (")
            && detail.contains("container docs sets no readinessProbe"),
        "{detail}"
    );

    // Files in subfolders are not deployed (no `directory.recurse`), so not counted.
    let mut tree = example_tree();
    tree.remove("apps/docs/dev/service.yaml");
    tree.write("apps/docs/dev/extra/service.yaml", all[1].as_bytes());
    assert_items(&evaluate(&tree, "docs", "dev"), &[SERVICE], &[]);
}

#[test]
fn what_ladder_does_not_understand_is_unknown_never_passed() {
    // A transformer ladder does not run: every item may differ.
    let mut tree = example_tree();
    append(
        &mut tree,
        "apps/shop/overlays/dev/kustomization.yaml",
        "replacements:\n  - path: replacement.yaml\n",
    );
    let readiness = evaluate(&tree, "shop", "dev");
    assert_items(&readiness, &[], &ITEMS);
    assert!(
        readiness.items[0]
            .detail
            .contains("`replacements` in apps/shop/overlays/dev/kustomization.yaml")
    );

    // A remote base may add workloads: passes become unknown, what exists stays, and a
    // failure seen stays a failure.
    let mut tree = example_tree();
    append(
        &mut tree,
        "apps/shop/base/kustomization.yaml",
        "  - https://github.com/acme/extra//deploy?ref=v1\n",
    );
    let workload_items = [
        LIVENESS_PROBE,
        READINESS_PROBE,
        CPU_REQUEST,
        MEMORY_REQUEST,
        CPU_LIMIT,
        MEMORY_LIMIT,
        SCRAPE_ANNOTATIONS,
        SECCOMP_PROFILE,
    ];
    assert_items(&evaluate(&tree, "shop", "dev"), &[], &workload_items);
    edit(
        &mut tree,
        "apps/shop/base/deployment.yaml",
        "          livenessProbe:",
        "          notALivenessProbe:",
    );
    let unknown: Vec<&str> = workload_items[1..].to_vec();
    assert_items(&evaluate(&tree, "shop", "dev"), &[LIVENESS_PROBE], &unknown);

    // A directive ladder does not understand: the Deployment it patches is unknown.
    let mut tree = example_tree();
    append(
        &mut tree,
        "apps/shop/overlays/staging/kustomization.yaml",
        "patchesStrategicMerge:
  - |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: shop
    spec:
      template:
        spec:
          $setElementOrder/containers:
            - name: shop
",
    );
    assert_items(&evaluate(&tree, "shop", "staging"), &[], &workload_items);

    // A target by label selector may or may not match.
    let mut tree = example_tree();
    edit(
        &mut tree,
        "apps/shop/overlays/prod/kustomization.yaml",
        "  - target:\n      kind: Deployment\n      name: shop\n",
        "  - target:\n      kind: Deployment\n      labelSelector: app=shop\n",
    );
    assert_items(&evaluate(&tree, "shop", "prod"), &[], &workload_items);

    // A patch without a target that matches nothing is an error, as in Kustomize.
    let mut tree = example_tree();
    append(
        &mut tree,
        "apps/shop/overlays/dev/kustomization.yaml",
        "patchesStrategicMerge:\n  - |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: nope\n",
    );
    let error = try_evaluate(&tree, "shop", "dev").unwrap_err();
    assert!(error.to_string().contains("matches no resource"), "{error}");
}

#[test]
fn helm_values_that_remove_or_disable_fail() {
    let mut tree = example_tree();
    // dev: exposed by an Ingress with the HTTPRoute switched off.
    edit(
        &mut tree,
        "apps/web/env/dev.yaml",
        "httpRoute:\n",
        "ingress:\n  enabled: true\nhttpRoute:\n  enabled: false\n",
    );
    // prod: the CPU limit removed, scraping switched off.
    append(
        &mut tree,
        "apps/web/env/prod.yaml",
        "resources:\n  limits:\n    cpu: null\npodAnnotations:\n  k8s.grafana.com/scrape: \"false\"\n",
    );
    // staging: what the chart does not say by default, said by the values.
    append(
        &mut tree,
        "apps/web/env/staging.yaml",
        "livenessProbe:\n  httpGet: {path: /healthz, port: http}\nreadinessProbe:\n  httpGet: {path: /readyz, port: http}\nservice:\n  enabled: true\npodSecurityContext:\n  seccompProfile:\n    type: RuntimeDefault\n",
    );
    let unknown = [LIVENESS_PROBE, READINESS_PROBE, SERVICE, SECCOMP_PROFILE];
    let dev = evaluate(&tree, "web", "dev");
    assert_items(&dev, &[HTTP_ROUTE], &unknown);
    assert!(
        dev.item(HTTP_ROUTE)
            .unwrap()
            .detail
            .contains("apps/web/env/dev.yaml")
    );
    let prod = evaluate(&tree, "web", "prod");
    assert_items(&prod, &[CPU_LIMIT, SCRAPE_ANNOTATIONS], &unknown);
    assert!(
        prod.item(CPU_LIMIT)
            .unwrap()
            .detail
            .contains("`resources.limits.cpu` is null in apps/web/env/prod.yaml")
    );
    let staging = evaluate(&tree, "web", "staging");
    assert_items(&staging, &[], &[]);
    assert!(
        staging
            .item(SECCOMP_PROFILE)
            .unwrap()
            .detail
            .contains("apps/web/env/staging.yaml")
    );
}

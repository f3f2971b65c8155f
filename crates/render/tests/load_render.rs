//! Library-level tests of the load -> render path: the bundled example held in memory,
//! changed file by file, rendered without the binary or a folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ladder_model::{FsTree, LoadOptions, Tenant, load};
use ladder_render::{RenderOptions, Rendering, render};
use ladder_testkit::MemTree;
use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> MemTree {
    MemTree::from_dir(&workspace().join("examples/acme"))
}

fn loaded(tree: &dyn ladder_model::ConfigTree) -> Tenant {
    load(tree, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn rendered(tree: &dyn ladder_model::ConfigTree) -> Rendering {
    render(&loaded(tree), &RenderOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A rendered document, parsed.
fn document(rendering: &Rendering, path: &str) -> Value {
    let bytes = rendering.files.get(path).unwrap_or_else(|| {
        panic!(
            "{path} not rendered; rendered: {:?}",
            rendering.files.keys()
        )
    });
    serde_yaml::from_slice(bytes).expect("rendered YAML parses")
}

/// Every file under a folder, by `/`-separated path.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let tree = MemTree::from_dir(root);
    let mut files = BTreeMap::new();
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        let entries = ladder_model::ConfigTree::list_dir(&tree, &folder)
            .unwrap()
            .unwrap_or_default();
        for entry in entries {
            let path = if folder.is_empty() {
                entry.name.clone()
            } else {
                format!("{folder}/{}", entry.name)
            };
            match entry.kind {
                ladder_model::EntryKind::Dir => folders.push(path),
                _ => {
                    let bytes = tree.read(&path).expect("listed file").to_vec();
                    files.insert(path, bytes);
                }
            }
        }
    }
    files
}

#[test]
fn memory_renders_what_the_folder_renders() {
    let from_folder = rendered(&FsTree::new(workspace().join("examples/acme")));
    let from_memory = rendered(&example());
    assert_eq!(from_memory, from_folder);
    // And both are the example's checked-in expected output, byte for byte.
    assert_eq!(
        from_memory.files,
        files_under(&workspace().join("tests/snapshots/acme"))
    );
    assert_eq!(from_memory.environments, ["dev", "staging", "prod"]);
}

#[test]
fn a_new_app_shows_up_in_every_environment_it_is_deployed_to() {
    let before = rendered(&example());
    let mut tree = example();
    tree.write(
        "apps/api/app.yaml",
        "name: api\nsource:\n  type: directory\n  path: apps/api/{env}\nnamespace: \"{tenant}-api\"\nenvironments: [dev, staging]\n",
    );
    tree.write("apps/api/dev/deployment.yaml", "kind: Deployment\n");
    tree.write("apps/api/staging/deployment.yaml", "kind: Deployment\n");
    let after = rendered(&tree);

    let added: Vec<&String> = after
        .files
        .keys()
        .filter(|path| !before.files.contains_key(*path))
        .collect();
    assert_eq!(
        added,
        ["dev/applications/api.yaml", "staging/applications/api.yaml"]
    );
    let app = document(&after, "staging/applications/api.yaml");
    assert_eq!(app["metadata"]["name"], "api-staging");
    assert_eq!(app["spec"]["source"]["path"], "apps/api/staging");
    assert_eq!(app["spec"]["destination"]["namespace"], "acme-api");
    assert_eq!(app["spec"]["destination"]["name"], "acme-staging");

    // The environments' projects now allow the new namespace; prod's does not.
    let namespaces = |rendering: &Rendering, env: &str| -> Vec<String> {
        document(rendering, &format!("{env}/appproject.yaml"))["spec"]["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .map(|d| d["namespace"].as_str().expect("namespace").to_string())
            .collect()
    };
    assert!(namespaces(&after, "staging").contains(&"acme-api".to_string()));
    assert!(!namespaces(&before, "staging").contains(&"acme-api".to_string()));
    assert!(!namespaces(&after, "prod").contains(&"acme-api".to_string()));

    // Removing it again gives back the first rendering exactly.
    tree.remove("apps/api");
    assert_eq!(rendered(&tree), before);
}

#[test]
fn value_files_render_as_the_model_resolves_them() {
    let tree = example().with("common/values.yaml", "replicas: 2\n").with(
        "apps/web/app.yaml",
        "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/kupecloud/hello-kupe.git\n  targetRevision: main\n  path: chart\nvalues:\n  - ../../common/values.yaml\n  - ./env/{env}.yaml\npromote:\n  - image.tag\n",
    );
    let rendering = rendered(&tree);
    let app = document(&rendering, "prod/applications/web.yaml");
    assert_eq!(
        app["spec"]["sources"][0]["helm"]["valueFiles"],
        serde_json::json!([
            "$values/common/values.yaml",
            "$values/apps/web/env/prod.yaml"
        ])
    );
    let tenant = loaded(&tree);
    let web = tenant.apps.iter().find(|a| a.name == "web").expect("web");
    let prod = tenant.environment("prod").expect("prod");
    let from_model: Vec<String> = tenant
        .value_files(web, prod)
        .into_iter()
        .map(|f| format!("$values/{f}"))
        .collect();
    assert_eq!(
        app["spec"]["sources"][0]["helm"]["valueFiles"],
        serde_json::json!(from_model)
    );
}

#[test]
fn promotion_settings_do_not_change_the_documents() {
    let before = rendered(&example());
    let tree = example().with(
        "environments/prod.yaml",
        "name: prod\ncluster: prod\nnamespace: \"{app}\"\nsync: manual\nsyncWindows:\n  - kind: deny\n    schedule: \"0 12 * * 5\"\n    duration: 60h\n    applications: [\"*\"]\n    timeZone: Europe/London\npromotion:\n  from: staging\n  mode: auto-merge\n  soak: 48h\n  frozen: true\n  group: environment\n",
    );
    let tenant = loaded(&tree);
    let prod = tenant.environment("prod").expect("prod");
    assert!(
        prod.promotion.as_ref().is_some_and(|p| p.frozen),
        "the change loaded"
    );
    assert_eq!(render(&tenant, &RenderOptions::default()).unwrap(), before);
}

#[test]
fn the_finalizer_is_the_environments_choice() {
    let tree = example()
        .with(
            "environments/staging.yaml",
            "name: staging\ncluster: staging\nsync: auto-prune\nfinalizer: background\npromotion:\n  from: dev\n",
        )
        .with(
            "environments/prod.yaml",
            "name: prod\ncluster: prod\nfinalizer: none\nprotected: true\npromotion:\n  from: staging\n",
        );
    let rendering = rendered(&tree);
    let finalizers = |path: &str| document(&rendering, path)["metadata"]["finalizers"].clone();
    assert_eq!(
        finalizers("dev/applications/web.yaml"),
        serde_json::json!(["resources-finalizer.argocd.argoproj.io"])
    );
    assert_eq!(
        finalizers("staging/applications/web.yaml"),
        serde_json::json!(["resources-finalizer.argocd.argoproj.io/background"])
    );
    assert_eq!(finalizers("prod/applications/web.yaml"), Value::Null);
    let prod = String::from_utf8(rendering.files["prod/applications/web.yaml"].clone()).unwrap();
    assert!(!prod.contains("finalizers"), "{prod}");
}

#[test]
fn a_template_cannot_drop_or_change_the_finalizer() {
    let template = std::fs::read_to_string(workspace().join("templates/application.yaml.hbs"))
        .unwrap()
        .replace(
            "  finalizers: {{yaml finalizers}}\n",
            "  finalizers:\n    - resources-finalizer.argocd.argoproj.io\n",
        );
    let tree = example()
        .with(
            "environments/prod.yaml",
            "name: prod\ncluster: prod\nfinalizer: none\npromotion:\n  from: staging\n",
        )
        .with("templates/application.yaml.hbs", template);
    let problems = render(&loaded(&tree), &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("templates/application.yaml.hbs: Application web-prod (app web, environment prod): /metadata/finalizers has resources finalizer resources-finalizer.argocd.argoproj.io, must have none (the environment's `finalizer`)"),
        "{problems}"
    );
    assert!(!problems.contains("environment dev"), "{problems}");
}

/// The example plus `apps/<name>/app.yaml` with `body`, and the files it names.
fn with_app(name: &str, body: &str, files: &[(&str, &str)]) -> MemTree {
    let mut tree = example().with(&format!("apps/{name}/app.yaml"), body);
    for (path, text) in files {
        tree = tree.with(path, *text);
    }
    tree
}

fn values_files() -> [(&'static str, &'static str); 4] {
    [
        ("apps/podinfo/values.yaml", "replicaCount: 1\n"),
        ("apps/podinfo/env/dev.yaml", "image:\n  tag: \"6.7.1\"\n"),
        (
            "apps/podinfo/env/staging.yaml",
            "image:\n  tag: \"6.7.1\"\n",
        ),
        ("apps/podinfo/env/prod.yaml", "image:\n  tag: \"6.7.1\"\n"),
    ]
}

#[test]
fn a_chart_from_a_chart_repository_reads_value_files_from_the_config_repo() {
    let tree = with_app(
        "podinfo",
        "name: podinfo\nsource:\n  type: helm\n  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\nvalues:\n  - values.yaml\n  - env/{env}.yaml\npromote:\n  - image.tag\n",
        &values_files(),
    );
    let rendering = rendered(&tree);
    let app = document(&rendering, "prod/applications/podinfo.yaml");
    assert_eq!(app["spec"]["source"], Value::Null);
    assert_eq!(
        app["spec"]["sources"],
        serde_json::json!([
            {
                "repoURL": "https://stefanprodan.github.io/podinfo",
                "targetRevision": "6.7.1",
                "chart": "podinfo",
                "helm": {
                    "releaseName": "podinfo",
                    "valueFiles": ["$values/apps/podinfo/values.yaml", "$values/apps/podinfo/env/prod.yaml"]
                }
            },
            {"repoURL": "https://github.com/acme/platform-config.git", "targetRevision": "main", "ref": "values"}
        ])
    );
    let project = document(&rendering, "prod/appproject.yaml");
    assert_eq!(
        project["spec"]["sourceRepos"],
        serde_json::json!([
            "https://github.com/acme/*",
            "https://github.com/acme/platform-config.git",
            "https://github.com/kupecloud/hello-kupe.git",
            "https://stefanprodan.github.io/podinfo"
        ])
    );
}

#[test]
fn oci_charts_render_in_both_of_argo_cds_forms() {
    // A registry as a Helm repository: no scheme, the chart named by `chart`.
    let tree = with_app(
        "podinfo",
        "name: podinfo\nsource:\n  type: helm\n  repoURL: ghcr.io/stefanprodan/charts\n  chart: podinfo\n  targetRevision: 6.7.1\n",
        &[],
    );
    let rendering = rendered(&tree);
    let app = document(&rendering, "dev/applications/podinfo.yaml");
    assert_eq!(
        app["spec"]["source"],
        serde_json::json!({
            "repoURL": "ghcr.io/stefanprodan/charts",
            "targetRevision": "6.7.1",
            "chart": "podinfo",
            "helm": {"releaseName": "podinfo"}
        })
    );
    let project = document(&rendering, "dev/appproject.yaml");
    assert!(
        project["spec"]["sourceRepos"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("ghcr.io/stefanprodan/charts")),
        "{project}"
    );

    // An OCI artifact (Argo CD 3.1+): the chart is the artifact, read at `path: .`.
    let tree = with_app(
        "podinfo",
        "name: podinfo\nsource:\n  type: helm\n  repoURL: oci://ghcr.io/stefanprodan/charts/podinfo\n  targetRevision: 6.7.1\nvalues:\n  - values.yaml\n",
        &values_files(),
    );
    let rendering = rendered(&tree);
    let app = document(&rendering, "dev/applications/podinfo.yaml");
    assert_eq!(
        app["spec"]["sources"][0],
        serde_json::json!({
            "repoURL": "oci://ghcr.io/stefanprodan/charts/podinfo",
            "targetRevision": "6.7.1",
            "path": ".",
            "helm": {"releaseName": "podinfo", "valueFiles": ["$values/apps/podinfo/values.yaml"]}
        })
    );
    let project = document(&rendering, "dev/appproject.yaml");
    assert!(
        project["spec"]["sourceRepos"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(
                "oci://ghcr.io/stefanprodan/charts/podinfo"
            )),
        "{project}"
    );
}

#[test]
fn inline_values_merge_per_environment() {
    let tree = with_app(
        "podinfo",
        "name: podinfo\nsource:\n  type: helm\n  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\n  helm:\n    valuesObject:\n      replicaCount: 1\n      ui:\n        color: \"#34577c\"\n        message: hello\n    envValuesObject:\n      prod:\n        replicaCount: 3\n        ui:\n          message: \"yes\"\n",
        &[],
    );
    let rendering = rendered(&tree);
    let values = |env: &str| {
        document(&rendering, &format!("{env}/applications/podinfo.yaml"))["spec"]["source"]["helm"]
            ["valuesObject"]
            .clone()
    };
    assert_eq!(
        values("dev"),
        serde_json::json!({"replicaCount": 1, "ui": {"color": "#34577c", "message": "hello"}})
    );
    assert_eq!(
        values("prod"),
        serde_json::json!({"replicaCount": 3, "ui": {"color": "#34577c", "message": "yes"}})
    );
}

#[test]
fn a_chart_in_the_config_repo_is_one_source_with_relative_value_files() {
    let tree = with_app(
        "podinfo",
        "name: podinfo\nsource:\n  type: helm\n  path: apps/podinfo/chart\nvalues:\n  - values.yaml\n  - env/{env}.yaml\n",
        &values_files(),
    )
    .with("apps/podinfo/chart/Chart.yaml", "apiVersion: v2\nname: podinfo\nversion: 1.0.0\n");
    let tenant = loaded(&tree);
    for subfolder in ["", "tenants/acme"] {
        let options = RenderOptions {
            subfolder,
            ..RenderOptions::default()
        };
        let rendering = render(&tenant, &options).unwrap();
        let app = document(&rendering, "staging/applications/podinfo.yaml");
        let prefix = if subfolder.is_empty() {
            String::new()
        } else {
            format!("{subfolder}/")
        };
        assert_eq!(app["spec"]["sources"], Value::Null, "{subfolder}");
        assert_eq!(
            app["spec"]["source"],
            serde_json::json!({
                "repoURL": "https://github.com/acme/platform-config.git",
                "targetRevision": "main",
                "path": format!("{prefix}apps/podinfo/chart"),
                "helm": {"releaseName": "podinfo", "valueFiles": ["../values.yaml", "../env/staging.yaml"]}
            }),
            "{subfolder}"
        );
    }
}

#[test]
fn projects_deny_the_kinds_the_platform_manages() {
    let tenant = loaded(&example());
    let rendering = render(&tenant, &RenderOptions::default()).unwrap();
    assert_eq!(
        document(&rendering, "prod/appproject.yaml")["spec"]["namespaceResourceBlacklist"],
        serde_json::json!([
            {"group": "*", "kind": "ResourceQuota"},
            {"group": "*", "kind": "LimitRange"}
        ])
    );
    let options = RenderOptions {
        policy: LoadOptions {
            denied_kinds: vec![
                "ResourceQuota".into(),
                "LimitRange".into(),
                "networking.k8s.io/NetworkPolicy".into(),
            ],
            ..LoadOptions::default()
        },
        ..RenderOptions::default()
    };
    let rendering = render(&tenant, &options).unwrap();
    assert_eq!(
        document(&rendering, "dev/appproject.yaml")["spec"]["namespaceResourceBlacklist"][2],
        serde_json::json!({"group": "networking.k8s.io", "kind": "NetworkPolicy"})
    );
}

#[test]
fn a_template_cannot_drop_a_denied_kind() {
    let template = std::fs::read_to_string(workspace().join("templates/appproject.yaml.hbs"))
        .unwrap()
        .replace(
            "  namespaceResourceBlacklist: {{yaml namespaceResourceBlacklist}}\n",
            "  namespaceResourceBlacklist:\n    - {group: '', kind: LimitRange}\n",
        );
    let tree = example().with("templates/appproject.yaml.hbs", template);
    let problems = render(&loaded(&tree), &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("templates/appproject.yaml.hbs: AppProject acme-dev (environment dev): /spec/namespaceResourceBlacklist must deny `{group: '*', kind: ResourceQuota}`; the platform manages ResourceQuota for the tenant"),
        "{problems}"
    );
    // `{group: '', kind: LimitRange}` denies LimitRange only in the core group.
    assert!(
        problems.contains("must deny `{group: '*', kind: LimitRange}`"),
        "{problems}"
    );
}

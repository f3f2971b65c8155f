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

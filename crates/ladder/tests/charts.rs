//! Helm charts people actually use, end to end through the binary: a chart repository,
//! an OCI registry in both of Argo CD's forms, a chart kept in the config repo, inline
//! values per environment; every rendered document valid for Argo CD's strict schemas.

mod common;

use common::*;
use serde_json::{Value, json};

fn validator(name: &str) -> jsonschema::Validator {
    let path = shared_dir().join("argo-cd").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// The example plus four chart apps.
fn chart_repo() -> TempRepo {
    let repo = TempRepo::example();
    repo.write(
        "apps/podinfo/app.yaml",
        "# From a Helm chart repository, value files kept here.\nname: podinfo\nsource:\n  type: helm\n  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\nvalues:\n  - values.yaml\n  - env/{env}.yaml\npromote:\n  - image.tag\n",
    );
    repo.write("apps/podinfo/values.yaml", "replicaCount: 2\n");
    for env in ["dev", "staging", "prod"] {
        repo.write(
            &format!("apps/podinfo/env/{env}.yaml"),
            "image:\n  tag: \"6.7.1\"\n",
        );
    }
    repo.write(
        "apps/registry/app.yaml",
        "name: registry\nsource:\n  type: helm\n  repoURL: ghcr.io/stefanprodan/charts\n  chart: podinfo\n  targetRevision: 6.7.1\n  helm:\n    valuesObject:\n      ui:\n        message: hello\n    envValuesObject:\n      prod:\n        replicaCount: 3\n",
    );
    repo.write(
        "apps/artifact/app.yaml",
        "name: artifact\nsource:\n  type: helm\n  repoURL: oci://ghcr.io/stefanprodan/charts/podinfo\n  targetRevision: 6.7.1\nvalues:\n  - values.yaml\n",
    );
    repo.write("apps/artifact/values.yaml", "replicaCount: 1\n");
    repo.write(
        "apps/local/app.yaml",
        "name: local\nsource:\n  type: helm\n  path: apps/local/chart\nvalues:\n  - values.yaml\n  - env/{env}.yaml\n",
    );
    repo.write(
        "apps/local/chart/Chart.yaml",
        "apiVersion: v2\nname: local\nversion: 0.1.0\n",
    );
    repo.write("apps/local/values.yaml", "replicaCount: 1\n");
    for env in ["dev", "staging", "prod"] {
        repo.write(&format!("apps/local/env/{env}.yaml"), "replicaCount: 2\n");
    }
    repo
}

fn doc(out: &std::path::Path, path: &str) -> Value {
    let text = std::fs::read_to_string(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn chart_apps_render_valid_for_argo_cd() {
    let repo = chart_repo();
    let schema_dir = shared_dir().join("argo-cd");
    let run = repo.render_with(&["--schema-dir", schema_dir.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));

    let application = validator("application.strict.schema.json");
    let appproject = validator("appproject.strict.schema.json");
    // The rendered documents, without ladder's own bookkeeping (dot files).
    let mut files = read_tree(&repo.out());
    files.retain(|path, _| path.ends_with(".yaml"));
    assert_eq!(files.len(), 11 + 4 * 3, "{:?}", files.keys());
    for (path, bytes) in &files {
        let doc: Value = serde_yaml::from_slice(bytes).unwrap();
        let validator = if doc["kind"] == "AppProject" {
            &appproject
        } else {
            &application
        };
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }

    let out = repo.out();
    let podinfo = doc(&out, "prod/applications/podinfo.yaml");
    assert_eq!(
        podinfo["spec"]["sources"][0],
        json!({"repoURL": "https://stefanprodan.github.io/podinfo", "targetRevision": "6.7.1", "chart": "podinfo",
               "helm": {"releaseName": "podinfo", "valueFiles": ["$values/apps/podinfo/values.yaml", "$values/apps/podinfo/env/prod.yaml"]}})
    );
    assert_eq!(podinfo["spec"]["sources"][1]["ref"], "values");

    let registry = doc(&out, "prod/applications/registry.yaml");
    assert_eq!(
        registry["spec"]["source"],
        json!({"repoURL": "ghcr.io/stefanprodan/charts", "targetRevision": "6.7.1", "chart": "podinfo",
               "helm": {"releaseName": "registry", "valuesObject": {"ui": {"message": "hello"}, "replicaCount": 3}}})
    );
    let registry_dev = doc(&out, "dev/applications/registry.yaml");
    assert_eq!(
        registry_dev["spec"]["source"]["helm"]["valuesObject"],
        json!({"ui": {"message": "hello"}})
    );

    let artifact = doc(&out, "dev/applications/artifact.yaml");
    assert_eq!(
        artifact["spec"]["sources"][0]["repoURL"],
        "oci://ghcr.io/stefanprodan/charts/podinfo"
    );
    assert_eq!(artifact["spec"]["sources"][0]["path"], ".");

    // A chart in the config repo: one source (Argo CD's rollback works), value files
    // relative to the chart's folder.
    let local = doc(&out, "staging/applications/local.yaml");
    assert_eq!(local["spec"].get("sources"), None);
    assert_eq!(
        local["spec"]["source"],
        json!({"repoURL": "https://github.com/acme/platform-config.git", "targetRevision": "main", "path": "apps/local/chart",
               "helm": {"releaseName": "local", "valueFiles": ["../values.yaml", "../env/staging.yaml"]}})
    );

    // The project allows each source as the Application names it, which is how Argo CD
    // matches `sourceRepos` (both sides normalized alike).
    let project = doc(&out, "dev/appproject.yaml");
    assert_eq!(
        project["spec"]["sourceRepos"],
        json!([
            "ghcr.io/stefanprodan/charts",
            "https://github.com/acme/*",
            "https://github.com/acme/platform-config.git",
            "https://github.com/kupecloud/hello-kupe.git",
            "https://stefanprodan.github.io/podinfo",
            "oci://ghcr.io/stefanprodan/charts/podinfo"
        ])
    );
}

#[test]
fn a_chart_in_a_monorepo_folder_keeps_value_files_relative_to_the_chart() {
    let repo = chart_repo();
    // The tenant in tenants/acme of a checkout of its config repo (a remote names the
    // configRepo.url), read with --ref: its place in the repo is found by itself.
    let root = repo.dir.path().join("mono");
    copy_tree(&repo.repo(), &root.join("tenants/acme"));
    ladder_testkit::git(&root, &["init", "-q", "-b", "main"]);
    ladder_testkit::git(
        &root,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/platform-config.git",
        ],
    );
    ladder_testkit::git(&root, &["add", "."]);
    ladder_testkit::git(
        &root,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "tenant",
        ],
    );
    let out = repo.dir.path().join("mono-out");
    let run = render(&root.join("tenants/acme"), &out, &["--ref", "main"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let local = doc(&out, "prod/applications/local.yaml");
    assert_eq!(
        local["spec"]["source"]["path"],
        "tenants/acme/apps/local/chart"
    );
    assert_eq!(
        local["spec"]["source"]["helm"]["valueFiles"],
        json!(["../values.yaml", "../env/prod.yaml"])
    );
    let podinfo = doc(&out, "prod/applications/podinfo.yaml");
    assert_eq!(
        podinfo["spec"]["sources"][0]["helm"]["valueFiles"],
        json!([
            "$values/tenants/acme/apps/podinfo/values.yaml",
            "$values/tenants/acme/apps/podinfo/env/prod.yaml"
        ])
    );
}

#[test]
fn chart_mistakes_fail_validate_with_their_place() {
    let repo = chart_repo();
    repo.edit(
        "apps/registry/app.yaml",
        "repoURL: ghcr.io/stefanprodan/charts",
        "repoURL: oci://ghcr.io/stefanprodan/charts",
    );
    let run = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let all = format!("{}{}", stdout(&run), stderr(&run));
    assert!(
        all.contains("apps/registry/app.yaml:4:12: `source.repoURL` `oci://ghcr.io/stefanprodan/charts` with `source.chart`"),
        "{all}"
    );
}

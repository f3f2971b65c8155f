//! Tenant isolation, one notch tighter, through the binary: AppProjects deny the kinds
//! the platform manages, a tenant template cannot drop that, and Argo CD's namespace is
//! checked like an app namespace.

mod common;

use common::*;
use serde_json::{Value, json};

fn project(out: &std::path::Path, env: &str) -> Value {
    let text = std::fs::read_to_string(out.join(format!("{env}/appproject.yaml"))).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn projects_deny_resource_quotas_and_limit_ranges() {
    let repo = TempRepo::example();
    let run = repo.render();
    assert!(run.status.success(), "{}", stderr(&run));
    for env in ["dev", "staging", "prod"] {
        assert_eq!(
            project(&repo.out(), env)["spec"]["namespaceResourceBlacklist"],
            json!([{"group": "*", "kind": "ResourceQuota"}, {"group": "*", "kind": "LimitRange"}]),
            "{env}"
        );
    }
}

#[test]
fn deny_kind_adds_to_the_denied_kinds() {
    let repo = TempRepo::example();
    let run = repo.render_with(&["--deny-kind", "networking.k8s.io/NetworkPolicy"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(
        project(&repo.out(), "prod")["spec"]["namespaceResourceBlacklist"],
        json!([
            {"group": "*", "kind": "ResourceQuota"},
            {"group": "*", "kind": "LimitRange"},
            {"group": "networking.k8s.io", "kind": "NetworkPolicy"}
        ])
    );
}

#[test]
fn a_tenant_template_cannot_drop_the_denied_kinds() {
    let repo = TempRepo::example();
    let template = std::fs::read_to_string(workspace_root().join("templates/appproject.yaml.hbs"))
        .unwrap()
        .replace(
            "  namespaceResourceBlacklist: {{yaml namespaceResourceBlacklist}}\n",
            "",
        );
    repo.write("templates/appproject.yaml.hbs", &template);
    let run = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let all = format!("{}{}", stdout(&run), stderr(&run));
    assert!(
        all.contains("templates/appproject.yaml.hbs: AppProject acme-prod (environment prod): /spec/namespaceResourceBlacklist must deny `{group: '*', kind: ResourceQuota}`"),
        "{all}"
    );
}

#[test]
fn argo_cds_namespace_cannot_be_a_platform_namespace() {
    let repo = TempRepo::example();
    repo.edit("ladder.yaml", "namespace: argocd", "namespace: kube-system");
    let run = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let all = format!("{}{}", stdout(&run), stderr(&run));
    assert!(
        all.contains(
            "ladder.yaml:9:14: `argocd.namespace` `kube-system` is reserved for the platform"
        ),
        "{all}"
    );
}

//! Hostile values in every field that reaches a template come out as exactly those
//! values, and never change the structure of a document.

mod common;

use common::*;
use serde_json::Value;

const HOSTILE: &str = "v1\" injected: true\n  - '{{tenant}}' #: [x]: {y} & *a !tag | > ---";
const HOSTILE_PATH: &str = "charts/a\" b: c\n #d - [x] ---";
const HOSTILE_URL: &str = "https://evil.example/x.git\" \n  injected: true {{tenant}} #";
const HOSTILE_FILE: &str = "we ird\": x #y [z] 'q'.yaml";

fn keys(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    walk(v, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, format!("{at}/{i}"), out);
                }
            }
            _ => out.push(at),
        }
    }
    let mut out = Vec::new();
    walk(doc, String::new(), &mut out);
    out
}

fn load(path: &std::path::Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn hostile_values_stay_values() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    let benign_app = load(&repo.out().join("dev/applications/web.yaml"));
    let benign_project = load(&repo.out().join("prod/appproject.yaml"));

    let yaml = |s: &str| serde_json::to_string(s).unwrap();
    repo.edit(
        "ladder.yaml",
        "branch: main",
        &format!("branch: {}", yaml(HOSTILE)),
    );
    repo.edit(
        "ladder.yaml",
        "- https://github.com/acme/*",
        &format!("- {}", yaml(HOSTILE)),
    );
    repo.edit(
        "apps/web/app.yaml",
        "repoURL: https://github.com/kupecloud/hello-kupe.git",
        &format!("repoURL: {}", yaml(HOSTILE_URL)),
    );
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        &format!("targetRevision: {}", yaml(HOSTILE)),
    );
    repo.edit(
        "apps/web/app.yaml",
        "path: chart",
        &format!("path: {}", yaml(HOSTILE_PATH)),
    );
    repo.edit(
        "apps/web/app.yaml",
        "  - values.yaml\n",
        &format!("  - values.yaml\n  - {}\n", yaml(HOSTILE_FILE)),
    );
    repo.write(&format!("apps/web/{HOSTILE_FILE}"), "a: 1\n");
    repo.edit(
        "environments/prod.yaml",
        "timeZone: Europe/London",
        &format!(
            "timeZone: {}\n    description: {}",
            yaml(HOSTILE),
            yaml(HOSTILE)
        ),
    );
    repo.edit(
        "environments/prod.yaml",
        "applications: [\"*\"]",
        &format!("applications: [{}]", yaml(HOSTILE)),
    );
    // A tenant template that interpolates with plain `{{x}}` is safe too.
    let template =
        std::fs::read_to_string(workspace_root().join("templates/application.yaml.hbs")).unwrap();
    repo.write(
        "templates/application.yaml.hbs",
        &template.replace("  finalizers:", "{{#if sources}}\n  annotations:\n    revision: {{sources.[0].targetRevision}}\n{{/if}}\n  finalizers:"),
    );

    let run = repo.render();
    assert!(run.status.success(), "{}", stderr(&run));
    let app = load(&repo.out().join("dev/applications/web.yaml"));
    assert_eq!(
        app.pointer("/spec/sources/0/targetRevision").unwrap(),
        HOSTILE
    );
    assert_eq!(app.pointer("/spec/sources/0/repoURL").unwrap(), HOSTILE_URL);
    assert_eq!(app.pointer("/spec/sources/0/path").unwrap(), HOSTILE_PATH);
    assert_eq!(
        app.pointer("/spec/sources/0/helm/valueFiles/1").unwrap(),
        &format!("$values/apps/web/{HOSTILE_FILE}")
    );
    assert_eq!(
        app.pointer("/spec/sources/1/targetRevision").unwrap(),
        HOSTILE
    );
    assert_eq!(
        app.pointer("/metadata/annotations/revision").unwrap(),
        HOSTILE
    );

    let mut expected_keys = keys(&benign_app);
    expected_keys.push("/metadata/annotations/revision".into());
    expected_keys.push("/spec/sources/0/helm/valueFiles/2".into());
    expected_keys.sort();
    let mut got = keys(&app);
    got.sort();
    assert_eq!(got, expected_keys, "the document's structure changed");

    let project = load(&repo.out().join("prod/appproject.yaml"));
    let window = project.pointer("/spec/syncWindows/0").unwrap();
    assert_eq!(window["description"], HOSTILE);
    assert_eq!(window["timeZone"], HOSTILE);
    assert_eq!(window["applications"][0], HOSTILE);
    let repos: Vec<&str> = project
        .pointer("/spec/sourceRepos")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        repos.contains(&HOSTILE) && repos.contains(&HOSTILE_URL),
        "{repos:?}"
    );
    let mut expected_keys = keys(&benign_project);
    expected_keys.push("/spec/syncWindows/0/description".into());
    expected_keys.sort();
    let mut got = keys(&project);
    got.sort();
    assert_eq!(got, expected_keys, "the project's structure changed");

    // And the canonical text still reads back as the same value with a YAML 1.2 reader.
    let text = std::fs::read_to_string(repo.out().join("dev/applications/web.yaml")).unwrap();
    assert!(
        !text.contains("\ninjected:") && !text.contains("\n  injected:"),
        "{text}"
    );
}

#[test]
fn credentials_in_repo_urls_are_refused() {
    let repo = TempRepo::example();
    repo.edit(
        "apps/web/app.yaml",
        "repoURL: https://github.com/",
        "repoURL: https://bot:ghp_secret@github.com/",
    );
    let run = repo.render();
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(
        err.contains("apps/web/app.yaml:5:12: `source.repoURL` must not hold a password or token"),
        "{err}"
    );
    assert!(!err.contains("ghp_secret"), "{err}");
}

//! Every rendered document of the example validates against Argo CD's strict JSON
//! Schemas and the run-time rules the schemas cannot express.

mod common;

use common::*;
use serde_json::Value;

fn validator(name: &str) -> jsonschema::Validator {
    let path = shared_dir().join("argo-cd").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Argo CD's run-time rules, written here independently of the renderer's own checks.
fn runtime_rule_violations(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut destinations: Vec<&Value> = Vec::new();
    if let Some(d) = doc.pointer("/spec/destination") {
        destinations.push(d);
    }
    if let Some(list) = doc.pointer("/spec/destinations").and_then(Value::as_array) {
        destinations.extend(list);
    }
    for d in destinations {
        if d.get("name").is_some() == d.get("server").is_some() {
            problems.push(format!(
                "destination {d} must have exactly one of name/server"
            ));
        }
    }
    if doc["kind"] == "Application" {
        let sources: Vec<&Value> = match (doc.pointer("/spec/source"), doc.pointer("/spec/sources"))
        {
            (Some(s), None) => vec![s],
            (None, Some(Value::Array(list))) => list.iter().collect(),
            other => {
                problems.push(format!(
                    "exactly one of source/sources expected, got {other:?}"
                ));
                vec![]
            }
        };
        let refs: Vec<&str> = sources.iter().filter_map(|s| s["ref"].as_str()).collect();
        for s in &sources {
            for file in s
                .pointer("/helm/valueFiles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let file = file.as_str().unwrap();
                if let Some(rest) = file.strip_prefix('$') {
                    let name = rest.split('/').next().unwrap();
                    if !refs.contains(&name) {
                        problems.push(format!("{file} names no existing ref"));
                    }
                }
            }
            if s.get("path").is_none() && s.get("chart").is_none() && s.get("ref").is_none() {
                problems.push(format!("source {s} has no path, chart or ref"));
            }
        }
    }
    problems
}

#[test]
fn every_example_document_is_valid_for_argo_cd() {
    let application = validator("application.strict.schema.json");
    let appproject = validator("appproject.strict.schema.json");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = render(&example_repo(), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));

    let files = read_documents(&out);
    assert_eq!(
        files.len(),
        11,
        "3 projects + 8 applications: {:?}",
        files.keys()
    );
    for (path, bytes) in files {
        let doc: Value = serde_yaml::from_slice(&bytes).unwrap();
        let validator = if path.ends_with("appproject.yaml") {
            &appproject
        } else {
            &application
        };
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path}: {errors:#?}");
        let broken = runtime_rule_violations(&doc);
        assert!(broken.is_empty(), "{path}: {broken:#?}");
    }
}

#[test]
fn the_schema_check_catches_a_typo_in_a_template() {
    // The strict schema is what catches a misspelt field (`selfheal`), which the
    // renderer's own rules do not know about.
    let repo = TempRepo::example();
    let template =
        std::fs::read_to_string(workspace_root().join("templates/application.yaml.hbs")).unwrap();
    repo.write(
        "templates/application.yaml.hbs",
        &template.replace(
            "  syncPolicy: {{yaml syncPolicy}}",
            "  syncPolicy: {{yaml syncPolicy}}\n  revisionHistory: 3",
        ),
    );
    let schema_dir = shared_dir().join("argo-cd");
    let run = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "--schema-dir",
        schema_dir.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let out = stdout(&run);
    assert!(out.contains("templates/application.yaml.hbs: Application web-dev (app web, environment dev): schema: /spec: Additional properties are not allowed ('revisionHistory' was unexpected)"), "{out}");

    let clean = ladder(&[
        "validate",
        "--repo",
        example_repo().to_str().unwrap(),
        "--schema-dir",
        schema_dir.to_str().unwrap(),
    ]);
    assert!(clean.status.success(), "{}", stdout(&clean));
}

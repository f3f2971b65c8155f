//! Bad input: each mistake is reported as `file:line:col: message`, the exit code is 1,
//! and the previous output is left exactly as it was.

mod common;

use common::*;

/// Breaks a copy of the example, renders it over a good output, and checks the message
/// and that nothing was written.
fn assert_rejected(break_it: impl FnOnce(&TempRepo), expected: &[&str]) {
    let repo = TempRepo::example();
    let good = repo.render();
    assert!(good.status.success(), "{}", stderr(&good));
    let before = read_tree(&repo.out());

    break_it(&repo);
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    for line in expected {
        assert!(err.contains(line), "expected `{line}` in:\n{err}");
    }
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        read_tree(&repo.out()),
        before,
        "the previous output changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(repo.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "temp folders left behind: {leftovers:?}"
    );

    // validate reports the same problems on stdout.
    let validate = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    assert_eq!(validate.status.code(), Some(1));
    for line in expected {
        assert!(
            stdout(&validate).contains(line),
            "validate: expected `{line}` in:\n{}",
            stdout(&validate)
        );
    }
}

#[test]
fn unknown_key_suggests_the_known_one() {
    assert_rejected(
        |r| r.edit("ladder.yaml", "configRepo:", "configrepo:"),
        &[
            "ladder.yaml:4:1: unknown key `configrepo` in `ladder.yaml`; did you mean `configRepo`?",
            "ladder.yaml:2:1: `ladder.yaml` needs `configRepo`",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "apps/web/app.yaml",
                "  targetRevision: main",
                "  targetRevison: main",
            )
        },
        &[
            "apps/web/app.yaml:6:3: unknown key `targetRevison` in `source`; did you mean `targetRevision`?",
        ],
    );
}

#[test]
fn wrong_types_are_named() {
    assert_rejected(
        |r| {
            r.edit(
                "ladder.yaml",
                "  namespace: argocd\n",
                "  namespace: argocd\n  renderProjects: yes\n",
            )
        },
        &[
            "ladder.yaml:10:19: `argocd.renderProjects` must be true or false; `yes` is a string in YAML 1.2",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "apps/web/app.yaml",
                "targetRevision: main",
                "targetRevision: 1.20",
            )
        },
        &[
            "apps/web/app.yaml:6:19: `source.targetRevision` must be a string, found a number `1.20`; quote it",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "apps/web/app.yaml",
                "values:\n  - values.yaml\n  - env/{env}.yaml",
                "values: values.yaml",
            )
        },
        &["apps/web/app.yaml:8:9: `values` must be a list of strings, found a string"],
    );
}

#[test]
fn unknown_environment_in_from() {
    assert_rejected(
        |r| r.edit("environments/prod.yaml", "from: staging", "from: stage"),
        &[
            "environments/prod.yaml:13:9: `promotion.from` names unknown environment `stage`; did you mean `staging`? environments: dev, prod, staging",
        ],
    );
}

#[test]
fn promotion_cycles() {
    assert_rejected(
        |r| {
            r.edit(
                "environments/dev.yaml",
                "sync: auto-prune-selfheal",
                "sync: auto-prune-selfheal\npromotion:\n  from: prod",
            )
        },
        &[
            "environments/dev.yaml:6:9: promotion cycle: dev -> prod -> staging -> dev; one environment of the cycle must have no `promotion.from`",
            "environments/prod.yaml:13:9: promotion cycle: prod -> staging -> dev -> prod",
        ],
    );
    // An environment downstream of a cycle is not on it, and is not blamed.
    assert_rejected(
        |r| {
            r.edit("environments/staging.yaml", "from: dev", "from: prod");
            r.write(
                "environments/dev.yaml",
                "name: dev\ncluster: dev\npromotion:\n  from: staging\n",
            );
            r.write(
                "environments/qa.yaml",
                "name: qa\ncluster: dev\npromotion:\n  from: staging\n",
            );
        },
        &["environments/staging.yaml:6:9: promotion cycle: staging -> prod -> staging"],
    );
}

#[test]
fn missing_value_files() {
    assert_rejected(
        |r| std::fs::remove_file(r.repo().join("apps/web/env/staging.yaml")).unwrap(),
        &[
            "apps/web/app.yaml:10:5: value file `apps/web/env/staging.yaml` (environment staging) does not exist; create it or remove the entry",
        ],
    );
}

#[test]
fn names_that_are_not_dns_labels() {
    assert_rejected(
        |r| r.edit("ladder.yaml", "tenant: acme", "tenant: Acme_Corp"),
        &[
            "ladder.yaml:3:9: `tenant` `Acme_Corp` is not a DNS-1123 label: `A` is not allowed; use lower-case letters, digits and `-`",
        ],
    );
    assert_rejected(
        |r| {
            std::fs::rename(r.repo().join("apps/web"), r.repo().join("apps/Web")).unwrap();
            r.edit("apps/Web/app.yaml", "name: web", "name: Web");
        },
        &["apps/Web/app.yaml:2:7: `name` `Web` is not a DNS-1123 label"],
    );
}

#[test]
fn duplicate_names() {
    assert_rejected(
        |r| {
            r.edit(
                "apps/web/app.yaml",
                "name: web\n",
                "name: web\nname: web2\n",
            )
        },
        &["apps/web/app.yaml:3:1: YAML syntax: duplicate key `name` (first defined at line 2)"],
    );
    assert_rejected(
        |r| r.edit("environments/staging.yaml", "name: staging", "name: dev"),
        &[
            "environments/staging.yaml:1:7: `name` is `dev` but the file is staging.yaml; they must match",
        ],
    );
    // App `web-dev` in `x` and app `web` in `dev-x` would both be Application `web-dev-x`.
    assert_rejected(
        |r| {
            r.write(
                "environments/dev-x.yaml",
                "name: dev-x\ncluster: dev\nsync: auto\n",
            );
            r.write("environments/x.yaml", "name: x\ncluster: dev\nsync: auto\n");
            r.write("apps/web-dev/app.yaml", "name: web-dev\nsource:\n  type: directory\n  path: apps/docs/dev\nenvironments: [x]\n");
            r.edit(
                "apps/web/app.yaml",
                "promote:",
                "environments: [dev-x]\npromote:",
            );
            r.edit(
                "apps/shop/app.yaml",
                "promote:",
                "environments: [dev, staging, prod]\npromote:",
            );
            std::fs::write(
                r.repo().join("apps/web/env/dev-x.yaml"),
                "image:\n  tag: '1'\n",
            )
            .unwrap();
        },
        &[
            "apps/web-dev/app.yaml: Application name `web-dev-x` (app web-dev, environment x) is also the name of app web in environment dev-x; rename one of the apps",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "apps/docs/app.yaml",
                "environments: [dev, prod]",
                "environments: [dev, prod, dev]",
            )
        },
        &["apps/docs/app.yaml:6:27: duplicate entry `dev` in `environments`"],
    );
}

#[test]
fn syntax_errors_have_positions() {
    assert_rejected(
        |r| {
            r.edit(
                "apps/shop/app.yaml",
                "  type: kustomize",
                "  type: [kustomize",
            )
        },
        &["apps/shop/app.yaml:5:7: YAML syntax: "],
    );
}

#[test]
fn tenant_isolation_is_enforced() {
    assert_rejected(
        |r| {
            r.edit(
                "ladder.yaml",
                "project: \"{tenant}-{env}\"",
                "project: \"other-{env}\"",
            )
        },
        &[
            "ladder.yaml:10:12: project `other-dev` (environment dev) is outside tenant `acme`: it must be `acme` or start with `acme-`",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "apps/docs/app.yaml",
                "namespace: acme-docs",
                "namespace: kube-system",
            )
        },
        &[
            "apps/docs/app.yaml:7:12: namespace `kube-system` (environment dev) is reserved for the platform; deploy into a namespace of your own",
        ],
    );
    assert_rejected(
        |r| {
            r.edit(
                "ladder.yaml",
                "project: \"{tenant}-{env}\"",
                "project: \"{tenant}\"",
            )
        },
        &["environments dev and staging both get project `acme`"],
    );
    // A tenant's own template cannot point an Application at another tenant's cluster.
    assert_rejected(
        |r| {
            let template =
                std::fs::read_to_string(workspace_root().join("templates/application.yaml.hbs"))
                    .unwrap();
            r.write(
                "templates/application.yaml.hbs",
                &template.replace(
                    "destination: {{yaml destination}}",
                    "destination: {name: globex-prod, namespace: web}",
                ),
            );
        },
        &[
            "templates/application.yaml.hbs: Application web-dev (app web, environment dev): /spec/destination/name is `globex-prod`, outside this tenant's environment; it must be `acme-dev`",
        ],
    );
    assert_rejected(
        |r| {
            let template =
                std::fs::read_to_string(workspace_root().join("templates/appproject.yaml.hbs"))
                    .unwrap();
            r.write(
                "templates/appproject.yaml.hbs",
                &template.replace(
                    "clusterResourceWhitelist: {{yaml clusterResourceWhitelist}}",
                    "clusterResourceWhitelist: [{group: '*', kind: '*'}]",
                ),
            );
        },
        &["a tenant may only create the cluster-scoped kind Namespace"],
    );
}

#[test]
fn platform_deny_list_is_extensible_but_not_by_the_tenant() {
    let repo = TempRepo::example();
    let run = repo.render_with(&["--deny-namespace", "acme-*"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("apps/docs/app.yaml:7:12: namespace `acme-docs` (environment dev) is reserved for the platform"), "{}", stderr(&run));
    assert!(!repo.out().exists());
}

#[test]
fn template_errors_name_the_template() {
    assert_rejected(
        |r| r.write("templates/application.yaml.hbs", "kind: {{yaml kind}\n"),
        &["templates/application.yaml.hbs:1:"],
    );
    assert_rejected(
        |r| {
            r.write(
                "templates/application.yaml.hbs",
                "apiVersion: argoproj.io/v1alpha1\nkind: {{yaml nosuchfield}}\n",
            )
        },
        &[
            "templates/application.yaml.hbs:2:7: cannot render: `nosuchfield` is not in the template's context (in 8 documents: Application docs-dev (app docs, environment dev) and 7 more)",
        ],
    );
    assert_rejected(
        |r| r.write("templates/aplication.yaml.hbs", "x"),
        &["templates/aplication.yaml.hbs: unknown template; did you mean `application.yaml.hbs`?"],
    );
}

#[test]
fn every_problem_is_listed_in_one_run() {
    let repo = TempRepo::example();
    repo.edit("ladder.yaml", "tenant: acme", "tenant: acme\ncolour: blue");
    repo.edit(
        "environments/dev.yaml",
        "sync: auto-prune-selfheal",
        "sync: auto-prune-self-heal",
    );
    repo.edit("apps/shop/app.yaml", "type: kustomize", "type: kustomise");
    let run = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}: {}",
                p["file"].as_str().unwrap(),
                p["line"],
                p["column"],
                p["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "apps/shop/app.yaml:4:9: unknown source type `kustomise`; did you mean `kustomize`? known: helm, kustomize, directory",
            "environments/dev.yaml:4:7: unknown sync policy `auto-prune-self-heal`; did you mean `auto-prune-selfheal`? known: manual, auto, auto-prune, auto-selfheal, auto-prune-selfheal",
            "ladder.yaml:4:1: unknown key `colour` in `ladder.yaml`; known keys: version, tenant, configRepo, argocd, forge",
        ]
    );
}

#[test]
fn a_missing_repo_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = ladder(&["validate", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stdout(&run)
            .contains("ladder.yaml: not found; this is not the root of a tenant config repo"),
        "{}",
        stdout(&run)
    );
    assert!(
        stderr(&run).contains("point --repo at the root of a tenant config repo"),
        "the binary says which flag: {}",
        stderr(&run)
    );
    let run = ladder(&["validate", "--repo", "/nonexistent/x"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("--repo `/nonexistent/x` is not a folder"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn promote_paths_must_be_paths_the_editor_can_follow() {
    assert_rejected(
        |r| {
            r.edit(
                "apps/shop/app.yaml",
                "path: images[name=ghcr.io/acme/shop].newTag",
                "path: images[name=ghcr.io/acme/shop.newTag",
            )
        },
        &[
            "apps/shop/app.yaml:7:9: `promote` path `images[name=ghcr.io/acme/shop.newTag` is not a YAML path: invalid path \"images[name=ghcr.io/acme/shop.newTag\" at character 36: selector is missing its closing ']'",
        ],
    );
}

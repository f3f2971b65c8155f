//! Library-level tests of loading a tenant config: the bundled example, held in memory
//! and changed file by file, through the same `load` the binary uses.

use std::path::PathBuf;
use std::time::Duration;

use ladder_model::{
    CommitMode, Finalizer, ForgeKind, FsTree, LoadError, LoadOptions, MergeMethod, Promotion,
    PromotionGroup, PromotionMode, ResolvedField, Tenant, load,
};
use ladder_testkit::MemTree;

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme")
}

fn example() -> MemTree {
    MemTree::from_dir(&example_dir())
}

/// Loads a tree; on failure, every problem as `file:line:col: message`.
fn try_load(tree: &MemTree) -> Result<Tenant, Vec<String>> {
    match load(tree, &LoadOptions::default()) {
        Ok(tenant) => Ok(tenant),
        Err(LoadError::Invalid(problems)) => Err(problems.iter().map(|p| p.to_string()).collect()),
        Err(other) => panic!("not a config problem: {other}"),
    }
}

fn loaded(tree: &MemTree) -> Tenant {
    try_load(tree).unwrap_or_else(|problems| panic!("{}", problems.join("\n")))
}

fn problems(tree: &MemTree) -> Vec<String> {
    match try_load(tree) {
        Ok(_) => panic!("loaded, but problems were expected"),
        Err(problems) => problems,
    }
}

/// The example with `environments/prod.yaml` replaced; its `promotion:` starts on
/// line 5, its first key on line 6, column 3.
fn with_prod_promotion(promotion_body: &str) -> MemTree {
    example().with(
        "environments/prod.yaml",
        format!("name: prod\ncluster: prod\nnamespace: \"{{app}}\"\nsync: manual\npromotion:\n{promotion_body}"),
    )
}

#[test]
fn the_example_loads_as_documented() {
    let tenant = loaded(&example());
    assert_eq!(tenant.settings.tenant, "acme");
    assert_eq!(
        tenant.settings.config_repo.url,
        "https://github.com/acme/platform-config.git"
    );
    let envs: Vec<&str> = tenant
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(envs, ["dev", "staging", "prod"], "promotion order");
    let apps: Vec<&str> = tenant.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(apps, ["docs", "shop", "web"]);

    let env = |name: &str| tenant.environment(name).expect("environment");
    let app = |name: &str| tenant.apps.iter().find(|a| a.name == name).expect("app");
    let (dev, staging, prod) = (env("dev"), env("staging"), env("prod"));

    assert_eq!(dev.promotion, None);
    let mut from_dev = Promotion::new("dev");
    from_dev.from_at = staging.promotion.as_ref().expect("promotes").from_at;
    assert_eq!(staging.promotion, Some(from_dev));
    let prod_promotion = prod.promotion.as_ref().expect("promotes");
    assert_eq!(prod_promotion.from, "staging");
    assert_eq!(prod_promotion.soak, Duration::from_secs(24 * 3600));
    assert_eq!(prod_promotion.mode, PromotionMode::PullRequest);
    assert_eq!(prod.file, "environments/prod.yaml");

    assert_eq!(tenant.project_name(staging), "acme-staging");
    assert_eq!(tenant.destination_name(prod), "acme-prod");
    assert_eq!(tenant.app_namespace(app("docs"), dev), "acme-docs");
    assert_eq!(tenant.app_namespace(app("web"), dev), "web");
    assert_eq!(
        tenant.source_path(app("docs"), prod).as_deref(),
        Some("apps/docs/prod")
    );
    assert_eq!(
        tenant.value_files(app("web"), staging),
        ["apps/web/values.yaml", "apps/web/env/staging.yaml"]
    );
    assert_eq!(
        tenant.value_files(app("shop"), staging),
        Vec::<String>::new()
    );
    assert_eq!(
        tenant.promoted_fields(app("web"), prod),
        [ResolvedField {
            file: "apps/web/env/prod.yaml".into(),
            path: "image.tag".into(),
        }]
    );
    assert_eq!(
        tenant.promoted_fields(app("shop"), dev),
        [ResolvedField {
            file: "apps/shop/overlays/dev/kustomization.yaml".into(),
            path: "images[name=ghcr.io/acme/shop].newTag".into(),
        }]
    );
    assert_eq!(
        tenant.apps_in(staging).count(),
        2,
        "docs is in dev and prod only"
    );
}

#[test]
fn patterns_and_promotions_serialize_as_written() {
    let tenant = loaded(&example());
    let json = serde_json::to_value(&tenant).unwrap();
    assert_eq!(json["settings"]["argocd"]["project"], "{tenant}-{env}");
    assert_eq!(json["environments"][0]["namespace"], "{app}");
    let web = &json["apps"][2];
    assert_eq!(
        web["values"],
        serde_json::json!(["values.yaml", "env/{env}.yaml"])
    );
    assert_eq!(web["promote"][0]["file"], "env/{env}.yaml");
    assert_eq!(json["apps"][0]["source"]["path"], "apps/docs/{env}");
    assert_eq!(
        json["environments"][2]["promotion"],
        serde_json::json!({
            "from": "staging", "mode": "pull-request", "soak": "24h", "frozen": false,
            "requireReadiness": false, "group": "app", "labels": [], "reviewers": [],
            "backflow": false,
        })
    );
}

#[test]
fn a_folder_and_memory_load_the_same_tenant() {
    let from_disk = load(&FsTree::new(example_dir()), &LoadOptions::default()).unwrap();
    let from_memory = loaded(&example());
    assert_eq!(
        serde_json::to_value(&from_disk).unwrap(),
        serde_json::to_value(&from_memory).unwrap()
    );
}

#[test]
fn typed_promotion_settings_decode() {
    let tenant = loaded(&with_prod_promotion(
        "  from: staging\n  mode: auto-merge\n  soak: 1h30m\n  frozen: true\n  requireReadiness: true\n  group: environment\n  labels: [promotion, prod]\n  reviewers:\n    - acme/sre\n  backflow: true\n",
    ));
    let promotion = tenant
        .environment("prod")
        .and_then(|e| e.promotion.clone())
        .expect("promotes");
    assert_eq!(promotion.from, "staging");
    assert_eq!(promotion.from_at.line, 6);
    assert_eq!(promotion.mode, PromotionMode::AutoMerge);
    assert_eq!(promotion.soak, Duration::from_secs(90 * 60));
    assert!(promotion.frozen);
    assert!(promotion.require_readiness);
    assert_eq!(promotion.group, PromotionGroup::Environment);
    assert_eq!(promotion.labels, ["promotion", "prod"]);
    assert_eq!(promotion.reviewers, ["acme/sre"]);
    assert!(promotion.backflow);

    let manual = loaded(&with_prod_promotion(
        "  from: staging\n  mode: manual\n  soak: \"0\"\n",
    ));
    let promotion = manual.environment("prod").and_then(|e| e.promotion.clone());
    assert_eq!(
        promotion.as_ref().map(|p| p.mode),
        Some(PromotionMode::Manual)
    );
    assert_eq!(promotion.map(|p| p.soak), Some(Duration::ZERO));
}

#[test]
fn an_unknown_promotion_key_is_reported_with_the_key_it_resembles() {
    assert_eq!(
        problems(&with_prod_promotion("  from: staging\n  soka: 24h\n")),
        ["environments/prod.yaml:7:3: unknown key `soka` in `promotion`; did you mean `soak`?"]
    );
    assert_eq!(
        problems(&with_prod_promotion("  from: staging\n  gate: argo\n")),
        [
            "environments/prod.yaml:7:3: unknown key `gate` in `promotion`; known keys: from, mode, soak, frozen, requireReadiness, group, labels, reviewers, backflow"
        ]
    );
}

#[test]
fn bad_promotion_values_are_reported_where_written() {
    let cases: [(&str, &str); 9] = [
        (
            "  from: staging\n  mode: automerge\n",
            "environments/prod.yaml:7:9: unknown promotion mode `automerge`; did you mean `auto-merge`? known: pull-request, auto-merge, manual",
        ),
        (
            "  from: staging\n  group: team\n",
            "environments/prod.yaml:7:10: unknown promotion group `team`; known: app, environment",
        ),
        (
            "  from: staging\n  soak: 1d\n",
            "environments/prod.yaml:7:9: `promotion.soak` `1d` is not a duration such as 30m, 24h or 1h30m: unknown unit `d`; use h, m, s, ms, us or ns (days are 24h)",
        ),
        (
            "  from: staging\n  soak: 24\n",
            "environments/prod.yaml:7:9: `promotion.soak` `24` has no unit; write a duration such as 30m, 24h or 1h30m",
        ),
        (
            "  from: staging\n  soak: 1h 30m\n",
            "environments/prod.yaml:7:9: `promotion.soak` `1h 30m` is not a duration such as 30m, 24h or 1h30m: it has a space; write 1h30m, not 1h 30m",
        ),
        (
            "  from: staging\n  frozen: 1\n",
            "environments/prod.yaml:7:11: `promotion.frozen` must be true or false, found an integer `1`",
        ),
        (
            "  from: staging\n  backflow: yes\n",
            "environments/prod.yaml:7:13: `promotion.backflow` must be true or false; `yes` is a string in YAML 1.2",
        ),
        (
            "  from: staging\n  labels: promotion\n",
            "environments/prod.yaml:7:11: `promotion.labels` must be a list of strings, found a string",
        ),
        (
            "  soak: 1h\n",
            "environments/prod.yaml:6:3: `promotion` needs `from`",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(problems(&with_prod_promotion(body)), [expected], "{body}");
    }
    // Every problem of one `promotion:` in one run.
    assert_eq!(
        problems(&with_prod_promotion(
            "  from: staging\n  mode: auto\n  reviewers: [a, a]\n"
        )),
        [
            "environments/prod.yaml:7:9: unknown promotion mode `auto`; did you mean `auto-merge`? known: pull-request, auto-merge, manual",
            "environments/prod.yaml:8:18: duplicate entry `a` in `promotion.reviewers`",
        ]
    );
}

#[test]
fn sync_window_durations_use_the_same_parser() {
    let tree = example().with(
        "environments/prod.yaml",
        "name: prod\ncluster: prod\nsyncWindows:\n  - kind: deny\n    schedule: \"0 12 * * 5\"\n    duration: 2d\n    applications: [\"*\"]\npromotion:\n  from: staging\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "environments/prod.yaml:6:15: `syncWindows[].duration` `2d` is not a duration such as 1h or 30m: unknown unit `d`; use h, m, s, ms, us or ns (days are 24h)"
        ]
    );
    let fine = example().with(
        "environments/prod.yaml",
        "name: prod\ncluster: prod\nsyncWindows:\n  - kind: deny\n    schedule: \"0 12 * * 5\"\n    duration: 1.5h\n    applications: [\"*\"]\npromotion:\n  from: staging\n",
    );
    let tenant = loaded(&fine);
    let prod = tenant.environment("prod").expect("prod");
    assert_eq!(prod.sync_windows[0]["duration"], "1.5h", "kept verbatim");
}

#[test]
fn the_promoters_branch_names_are_not_environment_names() {
    for reserved in ["rollback", "backflow"] {
        let tree = example().with(
            &format!("environments/{reserved}.yaml"),
            format!("name: {reserved}\ncluster: prod\n"),
        );
        assert_eq!(
            problems(&tree),
            [format!(
                "environments/{reserved}.yaml:1:7: `{reserved}` cannot be an environment name: ladder's promotion branches are named ladder/{reserved}/...; rename environments/{reserved}.yaml and its `name`"
            )]
        );
    }
    // Without a `name`, the file itself is reported.
    let tree = example().with("environments/rollback.yaml", "cluster: prod\n");
    assert_eq!(
        problems(&tree),
        [
            "environments/rollback.yaml: `rollback` cannot be an environment name: ladder's promotion branches are named ladder/rollback/...; rename environments/rollback.yaml and its `name`"
        ]
    );
}

#[test]
fn value_files_may_leave_the_app_folder_but_not_the_repo() {
    // Every folder under apps/ is an app, so a shared file lives outside apps/.
    let shared = example()
        .with("common/values.yaml", "replicas: 2\n")
        .with(
            "apps/web/app.yaml",
            "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/kupecloud/hello-kupe.git\n  path: chart\nvalues:\n  - ../../common/values.yaml\n  - env/{env}.yaml\npromote:\n  - image.tag\n",
        );
    let tenant = loaded(&shared);
    let web = tenant.apps.iter().find(|a| a.name == "web").expect("web");
    let dev = tenant.environment("dev").expect("dev");
    assert_eq!(
        tenant.value_files(web, dev),
        ["common/values.yaml", "apps/web/env/dev.yaml"]
    );

    let outside = example().with(
        "apps/web/app.yaml",
        "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/kupecloud/hello-kupe.git\n  path: chart\nvalues:\n  - ../../../values.yaml\n",
    );
    assert_eq!(
        problems(&outside),
        ["apps/web/app.yaml:7:5: value file `../../../values.yaml` climbs out of the repo"]
    );
    let placeholder = example().with(
        "apps/web/app.yaml",
        "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/kupecloud/hello-kupe.git\n  path: chart\nvalues:\n  - env/{environment}.yaml\n",
    );
    assert_eq!(
        problems(&placeholder),
        [
            "apps/web/app.yaml:7:5: `values`: unknown placeholder `{environment}`; known: {tenant}, {env}, {cluster}, {app}"
        ]
    );
}

#[test]
fn the_project_pattern_may_not_name_an_app() {
    let tree = example().with(
        "ladder.yaml",
        "tenant: acme\nconfigRepo:\n  url: https://github.com/acme/platform-config.git\n  branch: main\nargocd:\n  project: \"{tenant}-{app}\"\n",
    );
    assert_eq!(
        problems(&tree),
        ["ladder.yaml:6:12: `argocd.project`: placeholder `{app}` cannot be used here"]
    );
}

#[test]
fn numbers_are_quoted_as_written() {
    let tree = example().with(
        "apps/web/app.yaml",
        "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/kupecloud/hello-kupe.git\n  targetRevision: 1.20\n  path: chart\nvalues:\n  - values.yaml\n  - env/{env}.yaml\npromote:\n  - image.tag\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "apps/web/app.yaml:5:19: `source.targetRevision` must be a string, found a number `1.20`; quote it"
        ]
    );
}

/// The example with `environments/prod.yaml` replaced by its basics plus `extra`, which
/// starts on line 5.
fn with_prod_settings(extra: &str) -> MemTree {
    example().with(
        "environments/prod.yaml",
        format!("name: prod\ncluster: prod\nnamespace: \"{{app}}\"\nsync: manual\n{extra}"),
    )
}

#[test]
fn deletion_settings_default_to_todays_behaviour() {
    let tenant = loaded(&example());
    for env in &tenant.environments {
        assert_eq!(env.finalizer, Finalizer::Foreground, "{}", env.name);
        assert!(!env.protected, "{}", env.name);
        assert!(env.retire.is_empty(), "{}", env.name);
    }
    assert_eq!(
        Finalizer::Foreground.argo_finalizer(),
        Some("resources-finalizer.argocd.argoproj.io")
    );
    assert_eq!(
        Finalizer::Background.argo_finalizer(),
        Some("resources-finalizer.argocd.argoproj.io/background")
    );
    assert_eq!(Finalizer::None.argo_finalizer(), None);
}

#[test]
fn deletion_settings_decode() {
    let tenant = loaded(&with_prod_settings(
        "finalizer: none\nprotected: true\nretire: [old-api, legacy]\n",
    ));
    let prod = tenant.environment("prod").unwrap();
    assert_eq!(prod.finalizer, Finalizer::None);
    assert!(prod.protected);
    assert_eq!(prod.retire, ["old-api", "legacy"]);
    // An app deployed elsewhere but not here may be retired here.
    let tenant = loaded(&with_prod_settings("finalizer: background\nretire: [shop]\n").with(
        "apps/shop/app.yaml",
        "name: shop\nsource:\n  type: kustomize\n  path: apps/shop/overlays/{env}\nenvironments: [dev, staging]\n",
    ));
    let prod = tenant.environment("prod").unwrap();
    assert_eq!(prod.finalizer, Finalizer::Background);
    assert_eq!(prod.retire, ["shop"]);
}

#[test]
fn bad_deletion_settings_are_reported_where_written() {
    assert_eq!(
        problems(&with_prod_settings(
            "finalizer: foregound\nprotected: yes\nretire: [Old_Api, web, web]\n"
        )),
        [
            "environments/prod.yaml:5:12: unknown finalizer `foregound`; did you mean `foreground`? known: foreground, background, none",
            "environments/prod.yaml:6:12: `protected` must be true or false; `yes` is a string in YAML 1.2",
            "environments/prod.yaml:7:10: `retire` entry `Old_Api` is not an app name (a DNS-1123 label): `O` is not allowed; use lower-case letters, digits and `-`",
            "environments/prod.yaml:7:24: duplicate entry `web` in `retire`",
        ]
    );
}

#[test]
fn retire_is_for_removed_apps() {
    assert_eq!(
        problems(&with_prod_settings(
            "protected: true\nretire:\n  - gone\n  - web\n"
        )),
        [
            "environments/prod.yaml:8:5: `retire` names app `web`, which is still deployed to environment prod; retire is for removed apps: remove the entry, or remove the app (or prod from its `environments`)"
        ]
    );
}

fn with_podinfo(source: &str) -> MemTree {
    example().with(
        "apps/podinfo/app.yaml",
        format!("name: podinfo\nsource:\n  type: helm\n{source}"),
    )
}

#[test]
fn charts_from_chart_repositories_and_registries_load() {
    for (source, chart, path) in [
        (
            "  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\n",
            Some("podinfo"),
            None,
        ),
        (
            "  repoURL: ghcr.io/stefanprodan/charts\n  chart: podinfo\n  targetRevision: 6.7.1\n",
            Some("podinfo"),
            None,
        ),
        (
            "  repoURL: oci://ghcr.io/stefanprodan/charts/podinfo\n  targetRevision: 6.7.1\n",
            None,
            Some("."),
        ),
    ] {
        let tenant = loaded(&with_podinfo(source));
        let app = tenant.apps.iter().find(|a| a.name == "podinfo").unwrap();
        assert_eq!(app.source.chart.as_deref(), chart, "{source}");
        assert_eq!(
            app.source.path.as_ref().map(|p| p.as_str()),
            path,
            "{source}"
        );
        assert_eq!(app.source.target_revision.as_deref(), Some("6.7.1"));
    }
}

#[test]
fn chart_mistakes_are_reported_where_written() {
    assert_eq!(
        problems(&with_podinfo(
            "  repoURL: oci://ghcr.io/stefanprodan/charts\n  chart: podinfo\n  targetRevision: 6.7.1\n"
        )),
        [
            "apps/podinfo/app.yaml:4:12: `source.repoURL` `oci://ghcr.io/stefanprodan/charts` with `source.chart`: Argo CD names an OCI registry for `chart` without the oci:// scheme; write `repoURL: ghcr.io/stefanprodan/charts` with `chart: podinfo`, or `repoURL: oci://ghcr.io/stefanprodan/charts/podinfo` without `chart`"
        ]
    );
    assert_eq!(
        problems(&with_podinfo(
            "  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  path: chart\n"
        )),
        [
            "apps/podinfo/app.yaml:5:10: a chart from a chart repository or OCI registry needs `source.targetRevision`: its version, such as 6.7.1",
            "apps/podinfo/app.yaml:6:9: `source.path` and `source.chart` exclude each other: a chart from a chart repository or OCI registry is named by `chart`, one in a Git repo by `path`",
        ]
    );
    assert_eq!(
        problems(&with_podinfo("  chart: podinfo\n  targetRevision: 6.7.1\n")),
        [
            "apps/podinfo/app.yaml:4:10: `source.chart` names a chart in a Helm chart repository or OCI registry, so it needs `source.repoURL`; a chart in this repo is named by `source.path`"
        ]
    );
    assert_eq!(
        problems(&with_podinfo(
            "  repoURL: ghcr.io/stefanprodan/charts/podinfo\n  targetRevision: 6.7.1\n"
        )),
        [
            "apps/podinfo/app.yaml:4:12: `source.repoURL` `ghcr.io/stefanprodan/charts/podinfo` looks like an OCI registry: name the chart in it with `source.chart`, or write the artifact as oci://ghcr.io/stefanprodan/charts/podinfo"
        ]
    );
}

#[test]
fn inline_values_are_checked() {
    assert_eq!(
        problems(&with_podinfo(
            "  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\n  helm:\n    values: |\n      a: 1\n    valuesObject:\n      a: ~\n    envValuesObject:\n      prd: {a: 2}\n      staging: [1]\nenvironments: [dev, prod]\n"
        )),
        [
            "apps/podinfo/app.yaml:8:5: unknown key `values` in `source.helm`; did you mean `valuesObject`?",
            "apps/podinfo/app.yaml:11:10: `source.helm.valuesObject.a` holds null, which Argo CD drops from inline values; to remove a chart default, set it in a value file",
            "apps/podinfo/app.yaml:13:7: unknown key `prd` in `source.helm.envValuesObject`; did you mean `prod`?",
            "apps/podinfo/app.yaml:14:16: `source.helm.envValuesObject.staging` must be a mapping of Helm values, found a list",
        ]
    );
    assert_eq!(
        problems(&with_podinfo(
            "  repoURL: https://stefanprodan.github.io/podinfo\n  chart: podinfo\n  targetRevision: 6.7.1\n  helm:\n    envValuesObject:\n      staging: {a: 2}\nenvironments: [dev, prod]\n"
        )),
        [
            "apps/podinfo/app.yaml:9:7: `source.helm.envValuesObject` sets values for environment `staging`, which this app is not deployed to (`environments`: dev, prod)"
        ]
    );
}

#[test]
fn argo_cds_namespace_is_checked_like_app_namespaces() {
    let settings = |namespace: &str| {
        example().with(
            "ladder.yaml",
            format!("version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/platform-config.git\n  branch: main\nargocd:\n  namespace: {namespace}\n"),
        )
    };
    assert_eq!(
        problems(&settings("kube-system")),
        [
            "ladder.yaml:7:14: `argocd.namespace` `kube-system` is reserved for the platform; Applications and AppProjects live in the namespace Argo CD reads them from, usually `argocd`"
        ]
    );
    loaded(&settings("argocd"));
    loaded(&settings("gitops"));
    let options = LoadOptions {
        denied_namespaces: vec!["git*".into()],
        ..LoadOptions::default()
    };
    let Err(LoadError::Invalid(found)) = load(&settings("gitops"), &options) else {
        panic!("a denied namespace loads");
    };
    assert!(
        found
            .to_string()
            .contains("`argocd.namespace` `gitops` is reserved"),
        "{found}"
    );
}

#[test]
fn denied_kinds_default_to_what_the_platform_manages() {
    let options = LoadOptions::default();
    assert_eq!(options.denied_kinds, ["ResourceQuota", "LimitRange"]);
    let options = LoadOptions {
        denied_kinds: vec![
            "ResourceQuota".into(),
            "networking.k8s.io/NetworkPolicy".into(),
        ],
        ..LoadOptions::default()
    };
    assert_eq!(
        options.denied_group_kinds(),
        [
            ("*".to_string(), "ResourceQuota".to_string()),
            ("networking.k8s.io".to_string(), "NetworkPolicy".to_string())
        ]
    );
}

#[test]
fn promoted_values_must_survive_yaml() {
    for (written, reads_as) in [
        ("1.20", "which YAML reads as the number 1.2"),
        ("010", "which YAML reads as the number 10"),
        ("1e3", "which YAML reads as the number 1000"),
        ("0x1F", "which YAML reads as the number 31"),
        (
            "yes",
            "a string in YAML 1.2 but not in YAML 1.1, which Helm and kubectl read",
        ),
    ] {
        let tree = example().with(
            "apps/web/env/prod.yaml",
            format!("cluster: prod\nimage:\n  tag: {written} # promoted by ladder\n"),
        );
        let quote = if written == "yes" {
            "quote it: "
        } else {
            "quote it to keep it as written: "
        };
        assert_eq!(
            problems(&tree),
            [format!(
                "apps/web/env/prod.yaml:3:8: promoted value `image.tag` is written `{written}`, {reads_as}; {quote}\"{written}\""
            )],
            "{written}"
        );
    }
    // Values that read back as written are fine, quoted or not.
    for written in ["\"1.20\"", "'yes'", "42", "1.5", "v1.2.0", "true"] {
        let tree = example().with(
            "apps/web/env/prod.yaml",
            format!("cluster: prod\nimage:\n  tag: {written}\n"),
        );
        loaded(&tree);
    }
    // A list item picked by a field, in a kustomization.
    let tree = example().with(
        "apps/shop/overlays/staging/kustomization.yaml",
        "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/shop\n    newTag: 2.10\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "apps/shop/overlays/staging/kustomization.yaml:4:13: promoted value `images[name=ghcr.io/acme/shop].newTag` is written `2.10`, which YAML reads as the number 2.1; quote it to keep it as written: \"2.10\""
        ]
    );
}

#[test]
fn a_promoted_path_missing_from_an_environment_is_reported_with_both() {
    let tree = example().with("apps/web/env/staging.yaml", "cluster: staging\nimage: {}\n");
    assert_eq!(
        problems(&tree),
        [
            "apps/web/app.yaml:12:5: promoted path `image.tag` is not in apps/web/env/staging.yaml (environment staging); add it there, or fix the path"
        ]
    );
}

#[test]
fn a_reserved_namespace_is_reported_where_it_was_set() {
    // Set in the environment file: reported there, once for every app it applies to.
    let tree = example().with(
        "environments/dev.yaml",
        "name: dev\ncluster: dev\nnamespace: kube-system\nsync: auto-prune-selfheal\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "environments/dev.yaml:3:12: namespace `kube-system` (environment dev, pattern from environments/dev.yaml) is reserved for the platform; set a namespace of your own here, or `namespace` in the app"
        ]
    );
    // The default `{app}`: the app's name decided it.
    let tree = example().with(
        "apps/argocd/app.yaml",
        "name: argocd\nsource:\n  type: directory\n  path: apps/docs/{env}\nenvironments: [dev]\n",
    );
    let tree = tree.with(
        "environments/dev.yaml",
        "name: dev\ncluster: dev\nsync: auto-prune-selfheal\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "apps/argocd/app.yaml:1:7: namespace `argocd` (environment dev, the app name, as environments/dev.yaml names no `namespace`) is reserved for the platform; set `namespace` in the app"
        ]
    );
}

#[test]
fn near_miss_file_and_folder_names_get_did_you_mean() {
    let mut tree = example();
    let app = String::from_utf8(tree.read("apps/docs/app.yaml").unwrap().to_vec()).unwrap();
    tree.remove("apps/docs/app.yaml");
    let tree = tree.with("apps/docs/app.yml", app);
    assert_eq!(
        problems(&tree),
        [
            "apps/docs: no app.yaml; found app.yml: did you mean app.yaml? rename it to apps/docs/app.yaml"
        ]
    );

    let mut tree = example();
    let settings = String::from_utf8(tree.read("ladder.yaml").unwrap().to_vec()).unwrap();
    tree.remove("ladder.yaml");
    let tree = tree.with("ladder.yml", settings);
    assert_eq!(
        problems(&tree),
        ["ladder.yaml: not found, but ladder.yml is here: did you mean ladder.yaml? rename it"]
    );

    let mut tree = example();
    for env in ["dev", "staging", "prod"] {
        let text = tree
            .read(&format!("environments/{env}.yaml"))
            .unwrap()
            .to_vec();
        tree.remove(&format!("environments/{env}.yaml"));
        tree.write(&format!("environment/{env}.yaml"), text);
    }
    assert_eq!(
        problems(&tree),
        ["environment/: ladder does not read this folder; did you mean environments/? rename it"]
    );
}

#[test]
fn a_quoted_version_is_named_as_written() {
    let tree = example().with(
        "ladder.yaml",
        "version: \"1\"\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/platform-config.git\n  branch: main\n",
    );
    assert_eq!(
        problems(&tree),
        [
            "ladder.yaml:1:10: this ladder reads config format version 1, found the quoted string \"1\"; write `version: 1`, unquoted"
        ]
    );
}

/// The example's `ladder.yaml` with a `forge:` block appended (it starts on line
/// `FORGE_LINE`).
fn with_forge(forge_body: &str) -> MemTree {
    let settings = std::fs::read_to_string(example_dir().join("ladder.yaml")).unwrap();
    example().with(
        "ladder.yaml",
        format!(
            "{}forge:\n{forge_body}",
            settings.trim_end().to_string() + "\n"
        ),
    )
}

#[test]
fn the_forge_block_defaults_to_the_git_forge_and_takes_what_the_tenant_may_choose() {
    let plain = loaded(&example());
    assert_eq!(plain.settings.forge.kind, ForgeKind::Git);
    assert_eq!(plain.settings.forge.repository, None);

    let github = loaded(&with_forge(
        "  type: github\n  repository: acme/platform-config\n  commitMode: api\n  mergeMethod: squash\n",
    ));
    let forge = &github.settings.forge;
    assert_eq!(forge.kind, ForgeKind::GitHub);
    assert_eq!(forge.repository.as_deref(), Some("acme/platform-config"));
    assert_eq!(forge.commit_mode, CommitMode::Api);
    assert_eq!(forge.merge_method, MergeMethod::Squash);
}

#[test]
fn bad_forge_settings_are_reported_where_written() {
    let settings = std::fs::read_to_string(example_dir().join("ladder.yaml")).unwrap();
    // The first key of the block is on the line after `forge:`.
    let line = settings.trim_end().lines().count() + 2;
    let cases: [(&str, String); 5] = [
        (
            "  type: gitlab\n",
            format!(
                "ladder.yaml:{line}:9: unknown forge type `gitlab`; did you mean `git`? known: git, github"
            ),
        ),
        (
            "  type: github\n  repository: platform-config\n",
            format!(
                "ladder.yaml:{}:15: `forge.repository` `platform-config` is not `owner/name`; write it like `acme/platform-config`, or leave it out to take it from the repo URL",
                line + 1
            ),
        ),
        (
            "  commitMode: sign\n",
            format!("ladder.yaml:{line}:15: unknown commit mode `sign`; known: push, api"),
        ),
        (
            "  mergeMethod: fast-forward\n",
            format!(
                "ladder.yaml:{line}:16: unknown merge method `fast-forward`; known: merge, squash, rebase"
            ),
        ),
        (
            "  token: abc\n",
            format!(
                "ladder.yaml:{line}:3: unknown key `token` in `forge`; known keys: type, repository, commitMode, mergeMethod"
            ),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(problems(&with_forge(body)), [expected], "{body}");
    }
}

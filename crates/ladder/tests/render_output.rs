//! The out folder: snapshots, determinism, mirroring, `--env`, `--check`, safety.

mod common;

use common::*;

/// The example's rendered output is committed under tests/snapshots/acme; a change in
/// rendering shows as a diff in review. Regenerate with LADDER_UPDATE_SNAPSHOTS=1.
#[test]
fn example_output_matches_the_snapshot() {
    let snapshot = workspace_root().join("tests/snapshots/acme");
    let repo = example_repo();
    let (repo, snapshot) = (repo.to_str().unwrap(), snapshot.to_str().unwrap());
    if std::env::var_os("LADDER_UPDATE_SNAPSHOTS").is_some() {
        let run = ladder(&["render", "--repo", repo, "--out", snapshot]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let check = ladder(&["render", "--repo", repo, "--out", snapshot, "--check"]);
    assert!(
        check.status.success(),
        "rendered output differs from tests/snapshots/acme (LADDER_UPDATE_SNAPSHOTS=1 to accept):\n{}",
        stdout(&check)
    );
}

#[test]
fn rendering_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let run = render(&example_repo(), &out, &[]);
        assert!(run.status.success(), "{}", stderr(&run));
        trees.push(read_tree(&out));
    }
    assert_eq!(trees[0].len(), 11);
    assert_eq!(trees[0], trees[1]);

    // Rendering into an existing, up-to-date folder changes nothing, not even the folder.
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(dir.path().join("a")).unwrap().ino();
    let again = render(&example_repo(), &dir.path().join("a"), &[]);
    assert!(
        stderr(&again).contains("(0 added, 0 changed, 0 removed)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(read_tree(&dir.path().join("a")), trees[1]);
    assert_eq!(
        std::fs::metadata(dir.path().join("a")).unwrap().ino(),
        inode
    );
}

#[test]
fn the_out_folder_mirrors_the_config() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    assert!(repo.out().join("dev/applications/shop.yaml").exists());

    // Remove an app and an environment: their files disappear.
    std::fs::remove_dir_all(repo.repo().join("apps/shop")).unwrap();
    std::fs::remove_file(repo.repo().join("environments/prod.yaml")).unwrap();
    repo.edit(
        "apps/docs/app.yaml",
        "environments: [dev, prod]",
        "environments: [dev]",
    );
    let run = repo.render();
    assert!(run.status.success(), "{}", stderr(&run));
    let files: Vec<String> = read_tree(&repo.out()).into_keys().collect();
    assert_eq!(
        files,
        [
            "dev/applications/docs.yaml",
            "dev/applications/web.yaml",
            "dev/appproject.yaml",
            "staging/applications/web.yaml",
            "staging/appproject.yaml",
        ]
    );
    // shop's namespace left the dev and staging projects' destinations.
    assert!(
        stderr(&run).contains("(0 added, 2 changed, 6 removed)"),
        "{}",
        stderr(&run)
    );
    // No staging folders are left beside the output.
    let siblings: Vec<_> = std::fs::read_dir(repo.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings.len(), 2, "{siblings:?}");
}

#[test]
fn env_renders_one_environment_and_keeps_the_others() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    let before = read_tree(&repo.out());
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let run = repo.render_with(&["--env", "staging"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let after = read_tree(&repo.out());
    let changed: Vec<&String> = after.keys().filter(|k| before[*k] != after[*k]).collect();
    assert_eq!(changed, ["staging/applications/web.yaml"]);
    assert_eq!(before.len(), after.len());

    let unknown = repo.render_with(&["--env", "stagign"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains(
            "--env `stagign` is not an environment of this tenant; did you mean `staging`?"
        ),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn check_lists_differences_and_writes_nothing() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    std::fs::remove_dir_all(repo.repo().join("apps/docs")).unwrap();
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    std::fs::remove_file(repo.out().join("dev/appproject.yaml")).unwrap();
    // (Removing docs also drops its namespace from the prod project.)
    let before = read_tree(&repo.out());

    let run = repo.render_with(&["--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        stdout(&run),
        "missing: dev/appproject.yaml\n\
         changed: dev/applications/web.yaml\n\
         changed: prod/applications/web.yaml\n\
         changed: prod/appproject.yaml\n\
         changed: staging/applications/web.yaml\n\
         stale:   dev/applications/docs.yaml\n\
         stale:   prod/applications/docs.yaml\n"
    );
    assert_eq!(read_tree(&repo.out()), before);

    let json = repo.render_with(&["--check", "--output", "json", "--env", "dev"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["differences"].as_array().unwrap().len(),
        3,
        "{report}"
    );
}

#[test]
fn refuses_to_replace_a_folder_ladder_did_not_write() {
    let repo = TempRepo::example();
    std::fs::create_dir_all(repo.out()).unwrap();
    std::fs::write(repo.out().join("notes.txt"), "mine").unwrap();
    let run = repo.render();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains(
            "holds `notes.txt`, which ladder did not write; choose an empty or new --out folder"
        ),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        std::fs::read_to_string(repo.out().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_repo_without_environments_gets_the_built_in_ladder() {
    let repo = TempRepo::example();
    std::fs::remove_dir_all(repo.repo().join("environments")).unwrap();
    let run = repo.render();
    assert!(run.status.success(), "{}", stderr(&run));
    let dev = std::fs::read_to_string(repo.out().join("dev/applications/web.yaml")).unwrap();
    assert!(
        dev.contains("automated:\n      prune: true\n      selfHeal: true\n"),
        "{dev}"
    );
    let staging =
        std::fs::read_to_string(repo.out().join("staging/applications/web.yaml")).unwrap();
    assert!(
        staging.contains("automated:\n      prune: true\n      selfHeal: false\n"),
        "{staging}"
    );
    let prod = std::fs::read_to_string(repo.out().join("prod/applications/web.yaml")).unwrap();
    assert!(!prod.contains("automated"), "{prod}");
    assert!(
        prod.contains("destination:\n    name: acme-prod\n"),
        "{prod}"
    );
}

#[test]
fn validate_reports_json_for_scripts() {
    let run = ladder(&[
        "validate",
        "--repo",
        example_repo().to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(run.status.success());
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["documents"], 11);
    assert_eq!(
        report["environments"],
        serde_json::json!(["dev", "staging", "prod"])
    );
}

#[test]
fn render_projects_false_renders_applications_only() {
    let repo = TempRepo::example();
    repo.edit(
        "ladder.yaml",
        "  namespace: argocd\n",
        "  namespace: argocd\n  renderProjects: false\n",
    );
    let run = repo.render();
    assert!(run.status.success(), "{}", stderr(&run));
    let files = read_tree(&repo.out());
    assert_eq!(files.len(), 8);
    assert!(files.keys().all(|k| k.contains("/applications/")));
}

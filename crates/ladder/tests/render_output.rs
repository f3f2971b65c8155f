//! The out folder: snapshots, determinism, mirroring, `--env`, `--check`, safety.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// The record of ladder's files in an out folder.
const MANIFEST: &str = ".ladder-render.json";

/// The rendered files of an out folder: every file but the record of them.
fn rendered(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = read_tree(out);
    files.remove(MANIFEST);
    files
}

/// The paths the record of an out folder lists.
fn recorded(out: &Path) -> Vec<String> {
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    record["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The example's rendered output is committed under tests/snapshots/acme; a change in
/// rendering shows as a diff in review. Regenerate with LADDER_UPDATE_SNAPSHOTS=1.
///
/// The snapshot holds the documents only (no record of ladder's files), so besides
/// `--check` (which then cannot call a snapshot file stale: it is not recorded as
/// ladder's) the whole tree is compared with a fresh render.
#[test]
fn example_output_matches_the_snapshot() {
    let snapshot_dir = workspace_root().join("tests/snapshots/acme");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let run = render(&example_repo(), &fresh, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    if std::env::var_os("LADDER_UPDATE_SNAPSHOTS").is_some() {
        let _ = std::fs::remove_dir_all(&snapshot_dir);
        for (path, bytes) in rendered(&fresh) {
            let target = snapshot_dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
    }
    let repo = example_repo();
    let (repo, snapshot) = (repo.to_str().unwrap(), snapshot_dir.to_str().unwrap());
    let check = ladder(&["render", "--repo", repo, "--out", snapshot, "--check"]);
    assert!(
        check.status.success(),
        "rendered output differs from tests/snapshots/acme (LADDER_UPDATE_SNAPSHOTS=1 to accept):\n{}",
        stdout(&check)
    );
    let expected = read_tree(&snapshot_dir);
    let actual = rendered(&fresh);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "rendered files differ from tests/snapshots/acme (LADDER_UPDATE_SNAPSHOTS=1 to accept)"
    );
    assert!(
        actual == expected,
        "rendered bytes differ from tests/snapshots/acme"
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
    // 11 documents and the record of them, which is deterministic too.
    assert_eq!(trees[0].len(), 12);
    assert!(trees[0].contains_key(MANIFEST));
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
    let files: Vec<String> = rendered(&repo.out()).into_keys().collect();
    assert_eq!(recorded(&repo.out()), files);
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
    let before = rendered(&repo.out());
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let run = repo.render_with(&["--env", "staging"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let after = rendered(&repo.out());
    // The record still lists every environment's files.
    assert_eq!(
        recorded(&repo.out()),
        after.keys().cloned().collect::<Vec<_>>()
    );
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

/// Behaviour change (issue 9): a file ladder did not write no longer makes the render
/// refuse; it stays in place and is named. More cases are in out_foreign.rs.
#[test]
fn keeps_files_ladder_did_not_write() {
    let repo = TempRepo::example();
    std::fs::create_dir_all(repo.out()).unwrap();
    std::fs::write(repo.out().join("notes.txt"), "mine").unwrap();
    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("left in place: notes.txt (not written by ladder)"),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        std::fs::read_to_string(repo.out().join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(!recorded(&repo.out()).contains(&"notes.txt".to_string()));
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
    let files = rendered(&repo.out());
    assert_eq!(files.len(), 8);
    assert!(files.keys().all(|k| k.contains("/applications/")));
}

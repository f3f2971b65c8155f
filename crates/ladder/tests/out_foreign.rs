//! `render` replaces and deletes only the files it wrote (recorded in
//! `.ladder-render.json`); everything else in `--out` stays where and as it is, and is
//! named. Hand edits to ladder's files are named; `--out` naming a file says so.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;

const MANIFEST: &str = ".ladder-render.json";

fn rendered(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = read_tree(out);
    files.remove(MANIFEST);
    files
}

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

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap().ino()
}

/// Only the repo and the out folder are beside each other: no staging folder is left.
fn assert_no_leftovers(repo: &TempRepo) {
    let mut siblings: Vec<_> = std::fs::read_dir(repo.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    siblings.sort();
    siblings.retain(|s| s != "out");
    assert_eq!(siblings, ["repo"], "temp folders left behind");
}

#[test]
fn files_ladder_did_not_write_stay_in_place_wherever_they_are() {
    let repo = TempRepo::example();
    let first = repo.render();
    assert!(first.status.success(), "{}", stderr(&first));
    let out = repo.out();
    let mine = [
        ("README.md", "read me"),
        ("dev/notes.txt", "notes"),
        ("dev/applications/extra.yaml", "kind: Application\n"),
        ("prod/applications/shop.yaml.orig", "a backup"),
        ("vendor/a/b.txt", "deep"),
    ];
    for (path, text) in mine {
        std::fs::create_dir_all(out.join(path).parent().unwrap()).unwrap();
        std::fs::write(out.join(path), text).unwrap();
    }
    std::os::unix::fs::symlink("../README.md", out.join("dev/link")).unwrap();
    std::fs::create_dir_all(out.join("empty")).unwrap();
    let inodes: Vec<u64> = mine.iter().map(|(p, _)| inode(&out.join(p))).collect();

    // Remove an app: its files go; change another: its files are replaced.
    std::fs::remove_dir_all(repo.repo().join("apps/shop")).unwrap();
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("removed)"), "{err}");
    for (path, text) in mine {
        assert_eq!(std::fs::read_to_string(out.join(path)).unwrap(), text);
    }
    let after: Vec<u64> = mine.iter().map(|(p, _)| inode(&out.join(p))).collect();
    assert_eq!(after, inodes, "other people's files are the same files");
    assert_eq!(
        std::fs::read_link(out.join("dev/link")).unwrap(),
        Path::new("../README.md")
    );
    assert!(out.join("empty").is_dir());
    for named in [
        "left in place: README.md (not written by ladder)",
        "left in place: dev/applications/extra.yaml ",
        "left in place: dev/link ",
        "left in place: dev/notes.txt ",
        "left in place: prod/applications/shop.yaml.orig ",
        "left in place: vendor/ ",
    ] {
        assert!(err.contains(named), "expected `{named}` in:\n{err}");
    }
    for env in ["dev", "staging", "prod"] {
        assert!(!out.join(format!("{env}/applications/shop.yaml")).exists());
    }
    assert!(
        String::from_utf8_lossy(&rendered(&out)["dev/applications/web.yaml"])
            .contains("targetRevision: v2")
    );
    let record = recorded(&out);
    assert!(record.iter().all(|p| p.ends_with(".yaml")), "{record:?}");
    assert!(!record.contains(&"dev/applications/extra.yaml".to_string()));
    assert_no_leftovers(&repo);

    // Up to date: --check names no difference, only what it leaves alone.
    let check = repo.render_with(&["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    assert_eq!(stdout(&check), "");
    assert!(stderr(&check).contains("left in place: vendor/"));
    let json = repo.render_with(&["--check", "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(
        report["foreign"]
            .as_array()
            .unwrap()
            .contains(&"README.md".into()),
        "{report}"
    );

    // An environment whose last app goes keeps its folder only for the files in it.
    std::fs::remove_dir_all(repo.repo().join("apps/docs")).unwrap();
    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(out.join("prod/applications/shop.yaml.orig").exists());
    assert!(!out.join("prod/applications/docs.yaml").exists());
}

#[test]
fn a_file_ladder_did_not_write_where_it_must_write_is_not_overwritten() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    let docs = repo.dir.path().join("docs-app");
    copy_tree(&repo.repo().join("apps/docs"), &docs);
    std::fs::remove_dir_all(repo.repo().join("apps/docs")).unwrap();
    assert!(repo.render().status.success());
    assert!(!repo.out().join("dev/applications/docs.yaml").exists());

    // Someone puts their own file where docs' Application went; docs comes back.
    std::fs::write(repo.out().join("dev/applications/docs.yaml"), "mine\n").unwrap();
    copy_tree(&docs, &repo.repo().join("apps/docs"));
    std::fs::remove_dir_all(&docs).unwrap();
    let before = read_tree(&repo.out());
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to overwrite a file in")
            && err
                .contains("that ladder did not write: `dev/applications/docs.yaml`; move it away")
            && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(read_tree(&repo.out()), before);
    assert_no_leftovers(&repo);

    let check = repo.render_with(&["--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("blocked: dev/applications/docs.yaml"),
        "{}",
        stdout(&check)
    );

    // A file with exactly the bytes ladder renders is taken over: nothing is lost.
    let fresh = repo.dir.path().join("fresh");
    assert!(render(&repo.repo(), &fresh, &[]).status.success());
    std::fs::copy(
        fresh.join("dev/applications/docs.yaml"),
        repo.out().join("dev/applications/docs.yaml"),
    )
    .unwrap();
    std::fs::remove_dir_all(&fresh).unwrap();
    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(recorded(&repo.out()).contains(&"dev/applications/docs.yaml".to_string()));
}

#[test]
fn hand_edits_to_ladders_files_are_named_then_replaced() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    let web = repo.out().join("dev/applications/web.yaml");
    let original = std::fs::read(&web).unwrap();
    std::fs::write(&web, b"edited by hand\n").unwrap();

    let check = repo.render_with(&["--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        stdout(&check),
        "edited:  dev/applications/web.yaml (by hand, since ladder wrote it)\n"
    );
    let json = repo.render_with(&["--check", "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        report["differences"],
        serde_json::json!([{"kind": "edited", "path": "dev/applications/web.yaml"}])
    );

    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("overwrote hand edits: dev/applications/web.yaml"),
        "{}",
        stderr(&run)
    );
    assert_eq!(std::fs::read(&web).unwrap(), original);
    let again = repo.render();
    assert!(!stderr(&again).contains("hand edits"), "{}", stderr(&again));
}

#[test]
fn a_folder_without_a_record_gives_up_nothing_but_the_rendered_paths() {
    // As an earlier ladder left it: the documents, no record.
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    std::fs::remove_file(repo.out().join(MANIFEST)).unwrap();
    std::fs::remove_dir_all(repo.repo().join("apps/shop")).unwrap();
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    // web's files are at paths it renders: replaced. shop's are not: kept and named.
    assert!(
        String::from_utf8_lossy(&rendered(&repo.out())["prod/applications/web.yaml"])
            .contains("targetRevision: v2")
    );
    assert!(repo.out().join("dev/applications/shop.yaml").exists());
    assert!(
        err.contains("left in place: dev/applications/shop.yaml (not written by ladder)"),
        "{err}"
    );
    assert!(err.contains("had no .ladder-render.json record"), "{err}");
    assert!(!recorded(&repo.out()).contains(&"dev/applications/shop.yaml".to_string()));
}

#[test]
fn a_broken_record_is_named() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    std::fs::write(repo.out().join(MANIFEST), "{not json").unwrap();
    let before = read_tree(&repo.out());
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains(".ladder-render.json` is not a record of ladder's files"),
        "{err}"
    );
    assert_eq!(read_tree(&repo.out()), before);
    assert_no_leftovers(&repo);
}

#[test]
fn out_naming_a_file_says_so() {
    let repo = TempRepo::example();
    std::fs::write(repo.out(), "a file").unwrap();
    for extra in [&[][..], &["--check"][..]] {
        let run = repo.render_with(extra);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "error: --out: `{}` is not a folder; it names the folder to render into (created if absent)",
                repo.out().display()
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(repo.out()).unwrap(), "a file");
        assert_no_leftovers(&repo);
    }

    // A folder under a file: the file is named.
    let under = repo.out().join("rendered");
    let run = render(&repo.repo(), &under, &[]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("`{}` is a file", repo.out().display())),
        "{err}"
    );
    assert_no_leftovers(&repo);
}

#[test]
fn out_may_be_a_link_to_a_folder() {
    let repo = TempRepo::example();
    let real = repo.dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, repo.out()).unwrap();
    for revision in ["v2", "v3"] {
        let text = repo.read("apps/web/app.yaml");
        let text = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("targetRevision:") {
                    format!("  targetRevision: {revision}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        repo.write("apps/web/app.yaml", &text);
        let run = repo.render();
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        assert!(
            std::fs::symlink_metadata(repo.out())
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            String::from_utf8_lossy(&rendered(&real)["dev/applications/web.yaml"])
                .contains(&format!("targetRevision: {revision}"))
        );
    }
}

#[test]
fn a_folder_without_a_record_rendered_one_environment_at_a_time() {
    let repo = TempRepo::example();
    assert!(repo.render().status.success());
    std::fs::remove_file(repo.out().join(MANIFEST)).unwrap();
    repo.edit(
        "apps/web/app.yaml",
        "targetRevision: main",
        "targetRevision: v2",
    );
    let run = repo.render_with(&["--env", "staging"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    // The other environments' documents are an earlier ladder's, not someone else's.
    assert!(!err.contains("left in place"), "{err}");
    assert_eq!(
        recorded(&repo.out()),
        rendered(&repo.out()).into_keys().collect::<Vec<_>>()
    );
    // So rendering them later replaces them rather than refusing.
    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        String::from_utf8_lossy(&rendered(&repo.out())["dev/applications/web.yaml"])
            .contains("targetRevision: v2")
    );
}

#[test]
fn a_link_in_place_of_the_record_is_not_followed() {
    let repo = TempRepo::example();
    let target = repo.dir.path().join("elsewhere.txt");
    std::fs::write(&target, "not ladder's").unwrap();
    std::fs::create_dir_all(repo.out()).unwrap();
    std::os::unix::fs::symlink(&target, repo.out().join(MANIFEST)).unwrap();
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("`.ladder-render.json`; move it away"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not ladder's");
}

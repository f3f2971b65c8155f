//! Protected environments: removing one of their Applications from `--out` needs the app
//! named in the environment's `retire`; without it `render` refuses (exit 1, nothing
//! written) and `render --check` lists the removal with what to do.

mod common;

use common::*;

/// The example with prod protected, rendered once.
fn protected_example() -> TempRepo {
    let repo = TempRepo::example();
    let prod = repo.read("environments/prod.yaml");
    repo.write(
        "environments/prod.yaml",
        &format!("{prod}protected: true\n"),
    );
    let run = repo.render();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    repo
}

/// Renames app docs (deployed to dev and prod) to manual.
fn rename_docs(repo: &TempRepo) {
    std::fs::rename(
        repo.repo().join("apps/docs"),
        repo.repo().join("apps/manual"),
    )
    .unwrap();
    repo.edit("apps/manual/app.yaml", "name: docs", "name: manual");
    repo.edit(
        "apps/manual/app.yaml",
        "path: apps/docs/",
        "path: apps/manual/",
    );
}

const REFUSED: &str = "removing Application `docs` of protected environment prod: add `retire: [docs]` to environments/prod.yaml to remove it on purpose";

#[test]
fn renaming_an_app_of_a_protected_environment_needs_retire() {
    let repo = protected_example();
    rename_docs(&repo);
    let before = read_tree(&repo.out());

    // --check lists the removal, says what to do, and exits 1.
    let check = repo.render_with(&["--check"]);
    let out = stdout(&check);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "refused: prod/applications/docs.yaml: {REFUSED}\n"
        )),
        "{out}"
    );
    // dev is not protected: its removal is an ordinary one.
    assert!(
        out.contains("stale:   dev/applications/docs.yaml\n"),
        "{out}"
    );
    assert!(
        out.contains("missing: prod/applications/manual.yaml\n"),
        "{out}"
    );
    assert!(
        stderr(&check).contains("`ladder render` would refuse 1 of them"),
        "{}",
        stderr(&check)
    );

    // validate, given the folder, lists the same refusal before any render, and
    // without the folder it has nothing to compare with.
    let validate = ladder(&[
        "validate",
        "--repo",
        repo.repo().to_str().unwrap(),
        "--out",
        repo.out().to_str().unwrap(),
    ]);
    assert_eq!(validate.status.code(), Some(1), "{}", stderr(&validate));
    assert!(
        stdout(&validate).contains(&format!("refused: prod/applications/docs.yaml: {REFUSED}")),
        "{}",
        stdout(&validate)
    );
    assert!(
        !stdout(&validate).contains("stale:"),
        "only what a render refuses"
    );
    let plain = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));

    // render refuses: exit 1, nothing written, no staging folder.
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("error: {REFUSED}")), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(read_tree(&repo.out()), before);
    assert_eq!(std::fs::read_dir(repo.dir.path()).unwrap().count(), 2);

    let json = repo.render_with(&["--output", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["protected"][0]["env"], "prod");
    assert_eq!(report["protected"][0]["app"], "docs");
    assert_eq!(report["protected"][0]["file"], "environments/prod.yaml");
    assert_eq!(read_tree(&repo.out()), before);

    // The deliberate step, committed with the config: retire lists the app.
    let prod = repo.read("environments/prod.yaml");
    repo.write("environments/prod.yaml", &format!("{prod}retire: [docs]\n"));
    let check = repo.render_with(&["--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("retired: prod/applications/docs.yaml\n"),
        "{}",
        stdout(&check)
    );
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(
        err.contains("retired: prod/applications/docs.yaml"),
        "{err}"
    );
    assert!(!repo.out().join("prod/applications/docs.yaml").exists());
    assert!(!repo.out().join("dev/applications/docs.yaml").exists());
    assert!(repo.out().join("prod/applications/manual.yaml").exists());

    // Later renders have nothing left to retire.
    let again = repo.render_with(&["--check"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn rendering_other_environments_does_not_touch_a_protected_one() {
    let repo = protected_example();
    rename_docs(&repo);
    let run = repo.render_with(&["--env", "dev"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(!repo.out().join("dev/applications/docs.yaml").exists());
    assert!(repo.out().join("prod/applications/docs.yaml").exists());
    // prod is still refused when it is rendered.
    let run = repo.render_with(&["--env", "prod"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
}

#[test]
fn a_protected_environment_does_not_vanish_with_its_applications() {
    let repo = protected_example();
    std::fs::remove_file(repo.repo().join("environments/prod.yaml")).unwrap();
    repo.edit(
        "apps/docs/app.yaml",
        "environments: [dev, prod]",
        "environments: [dev]",
    );
    let before = read_tree(&repo.out());
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "removing Application `web` of environment prod, which was protected when last rendered and is no longer in the config: render once with `protected: false` in environments/prod.yaml before removing the environment"
        ),
        "{err}"
    );
    assert_eq!(read_tree(&repo.out()), before);
}

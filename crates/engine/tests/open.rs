//! `ladder_engine::open` on every kind of source, against real repos: a folder as it is
//! on disk, a folder at a ref (also a subfolder of a larger repo), a URL at the remote's
//! default branch or a ref, with a subfolder; and the typed errors for what is wrong.

use std::path::{Path, PathBuf};

use ladder_engine::{Error, OpenOptions, RepoSpec, load, load_and_render, open};
use ladder_git::RemoteOptions;
use ladder_model::LoadOptions;
use ladder_render::RenderOptions;
use ladder_testkit::{EXAMPLE_CONFIG_REPO, GitDaemon, example_in_subfolder, example_platform, git};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme")
}

/// A platform repo holding the example under `tenants/acme`, committed on `branch`,
/// plus a bare clone of it under `served/platform.git`.
fn platform(root: &Path, branch: &str) -> (PathBuf, PathBuf) {
    let (work, served) = (root.join("platform"), root.join("served"));
    example_platform(
        &example(),
        &work,
        Some("tenants/acme"),
        branch,
        &served.join("platform.git"),
    );
    (work, served)
}

fn options(cache: &Path) -> OpenOptions {
    OpenOptions {
        cache_dir: cache.to_path_buf(),
        remote: RemoteOptions::default(),
        ..OpenOptions::default()
    }
}

fn rendered(spec: &RepoSpec, options: &OpenOptions) -> std::collections::BTreeMap<String, Vec<u8>> {
    let opened = open(spec, options).unwrap();
    let (_, rendering) = load_and_render(&opened, &RenderOptions::default())
        .unwrap()
        .unwrap_or_else(|p| panic!("{p}"));
    rendering.files
}

#[test]
fn every_kind_of_source_renders_the_same_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, served) = platform(tmp.path(), "trunk");
    let cache = tmp.path().join("cache");
    let on_disk = rendered(&RepoSpec::Folder(example()), &options(&cache));
    assert!(on_disk.len() > 3);

    // The example itself lives in ladder's own repository, which is not the repo its
    // Applications name: it is a config repo of its own, nothing to prefix.
    let monorepo = example_in_subfolder(&on_disk, "tenants/acme");
    // A folder inside a checkout of the config repo: its place is found by itself, read
    // from disk or at a ref.
    let direct = RepoSpec::Folder(work.join("tenants/acme"));
    assert_eq!(rendered(&direct, &options(&cache)), monorepo);
    let via_option = OpenOptions {
        subfolder: Some("tenants/acme".into()),
        ..options(&cache)
    };
    assert_eq!(
        rendered(&RepoSpec::Folder(work.clone()), &via_option),
        monorepo
    );
    // The same folder in a checkout of some other repo: a config repo of its own.
    git(
        &work,
        &[
            "remote",
            "set-url",
            "origin",
            "https://example.com/other.git",
        ],
    );
    assert_eq!(rendered(&direct, &options(&cache)), on_disk);
    git(&work, &["remote", "set-url", "origin", EXAMPLE_CONFIG_REPO]);

    // The same subfolder at a ref of its Git repo: its place is found by itself.
    let at_ref = OpenOptions {
        git_ref: Some("trunk".into()),
        ..options(&cache)
    };
    let opened = open(&direct, &at_ref).unwrap();
    assert_eq!(opened.subfolder(), "tenants/acme");
    assert!(opened.commit().is_some());
    assert!(
        opened
            .description()
            .unwrap()
            .contains("folder tenants/acme")
    );
    assert_eq!(rendered(&direct, &at_ref), monorepo);

    // A URL at the remote's default branch (not `main`), with a subfolder.
    let daemon = GitDaemon::start(&served);
    let url = RepoSpec::Url(daemon.url("platform.git"));
    let remote = OpenOptions {
        subfolder: Some("tenants/acme".into()),
        ..options(&cache)
    };
    let opened = open(&url, &remote).unwrap();
    assert_eq!(opened.git_ref(), Some("trunk"));
    assert!(
        opened.repo().is_some(),
        "the mirror is there for the promoter"
    );
    assert_eq!(rendered(&url, &remote), monorepo);
}

#[test]
fn what_is_wrong_with_a_source_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, served) = platform(tmp.path(), "main");
    let cache = tmp.path().join("cache");

    let err = open(&RepoSpec::Folder(tmp.path().join("nope")), &options(&cache))
        .err()
        .unwrap();
    assert!(matches!(err, Error::NotARepo { .. }), "{err}");

    let climbing = OpenOptions {
        subfolder: Some("../..".into()),
        ..options(&cache)
    };
    let err = open(&RepoSpec::Folder(work.clone()), &climbing)
        .err()
        .unwrap();
    assert!(matches!(err, Error::BadSubfolder { .. }), "{err}");

    let daemon = GitDaemon::start(&served);
    let url = RepoSpec::Url(daemon.url("platform.git"));
    let missing_sub = OpenOptions {
        subfolder: Some("tenants/nobody".into()),
        ..options(&cache)
    };
    let err = open(&url, &missing_sub).err().unwrap();
    assert!(matches!(err, Error::BadSubfolder { .. }), "{err}");
    assert!(!err.is_transient());

    let bad_ref = OpenOptions {
        git_ref: Some("no-such-branch".into()),
        ..options(&cache)
    };
    let err = open(&url, &bad_ref).err().unwrap();
    assert!(matches!(err, Error::RefNotFound { .. }), "{err}");
    assert!(!err.is_transient());

    // Nothing listens: an environment failure, worth a retry, with no CLI advice.
    let port = ladder_testkit::free_port();
    let gone = RepoSpec::Url(format!("git://127.0.0.1:{port}/platform.git"));
    let err = open(&gone, &options(&cache)).err().unwrap();
    assert!(matches!(err, Error::Git { .. }), "{err}");
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("--"), "{err}");

    // A folder that opens but holds no tenant: problems, not an error.
    let opened = open(&RepoSpec::Folder(work), &options(&cache)).unwrap();
    let problems = load(&opened, &LoadOptions::default()).unwrap().unwrap_err();
    assert!(
        problems.iter().any(|p| p.file == "ladder.yaml"),
        "{problems}"
    );
}

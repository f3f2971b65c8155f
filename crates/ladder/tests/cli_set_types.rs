//! `ladder set` keeps the type of the value it replaces, `--also` carries its own type,
//! inserted values follow the file's quoting, and a key added at the end of a file goes
//! after the last entry's own comments. Through the real binary, exact bytes.

mod common;

use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

const VALUES: &str = "image:\n  tag: v1.0.0\nreplicas: 2 # HPA min\nratio: 0.5\nmetrics: true\n";

#[test]
fn an_int_stays_an_int() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["set", &f, "replicas", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = ladder(&["set", &f, "ratio", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = ladder(&["set", &f, "metrics", "false"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A string stays a string, even one that looks like a number.
    let out = ladder(&["set", &f, "image.tag", "1.20"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&f),
        "image:\n  tag: '1.20'\nreplicas: 3 # HPA min\nratio: 1.0\nmetrics: false\n"
    );
}

#[test]
fn another_type_is_refused_with_the_flag_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["set", &f, "replicas", "three"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "{f}:3:11: error: 'replicas' holds an int (2) and \"three\" is not one; writing it would make the value a string; to change its type, pass --type string\n"
        )
    );
    let out = ladder(&["set", &f, "replicas", "1.5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with("to change its type, pass --type float\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&f), VALUES);
    // With the flag, the type changes.
    let out = ladder(&["set", &f, "replicas", "three", "--type", "string"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(read(&f).contains("replicas: three # HPA min\n"));
}

#[test]
fn also_carries_its_own_type() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    // Without a type, --also keeps the old type too; a mismatch names the --also syntax.
    let out = ladder(&["set", &f, "image.tag", "v2", "--also", "metrics=on"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with("to change its type, write --also 'metrics:string=on'\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&f), VALUES);
    let out = ladder(&[
        "set",
        &f,
        "image.tag",
        "v2",
        "--also",
        "metrics:string=on",
        "--also",
        "replicas=4",
        "--also",
        "image.port:int=8080",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&f),
        "image:\n  tag: v2\n  port: 8080\nreplicas: 4 # HPA min\nratio: 0.5\nmetrics: 'on'\n"
    );
    // --type applies to --also edits without their own type.
    let out = ladder(&[
        "set",
        &f,
        "replicas",
        "5",
        "--type",
        "int",
        "--also",
        "ratio=abc",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid int value \"abc\""),
        "{}",
        stderr(&out)
    );
    let out = ladder(&[
        "set",
        &f,
        "replicas",
        "5",
        "--type",
        "int",
        "--also",
        "image.tag:string=7",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&f),
        "image:\n  tag: '7'\n  port: 8080\nreplicas: 5 # HPA min\nratio: 0.5\nmetrics: 'on'\n"
    );
    // A selector's `=` is part of the path.
    let k = write(dir.path(), "k.yaml", "images:\n- name: web\n  newTag: v1\n");
    let out = ladder(&[
        "set",
        &k,
        "images[name=web].newTag",
        "v2",
        "--also",
        "images[name=web].digest=sha256:x",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&k),
        "images:\n- name: web\n  newTag: v2\n  digest: sha256:x\n"
    );
}

#[test]
fn inserted_values_follow_the_files_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "values.yaml",
        "image:\n  repository: \"ghcr.io/acme/web\"\n  tag: \"v1\"\n",
    );
    let out = ladder(&["set", &f, "image.pullPolicy", "Always"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&f),
        "image:\n  repository: \"ghcr.io/acme/web\"\n  tag: \"v1\"\n  pullPolicy: \"Always\"\n"
    );
}

#[test]
fn a_key_added_at_the_end_respects_whose_comments_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "values.yaml",
        "resources:\n  requests:\n    cpu: 100m\n  # limits:\n  #   cpu: 200m\n\n# vim: set ts=2\n",
    );
    let out = ladder(&["set", &f, "nodeSelector.zone", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read(&f),
        "resources:\n  requests:\n    cpu: 100m\n  # limits:\n  #   cpu: 200m\nnodeSelector:\n  zone: a\n\n# vim: set ts=2\n"
    );
}

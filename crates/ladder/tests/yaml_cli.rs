//! `ladder get` / `ladder set` run as a real binary on files in temporary directories.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ladder(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ladder");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_string()
}

const VALUES: &str =
    "# values\nimage:\n  repository: ghcr.io/acme/web\n  tag: v1.0.0  # promoted\n\nreplicas: 2\n";

#[test]
fn get_prints_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["get", &f, "image.tag"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v1.0.0\n");
    let out = ladder(&["get", &f, "replicas", "--output", "json"], None);
    assert_eq!(text(&out.stdout), "2\n");
    let out = ladder(&["get", &f, "image.tag", "-o", "json"], None);
    assert_eq!(text(&out.stdout), "\"v1.0.0\"\n");
}

#[test]
fn get_missing_path_exits_1_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["get", &f, "image.tagg"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{f}:3:3: error: no such path 'image.tagg'")),
        "{err}"
    );
    assert!(err.contains("did you mean 'tag'"), "{err}");
}

#[test]
fn set_rewrites_only_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["set", &f, "image.tag", "v1.1.0"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "# values\nimage:\n  repository: ghcr.io/acme/web\n  tag: v1.1.0  # promoted\n\nreplicas: 2\n"
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn set_types_and_batch() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    let out = ladder(&["set", &f, "replicas", "3", "--type", "int"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = ladder(
        &[
            "set",
            &f,
            "image.tag",
            "1.20",
            "--also",
            "image.digest=sha256:abc",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "# values\nimage:\n  repository: ghcr.io/acme/web\n  tag: '1.20'  # promoted\n  digest: sha256:abc\n\nreplicas: 3\n"
    );
    let out = ladder(&["set", &f, "replicas", "three", "--type", "int"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid int value \"three\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn set_stdin_to_stdout() {
    let out = ladder(&["set", "-", "a.b", "true"], Some("a:\n  b: x # c\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a:\n  b: 'true' # c\n");
    let out = ladder(&["get", "-", "a.b"], Some("a:\n  b: x # c\n"));
    assert_eq!(text(&out.stdout), "x\n");
}

#[test]
fn set_error_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "a: 1\nb: [unclosed\nc: 3\n";
    let f = write(dir.path(), "broken.yaml", broken);
    // Invalid YAML and a refused edit are bad input: exit 1 (they were 2 before the
    // one exit-code scheme).
    let out = ladder(&["set", &f, "a", "2"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with(&format!("{f}:")), "{err}");
    assert!(err.contains("invalid YAML"), "{err}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), broken);

    let aliased = "base: &b\n  tag: v1\nweb: *b\n";
    let f = write(dir.path(), "alias.yaml", aliased);
    let out = ladder(&["set", &f, "web.tag", "v2"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{f}:3:6: error: 'web' is reached through alias *b"
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), aliased);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn set_missing_index_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "k.yaml", "images:\n- name: web\n  newTag: v1\n");
    let out = ladder(&["set", &f, "images[name=api].newTag", "v2"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no item of 'images' has name=api"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn multi_document_selection() {
    let dir = tempfile::tempdir().unwrap();
    let src = "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n---\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n";
    let f = write(dir.path(), "m.yaml", src);
    // An ambiguous document is bad input (1; it was 2), and the advice names the flags.
    let out = ladder(&["get", &f, "spec.replicas"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--doc N"),
        "{}",
        text(&out.stderr)
    );
    let out = ladder(
        &[
            "set",
            &f,
            "spec.replicas",
            "5",
            "-t",
            "int",
            "--select",
            "Deployment/api",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = ladder(&["get", &f, "spec.replicas", "--doc", "1"], None);
    assert_eq!(text(&out.stdout), "5\n");
    let out = ladder(&["get", &f, "spec.replicas", "--doc", "0"], None);
    assert_eq!(text(&out.stdout), "1\n");
}

#[cfg(unix)]
#[test]
fn set_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yaml", VALUES);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = ladder(&["set", &f, "image.tag", "v9"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn bad_path_syntax_is_a_usage_error() {
    let out = ladder(&["get", "-", "a..b"], Some("a: 1\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid path \"a..b\" at character 2"),
        "{}",
        text(&out.stderr)
    );
}

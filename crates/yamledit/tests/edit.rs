//! Every case asserts the exact output bytes.

use yamledit::{DocSelector, Edit, Error, Path, Value, get, set, set_many};

fn p(s: &str) -> Path {
    Path::parse(s).unwrap()
}

fn set_str(src: &str, path: &str, value: &str) -> String {
    set(src, &p(path), value).unwrap_or_else(|e| panic!("set {path}: {e}"))
}

fn get1(src: &str, path: &str) -> Value {
    get(src, &DocSelector::Auto, &p(path)).unwrap_or_else(|e| panic!("get {path}: {e}"))
}

#[test]
fn keeps_trailing_comment_on_the_same_line() {
    let src = "image:\n  repository: web\n  tag: v1.0.0 # {\"$imagepolicy\": \"x\"}\n";
    assert_eq!(
        set_str(src, "image.tag", "v1.1.0"),
        "image:\n  repository: web\n  tag: v1.1.0 # {\"$imagepolicy\": \"x\"}\n"
    );
}

#[test]
fn keeps_comments_and_blank_lines_around() {
    let src = "# top\n\nimage:\n  # the tag\n  tag: \"1.0\"   # pinned\n\n\n# end\nother: x\n";
    assert_eq!(
        set_str(src, "image.tag", "1.1"),
        "# top\n\nimage:\n  # the tag\n  tag: \"1.1\"   # pinned\n\n\n# end\nother: x\n"
    );
}

#[test]
fn keeps_crlf() {
    let src = "a:\r\n  tag: v1 # c\r\nb: 2\r\n";
    assert_eq!(
        set_str(src, "a.tag", "v2"),
        "a:\r\n  tag: v2 # c\r\nb: 2\r\n"
    );
}

#[test]
fn keeps_bom() {
    let src = "\u{feff}tag: v1\nnext: 1\n";
    assert_eq!(set_str(src, "tag", "v2"), "\u{feff}tag: v2\nnext: 1\n");
    assert_eq!(get1(src, "tag"), Value::from("v1"));
}

#[test]
fn non_ascii_before_the_edit() {
    let src =
        "description: \"Überprüfung 日本語 🚀 émoji\"\nnote: ñandú # 注释\nimage:\n  tag: v1\n";
    assert_eq!(
        set_str(src, "image.tag", "v2"),
        "description: \"Überprüfung 日本語 🚀 émoji\"\nnote: ñandú # 注释\nimage:\n  tag: v2\n"
    );
    let src = "k: |\n  日本語のテキスト 🚀\n  more ✓\nimage: {name: ü, tag: v1}\n";
    assert_eq!(
        set_str(src, "image.tag", "v2"),
        "k: |\n  日本語のテキスト 🚀\n  more ✓\nimage: {name: ü, tag: v2}\n"
    );
    let src = "ключ: значение\nтег: старый\n";
    assert_eq!(set_str(src, "тег", "новый"), "ключ: значение\nтег: новый\n");
}

#[test]
fn anchors_elsewhere_are_kept() {
    let src = "base: &base\n  pull: Always\nweb:\n  <<: *base\n  tag: v1\nworker: *base\n";
    assert_eq!(
        set_str(src, "web.tag", "v2"),
        "base: &base\n  pull: Always\nweb:\n  <<: *base\n  tag: v2\nworker: *base\n"
    );
}

#[test]
fn refuses_values_behind_an_alias_and_names_the_anchor() {
    let src = "base: &defaults\n  tag: v1\nweb: *defaults\nv: &ver v1\nworker:\n  tag: *ver\n";
    match set(src, &p("web.tag"), "v2") {
        Err(Error::BehindAlias {
            anchor,
            anchor_line,
            at,
            ..
        }) => {
            assert_eq!(anchor, "defaults");
            assert_eq!(anchor_line, 2);
            assert_eq!((at.line, at.column), (3, 6));
        }
        other => panic!("{other:?}"),
    }
    let err = set(src, &p("worker.tag"), "v2").unwrap_err();
    assert!(err.to_string().contains("*ver"), "{err}");
    assert!(err.to_string().contains("&ver"), "{err}");
    // get follows the alias.
    assert_eq!(get1(src, "web.tag"), Value::from("v1"));
    assert_eq!(get1(src, "worker.tag"), Value::from("v1"));
}

#[test]
fn refuses_merged_keys() {
    let src = "base: &b\n  tag: v1\nweb:\n  <<: *b\n  name: web\n";
    assert_eq!(get1(src, "web.tag"), Value::from("v1"));
    assert!(
        matches!(set(src, &p("web.tag"), "v2"), Err(Error::BehindAlias { anchor, .. }) if anchor == "b")
    );
}

#[test]
fn editing_the_anchored_value_itself_is_allowed() {
    let src = "base: &b\n  tag: v1\nweb: *b\n";
    assert_eq!(
        set_str(src, "base.tag", "v2"),
        "base: &b\n  tag: v2\nweb: *b\n"
    );
}

#[test]
fn multi_document_by_index_and_by_kind_name() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  tag: v1\n---\n# second\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  tag: v1\n";
    let e = Edit::new(p("data.tag"), "v2").in_doc(DocSelector::Index(1));
    assert_eq!(
        set_many(src, &[e]).unwrap(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  tag: v1\n---\n# second\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  tag: v2\n"
    );
    let sel: DocSelector = "ConfigMap/a".parse().unwrap();
    let e = Edit::new(p("data.tag"), "v3").in_doc(sel.clone());
    assert_eq!(
        set_many(src, &[e]).unwrap(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  tag: v3\n---\n# second\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  tag: v1\n"
    );
    assert_eq!(
        get(src, &sel, &p("metadata.name")).unwrap(),
        Value::from("a")
    );
    let err = set(src, &p("data.tag"), "x").unwrap_err();
    assert_eq!(err, Error::AmbiguousDocument { count: 2 }, "{err}");
    // A library names no CLI flag; the binary adds `--doc N` / `--select`.
    assert!(!err.to_string().contains("--"), "{err}");
    let err = get(src, &"Secret/a".parse().unwrap(), &p("data")).unwrap_err();
    assert!(
        err.to_string().contains("ConfigMap/a, ConfigMap/b"),
        "{err}"
    );
}

#[test]
fn auto_ignores_empty_documents() {
    let src = "---\ntag: v1\n---\n";
    assert_eq!(set_str(src, "tag", "v2"), "---\ntag: v2\n---\n");
}

#[test]
fn quoting_is_kept_when_it_can_hold_the_value() {
    assert_eq!(set_str("t: 'v1'\n", "t", "v2"), "t: 'v2'\n");
    assert_eq!(set_str("t: \"v1\"\n", "t", "v2"), "t: \"v2\"\n");
    assert_eq!(set_str("t: 'v1'\n", "t", "it's"), "t: 'it''s'\n");
    assert_eq!(
        set_str("t: \"v1\"\n", "t", "say \"hi\""),
        "t: \"say \\\"hi\\\"\"\n"
    );
    assert_eq!(set_str("t: v1\n", "t", "v2"), "t: v2\n");
}

#[test]
fn quotes_values_that_would_change_type() {
    for (v, want) in [
        ("1.20", "t: '1.20'\n"),
        ("true", "t: 'true'\n"),
        ("0755", "t: '0755'\n"),
        ("null", "t: 'null'\n"),
        ("1e3", "t: '1e3'\n"),
        ("yes", "t: 'yes'\n"),
        ("", "t: ''\n"),
        ("2024-01-01", "t: '2024-01-01'\n"),
        ("- x", "t: '- x'\n"),
        ("a: b", "t: 'a: b'\n"),
        ("x #y", "t: 'x #y'\n"),
        ("*ref", "t: '*ref'\n"),
    ] {
        assert_eq!(set_str("t: v1\n", "t", v), want, "{v}");
        assert_eq!(get1(want, "t"), Value::from(v), "{v}");
    }
    assert_eq!(set_str("t: \"v1\"\n", "t", "1.20"), "t: \"1.20\"\n");
    assert_eq!(
        set_str("t: v1\n", "t", "two\nlines"),
        "t: \"two\\nlines\"\n"
    );
}

#[test]
fn typed_values() {
    let src = "replicas: \"2\"\nenabled: 'no'\nratio: 1\n";
    let out = set_many(
        src,
        &[
            Edit::new(p("replicas"), 3i64),
            Edit::new(p("enabled"), true),
            Edit::new(p("ratio"), Value::Float(0.5)),
        ],
    )
    .unwrap();
    assert_eq!(out, "replicas: 3\nenabled: true\nratio: 0.5\n");
    assert_eq!(get1(&out, "replicas"), Value::Int(3));
    assert_eq!(get1(&out, "enabled"), Value::Bool(true));
}

#[test]
fn flow_collections() {
    let src = "image: {repository: web, tag: v1}  # c\nargs: [a, b, 'c']\n";
    assert_eq!(
        set_str(src, "image.tag", "v2"),
        "image: {repository: web, tag: v2}  # c\nargs: [a, b, 'c']\n"
    );
    assert_eq!(
        set_str(src, "args[1]", "x, y"),
        "image: {repository: web, tag: v1}  # c\nargs: [a, 'x, y', 'c']\n"
    );
    assert_eq!(
        set_str(src, "args[2]", "z"),
        "image: {repository: web, tag: v1}  # c\nargs: [a, b, 'z']\n"
    );
    let src = "m: {a: 1,\n  b: [x, {tag: v1}]}\n";
    assert_eq!(
        set_str(src, "m.b[1].tag", "v2"),
        "m: {a: 1,\n  b: [x, {tag: v2}]}\n"
    );
}

#[test]
fn block_literal_keeps_header_comment_and_indentation() {
    let src = "script: |  # run me\n    echo one\n    echo two\nnext: 1\n";
    assert_eq!(
        set_str(src, "script", "echo three\n"),
        "script: |  # run me\n    echo three\nnext: 1\n"
    );
    assert_eq!(
        set_str(src, "script", "a\nb"),
        "script: |-  # run me\n    a\n    b\nnext: 1\n"
    );
    assert_eq!(
        set_str(src, "script", "a\n\n\n"),
        "script: |+  # run me\n    a\n\n\nnext: 1\n"
    );
    assert_eq!(
        get1(&set_str(src, "script", "a\n\n\n"), "script"),
        Value::from("a\n\n\n")
    );
}

#[test]
fn block_literal_with_blank_lines_and_keep() {
    let src = "a: |+\n  x\n\n\nb: 1\n";
    assert_eq!(set_str(src, "a", "y\n"), "a: |\n  y\nb: 1\n");
    let src = "a: |\n  x\n\n  y\n\nb: 1\n";
    assert_eq!(set_str(src, "a", "z\n"), "a: |\n  z\n\nb: 1\n");
}

#[test]
fn block_folded() {
    let src = "desc: >\n  one two\n  three\nn: 1\n";
    assert_eq!(get1(src, "desc"), Value::from("one two three\n"));
    assert_eq!(
        set_str(src, "desc", "new text\n"),
        "desc: >\n  new text\nn: 1\n"
    );
    assert_eq!(
        set_str(src, "desc", "l1\nl2\n"),
        "desc: >\n  l1\n\n  l2\nn: 1\n"
    );
    // Leading spaces cannot be folded: the style becomes literal.
    assert_eq!(
        set_str(src, "desc", "x\n  y\n"),
        "desc: |\n  x\n    y\nn: 1\n"
    );
}

#[test]
fn block_scalar_replaced_by_a_one_line_value() {
    let src = "a: |-  # note\n  x\n  y\nb: 1\n";
    assert_eq!(set_str(src, "a", "plain"), "a: |-  # note\n  plain\nb: 1\n");
    assert_eq!(set(src, &p("a"), 5i64).unwrap(), "a: 5  # note\nb: 1\n");
    assert_eq!(set_str(src, "a", ""), "a: \"\"  # note\nb: 1\n");
}

#[test]
fn block_scalar_at_end_of_file_without_newline() {
    let src = "a: |\n  x";
    assert_eq!(set_str(src, "a", "y\n"), "a: |\n  y\n");
    assert_eq!(set_str(src, "a", "y"), "a: |-\n  y");
}

#[test]
fn multi_line_plain_and_quoted_values() {
    let src = "a: one\n  two\nb: \"x\n  y\"\nc: 1\n";
    assert_eq!(set_str(src, "a", "v"), "a: v\nb: \"x\n  y\"\nc: 1\n");
    assert_eq!(set_str(src, "b", "v"), "a: one\n  two\nb: \"v\"\nc: 1\n");
}

#[test]
fn lists_by_index_and_selector() {
    let src = "spec:\n  containers:\n    - name: web\n      image: web:v1\n    - name: sidecar\n      image: envoy:v1\n";
    assert_eq!(
        set_str(src, "spec.containers[1].image", "envoy:v2"),
        "spec:\n  containers:\n    - name: web\n      image: web:v1\n    - name: sidecar\n      image: envoy:v2\n"
    );
    assert_eq!(
        set_str(src, "spec.containers[name=web].image", "web:v2"),
        "spec:\n  containers:\n    - name: web\n      image: web:v2\n    - name: sidecar\n      image: envoy:v1\n"
    );
}

#[test]
fn kustomize_images_and_argo_parameters() {
    let src = "images:\n- name: ghcr.io/acme/web\n  newTag: 1.0.0 # {\"$imagepolicy\": \"flux:web\"}\n- name: ghcr.io/acme/api\n  newTag: 2.0.0\n";
    assert_eq!(
        set_str(src, "images[name=ghcr.io/acme/web].newTag", "1.1.0"),
        "images:\n- name: ghcr.io/acme/web\n  newTag: 1.1.0 # {\"$imagepolicy\": \"flux:web\"}\n- name: ghcr.io/acme/api\n  newTag: 2.0.0\n"
    );
    let src = "spec:\n  source:\n    helm:\n      parameters:\n        - name: image.tag\n          value: \"1.0\"\n";
    assert_eq!(
        set_str(
            src,
            "spec.source.helm.parameters[name=image.tag].value",
            "1.1"
        ),
        "spec:\n  source:\n    helm:\n      parameters:\n        - name: image.tag\n          value: \"1.1\"\n"
    );
}

#[test]
fn quoted_keys_in_paths() {
    let src =
        "podAnnotations:\n  \"k8s.grafana.com/scrape\": \"false\"\n  prometheus.io/port: '9090'\n";
    assert_eq!(
        set_str(src, r#"podAnnotations."k8s.grafana.com/scrape""#, "true"),
        "podAnnotations:\n  \"k8s.grafana.com/scrape\": \"true\"\n  prometheus.io/port: '9090'\n"
    );
    assert_eq!(
        get1(src, r#"podAnnotations."prometheus.io/port""#),
        Value::from("9090")
    );
}

#[test]
fn empty_value_gets_one() {
    let src = "image:\n  tag:\n  pull: Always\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "image:\n  tag: v1\n  pull: Always\n"
    );
    let src = "image:\n  tag: # set by CI\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "image:\n  tag: v1 # set by CI\n"
    );
}

#[test]
fn inserts_missing_key_with_the_mapping_indentation() {
    let src = "image:\n    repository: web   # the repo\n    pullPolicy: Always\n\nother: 1\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "image:\n    repository: web   # the repo\n    pullPolicy: Always\n    tag: v1\n\nother: 1\n"
    );
}

#[test]
fn inserts_missing_parents() {
    let src = "replicas: 1\nservice:\n   port: 80\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "replicas: 1\nservice:\n   port: 80\nimage:\n   tag: v1\n"
    );
    let src = "a: 1";
    assert_eq!(
        set_str(src, "b.c.d", "true"),
        "a: 1\nb:\n  c:\n    d: 'true'\n"
    );
}

#[test]
fn inserts_under_an_empty_key_and_in_lists() {
    let src = "image:\nx: 1\n";
    assert_eq!(set_str(src, "image.tag", "v1"), "image:\n  tag: v1\nx: 1\n");
    let src = "containers:\n  - name: web\n    image: web\n";
    assert_eq!(
        set_str(src, "containers[0].tag", "v1"),
        "containers:\n  - name: web\n    image: web\n    tag: v1\n"
    );
}

#[test]
fn inserts_into_flow_mappings() {
    assert_eq!(
        set_str("image: {repository: web}\n", "image.tag", "v1"),
        "image: {repository: web, tag: v1}\n"
    );
    assert_eq!(
        set_str("image: {}\n", "image.tag", "v1"),
        "image: {tag: v1}\n"
    );
    assert_eq!(
        set_str("a: {b: 1}\n", "a.c.d", "v1"),
        "a: {b: 1, c: {d: v1}}\n"
    );
}

#[test]
fn insert_keeps_crlf_and_handles_missing_final_newline() {
    assert_eq!(
        set_str("a:\r\n  b: 1\r\n", "a.c", "2"),
        "a:\r\n  b: 1\r\n  c: '2'\r\n"
    );
    assert_eq!(set_str("a:\n  b: 1", "a.c", "x"), "a:\n  b: 1\n  c: x\n");
}

#[test]
fn insert_after_a_nested_last_entry() {
    let src = "image:\n  nested:\n    deep: 1 # c\n# trailing comment\nnext: 1\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "image:\n  nested:\n    deep: 1 # c\n  tag: v1\n# trailing comment\nnext: 1\n"
    );
    let src = "a:\n  s: |+\n    x\n\nb: 1\n";
    assert_eq!(
        set_str(src, "a.t", "v"),
        "a:\n  s: |+\n    x\n\n  t: v\nb: 1\n"
    );
}

#[test]
fn batch_edits_in_one_pass() {
    let src = "image:\n  repository: web\n  tag: v1\nreplicas: 1\n";
    let out = set_many(
        src,
        &[
            Edit::new(p("image.tag"), "v2"),
            Edit::new(p("image.digest"), "sha256:abc"),
            Edit::new(p("deploy.env.name"), "prod"),
            Edit::new(p("deploy.env.region"), "eu"),
            Edit::new(p("replicas"), 3i64),
        ],
    )
    .unwrap();
    assert_eq!(
        out,
        "image:\n  repository: web\n  tag: v2\n  digest: sha256:abc\nreplicas: 3\ndeploy:\n  env:\n    name: prod\n    region: eu\n"
    );
    let err = set_many(
        src,
        &[
            Edit::new(p("image.tag"), "a"),
            Edit::new(p("image.tag"), "b"),
        ],
    )
    .unwrap_err();
    assert!(matches!(err, Error::DuplicateEdit { .. }), "{err:?}");
}

#[test]
fn root_scalar_and_deep_index() {
    assert_eq!(set_str("--- v1\n", ".", "v2"), "--- v2\n");
    assert_eq!(
        set_str("- [a, [b, c]]\n", "[0][1][0]", "x"),
        "- [a, [x, c]]\n"
    );
}

#[test]
fn no_such_path_names_the_deepest_existing_key() {
    let src = "image:\n  repository: web\n  tag: v1\n";
    match get(src, &DocSelector::Auto, &p("image.tagg")) {
        Err(Error::NoSuchPath {
            deepest,
            detail,
            at,
            ..
        }) => {
            assert_eq!(deepest, "image");
            assert!(detail.contains("did you mean 'tag'"), "{detail}");
            assert_eq!(at.line, 2);
        }
        other => panic!("{other:?}"),
    }
    let err = get(src, &DocSelector::Auto, &p("image.tag.x")).unwrap_err();
    assert!(matches!(err, Error::WrongKind { .. }), "{err:?}");
    let err = get(src, &DocSelector::Auto, &p("image[0]")).unwrap_err();
    assert!(
        err.to_string().contains("'image' is a mapping, not a list"),
        "{err}"
    );
    let err = set(src, &p("image"), "x").unwrap_err();
    assert!(
        err.to_string().contains("is a mapping, not a scalar"),
        "{err}"
    );
    let src = "l:\n- name: a\n";
    let err = get(src, &DocSelector::Auto, &p("l[3]")).unwrap_err();
    assert!(err.to_string().contains("list of 1 items"), "{err}");
    let err = get(src, &DocSelector::Auto, &p("l[name=b].x")).unwrap_err();
    assert!(
        err.to_string().contains("no item of 'l' has name=b"),
        "{err}"
    );
    let err = set(src, &p("l[name=b].x"), "v").unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn syntax_errors_carry_line_and_column_and_nothing_is_edited() {
    let src = "a: 1\nb: [x, y\nc: 3\n";
    match set(src, &p("a"), "2") {
        Err(Error::Syntax { at, .. }) => assert!(at.line >= 2, "{at}"),
        other => panic!("{other:?}"),
    }
    let src = "a: 1\n  b: 2\n";
    assert!(matches!(set(src, &p("a"), "2"), Err(Error::Syntax { .. })));
}

#[test]
fn duplicate_keys_are_refused() {
    let err = set("a: 1\na: 2\n", &p("a"), "3").unwrap_err();
    assert!(
        matches!(err, Error::DuplicateKey { at, .. } if at.line == 2),
        "{err:?}"
    );
}

#[test]
fn get_types() {
    let src = "s: 'x'\ni: 42\nf: 1.5\nb: false\nn: ~\ne:\nh: 0x10\nstr: !!str 12\n";
    assert_eq!(get1(src, "s"), Value::from("x"));
    assert_eq!(get1(src, "i"), Value::Int(42));
    assert_eq!(get1(src, "f"), Value::Float(1.5));
    assert_eq!(get1(src, "b"), Value::Bool(false));
    assert_eq!(get1(src, "n"), Value::Null);
    assert_eq!(get1(src, "e"), Value::Null);
    assert_eq!(get1(src, "h"), Value::Int(16));
    assert_eq!(get1(src, "str"), Value::from("12"));
}

#[test]
fn tagged_value_refuses_a_type_change() {
    let err = set("a: !!str 1\n", &p("a"), 2i64).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(set_str("a: !!str 1\n", "a", "2"), "a: !!str '2'\n");
    let err = set("- !!int 1\n", &p("[0]"), "v2").unwrap_err();
    assert!(err.to_string().contains("explicit tag (!!int)"), "{err}");
    assert_eq!(set_str("k: !Ref old\n", "k", "new"), "k: !Ref new\n");
}

#[test]
fn value_already_set_gives_identical_bytes() {
    let src = "a:\n  tag: v1 # x\n";
    assert_eq!(set_str(src, "a.tag", "v1"), src);
}

#[test]
fn insert_after_an_alias_and_alias_keys() {
    let src = "a: &x 1\nb: *x\n";
    assert_eq!(set_str(src, "c", "v"), "a: &x 1\nb: *x\nc: v\n");
    let src = "k: &k key\nm:\n  *k : old\n";
    assert_eq!(set_str(src, "m.key", "new"), "k: &k key\nm:\n  *k : new\n");
}

#[test]
fn crlf_block_scalar_and_nested_insert() {
    let src = "a:\r\n  s: |\r\n    one\r\n    two\r\n  n: 1\r\n";
    assert_eq!(
        set_str(src, "a.s", "x\ny\n"),
        "a:\r\n  s: |\r\n    x\r\n    y\r\n  n: 1\r\n"
    );
    assert_eq!(
        set_str(src, "a.m.k", "v"),
        "a:\r\n  s: |\r\n    one\r\n    two\r\n  n: 1\r\n  m:\r\n    k: v\r\n"
    );
}

#[test]
fn insert_after_an_indentless_sequence() {
    let src = "a:\n  b:\n  - x\n  - y # last\nz: 1\n";
    assert_eq!(
        set_str(src, "a.c", "v"),
        "a:\n  b:\n  - x\n  - y # last\n  c: v\nz: 1\n"
    );
}

#[test]
fn document_markers_and_end_of_document() {
    let src = "%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n";
    let e = Edit::new(p("c"), "v").in_doc(DocSelector::Index(0));
    assert_eq!(
        set_many(src, &[e]).unwrap(),
        "%YAML 1.2\n---\na: 1\nc: v\n...\n---\nb: 2\n"
    );
    let e = Edit::new(p("b"), "3").in_doc(DocSelector::Index(1));
    assert_eq!(
        set_many(src, &[e]).unwrap(),
        "%YAML 1.2\n---\na: 1\n...\n---\nb: '3'\n"
    );
}

#[test]
fn value_on_the_line_after_its_key() {
    let src = "a:\n  long value\nb: 1\n";
    assert_eq!(set_str(src, "a", "short"), "a:\n  short\nb: 1\n");
}

#[test]
fn refused_cases_say_what_to_do() {
    let err = set("- \n- b\n", &p("[0]"), "x").unwrap_err();
    assert!(
        err.to_string().contains("write a placeholder value first"),
        "{err}"
    );
    let err = set("? a\n", &p("a"), "x").unwrap_err();
    assert!(
        err.to_string().contains("add ': placeholder' first"),
        "{err}"
    );
    let err = set("# only a comment\n", &p("a"), "x").unwrap_err();
    assert!(err.to_string().contains("no YAML document"), "{err}");
}

#[test]
fn nul_is_refused_not_taken_for_the_end() {
    match set("a: 1\nb: x\0y\n", &p("a"), "2") {
        Err(Error::Syntax { at, message }) => {
            assert_eq!((at.line, at.column), (2, 5));
            assert!(message.contains("NUL"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn root_block_scalar_at_column_zero() {
    // yaml-rust2 reads every following line as content here, document markers included.
    let src = "--- |\nline one\n---\n";
    assert_eq!(get1(src, "."), Value::from("line one\n---\n"));
    assert_eq!(set_str(src, ".", "x\n"), "--- |\nx\n");
}

#[test]
fn empty_block_scalar_with_indented_blank_lines() {
    // Found by fuzzing: the blank lines after an empty block scalar are part of it; new
    // content must be indented past them or they would become content.
    let src = "foo: |\n \n    ";
    assert_eq!(set_str(src, "foo", "1.20"), "foo: |-\n    1.20\n \n    ");
    assert_eq!(
        get1(&set_str(src, "foo", "1.20"), "foo"),
        Value::from("1.20")
    );
}

/// A values file large enough to be parsed in two halves at once (64 KiB and more).
fn large_values(services: usize) -> String {
    let mut s = String::from("# large\nglobal:\n  domain: example.com\n\n");
    for i in 0..services {
        s.push_str(&format!(
            "# Service {i}\nservice{i}:\n  image:\n    repository: ghcr.io/acme/s{i}  # registry\n    tag: \"v1.{i}.0\"\n  env:\n    - name: A\n      value: b\n  limits: {{cpu: 500m}}\n  config: |\n    x = {i}\n\n"
        ));
    }
    assert!(s.len() > 128 * 1024);
    s
}

#[test]
fn large_files_edit_and_read_like_small_ones() {
    let src = large_values(1000);
    for i in [0, 499, 500, 501, 999] {
        let path = format!("service{i}.image.tag");
        assert_eq!(get1(&src, &path), Value::from(format!("v1.{i}.0")));
        let out = set_str(&src, &path, "v9.9.9");
        let want = src.replacen(
            &format!("service{i}:\n  image:\n    repository: ghcr.io/acme/s{i}  # registry\n    tag: \"v1.{i}.0\""),
            &format!("service{i}:\n  image:\n    repository: ghcr.io/acme/s{i}  # registry\n    tag: \"v9.9.9\""),
            1,
        );
        assert_eq!(out, want, "{path}");
        assert_eq!(get1(&out, &path), Value::from("v9.9.9"));
    }
    // A new key at the end, and a missing key with a suggestion from the second half.
    let out = set_str(&src, "zz.tag", "v1");
    assert_eq!(
        out,
        src.replacen("x = 999\n\n", "x = 999\nzz:\n  tag: v1\n\n", 1)
    );
    // The same edits as one parse of the whole text gives them (a directive line turns
    // the two halves off).
    let pre = "%YAML 1.2\n---\n";
    let whole = format!("{pre}{src}");
    for (path, v) in [
        ("service0.image.tag", "a"),
        ("service600.env[0].value", "c"),
        ("service999.config", "y\n"),
        ("zz.tag", "v1"),
        ("service500.limits.cpu", "1"),
    ] {
        let split = set_str(&src, path, v);
        let one = set_str(&whole, path, v);
        assert_eq!(one.strip_prefix(pre), Some(split.as_str()), "{path}");
    }
    match get(&src, &DocSelector::Auto, &p("service999.imag.tag")) {
        Err(Error::NoSuchPath { detail, .. }) => assert!(detail.contains("'image'"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn large_files_are_refused_when_invalid_anywhere() {
    let src = large_values(1000);
    let lines = src.lines().count();
    // A broken line in the first half, in the second half, and at the very end.
    for (at, broken) in [
        (100, "  bad: [unclosed\n"),
        (lines - 100, "  bad: \"unclosed\n"),
        (lines, "x: - y\n"),
    ] {
        let mut text: Vec<&str> = src.split_inclusive('\n').collect();
        text.insert(at, broken);
        let text = text.concat();
        match set(&text, &p("service500.image.tag"), "v2") {
            Err(Error::Syntax { at: loc, .. }) => assert!(loc.line > at, "line {at}: {loc}"),
            other => panic!("line {at}: {other:?}"),
        }
    }
    // Anchors, aliases and directives are read by one parse of the whole file.
    let aliased = format!("base: &b\n  x: 1\n{src}last: *b\n");
    assert!(matches!(
        set(&aliased, &p("last.x"), "2"),
        Err(Error::BehindAlias { .. })
    ));
    assert_eq!(get1(&aliased, "last.x"), Value::Int(1));
    let unknown = format!("{src}last: *nope\n");
    assert!(matches!(
        set(&unknown, &p("service1.image.tag"), "v2"),
        Err(Error::Syntax { .. })
    ));
}

fn like_old(src: &str, path: &str, text: &str) -> Result<String, Error> {
    set_many(src, &[Edit::like_old(p(path), text)])
}

#[test]
fn like_old_keeps_the_type_of_the_value_it_replaces() {
    let src = "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: web\nempty:\nnull: ~\n";
    assert_eq!(
        like_old(src, "replicas", "3").unwrap(),
        "replicas: 3 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: web\nempty:\nnull: ~\n"
    );
    assert_eq!(
        like_old(src, "ratio", "2").unwrap(),
        "replicas: 2 # min\nratio: 2.0\non: true\ntag: \"1.0\"\nname: web\nempty:\nnull: ~\n"
    );
    assert_eq!(
        like_old(src, "on", "false").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: false\ntag: \"1.0\"\nname: web\nempty:\nnull: ~\n"
    );
    // A string stays a string, quoted when it would read as another type.
    assert_eq!(
        like_old(src, "tag", "1.1").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.1\"\nname: web\nempty:\nnull: ~\n"
    );
    assert_eq!(
        like_old(src, "name", "3").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: '3'\nempty:\nnull: ~\n"
    );
    // Empty and null values, and new keys, take a string (in the file's double
    // quotes when it needs quotes).
    assert_eq!(
        like_old(src, "empty", "3").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: web\nempty: \"3\"\nnull: ~\n"
    );
    assert_eq!(
        like_old(src, "null", "x").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: web\nempty:\nnull: x\n"
    );
    assert_eq!(
        like_old(src, "port", "80").unwrap(),
        "replicas: 2 # min\nratio: 0.5\non: true\ntag: \"1.0\"\nname: web\nempty:\nnull: ~\nport: \"80\"\n"
    );
    // Several in one batch, each typed by its own old value.
    let out = set_many(
        src,
        &[
            Edit::like_old(p("replicas"), "4"),
            Edit::like_old(p("name"), "api"),
            Edit::new(p("on"), "yes"),
        ],
    )
    .unwrap();
    assert_eq!(
        out,
        "replicas: 4 # min\nratio: 0.5\non: 'yes'\ntag: \"1.0\"\nname: api\nempty:\nnull: ~\n"
    );
}

#[test]
fn like_old_refuses_text_the_old_type_cannot_hold() {
    let src = "replicas: 2\nratio: 0.5\non: true\n";
    let err = like_old(src, "replicas", "three").unwrap_err();
    assert_eq!(
        err.to_string(),
        "'replicas' holds an int (2) and \"three\" is not one; writing it would make the value a string"
    );
    assert_eq!(err.location().map(|l| (l.line, l.column)), Some((1, 11)));
    let Error::TypeMismatch { suggested, .. } = like_old(src, "replicas", "1.5").unwrap_err()
    else {
        panic!()
    };
    assert_eq!(suggested, "float");
    let Error::TypeMismatch { suggested, .. } = like_old(src, "on", "yes").unwrap_err() else {
        panic!()
    };
    assert_eq!(suggested, "string");
    let Error::TypeMismatch {
        old_kind,
        suggested,
        ..
    } = like_old(src, "ratio", "false").unwrap_err()
    else {
        panic!()
    };
    assert_eq!((old_kind, suggested), ("float", "bool"));
    // Nothing is written for the batch.
    let err = set_many(
        src,
        &[
            Edit::like_old(p("ratio"), "0.7"),
            Edit::like_old(p("replicas"), "x"),
        ],
    )
    .unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
}

#[test]
fn inserted_strings_follow_the_files_quoting() {
    // Every string double-quoted: so is the new one.
    let src = "image:\n  repository: \"ghcr.io/acme/web\"\n  tag: \"v1\"\n";
    assert_eq!(
        set_str(src, "image.digest", "sha256:abc"),
        "image:\n  repository: \"ghcr.io/acme/web\"\n  tag: \"v1\"\n  digest: \"sha256:abc\"\n"
    );
    // Plain strings, double quotes where needed: plain when possible, else double.
    let src = "name: web\nversion: \"1.20\"\n";
    assert_eq!(
        set_str(src, "owner", "acme"),
        "name: web\nversion: \"1.20\"\nowner: acme\n"
    );
    assert_eq!(
        set_str(src, "minor", "1.21"),
        "name: web\nversion: \"1.20\"\nminor: \"1.21\"\n"
    );
    // Single quotes everywhere.
    let src = "a: 'x'\nb: 'y'\n";
    assert_eq!(set_str(src, "c", "z"), "a: 'x'\nb: 'y'\nc: 'z'\n");
    // An empty value that receives one, and flow mappings, too.
    let src = "a: \"x\"\nb:\nc: {d: \"e\"}\n";
    assert_eq!(
        set_str(src, "b", "y"),
        "a: \"x\"\nb: \"y\"\nc: {d: \"e\"}\n"
    );
    assert_eq!(
        set_str(src, "c.f", "g"),
        "a: \"x\"\nb:\nc: {d: \"e\", f: \"g\"}\n"
    );
    // Typed values stay plain; a replaced value keeps its own style.
    let src = "a: \"x\"\nb: y\n";
    assert_eq!(
        set(src, &p("count"), 3i64).unwrap(),
        "a: \"x\"\nb: y\ncount: 3\n"
    );
    assert_eq!(set_str(src, "b", "z"), "a: \"x\"\nb: z\n");
}

#[test]
fn insert_at_the_end_goes_after_the_last_entrys_own_comments() {
    // Indented like the entry's children: they belong to it.
    let src = "image:\n  tag: v1\n  # pullPolicy: Always\n";
    assert_eq!(
        set_str(src, "replicas", "2"),
        "image:\n  tag: v1\n  # pullPolicy: Always\nreplicas: '2'\n"
    );
    // Right below the last entry at its column: it belongs to it.
    let src = "replicas: 2\n# scaled by the HPA\n";
    assert_eq!(
        set_str(src, "name", "web"),
        "replicas: 2\n# scaled by the HPA\nname: web\n"
    );
    // At column 0 after a blank line: the file's end, the new key goes before it.
    let src = "image:\n  tag: v1\n  # digest: x\n\n# vim: set ts=2\n";
    assert_eq!(
        set_str(src, "replicas", "2"),
        "image:\n  tag: v1\n  # digest: x\nreplicas: '2'\n\n# vim: set ts=2\n"
    );
    let src = "a: 1\n\n# footer\n";
    assert_eq!(set_str(src, "b", "x"), "a: 1\nb: x\n\n# footer\n");
    // A deeper comment after a blank line still belongs to the entry.
    let src = "a:\n  b: 1\n\n  # c: 2\n# footer\n";
    assert_eq!(
        set_str(src, "z", "x"),
        "a:\n  b: 1\n\n  # c: 2\nz: x\n# footer\n"
    );
    // In a nested mapping: less indented comments belong to what follows.
    let src = "image:\n  tag: v1\n    # about v1\n# next\nother: 1\n";
    assert_eq!(
        set_str(src, "image.digest", "d"),
        "image:\n  tag: v1\n    # about v1\n  digest: d\n# next\nother: 1\n"
    );
    // Under an empty key, its indented comments come first.
    let src = "image:\n  # tag: v0\nother: 1\n";
    assert_eq!(
        set_str(src, "image.tag", "v1"),
        "image:\n  # tag: v0\n  tag: v1\nother: 1\n"
    );
    // CRLF and a comment without a final line break.
    let src = "a:\r\n  b: 1\r\n  # c";
    assert_eq!(set_str(src, "d", "x"), "a:\r\n  b: 1\r\n  # c\r\nd: x\r\n");
}

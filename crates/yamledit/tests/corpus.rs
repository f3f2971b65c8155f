//! Real files no one here wrote (`../shared/yaml-corpus`): setting a value changes exactly
//! the bytes of that value's scalar, and nothing else.

/// Counts go straight to the process's stderr, which the test harness does not capture,
/// so they show in every `cargo test` run, not only with `--nocapture`.
macro_rules! report {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

use yaml_rust2::{Yaml, YamlLoader};
use yamledit::{DocSelector, Path, Segment, Value};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/yaml-corpus");

fn files() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(CORPUS)
        .unwrap_or_else(|e| {
            panic!("{CORPUS}: {e} (the corpus must be at ../shared beside the checkout)")
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "corpus has only {} files", out.len());
    out
}

/// Every scalar leaf: (path, scalar as text, depth).
fn leaves(y: &Yaml, path: &mut Vec<Segment>, out: &mut Vec<(Path, String)>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let Some(k) = k.as_str() else { continue };
                path.push(Segment::Key(k.to_string()));
                leaves(v, path, out);
                path.pop();
            }
        }
        Yaml::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        Yaml::String(s) | Yaml::Real(s) => out.push((Path::from_segments(path.clone()), s.clone())),
        Yaml::Integer(i) => out.push((Path::from_segments(path.clone()), i.to_string())),
        Yaml::Boolean(b) => out.push((Path::from_segments(path.clone()), b.to_string())),
        Yaml::Null => out.push((Path::from_segments(path.clone()), String::new())),
        _ => {}
    }
}

/// Check that `out` is `orig` with one span replaced by the new scalar text, and that the
/// replaced span, read as YAML, is the old value: nothing but the value's bytes changed.
fn assert_only_value_changed(file: &str, path: &Path, orig: &str, out: &str, old: &str, new: &str) {
    let quoted = [new.to_string(), format!("'{new}'"), format!("\"{new}\"")];
    let reps: Vec<String> = quoted
        .iter()
        .flat_map(|q| [q.clone(), format!(" {q}")])
        .collect();
    let prefix = orig
        .bytes()
        .zip(out.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    for rep in &reps {
        let grow = out.len() as isize - orig.len() as isize;
        let lo = prefix.saturating_sub(rep.len());
        for a in lo..=prefix.min(out.len()) {
            if !out[a..].starts_with(rep.as_str()) || !orig.is_char_boundary(a) {
                continue;
            }
            let b = (a as isize + rep.len() as isize - grow) as usize;
            if b < a || b > orig.len() || !orig.is_char_boundary(b) {
                continue;
            }
            if orig[..a] != out[..a] || orig[b..] != out[a + rep.len()..] {
                continue;
            }
            let old_text = &orig[a..b];
            let read = YamlLoader::load_from_str(&format!("k: {old_text}")).ok();
            let read_old = read
                .as_ref()
                .and_then(|d| d.first())
                .map(|d| match &d["k"] {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => String::new(),
                    other => format!("{other:?}"),
                });
            if read_old.as_deref() == Some(old) && !old_text.contains('#') {
                return;
            }
        }
    }
    panic!(
        "{file} {path}: the change is not exactly the value's bytes\n--- old value {old:?}, new {new:?}"
    );
}

fn is_tag_key(path: &Path) -> bool {
    matches!(path.segments.last(), Some(Segment::Key(k)) if k == "tag" || k == "newTag" || k.ends_with("Tag"))
}

#[test]
fn set_every_tag_and_deep_keys_changes_only_the_value() {
    let mut tags = 0;
    let mut others = 0;
    for (file, text) in files() {
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (d, doc) in docs.iter().enumerate() {
            let mut all = Vec::new();
            leaves(doc, &mut Vec::new(), &mut all);
            // Every tag (written twice: plain, then a value that needs quotes), the ten
            // deepest values, and every 40th value for breadth (the sample keeps the
            // debug-build test under a few seconds).
            let mut chosen: Vec<&(Path, String)> =
                all.iter().filter(|(p, _)| is_tag_key(p)).collect();
            tags += chosen.len();
            let mut by_depth: Vec<&(Path, String)> = all.iter().collect();
            by_depth.sort_by_key(|(p, _)| std::cmp::Reverse(p.segments.len()));
            let extra: Vec<&(Path, String)> = by_depth
                .into_iter()
                .take(10)
                .chain(all.iter().step_by(40))
                .filter(|(p, v)| !is_tag_key(p) && !v.contains('\n'))
                .collect();
            others += extra.len();
            chosen.extend(extra);
            for (path, old) in chosen {
                let values: &[&str] = if is_tag_key(path) {
                    &["v9.9.9-ladder", "1.20"]
                } else {
                    &["v9.9.9-ladder"]
                };
                for &new in values {
                    let edit = yamledit::Edit::new(path.clone(), new).in_doc(DocSelector::Index(d));
                    let out = yamledit::set_many(&text, &[edit])
                        .unwrap_or_else(|e| panic!("{file} {path}: {e}"));
                    assert_only_value_changed(&file, path, &text, &out, old, new);
                    if !is_tag_key(path) {
                        continue; // read back only the tags: a full parse each, in a debug build
                    }
                    assert_eq!(
                        yamledit::get(&out, &DocSelector::Index(d), path).unwrap(),
                        Value::from(new),
                        "{file} {path}"
                    );
                }
            }
        }
    }
    report!("corpus: set {tags} tag values (twice each) and {others} other values");
    assert!(tags >= 15, "expected the corpus to hold tags, found {tags}");
}

#[test]
fn kustomization_images_by_selector() {
    for (file, text) in files()
        .into_iter()
        .filter(|(f, _)| f.contains("kustomization"))
    {
        let docs = YamlLoader::load_from_str(&text).unwrap();
        let Some(images) = docs[0]["images"].as_vec() else {
            continue;
        };
        for image in images {
            let Some(name) = image["name"].as_str() else {
                continue;
            };
            let path = Path::parse(&format!("images[name={name}].newTag")).unwrap();
            let out = yamledit::set(&text, &path, "2.0.0-ladder")
                .unwrap_or_else(|e| panic!("{file} {path}: {e}"));
            assert_eq!(
                yamledit::get(&out, &DocSelector::Auto, &path).unwrap(),
                Value::from("2.0.0-ladder")
            );
            let changed_lines = text
                .lines()
                .zip(out.lines())
                .filter(|(a, b)| a != b)
                .count();
            assert!(changed_lines <= 1, "{file}: {changed_lines} lines changed");
            assert_eq!(
                text.lines().count() + usize::from(image["newTag"].is_badvalue()),
                out.lines().count()
            );
        }
    }
}

//! The official YAML test suite (`../shared/yaml-test-suite`, one folder per case):
//! `get` must agree with `in.json` on every scalar of every valid case, and `set` must
//! refuse every case marked `error`.
//!
//! Cases or scalars that cannot be checked are skipped only for the reasons listed in
//! `Skip`, and counted in the output (`cargo test -- --nocapture`).

/// Counts go straight to the process's stderr, which the test harness does not capture,
/// so they show in every `cargo test` run, not only with `--nocapture`.
macro_rules! report {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use yamledit::{DocSelector, Edit, Error, Path, Segment, Value};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/yaml-test-suite"
);

fn cases() -> Vec<PathBuf> {
    fn walk(dir: &FsPath, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (the suite must be at ../shared beside the checkout)",
                    dir.display()
                )
            })
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for p in entries {
            if p.join("in.yaml").exists() {
                out.push(p.clone());
            }
            walk(&p, out);
        }
    }
    let mut out = Vec::new();
    walk(FsPath::new(SUITE), &mut out);
    assert!(out.len() > 300, "found only {} cases in {SUITE}", out.len());
    out
}

fn name(case: &FsPath) -> String {
    case.strip_prefix(SUITE)
        .unwrap()
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_string()
}

fn scalars(
    v: &serde_json::Value,
    path: &mut Vec<Segment>,
    out: &mut Vec<(Path, serde_json::Value)>,
) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                path.push(Segment::Key(k.clone()));
                scalars(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                scalars(child, path, out);
                path.pop();
            }
        }
        leaf => out.push((Path::from_segments(path.clone()), leaf.clone())),
    }
}

fn agrees(got: &Value, want: &serde_json::Value) -> bool {
    match (got, want) {
        (Value::Null, serde_json::Value::Null) => true,
        (Value::Bool(a), serde_json::Value::Bool(b)) => a == b,
        (Value::String(a), serde_json::Value::String(b)) => a == b,
        (Value::Int(a), serde_json::Value::Number(n)) => n.as_f64() == Some(*a as f64),
        (Value::Float(a), serde_json::Value::Number(n)) => n
            .as_f64()
            .is_some_and(|b| (a - b).abs() <= 1e-9 * b.abs().max(1.0)),
        _ => false,
    }
}

/// Does the YAML of this case have mapping keys that a path cannot name: a collection
/// as a key, or an untagged null key (`~`, or nothing before the `:`), which JSON can
/// only write as some string that is not its text?
fn has_unaddressable_keys(text: &str) -> bool {
    use yaml_rust2::parser::{Event, Parser};
    let mut p = Parser::new_from_str(text);
    // A stack of (is_mapping, expecting_key).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    loop {
        let Ok((ev, _)) = p.next_token() else {
            return true;
        };
        let at_key = matches!(stack.last(), Some((true, true)));
        if let Some(top) = stack.last_mut()
            && top.0
            && !matches!(ev, Event::MappingEnd | Event::SequenceEnd)
        {
            top.1 = !top.1;
        }
        match ev {
            Event::StreamEnd => return false,
            Event::MappingStart(..) if at_key => return true,
            Event::SequenceStart(..) if at_key => return true,
            Event::Scalar(v, yaml_rust2::scanner::TScalarStyle::Plain, _, None)
                if at_key && matches!(yamledit::resolve_plain(&v), Value::Null) =>
            {
                return true;
            }
            Event::MappingStart(..) => stack.push((true, true)),
            Event::SequenceStart(..) => stack.push((false, false)),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    /// Valid YAML whose data JSON cannot hold (e.g. a mapping as a key): the suite has
    /// no `in.json` to compare with.
    NoJson,
    /// A mapping key a path cannot name (a collection as a key, a null key).
    UnaddressableKey,
}

#[test]
fn get_agrees_with_in_json_and_set_refuses_errors() {
    let mut checked_cases = 0;
    let mut checked_scalars = 0;
    let mut refused = 0;
    let mut skipped: BTreeMap<Skip, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases() {
        let id = name(&case);
        let text = std::fs::read_to_string(case.join("in.yaml")).unwrap();
        if case.join("error").exists() {
            let edit = Edit::new(Path::root(), "x").in_doc(DocSelector::Index(0));
            match yamledit::set_many(&text, &[edit]) {
                Err(Error::Syntax { .. }) => refused += 1,
                other => failures.push(format!(
                    "{id}: invalid YAML was not refused as a syntax error: {other:?}"
                )),
            }
            continue;
        }
        if let Err(e) = yamledit::validate(&text) {
            failures.push(format!("{id}: valid YAML was rejected: {e}"));
            continue;
        }
        let Ok(json) = std::fs::read_to_string(case.join("in.json")) else {
            skipped.entry(Skip::NoJson).or_default().push(id);
            continue;
        };
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&json)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{id}: in.json: {e}"));
        if has_unaddressable_keys(&text) {
            skipped.entry(Skip::UnaddressableKey).or_default().push(id);
            continue;
        }
        checked_cases += 1;
        for (i, doc) in docs.iter().enumerate() {
            let mut leaves = Vec::new();
            scalars(doc, &mut Vec::new(), &mut leaves);
            for (path, want) in leaves {
                checked_scalars += 1;
                match yamledit::get(&text, &DocSelector::Index(i), &path) {
                    Ok(got) if agrees(&got, &want) => {}
                    other => failures.push(format!(
                        "{id} doc {i} path {path}: want {want}, got {other:?}"
                    )),
                }
            }
        }
    }
    report!(
        "yaml-test-suite: {checked_cases} valid cases checked ({checked_scalars} scalar paths), {refused} invalid cases refused"
    );
    for (reason, ids) in &skipped {
        report!("  skipped {} ({reason:?}): {}", ids.len(), ids.join(" "));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked_cases > 200 && refused > 80, "too few cases checked");
}

fn load_json_docs(case: &FsPath) -> Option<Vec<serde_json::Value>> {
    let json = std::fs::read_to_string(case.join("in.json")).ok()?;
    serde_json::Deserializer::from_str(&json)
        .into_iter()
        .collect::<Result<_, _>>()
        .ok()
}

/// `set` on every scalar of every valid case: the edit either succeeds (and then the
/// value reads back, and the bytes before the first change are the original ones) or is
/// refused for a documented reason. An internal verification failure is a bug.
#[test]
fn set_every_scalar_of_the_suite() {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut refusals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases() {
        let id = name(&case);
        if case.join("error").exists() {
            continue;
        }
        let text = std::fs::read_to_string(case.join("in.yaml")).unwrap();
        let Some(docs) = load_json_docs(&case) else {
            continue;
        };
        if has_unaddressable_keys(&text) {
            continue;
        }
        for (i, doc) in docs.iter().enumerate() {
            let mut leaves = Vec::new();
            scalars(doc, &mut Vec::new(), &mut leaves);
            for (path, _) in leaves {
                let new = Value::from("edited value");
                let edit = Edit::new(path.clone(), new.clone()).in_doc(DocSelector::Index(i));
                let outcome = match yamledit::set_many(&text, &[edit]) {
                    Ok(out) => {
                        match yamledit::get(&out, &DocSelector::Index(i), &path) {
                            Ok(v) if v == new => {}
                            other => {
                                failures.push(format!("{id} doc {i} {path}: reads back {other:?}"))
                            }
                        }
                        "edited"
                    }
                    Err(Error::BehindAlias { .. }) => "refused: behind an alias",
                    Err(e @ Error::Unsupported { .. }) => {
                        let reason = match &e {
                            Error::Unsupported { message, .. } => message.clone(),
                            other => other.to_string(),
                        };
                        refusals
                            .entry(reason)
                            .or_default()
                            .push(format!("{id}:{path}"));
                        "refused: unsupported"
                    }
                    Err(Error::DuplicateKey { .. }) => "refused: duplicate key",
                    Err(e) => {
                        failures.push(format!("{id} doc {i} {path}: {e}"));
                        "failed"
                    }
                };
                *outcomes.entry(outcome.to_string()).or_default() += 1;
            }
        }
    }
    report!("yaml-test-suite set on every scalar: {outcomes:?}");
    for (reason, where_) in &refusals {
        report!(
            "  refused {} ({reason}): {}",
            where_.len(),
            where_.join(" ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn mappings(v: &serde_json::Value, path: &mut Vec<Segment>, out: &mut Vec<Path>) {
    match v {
        serde_json::Value::Object(m) => {
            out.push(Path::from_segments(path.clone()));
            for (k, child) in m {
                path.push(Segment::Key(k.clone()));
                mappings(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                mappings(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A new key in every mapping of every valid case (placed after the last entry's own
/// comments, quoted like the file's strings), and every scalar rewritten with its own
/// text by `Edit::like_old`: each is written and reads back, or is refused, never
/// written wrong. Some layouts of the suite (explicit `? key` entries, multi-line
/// implicit keys, mappings inside flow lists) do not take a new key where yamledit puts
/// it; the re-read check refuses those ("refused: re-read"), and they are listed.
#[test]
fn insert_into_every_mapping_and_keep_every_type() {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut reread = Vec::new();
    for case in cases() {
        let id = name(&case);
        if case.join("error").exists() {
            continue;
        }
        let text = std::fs::read_to_string(case.join("in.yaml")).unwrap();
        let Some(docs) = load_json_docs(&case) else {
            continue;
        };
        if has_unaddressable_keys(&text) {
            continue;
        }
        for (i, doc) in docs.iter().enumerate() {
            let mut maps = Vec::new();
            mappings(doc, &mut Vec::new(), &mut maps);
            let mut edits: Vec<(Path, Edit, Value)> = maps
                .into_iter()
                .map(|mut p| {
                    p.segments.push(Segment::Key("ladder new".into()));
                    let new = Value::from("1.20");
                    (p.clone(), Edit::new(p, new.clone()), new)
                })
                .collect();
            let mut leaves = Vec::new();
            scalars(doc, &mut Vec::new(), &mut leaves);
            for (path, _) in leaves {
                let Ok(old) = yamledit::get(&text, &DocSelector::Index(i), &path) else {
                    continue;
                };
                // Over a null, like_old writes a string (the text `null`).
                let want = match old {
                    Value::Null => Value::from("null"),
                    old => old,
                };
                edits.push((path.clone(), Edit::like_old(path, want.to_string()), want));
            }
            for (path, edit, want) in edits {
                let edit = edit.in_doc(DocSelector::Index(i));
                let outcome = match yamledit::set_many(&text, &[edit]) {
                    Ok(out) => {
                        match yamledit::get(&out, &DocSelector::Index(i), &path) {
                            Ok(v) if v == want => {}
                            other => {
                                failures.push(format!("{id} doc {i} {path}: reads back {other:?}"))
                            }
                        }
                        "edited"
                    }
                    Err(Error::BehindAlias { .. }) => "refused: behind an alias",
                    Err(Error::Unsupported { .. }) => "refused: unsupported",
                    Err(Error::DuplicateKey { .. }) => "refused: duplicate key",
                    Err(Error::Verification { .. }) => {
                        reread.push(format!("{id}:{path}"));
                        "refused: re-read"
                    }
                    Err(e) => {
                        failures.push(format!("{id} doc {i} {path}: {e}"));
                        "failed"
                    }
                };
                *outcomes.entry(outcome.to_string()).or_default() += 1;
            }
        }
    }
    report!("yaml-test-suite insert into every mapping, like_old on every scalar: {outcomes:?}");
    report!("  refused by the re-read check: {}", reread.join(" "));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! One canonical YAML form for rendered documents: same value, same bytes.
//!
//! A hand-written emitter rather than a serializer's: the quoting rules must satisfy both
//! YAML 1.2 readers and Kubernetes' YAML 1.1 reader, which takes `yes`, `on` or `0755` as
//! something other than a string. Strings that either reader could take as another type
//! are quoted; booleans are always `true`/`false`.

use serde_json::Value;

/// Drops `null` mapping entries (Kubernetes reads null as unset). Returns the path of a
/// null list item, which has no such meaning and is refused.
pub fn strip_nulls(value: &mut Value) -> Result<(), String> {
    // The path is only built on the way out of an error, so the common case allocates
    // nothing.
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            for (key, v) in map.iter_mut() {
                strip_nulls(v).map_err(|inner| join_path(key, &inner))?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if v.is_null() {
                    return Err(format!("[{i}]"));
                }
                strip_nulls(v).map_err(|inner| join_path(&format!("[{i}]"), &inner))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn join_path(head: &str, tail: &str) -> String {
    let tail = if tail.starts_with('[') {
        tail.to_string()
    } else {
        format!(".{tail}")
    };
    format!("{head}{tail}")
}

/// Emits a document in canonical block style, ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    match value {
        Value::Object(map) if !map.is_empty() => emit_mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => emit_sequence(items, 0, &mut out),
        scalar => {
            emit_scalar(scalar, &mut out);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, width: usize) {
    out.extend(std::iter::repeat_n(' ', width));
}

fn emit_mapping(map: &serde_json::Map<String, Value>, width: usize, out: &mut String) {
    for (key, value) in map {
        indent(out, width);
        emit_string(key, out);
        out.push(':');
        emit_child(value, width, out);
    }
}

fn emit_sequence(items: &[Value], width: usize, out: &mut String) {
    for item in items {
        indent(out, width);
        out.push('-');
        match item {
            // A mapping in a list starts on the dash's line: `- name: x`.
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                let mut first = true;
                for (key, value) in map {
                    if !first {
                        indent(out, width + 2);
                    }
                    first = false;
                    emit_string(key, out);
                    out.push(':');
                    emit_child(value, width + 2, out);
                }
            }
            other => emit_child(other, width, out),
        }
    }
}

/// Emits what follows `key:` or `-`.
fn emit_child(value: &Value, width: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit_mapping(map, width + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit_sequence(items, width + 2, out);
        }
        scalar => {
            out.push(' ');
            emit_scalar(scalar, out);
            out.push('\n');
        }
    }
}

fn emit_scalar(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => emit_string(s, out),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn emit_string(s: &str, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if s.chars().all(|c| !c.is_control()) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        // JSON string syntax is valid YAML double-quoted syntax.
        out.push_str(&serde_json::to_string(s).expect("strings serialize"));
    }
}

/// Words that YAML 1.1 (Kubernetes) or 1.2 read as booleans or null.
const RESERVED_WORDS: [&str; 12] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "", "<<",
];

/// Whether a string can be written without quotes and still read back as the same
/// string by YAML 1.1 and 1.2 readers. Deliberately conservative.
fn is_plain_safe(s: &str) -> bool {
    if RESERVED_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    let first = s.chars().next().expect("empty strings are reserved");
    // Digits, signs and dots start numbers, dates and times; most other punctuation is a
    // YAML indicator at the start of a scalar.
    if !(first.is_ascii_alphabetic() || matches!(first, '/' | '$' | '_')) {
        return false;
    }
    if s.ends_with(':') || s.contains(": ") || s.contains(" #") || s.ends_with(' ') {
        return false;
    }
    s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '_' | '.' | '/' | '$' | '=' | '@' | ':' | '+' | '*' | ' '
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn emits_block_style_with_indented_lists() {
        let v = json!({
            "metadata": {"name": "web-dev", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"sources": [{"repoURL": "https://x/y.git", "helm": {"valueFiles": ["$values/a.yaml"]}}, {"ref": "values"}],
                     "empty": {}, "none": []}
        });
        assert_eq!(
            to_yaml(&v),
            "metadata:\n  name: web-dev\n  labels:\n    app.kubernetes.io/name: web\nspec:\n  sources:\n    - repoURL: https://x/y.git\n      helm:\n        valueFiles:\n          - $values/a.yaml\n    - ref: values\n  empty: {}\n  none: []\n"
        );
    }

    #[test]
    fn quotes_what_another_reader_would_retype() {
        let v = json!({"a": "yes", "b": "On", "c": "1.20", "d": "0755", "e": "null", "f": "",
                       "g": "a: b", "h": "it's", "i": "x\ny", "j": "{{x}}", "k": "- x", "l": "1e3",
                       "m": "v1.2.3", "n": true, "o": 5});
        assert_eq!(
            to_yaml(&v),
            "a: 'yes'\nb: 'On'\nc: '1.20'\nd: '0755'\ne: 'null'\nf: ''\ng: 'a: b'\nh: 'it''s'\ni: \"x\\ny\"\nj: '{{x}}'\nk: '- x'\nl: '1e3'\nm: v1.2.3\n'n': true\no: 5\n"
        );
    }

    #[test]
    fn strips_null_entries_and_refuses_null_items() {
        let mut v = json!({"a": null, "b": {"c": null, "d": 1}});
        strip_nulls(&mut v).unwrap();
        assert_eq!(v, json!({"b": {"d": 1}}));
        let mut v = json!({"a": [1, null]});
        assert_eq!(strip_nulls(&mut v).unwrap_err(), "a[1]");
        let mut v = json!({"a": {"b": [{"c": [null]}]}});
        assert_eq!(strip_nulls(&mut v).unwrap_err(), "a.b[0].c[0]");
    }

    proptest! {
        /// Whatever the value, the canonical text reads back as exactly that value.
        #[test]
        fn canonical_yaml_round_trips(value in crate::arbitrary::json_value()) {
            let text = to_yaml(&value);
            let back: Value = serde_yaml::from_str(&text).unwrap();
            prop_assert_eq!(back, value);
        }
    }
}

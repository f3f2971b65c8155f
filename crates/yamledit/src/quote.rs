//! Writing a value as YAML scalar text, keeping the old style when it can hold the value.

use crate::scalar::reads_as_non_string;
use crate::value::{Value, plain_float};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Single,
    Double,
}

/// Characters that YAML can only carry as an escape in a double-quoted scalar.
fn needs_escape(c: char) -> bool {
    let u = c as u32;
    (u < 0x20 && c != '\t')
        || u == 0x7f
        || (0x80..=0x9f).contains(&u)
        || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
        || (0xd800..=0xdfff).contains(&u)
        || u == 0xfffe
        || u == 0xffff
}

/// Can `s` be written without quotes, and read back as the same text?
pub(crate) fn plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with([' ', '\t']) || s.ends_with([' ', '\t']) {
        return false;
    }
    if s.chars().any(|c| needs_escape(c) || c == '\t' || c == '\n') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if first == '-' {
        match s[1..].chars().next() {
            None | Some(' ') => return false,
            Some(c) if flow && ",[]{}".contains(c) => return false,
            _ => {}
        }
    }
    if s.contains(": ") || s.ends_with(':') || s.contains(" #") {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    true
}

pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) => {
                let u = c as u32;
                if u <= 0xff {
                    out.push_str(&format!("\\x{u:02x}"));
                } else {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn single_ok(s: &str) -> bool {
    // A line break inside single quotes folds; escapes do not exist there.
    !s.chars().any(|c| needs_escape(c) || c == '\n')
}

/// Text for a value on one line. `old` is the style of the scalar being replaced (or
/// the preferred style for a new one).
pub(crate) fn inline(value: &Value, old: Style, flow: bool) -> String {
    let s = match value {
        Value::String(s) => s,
        Value::Null => return "null".into(),
        Value::Bool(b) => return b.to_string(),
        Value::Int(i) => return i.to_string(),
        Value::Float(f) => return plain_float(*f),
    };
    let plain = plain_ok(s, flow) && !reads_as_non_string(s);
    match old {
        Style::Plain if plain => s.clone(),
        Style::Plain | Style::Single if single_ok(s) => single_quoted(s),
        _ => double_quoted(s),
    }
}

/// How a file writes its string values, for the values an edit adds (a new key, an
/// empty `key:` that receives a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quoting {
    /// Quote every string, even one that could be plain.
    pub always: bool,
    /// The quotes for a string that needs them (or, with `always`, every string):
    /// `Single` or `Double`.
    pub quote: Style,
}

impl Default for Quoting {
    fn default() -> Self {
        Quoting {
            always: false,
            quote: Style::Single,
        }
    }
}

/// Text for a value the file did not have yet, in the file's own quoting.
pub(crate) fn fresh(value: &Value, quoting: Quoting, flow: bool) -> String {
    let Value::String(s) = value else {
        return inline(value, Style::Plain, flow);
    };
    if !quoting.always && plain_ok(s, flow) && !reads_as_non_string(s) {
        return s.clone();
    }
    match quoting.quote {
        Style::Double => double_quoted(s),
        _ => inline(value, Style::Single, flow),
    }
}

/// Text for a new mapping key: plain when it can be, else in the file's quotes.
pub(crate) fn fresh_key(key: &str, quoting: Quoting, flow: bool) -> String {
    let quoting = Quoting {
        always: false,
        ..quoting
    };
    fresh(&Value::String(key.to_string()), quoting, flow)
}

/// Whether a string can be a block scalar body, and how.
pub(crate) struct BlockPlan {
    pub lines: Vec<String>,
    /// `-`, `` or `+`.
    pub chomp: &'static str,
    /// Extra empty lines at the end, kept by `+`.
    pub extra_trailing: usize,
    pub leading_space: bool,
}

pub(crate) fn block_plan(s: &str, folded: bool) -> Option<BlockPlan> {
    if s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return None;
    }
    let core = s.trim_end_matches('\n');
    let trailing = s.len() - core.len();
    if core.is_empty() {
        return None;
    }
    let raw: Vec<&str> = core.split('\n').collect();
    // A line of only blanks would be read as an empty line (or change indentation).
    if raw
        .iter()
        .any(|l| !l.is_empty() && l.trim_matches([' ', '\t']).is_empty())
    {
        return None;
    }
    let leading_space = raw[0].starts_with([' ', '\t']);
    if raw[0].starts_with('\t') {
        return None;
    }
    let lines = if folded {
        // Folding turns one line break between text lines into a space, so every `\n`
        // of the value is written as an empty line; lines that start with blanks are not
        // folded at all, and leading empty lines are kept, so those cases use `|`.
        if raw.iter().any(|l| l.starts_with([' ', '\t'])) || raw[0].is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for (i, l) in raw.iter().enumerate() {
            out.push(l.to_string());
            if !l.is_empty() && i + 1 < raw.len() {
                out.push(String::new());
            }
        }
        out
    } else {
        raw.iter().map(|l| l.to_string()).collect()
    };
    let (chomp, extra_trailing) = match trailing {
        0 => ("-", 0),
        1 => ("", 0),
        n => ("+", n - 1),
    };
    Some(BlockPlan {
        lines,
        chomp,
        extra_trailing,
        leading_space,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn plain_stays_plain_when_it_can() {
        assert_eq!(inline(&s("v1.2.3"), Style::Plain, false), "v1.2.3");
        assert_eq!(
            inline(&s("ghcr.io/acme/web:1.2"), Style::Plain, false),
            "ghcr.io/acme/web:1.2"
        );
    }

    #[test]
    fn quotes_what_another_reader_would_retype() {
        for v in ["1.20", "true", "0755", "null", "1e3", "yes", "", "~"] {
            assert_eq!(inline(&s(v), Style::Plain, false), format!("'{v}'"), "{v}");
        }
    }

    #[test]
    fn quotes_what_would_not_parse() {
        assert_eq!(inline(&s("a: b"), Style::Plain, false), "'a: b'");
        assert_eq!(inline(&s("#x"), Style::Plain, false), "'#x'");
        assert_eq!(inline(&s("a, b"), Style::Plain, true), "'a, b'");
        assert_eq!(inline(&s("a, b"), Style::Plain, false), "a, b");
        assert_eq!(inline(&s("it's"), Style::Single, false), "'it''s'");
        assert_eq!(
            inline(&s("two\nlines"), Style::Single, false),
            "\"two\\nlines\""
        );
        assert_eq!(inline(&s("tab\there"), Style::Plain, false), "'tab\there'");
        assert_eq!(inline(&s("q\"\\"), Style::Double, false), r#""q\"\\""#);
        assert_eq!(
            inline(&s("bell\u{7}"), Style::Plain, false),
            r#""bell\x07""#
        );
    }

    #[test]
    fn typed_values_are_plain() {
        assert_eq!(inline(&Value::Int(3), Style::Double, false), "3");
        assert_eq!(inline(&Value::Bool(false), Style::Single, false), "false");
        assert_eq!(inline(&Value::Float(1000.0), Style::Plain, false), "1000.0");
        assert_eq!(inline(&Value::Null, Style::Plain, false), "null");
    }

    #[test]
    fn fresh_values_follow_the_files_quoting() {
        let double = Quoting {
            always: true,
            quote: Style::Double,
        };
        let needed_double = Quoting {
            always: false,
            quote: Style::Double,
        };
        assert_eq!(fresh(&s("v1"), double, false), "\"v1\"");
        assert_eq!(fresh(&s("v1"), needed_double, false), "v1");
        assert_eq!(fresh(&s("1.20"), needed_double, false), "\"1.20\"");
        assert_eq!(fresh(&s("1.20"), Quoting::default(), false), "'1.20'");
        assert_eq!(fresh(&s("v1"), Quoting::default(), false), "v1");
        let single = Quoting {
            always: true,
            quote: Style::Single,
        };
        assert_eq!(fresh(&s("it's"), single, false), "'it''s'");
        assert_eq!(fresh(&s("a\nb"), single, false), "\"a\\nb\"");
        assert_eq!(fresh(&Value::Int(3), double, false), "3");
        assert_eq!(fresh_key("image", double, false), "image");
        assert_eq!(fresh_key("a: b", double, false), "\"a: b\"");
    }

    #[test]
    fn block_plans() {
        let p = block_plan("a\nb\n", false).unwrap();
        assert_eq!(
            (p.lines.clone(), p.chomp),
            (vec!["a".to_string(), "b".to_string()], "")
        );
        let p = block_plan("a\nb", true).unwrap();
        assert_eq!(
            (p.lines.clone(), p.chomp),
            (vec!["a".to_string(), String::new(), "b".to_string()], "-")
        );
        let p = block_plan("a\n\n\n", false).unwrap();
        assert_eq!((p.chomp, p.extra_trailing), ("+", 2));
        assert!(block_plan("  indented", true).is_none());
        assert!(block_plan("a\n   \nb", false).is_none());
        assert!(block_plan("", false).is_none());
    }
}

//! Where a scalar's text ends, and what type a plain scalar resolves to.
//!
//! The parser tells where a scalar starts but not where it ends; the end is found by
//! re-reading the source with the same rules the scanner used. For plain scalars, which
//! can fold over several lines, the folded text is compared with the parsed value so that
//! the span is never a guess: if they do not agree, no span is returned and the edit is
//! refused rather than applied to the wrong bytes.

use crate::value::Value;

/// The bytes of a block scalar (`|` or `>`), split so that an edit can keep the comment
/// on the header line and whatever follows the scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockExtent {
    /// The indicator characters, e.g. `|-` or `>2`.
    pub header: (usize, usize),
    /// End of the header line, before its line break.
    pub header_line_end: usize,
    /// Indentation (in spaces) of the content lines, when there is any content.
    pub content_indent: Option<usize>,
    /// End of the last line with content, before its line break.
    pub last_content_end: Option<usize>,
    /// Start of the first line after the scalar (trailing blank lines included).
    pub stop: usize,
    /// End of the scalar's bytes, before the line break of its last line: the last
    /// content line, or with `+` (keep) the last kept blank line.
    pub end: usize,
    pub keep: bool,
    /// The most spaces on a blank line before any content: new content must be indented
    /// at least this much, or those lines would turn into content.
    pub leading_blank_width: usize,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// Scan one line of a plain scalar from `i`; returns the end of its last non-blank
/// character and where scanning stopped.
fn plain_line(bytes: &[u8], mut i: usize, flow: bool) -> (usize, usize) {
    let mut end = i;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' || b == b'\r' {
            break;
        }
        if b == b'#' && i > 0 && is_ws(bytes[i - 1]) {
            break;
        }
        if b == b':' {
            let next = bytes.get(i + 1).copied();
            let ends = match next {
                None => true,
                Some(n) => is_ws(n) || n == b'\n' || n == b'\r' || (flow && is_flow_indicator(n)),
            };
            if ends {
                break;
            }
        }
        if flow && is_flow_indicator(b) {
            break;
        }
        i += 1;
        if !is_ws(b) {
            end = i;
        }
    }
    (end, i)
}

pub(crate) fn plain_end(text: &str, start: usize, value: &str, flow: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut end, mut i) = plain_line(bytes, start, flow);
    let mut acc = String::from(text.get(start..end)?);
    while acc.len() < value.len() && value.starts_with(acc.as_str()) {
        // Continue on the next lines: a single break folds to a space, each blank line
        // in between becomes a newline.
        let mut blank_lines = 0usize;
        let content_start;
        loop {
            // Skip the line break.
            if i < bytes.len() && bytes[i] == b'\r' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'\n' {
                i += 1;
            }
            if i >= bytes.len() {
                return None;
            }
            let mut j = i;
            while j < bytes.len() && is_ws(bytes[j]) {
                j += 1;
            }
            if j < bytes.len() && (bytes[j] == b'\n' || bytes[j] == b'\r') {
                blank_lines += 1;
                i = j;
                continue;
            }
            content_start = j;
            break;
        }
        if bytes.get(content_start) == Some(&b'#') {
            return None;
        }
        let (e, ni) = plain_line(bytes, content_start, flow);
        if blank_lines == 0 {
            acc.push(' ');
        } else {
            acc.extend(std::iter::repeat_n('\n', blank_lines));
        }
        acc.push_str(text.get(content_start..e)?);
        end = e;
        i = ni;
    }
    (acc == value).then_some(end)
}

pub(crate) fn single_quoted_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

pub(crate) fn double_quoted_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// `parent_indent` is the column of the enclosing block collection (None at the root);
/// it matters only with an explicit indentation indicator.
pub(crate) fn block_extent(
    text: &str,
    start: usize,
    parent_indent: Option<usize>,
) -> Option<BlockExtent> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let mut explicit = None;
    let mut keep = false;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => keep = true,
            b'-' => {}
            b'1'..=b'9' => explicit = Some((bytes[i] - b'0') as usize),
            _ => break,
        }
        i += 1;
    }
    let header = (start, i);
    let mut header_line_end = i;
    while header_line_end < bytes.len()
        && bytes[header_line_end] != b'\n'
        && bytes[header_line_end] != b'\r'
    {
        header_line_end += 1;
    }
    let mut content_indent = explicit.map(|m| parent_indent.unwrap_or(0) + m);
    let mut last_content_end = None;
    let mut leading_blank_width = 0;
    let mut line = skip_break(bytes, header_line_end);
    let mut stop = line;
    while line < bytes.len() {
        let mut j = line;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let spaces = j - line;
        let mut eol = j;
        while eol < bytes.len() && bytes[eol] != b'\n' && bytes[eol] != b'\r' {
            eol += 1;
        }
        // A line of blanks is empty, unless it reaches past the content indentation:
        // then its extra blanks are content (`x\n   \n` under indent 2 holds " ").
        let only_blanks = bytes[j..eol].iter().all(|&b| is_ws(b));
        let blank = only_blanks
            && match content_indent {
                Some(ind) if j < eol => spaces < ind,
                Some(ind) => spaces <= ind,
                None => true,
            };
        if blank {
            if content_indent.is_none() {
                leading_blank_width = leading_blank_width.max(eol - line);
            }
            line = skip_break(bytes, eol);
            if keep {
                stop = line;
            }
            continue;
        }
        if content_indent.is_none() && parent_indent.is_some_and(|p| spaces <= p) {
            break;
        }
        let indent = content_indent.unwrap_or(spaces);
        // The extent must match what yaml-rust2 read: in a block scalar indented by 0
        // (a root scalar) it ends at `...` but keeps `---` as content.
        let doc_end = indent == 0
            && bytes[line..].starts_with(b"...")
            && bytes
                .get(line + 3)
                .is_none_or(|&b| is_ws(b) || b == b'\n' || b == b'\r');
        if spaces < indent || doc_end {
            break;
        }
        content_indent = Some(indent);
        last_content_end = Some(eol);
        line = skip_break(bytes, eol);
        stop = line;
    }
    if line >= bytes.len() && keep {
        stop = bytes.len();
    }
    let mut end = last_content_end.unwrap_or(header_line_end);
    if keep && stop > header_line_end {
        end = stop;
        if end > 0 && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > 0 && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        end = end.max(header_line_end);
    }
    Some(BlockExtent {
        leading_blank_width,
        end,
        header,
        header_line_end,
        content_indent,
        last_content_end,
        stop,
        keep,
    })
}

fn skip_break(bytes: &[u8], mut i: usize) -> usize {
    if i < bytes.len() && bytes[i] == b'\r' {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'\n' {
        i += 1;
    }
    i
}

/// The YAML 1.2 core schema: what a plain (unquoted, untagged) scalar means.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(v) = core_int(s) {
        return v;
    }
    if is_core_float(s)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::String(s.to_string())
}

fn core_int(s: &str) -> Option<Value> {
    let (radix, digits, neg) = if let Some(h) = s.strip_prefix("0x") {
        (16, h, false)
    } else if let Some(o) = s.strip_prefix("0o") {
        (8, o, false)
    } else {
        let (neg, d) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        (10, d, neg)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i64::from_str_radix(digits, radix) {
        Ok(v) => Value::Int(if neg { -v } else { v }),
        // Too large for i64: still a number, kept as a float rather than a string.
        Err(_) => Value::Float(s.parse().unwrap_or(f64::NAN)),
    })
}

fn is_core_float(s: &str) -> bool {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == f {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// YAML 1.1 base 60: `190:20:30` or `1:20.5`.
fn is_base60(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    let (last, head) = parts.split_last().expect("split yields one part");
    !head.is_empty()
        && head
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && last.bytes().filter(|&b| b == b'.').count() <= 1
}

/// True when some YAML reader would take this plain text for something other than a
/// string. This is wider than the 1.2 core schema on purpose: Helm and kubectl read YAML
/// 1.1, where `yes`, `on`, `0755` (octal), `1_000`, `1:20` (base 60) and dates are not
/// strings either. A promoted tag must reach every reader as a string.
pub fn reads_as_non_string(s: &str) -> bool {
    if !matches!(resolve_plain(s), Value::String(_)) {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "<<" | "=" | ".inf" | "-.inf" | "+.inf" | ".nan"
    ) {
        return true;
    }
    let b = s.as_bytes();
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    // YAML 1.1 numbers allow `_` separators, `0b` binary, and base 60 with `:`.
    if !body.is_empty()
        && body.as_bytes()[0].is_ascii_digit()
        && body.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '_' | ':' | '.' | 'x' | 'X' | 'o' | 'b' | 'e' | 'E' | '-' | '+'
                )
        })
    {
        let cleaned: String = body.chars().filter(|&c| c != '_').collect();
        if is_core_float(&cleaned)
            || core_int(&cleaned).is_some()
            || cleaned.starts_with("0b")
            || cleaned.starts_with("0x")
            || cleaned.starts_with("0X")
            || is_base60(&cleaned)
        {
            return true;
        }
    }
    if body.starts_with('.') && is_core_float(&body.replace('_', "")) {
        return true;
    }
    // YAML 1.1 timestamps: 2001-12-14, 2001-12-14t21:59:43.10-05:00, ...
    if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema() {
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("True"), Value::Bool(true));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("0o17"), Value::Int(15));
        assert_eq!(resolve_plain("-12"), Value::Int(-12));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain(".5"), Value::Float(0.5));
        assert_eq!(resolve_plain("1.20"), Value::Float(1.2));
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("1.2.3"), Value::String("1.2.3".into()));
        assert_eq!(resolve_plain("v1.2"), Value::String("v1.2".into()));
    }

    #[test]
    fn non_strings_for_any_reader() {
        for s in [
            "1.20",
            "true",
            "0755",
            "null",
            "1e3",
            "yes",
            "No",
            "on",
            "OFF",
            "~",
            "",
            "1_000",
            "0b101",
            "1:20",
            "2024-01-02",
            "0x1f",
            ".inf",
            "+1",
            "-3.5",
            "<<",
            "y",
        ] {
            assert!(reads_as_non_string(s), "{s:?}");
        }
        for s in [
            "v1.2.3",
            "1.2.3",
            "latest",
            "sha-1234abc",
            "1.2.3-rc.1",
            "main",
            "e1",
            "abc:def",
            "1.2.3:4",
        ] {
            assert!(!reads_as_non_string(s), "{s:?}");
        }
    }

    #[test]
    fn plain_ends() {
        let t = "a: value # note\nb: x";
        assert_eq!(plain_end(t, 3, "value", false), Some(8));
        let t = "a: one\n  two\n\n  three\nb: 1";
        assert_eq!(plain_end(t, 3, "one two\nthree", false), Some(21));
        let t = "{a: b, c: d}";
        assert_eq!(plain_end(t, 4, "b", true), Some(5));
        assert_eq!(plain_end(t, 4, "bc", true), None);
    }

    #[test]
    fn quoted_ends() {
        assert_eq!(single_quoted_end("'it''s' x", 0), Some(7));
        assert_eq!(double_quoted_end(r#""a\"b" x"#, 0), Some(6));
    }

    #[test]
    fn block_extents() {
        let t = "k: |-  # c\n  one\n\n  two\n\nn: 1\n";
        let e = block_extent(t, 3, Some(0)).unwrap();
        assert_eq!(e.header, (3, 5));
        assert_eq!(&t[e.header_line_end..e.header_line_end + 1], "\n");
        assert_eq!(e.content_indent, Some(2));
        assert_eq!(
            &t[..e.last_content_end.unwrap()],
            "k: |-  # c\n  one\n\n  two"
        );
        assert_eq!(&t[e.stop..], "\nn: 1\n");
        let t = "k: |+\n  one\n\nn: 1\n";
        let e = block_extent(t, 3, Some(0)).unwrap();
        assert_eq!(&t[e.stop..], "n: 1\n");
    }
}

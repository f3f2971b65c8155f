//! Path syntax: `image.tag`, `podAnnotations."k8s.grafana.com/scrape"`,
//! `containers[0].image`, `images[name=ghcr.io/acme/web].newTag`.
//!
//! A key is matched against the text of a scalar key, whatever its quoting. Keys that
//! contain `.`, `[`, `]`, `"` or spaces are written in double quotes, with `\"` and `\\`
//! as the only escapes. `[N]` is a list index; `[key=value]` picks the one list item that
//! is a mapping whose `key` equals `value` (the value runs to the closing `]`, or is
//! double-quoted when it contains `]`). The empty path (or `.`) is the document root.

use crate::error::Error;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
    Select { key: String, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Path {
    pub segments: Vec<Segment>,
}

impl Path {
    pub fn root() -> Self {
        Path::default()
    }

    pub fn parse(text: &str) -> Result<Path, Error> {
        Parser { text, pos: 0 }.parse()
    }

    pub fn from_segments(segments: Vec<Segment>) -> Self {
        Path { segments }
    }

    /// Shortcut for a path made only of keys, none of which need parsing.
    pub fn from_keys<S: Into<String>>(keys: impl IntoIterator<Item = S>) -> Self {
        Path {
            segments: keys.into_iter().map(|k| Segment::Key(k.into())).collect(),
        }
    }

    pub fn prefix(&self, len: usize) -> Path {
        Path {
            segments: self.segments[..len].to_vec(),
        }
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

impl std::str::FromStr for Path {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Path::parse(s)
    }
}

fn needs_quotes(key: &str) -> bool {
    key.is_empty()
        || key
            .chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '"' | '\\' | '=') || c.is_whitespace())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Path {
    /// Writes the path back in the syntax `Path::parse` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str(".");
        }
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if needs_quotes(k) {
                        write_quoted(f, k)?;
                    } else {
                        f.write_str(k)?;
                    }
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Select { key, value } => {
                    f.write_str("[")?;
                    if needs_quotes(key) {
                        write_quoted(f, key)?;
                    } else {
                        f.write_str(key)?;
                    }
                    f.write_str("=")?;
                    if value.contains([']', '"', '\\']) || value.trim() != value {
                        write_quoted(f, value)?;
                    } else {
                        f.write_str(value)?;
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::PathSyntax {
            path: self.text.to_string(),
            offset: self.text[..self.pos].chars().count(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn parse(mut self) -> Result<Path, Error> {
        let mut segments = Vec::new();
        if self.text.is_empty() || self.text == "." {
            return Ok(Path { segments });
        }
        let mut expect_key = true;
        while self.pos < self.text.len() {
            match self.peek() {
                Some('[') => {
                    self.pos += 1;
                    segments.push(self.bracket()?);
                    expect_key = false;
                }
                Some('.') if !expect_key => {
                    self.pos += 1;
                    if self.pos == self.text.len() {
                        return Err(self.err("path ends with '.'; a key must follow"));
                    }
                    expect_key = true;
                }
                Some(_) if expect_key => {
                    segments.push(Segment::Key(self.key()?));
                    expect_key = false;
                }
                Some(c) => {
                    return Err(self.err(format!("expected '.' or '[' but found {c:?}")));
                }
                None => break,
            }
        }
        Ok(Path { segments })
    }

    fn quoted(&mut self) -> Result<String, Error> {
        // Called with pos on the opening quote.
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted key; add the closing '\"'")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("only \\\" and \\\\ are escapes in a quoted key")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn key(&mut self) -> Result<String, Error> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '[' | ']' | '"') {
                break;
            }
            self.pos += c.len_utf8();
        }
        if start == self.pos {
            return Err(self.err("empty key; quote it as \"\" if the key really is empty"));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn bracket(&mut self) -> Result<Segment, Error> {
        let rest = &self.text[self.pos..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(']') {
            let n = rest[..digits]
                .parse()
                .map_err(|_| self.err("list index is too large"))?;
            self.pos += digits + 1;
            return Ok(Segment::Index(n));
        }
        // Selector: key=value
        let key = if self.peek() == Some('"') {
            self.quoted()?
        } else {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if matches!(c, '=' | ']' | '[' | '"') {
                    break;
                }
                self.pos += c.len_utf8();
            }
            self.text[start..self.pos].trim().to_string()
        };
        if self.peek() != Some('=') {
            return Err(self.err("expected a list index like [0] or a selector like [name=web]"));
        }
        if key.is_empty() {
            return Err(self.err("selector has no key; write [name=value]"));
        }
        self.pos += 1;
        let value = if self.peek() == Some('"') {
            self.quoted()?
        } else {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == ']' {
                    break;
                }
                self.pos += c.len_utf8();
            }
            self.text[start..self.pos].to_string()
        };
        if self.peek() != Some(']') {
            return Err(self.err("selector is missing its closing ']'"));
        }
        self.pos += 1;
        Ok(Segment::Select { key, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Segment {
        Segment::Key(s.into())
    }

    #[test]
    fn plain_keys() {
        assert_eq!(
            Path::parse("image.tag").unwrap().segments,
            vec![key("image"), key("tag")]
        );
    }

    #[test]
    fn quoted_key_with_dots_and_slash() {
        let p = Path::parse(r#"podAnnotations."k8s.grafana.com/scrape""#).unwrap();
        assert_eq!(
            p.segments,
            vec![key("podAnnotations"), key("k8s.grafana.com/scrape")]
        );
    }

    #[test]
    fn indexes_and_selectors() {
        let p = Path::parse("spec.containers[0].image").unwrap();
        assert_eq!(
            p.segments,
            vec![
                key("spec"),
                key("containers"),
                Segment::Index(0),
                key("image")
            ]
        );
        let p = Path::parse("images[name=ghcr.io/acme/web].newTag").unwrap();
        assert_eq!(
            p.segments,
            vec![
                key("images"),
                Segment::Select {
                    key: "name".into(),
                    value: "ghcr.io/acme/web".into()
                },
                key("newTag")
            ]
        );
        let p = Path::parse("parameters[name=image.tag].value").unwrap();
        assert_eq!(
            p.segments[1],
            Segment::Select {
                key: "name".into(),
                value: "image.tag".into()
            }
        );
    }

    #[test]
    fn quoted_selector_value_and_escapes() {
        let p = Path::parse(r#"a[name="x]y"]."q\"k""#).unwrap();
        assert_eq!(
            p.segments,
            vec![
                key("a"),
                Segment::Select {
                    key: "name".into(),
                    value: "x]y".into()
                },
                key("q\"k")
            ]
        );
    }

    #[test]
    fn root_and_nested_index() {
        assert!(Path::parse("").unwrap().is_root());
        assert!(Path::parse(".").unwrap().is_root());
        assert_eq!(
            Path::parse("[1][2]").unwrap().segments,
            vec![Segment::Index(1), Segment::Index(2)]
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "image.tag",
            r#"a."b.c".d"#,
            "x[3].y",
            "images[name=ghcr.io/acme/web].newTag",
            ".",
            r#""""#,
        ] {
            let p = Path::parse(text).unwrap();
            assert_eq!(Path::parse(&p.to_string()).unwrap(), p, "{text}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (text, offset) in [
            ("a..b", 2),
            ("a.", 2),
            ("a[x]", 3),
            ("a[0", 3),
            ("\"abc", 4),
            ("a]b", 1),
        ] {
            match Path::parse(text) {
                Err(Error::PathSyntax { offset: o, .. }) => assert_eq!(o, offset, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

//! A YAML tree that remembers where every node came from.
//!
//! serde-based loaders stop at the first problem and lose positions once a value is
//! deserialized. The config loader wants to report *every* problem as `file:line:col`, so
//! it decodes from this tree instead. Scalars are resolved with the YAML 1.2 core schema,
//! the same rules Argo CD's Go YAML library and yaml_serde apply to the rendered output.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    fn from_marker(mark: &Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Position {
            line: mark.line(),
            column: mark.col() + 1,
        }
    }
}

/// One node of a YAML document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub position: Position,
    /// A scalar written plain: no quotes, no block indicator, no tag. Only such a scalar
    /// can be a type other than string, and only it can stand for a whole value spliced
    /// in by a template.
    pub plain: bool,
    /// The scalar as written, where resolving it made it something other than a string
    /// (`1.20` is the number 1.2): messages quote what the user wrote.
    pub written: Option<Box<str>>,
}

/// A resolved scalar: the project's one YAML scalar type, the editor's
/// ([`yamledit::Value`]), so that the loader and the editor read `1.20`, `~` or `.nan`
/// alike. Floats compare by value, and NaN equals NaN.
pub use yamledit::Value as Scalar;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar, resolved with the YAML 1.2 core schema.
    Scalar(Scalar),
    Sequence(Vec<Node>),
    /// Entries in document order; duplicate keys are reported by [`parse`].
    Mapping(Vec<(Node, Node)>),
}

impl Value {
    /// The word used in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Scalar(Scalar::Null) => "null",
            Value::Scalar(Scalar::Bool(_)) => "a boolean",
            Value::Scalar(Scalar::Int(_)) => "an integer",
            Value::Scalar(Scalar::Float(_)) => "a number",
            Value::Scalar(Scalar::String(_)) => "a string",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }

    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(Scalar::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl From<Scalar> for Value {
    fn from(scalar: Scalar) -> Self {
        Value::Scalar(scalar)
    }
}

impl Node {
    /// The text of a string scalar (not of a scalar YAML read as another type).
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_str()
    }

    /// The resolved scalar, if the node is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        self.value.scalar()
    }

    /// Converts to JSON, for values the model keeps verbatim (for example sync windows).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar(scalar) => scalar_json(scalar),
            Value::Sequence(items) => items.iter().map(Node::to_json).collect(),
            Value::Mapping(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON, consuming the tree (no copies of strings).
    pub fn into_json(self) -> serde_json::Value {
        match self.value {
            Value::Scalar(Scalar::String(s)) => serde_json::Value::String(s),
            Value::Sequence(items) => items.into_iter().map(Node::into_json).collect(),
            Value::Mapping(entries) => serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = match k.value {
                            Value::Scalar(Scalar::String(s)) => s,
                            _ => k.scalar_text(),
                        };
                        (key, v.into_json())
                    })
                    .collect(),
            ),
            Value::Scalar(scalar) => scalar_json(&scalar),
        }
    }

    /// A scalar as the user wrote it (`1.20`, `0x1f`, `~`), for messages.
    pub fn written_text(&self) -> String {
        match &self.written {
            Some(text) => text.to_string(),
            None => self.scalar_text(),
        }
    }

    /// The text of a resolved scalar, for JSON keys.
    pub fn scalar_text(&self) -> String {
        match &self.value {
            Value::Scalar(Scalar::Null) => "null".into(),
            Value::Scalar(Scalar::Bool(b)) => b.to_string(),
            Value::Scalar(Scalar::Int(i)) => i.to_string(),
            Value::Scalar(Scalar::Float(f)) => f.to_string(),
            Value::Scalar(Scalar::String(s)) => s.clone(),
            Value::Sequence(_) => "[...]".into(),
            Value::Mapping(_) => "{...}".into(),
        }
    }
}

/// A scalar as a JSON value; a float JSON cannot hold (`.inf`, `.nan`) is null.
fn scalar_json(scalar: &Scalar) -> serde_json::Value {
    match scalar {
        Scalar::Null => serde_json::Value::Null,
        Scalar::Bool(b) => serde_json::Value::Bool(*b),
        Scalar::Int(i) => serde_json::Value::from(*i),
        Scalar::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Scalar::String(s) => serde_json::Value::String(s.clone()),
    }
}

/// A syntax problem in a YAML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

/// Parses a single-document YAML file. An empty file is a null document.
///
/// Duplicate mapping keys are a syntax error here: YAML forbids them, and silently taking
/// the last one (as many parsers do) hides typos in config files.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        position: Position::from_marker(e.marker()),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    match builder.documents.len() {
        0 => Ok(Node {
            value: Value::Scalar(Scalar::Null),
            position: Position { line: 1, column: 1 },
            plain: false,
            written: None,
        }),
        1 => Ok(builder.documents.pop().expect("one document")),
        _ => Err(SyntaxError {
            position: builder.second_document_at,
            message: "this file must hold one YAML document, found a second one (`---`)".into(),
        }),
    }
}

#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Node>,
    /// Open collections: the node being built and, for mappings, a pending key.
    stack: Vec<(Node, Option<Node>)>,
    anchors: HashMap<usize, Node>,
    /// Anchor ids of the open collections, so the finished node can be recorded.
    open_anchors: Vec<usize>,
    error: Option<SyntaxError>,
    second_document_at: Position,
}

impl TreeBuilder {
    fn push_value(&mut self, node: Node) {
        if self.error.is_some() {
            return;
        }
        let Some((parent, pending_key)) = self.stack.last_mut() else {
            if self.documents.len() == 1 {
                self.second_document_at = node.position;
            }
            self.documents.push(node);
            return;
        };
        match &mut parent.value {
            Value::Sequence(items) => items.push(node),
            Value::Mapping(entries) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.value == key.value) {
                        self.error = Some(SyntaxError {
                            position: key.position,
                            message: format!(
                                "duplicate key `{}` (first defined at line {})",
                                key.scalar_text(),
                                first.position.line
                            ),
                        });
                        return;
                    }
                    entries.push((key, node));
                }
            },
            _ => unreachable!("only collections are pushed on the stack"),
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let position = Position::from_marker(&mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let (value, written) =
                    resolve_scalar(text, style, tag.as_ref().map(|t| t.suffix.as_str()));
                let node = Node {
                    value: Value::Scalar(value),
                    position,
                    plain,
                    written,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => {
                self.open_anchors.push(anchor);
                self.stack.push((
                    Node {
                        value: Value::Sequence(Vec::new()),
                        position,
                        plain: false,
                        written: None,
                    },
                    None,
                ));
            }
            Event::MappingStart(anchor, _) => {
                self.open_anchors.push(anchor);
                self.stack.push((
                    Node {
                        value: Value::Mapping(Vec::new()),
                        position,
                        plain: false,
                        written: None,
                    },
                    None,
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, _) = self.stack.pop().expect("balanced events");
                let anchor = self.open_anchors.pop().unwrap_or(0);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node);
            }
            Event::Alias(anchor) => {
                // An alias reads as a copy of its anchor, placed where the alias stands.
                let node = match self.anchors.get(&anchor) {
                    Some(target) => Node {
                        position,
                        ..target.clone()
                    },
                    None => Node {
                        value: Value::Scalar(Scalar::Null),
                        position,
                        plain: false,
                        written: None,
                    },
                };
                self.push_value(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a scalar with the YAML 1.2 core schema; keeps the text of a scalar that is
/// not a string.
fn resolve_scalar(
    text: String,
    style: TScalarStyle,
    tag: Option<&str>,
) -> (Scalar, Option<Box<str>>) {
    let value = match tag {
        Some("str") => return (Scalar::String(text), None),
        Some("int") => text.parse().map(Scalar::Int).ok(),
        Some("bool") => match text.as_str() {
            "true" => Some(Scalar::Bool(true)),
            "false" => Some(Scalar::Bool(false)),
            _ => None,
        },
        _ if style != TScalarStyle::Plain => None,
        // One reading of the core schema for the whole project: the editor's.
        _ => match yamledit::resolve_plain(&text) {
            Scalar::String(_) => None,
            other => Some(other),
        },
    };
    match value {
        Some(value) => (value, Some(text.into_boxed_str())),
        None => (Scalar::String(text), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar a one-scalar document resolves to.
    fn value(text: &str) -> Scalar {
        parse(text).unwrap().scalar().cloned().expect("a scalar")
    }

    #[test]
    fn resolves_core_schema_scalars() {
        assert_eq!(value("true"), Scalar::Bool(true));
        assert_eq!(value("yes"), Scalar::String("yes".into()));
        assert_eq!(value("'true'"), Scalar::String("true".into()));
        assert_eq!(value("12"), Scalar::Int(12));
        assert_eq!(value("0x1f"), Scalar::Int(31));
        assert_eq!(value("1.20"), Scalar::Float(1.2));
        assert_eq!(value("1e3"), Scalar::Float(1000.0));
        assert_eq!(value("v1.2"), Scalar::String("v1.2".into()));
        assert_eq!(value("~"), Scalar::Null);
        assert_eq!(value(""), Scalar::Null);
        assert_eq!(value("!!str 12"), Scalar::String("12".into()));
        assert_eq!(value("!!int 12"), Scalar::Int(12));
        assert_eq!(value("!!int x"), Scalar::String("x".into()));
    }

    #[test]
    fn keeps_the_text_of_scalars_that_are_not_strings() {
        let written = |text: &str| parse(text).unwrap().written_text();
        assert_eq!(written("1.20"), "1.20");
        assert_eq!(written("0x1f"), "0x1f");
        assert_eq!(written("~"), "~");
        assert_eq!(written("'1.20'"), "1.20");
        assert_eq!(parse("1.20").unwrap().scalar_text(), "1.2");
        assert_eq!(parse("v1").unwrap().written, None);
    }

    #[test]
    fn records_positions() {
        let doc = parse("a: 1\nb:\n  - x\n  - y\n").unwrap();
        let Value::Mapping(entries) = doc.value else {
            panic!("mapping")
        };
        assert_eq!(entries[1].0.position, Position { line: 2, column: 1 });
        let Value::Sequence(items) = &entries[1].1.value else {
            panic!("sequence")
        };
        assert_eq!(items[1].position, Position { line: 4, column: 5 });
    }

    #[test]
    fn rejects_duplicate_keys() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.position, Position { line: 3, column: 1 });
        assert_eq!(err.message, "duplicate key `a` (first defined at line 1)");
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.position.line >= 2, "{err:?}");
    }

    #[test]
    fn rejects_a_second_document() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.position.line, 3);
    }

    #[test]
    fn aliases_read_as_copies() {
        let doc = parse("a: &x {k: v}\nb: *x\n").unwrap();
        let Value::Mapping(entries) = doc.value else {
            panic!("mapping")
        };
        assert_eq!(entries[0].1.value, entries[1].1.value);
        assert_eq!(entries[1].1.position.line, 2);
    }

    #[test]
    fn messages_name_kinds_in_words() {
        let kind = |text: &str| parse(text).unwrap().value.kind();
        assert_eq!(kind("~"), "null");
        assert_eq!(kind("true"), "a boolean");
        assert_eq!(kind("12"), "an integer");
        assert_eq!(kind("1.5"), "a number");
        assert_eq!(kind("x"), "a string");
        assert_eq!(kind("[1]"), "a list");
        assert_eq!(kind("{a: 1}"), "a mapping");
    }

    #[test]
    fn only_string_scalars_read_as_text() {
        assert_eq!(parse("v1").unwrap().as_str(), Some("v1"));
        assert_eq!(parse("'12'").unwrap().as_str(), Some("12"));
        assert_eq!(parse("12").unwrap().as_str(), None);
        assert_eq!(parse("12").unwrap().scalar(), Some(&Scalar::Int(12)));
        assert_eq!(parse("[a]").unwrap().scalar(), None);
        assert_eq!(parse("[a]").unwrap().as_str(), None);
    }

    #[test]
    fn nan_keys_are_duplicates() {
        // Both would be the JSON key `NaN`; scalars compare the way the editor's do.
        let err = parse(".nan: 1\n.NaN: 2\n").unwrap_err();
        assert_eq!(err.position, Position { line: 2, column: 1 });
        assert_eq!(err.message, "duplicate key `NaN` (first defined at line 1)");
    }
}

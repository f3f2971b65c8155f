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

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in document order; duplicate keys are reported by [`parse`].
    Mapping(Vec<(Node, Node)>),
}

impl Value {
    /// The word used in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to JSON, for values the model keeps verbatim (for example sync windows).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
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
            Value::String(s) => serde_json::Value::String(s),
            Value::Sequence(items) => items.into_iter().map(Node::into_json).collect(),
            Value::Mapping(entries) => serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = match k.value {
                            Value::String(s) => s,
                            _ => k.scalar_text(),
                        };
                        (key, v.into_json())
                    })
                    .collect(),
            ),
            _ => self.to_json(),
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
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::String(s) => s.clone(),
            Value::Sequence(_) => "[...]".into(),
            Value::Mapping(_) => "{...}".into(),
        }
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
            value: Value::Null,
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
                    value,
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
                        value: Value::Null,
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
) -> (Value, Option<Box<str>>) {
    let value = match tag {
        Some("str") => return (Value::String(text), None),
        Some("int") => text.parse().map(Value::Int).ok(),
        Some("bool") => match text.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ if style != TScalarStyle::Plain => None,
        // One reading of the core schema for the whole project: the editor's.
        _ => match yamledit::resolve_plain(&text) {
            yamledit::Value::Null => Some(Value::Null),
            yamledit::Value::Bool(b) => Some(Value::Bool(b)),
            yamledit::Value::Int(i) => Some(Value::Int(i)),
            yamledit::Value::Float(f) => Some(Value::Float(f)),
            yamledit::Value::String(_) => None,
        },
    };
    match value {
        Some(value) => (value, Some(text.into_boxed_str())),
        None => (Value::String(text), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        parse(text).unwrap().value
    }

    #[test]
    fn resolves_core_schema_scalars() {
        assert_eq!(value("true"), Value::Bool(true));
        assert_eq!(value("yes"), Value::String("yes".into()));
        assert_eq!(value("'true'"), Value::String("true".into()));
        assert_eq!(value("12"), Value::Int(12));
        assert_eq!(value("0x1f"), Value::Int(31));
        assert_eq!(value("1.20"), Value::Float(1.2));
        assert_eq!(value("1e3"), Value::Float(1000.0));
        assert_eq!(value("v1.2"), Value::String("v1.2".into()));
        assert_eq!(value("~"), Value::Null);
        assert_eq!(value(""), Value::Null);
        assert_eq!(value("!!str 12"), Value::String("12".into()));
        assert_eq!(value("!!int 12"), Value::Int(12));
        assert_eq!(value("!!int x"), Value::String("x".into()));
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
}

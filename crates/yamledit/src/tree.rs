//! A positioned tree of one YAML stream, built from yaml-rust2 parser events.

use crate::error::{Error, Location};
use crate::scalar::{self, BlockExtent};
use crate::source::Source;
use crate::value::Value;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

#[derive(Debug)]
pub(crate) enum Kind {
    Scalar { value: String, style: TScalarStyle },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Alias(usize),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte offset of the node's first token: the scalar text, `[`, `{`, the first `-`
    /// or the first key. For an empty (implicit null) scalar it is meaningless.
    pub start: usize,
    /// Character column of `start`, 0-based.
    pub col: usize,
    pub anchor: usize,
    pub tag: Option<Box<Tag>>,
    /// For a collection: it is a flow collection. For a scalar: it sits inside one.
    pub flow: bool,
    /// Column of the enclosing block collection (block scalars need it).
    pub parent_indent: Option<usize>,
    /// Offset of the closing `]` or `}` of a flow collection.
    pub close: Option<usize>,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } if self.is_empty_scalar() => "empty (null)",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
            Kind::Alias(_) => "an alias",
        }
    }

    /// An implicit null: `key:` with nothing after it. A plain scalar token is never
    /// empty, so an empty plain value can only come from the parser filling a gap.
    pub fn is_empty_scalar(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: TScalarStyle::Plain } if value.is_empty())
    }

    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The typed value of a scalar: plain text resolves through the core schema, quoted
    /// and block text is a string, and a core tag (`!!str`, `!!int`...) wins over both.
    pub fn typed(&self) -> Option<Value> {
        let Kind::Scalar { value, style } = &self.kind else {
            return None;
        };
        if let Some(tag) = &self.tag {
            let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
            if core {
                return Some(match tag.suffix.as_str() {
                    "str" => Value::String(value.clone()),
                    "null" => Value::Null,
                    "bool" | "int" | "float" => scalar::resolve_plain(value),
                    _ => Value::String(value.clone()),
                });
            }
            // `!` (non-specific) and application tags: the text itself.
            return Some(Value::String(value.clone()));
        }
        Some(match style {
            TScalarStyle::Plain => scalar::resolve_plain(value),
            _ => Value::String(value.clone()),
        })
    }
}

#[derive(Debug)]
pub(crate) struct Doc {
    pub root: Node,
}

/// Anchor id -> [document, child index, ...].
type AnchorIndex = HashMap<usize, Vec<usize>>;

pub(crate) struct Tree<'a> {
    pub src: Source<'a>,
    pub docs: Vec<Doc>,
    /// Anchor id -> [document, child index, ...] (a mapping's key `i` is child `2i`, its
    /// value `2i+1`).
    anchors: AnchorIndex,
}

/// Where a scalar's bytes are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extent {
    Inline { start: usize, end: usize },
    Block(BlockExtent),
}

impl Extent {
    /// The last byte of the scalar that is not trailing blank lines.
    pub fn end(&self) -> usize {
        match self {
            Extent::Inline { end, .. } => *end,
            Extent::Block(b) => b.end,
        }
    }
}

impl<'a> Tree<'a> {
    pub fn parse(text: &'a str) -> Result<Tree<'a>, Error> {
        let src = Source::new(text);
        // yaml-rust2 takes a NUL for the end of the input and would silently ignore the
        // rest; YAML does not allow the character at all.
        if let Some(i) = text.find('\0') {
            return Err(Error::Syntax {
                at: src.location(i),
                message: "NUL character (YAML text cannot contain it)".into(),
            });
        }
        let (docs, anchors) = Builder::new(&src).run()?;
        Ok(Tree { src, docs, anchors })
    }

    pub fn loc(&self, offset: usize) -> Location {
        self.src.location(offset)
    }

    pub fn extent(&self, node: &Node) -> Option<Extent> {
        let Kind::Scalar { value, style } = &node.kind else {
            return None;
        };
        if node.is_empty_scalar() {
            return None;
        }
        let text = self.src.text;
        let start = node.start;
        Some(match style {
            TScalarStyle::Plain => Extent::Inline {
                start,
                end: scalar::plain_end(text, start, value, node.flow)?,
            },
            TScalarStyle::SingleQuoted => Extent::Inline {
                start,
                end: scalar::single_quoted_end(text, start)?,
            },
            TScalarStyle::DoubleQuoted => Extent::Inline {
                start,
                end: scalar::double_quoted_end(text, start)?,
            },
            TScalarStyle::Literal | TScalarStyle::Folded => {
                Extent::Block(scalar::block_extent(text, start, node.parent_indent)?)
            }
        })
    }

    /// Byte offset just after the last byte that belongs to `node` (for a block
    /// collection: its last descendant).
    pub fn node_end(&self, node: &Node) -> Option<usize> {
        match &node.kind {
            Kind::Scalar { .. } => self.extent(node).map(|e| e.end()),
            Kind::Alias(_) => {
                let bytes = self.src.text.as_bytes();
                let mut i = node.start + 1;
                while i < bytes.len() && !is_alias_stop(bytes[i]) {
                    i += 1;
                }
                Some(i)
            }
            Kind::Seq(items) => match node.close {
                Some(c) => Some(c + 1),
                None => self.node_end(items.last()?),
            },
            Kind::Map(entries) => match node.close {
                Some(c) => Some(c + 1),
                None => {
                    let (k, v) = entries.last()?;
                    if v.is_empty_scalar() {
                        self.colon_after(k).map(|c| c + 1)
                    } else {
                        self.node_end(v)
                    }
                }
            },
        }
    }

    /// The `:` that follows a mapping key.
    pub fn colon_after(&self, key: &Node) -> Option<usize> {
        let bytes = self.src.text.as_bytes();
        let mut i = self.node_end(key)?;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        (bytes.get(i) == Some(&b':')).then_some(i)
    }

    /// The name of the anchor an alias node refers to, read from its `*name` text.
    pub fn alias_name(&self, node: &Node) -> String {
        let end = self.node_end(node).unwrap_or(node.start);
        self.src
            .text
            .get(node.start + 1..end)
            .unwrap_or("")
            .to_string()
    }

    /// The node that carries anchor `id`, through the index the builder recorded.
    pub fn find_anchor(&self, id: usize) -> Option<&Node> {
        let path = self.anchors.get(&id)?;
        let (doc, rest) = path.split_first()?;
        let mut node = &self.docs.get(*doc)?.root;
        for &i in rest {
            node = match &node.kind {
                Kind::Seq(items) => items.get(i)?,
                Kind::Map(entries) => {
                    let (k, v) = entries.get(i / 2)?;
                    if i % 2 == 0 { k } else { v }
                }
                _ => return None,
            };
        }
        Some(node)
    }
}

fn is_alias_stop(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b'[' | b']' | b'{' | b'}'
    )
}

struct Frame {
    node: Node,
    pending_key: Option<Node>,
}

struct Builder<'s, 'a> {
    src: &'s Source<'a>,
    parser: Parser<std::str::Chars<'a>>,
    stack: Vec<Frame>,
    docs: Vec<Doc>,
    anchors: AnchorIndex,
}

impl<'s, 'a> Builder<'s, 'a> {
    fn new(src: &'s Source<'a>) -> Self {
        Builder {
            src,
            parser: Parser::new_from_str(src.parsed()),
            stack: Vec::new(),
            docs: Vec::new(),
            anchors: HashMap::new(),
        }
    }

    fn syntax(&self, e: &ScanError) -> Error {
        Error::Syntax {
            at: self.src.scan_error_location(e.marker()),
            message: e.info().to_string(),
        }
    }

    fn run(mut self) -> Result<(Vec<Doc>, AnchorIndex), Error> {
        loop {
            let (event, mark) = self.parser.next_token().map_err(|e| self.syntax(&e))?;
            match event {
                Event::StreamEnd => break,
                Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                }
                Event::Alias(id) => {
                    let n = self.leaf(Kind::Alias(id), &mark, 0, None);
                    self.attach(n);
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.record_anchor(anchor);
                    let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                    let mut n = self.leaf(Kind::Scalar { value, style }, &mark, anchor, tag);
                    if block {
                        // The mark of a block scalar is where its content starts, not
                        // its `|` or `>`; the header is found on the line above.
                        let header =
                            self.src
                                .block_header(n.start)
                                .ok_or_else(|| Error::Unsupported {
                                    path: String::new(),
                                    message: "cannot find the header of this block scalar".into(),
                                    at: self.src.location(n.start),
                                })?;
                        n.start = header;
                    }
                    self.attach(n);
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(Kind::Seq(Vec::new()), &mark, anchor, tag)?
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(Kind::Map(Vec::new()), &mark, anchor, tag)?
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let mut frame = self.stack.pop().expect("end event without a start");
                    if frame.node.flow {
                        frame.node.close = Some(self.src.offset(&mark));
                    }
                    self.attach(frame.node);
                }
            }
        }
        Ok((self.docs, self.anchors))
    }

    /// Remember where the node about to be added sits, if it has an anchor.
    fn record_anchor(&mut self, anchor: usize) {
        if anchor == 0 {
            return;
        }
        let mut path = vec![self.docs.len()];
        for f in &self.stack {
            path.push(match &f.node.kind {
                Kind::Seq(items) => items.len(),
                Kind::Map(entries) => entries.len() * 2 + usize::from(f.pending_key.is_some()),
                _ => unreachable!("only collections are pushed"),
            });
        }
        self.anchors.insert(anchor, path);
    }

    fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|f| f.node.flow)
    }

    fn parent_indent(&self) -> Option<usize> {
        self.stack
            .last()
            .filter(|f| !f.node.flow)
            .map(|f| f.node.col)
    }

    fn leaf(&self, kind: Kind, mark: &Marker, anchor: usize, tag: Option<Tag>) -> Node {
        let tag = tag.map(Box::new);
        Node {
            kind,
            start: self.src.offset(mark),
            col: mark.col(),
            anchor,
            tag,
            flow: self.in_flow(),
            parent_indent: self.parent_indent(),
            close: None,
        }
    }

    fn open(
        &mut self,
        kind: Kind,
        mark: &Marker,
        anchor: usize,
        tag: Option<Tag>,
    ) -> Result<(), Error> {
        self.record_anchor(anchor);
        let start = self.src.offset(mark);
        let bracket = matches!(self.src.text.as_bytes().get(start), Some(b'[' | b'{'));
        // A block mapping whose first key is a flow collection starts at the same `[`
        // or `{` as that key; the key's own start event follows at the same offset.
        let flow = self.in_flow()
            || (bracket
                && match self.parser.peek() {
                    Ok((Event::SequenceStart(..) | Event::MappingStart(..), m)) => {
                        self.src.offset(m) != start
                    }
                    Ok(_) => true,
                    Err(e) => return Err(self.syntax(&e.clone())),
                });
        let mut node = self.leaf(kind, mark, anchor, tag);
        node.flow = flow;
        if !flow && matches!(node.kind, Kind::Seq(_)) {
            // An indentless sequence (`key:` then `- a` at the same column) is marked at
            // its first item, not at its `-`.
            let line_start = self.src.offset_of(self.src.location(start).line, 0);
            let before = &self.src.text[line_start..start];
            let trimmed = before.trim_end_matches([' ', '\t']);
            if trimmed.ends_with('-') && self.src.text.as_bytes().get(start) != Some(&b'-') {
                node.start = line_start + trimmed.len() - 1;
                node.col = trimmed.chars().count() - 1;
            }
        }
        self.stack.push(Frame {
            node,
            pending_key: None,
        });
        Ok(())
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(Doc { root: node }),
            Some(frame) => match &mut frame.node.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match frame.pending_key.take() {
                    None => {
                        // A block mapping is marked at the `:` of its first key; its
                        // position (and indentation) is that of the key.
                        if entries.is_empty() && !frame.node.flow && !node.is_empty_scalar() {
                            frame.node.start = node.start;
                            frame.node.col = node.col;
                        }
                        frame.pending_key = Some(node)
                    }
                    Some(k) => entries.push((k, node)),
                },
                _ => unreachable!("only collections are pushed"),
            },
        }
    }
}

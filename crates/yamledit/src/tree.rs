//! A positioned tree of one YAML stream, built from yaml-rust2 parser events.

use crate::error::{Error, Location};
use crate::scalar::{self, BlockExtent};
use crate::source::Source;
use crate::value::Value;
use ladder_threads::ThreadBudget;
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
        if text.len() >= SPLIT_MIN
            && let Some(docs) = split_point(&src).and_then(|at| parse_split(text, at))
        {
            return Ok(Tree {
                src,
                docs,
                anchors: HashMap::new(),
            });
        }
        let (docs, anchors) = parse_whole(&src)?;
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

/// Texts at least this long are parsed in two halves at once, when their layout allows
/// it (see [`parse_split`]).
const SPLIT_MIN: usize = 64 * 1024;

/// The line that ends the first half when it is parsed on its own: a plain key at column
/// 0, as the first line of the second half is.
const SENTINEL: &str = "a: b\n";

/// Where to cut a large text in two: the first line at or after the middle that starts
/// at column 0 with a letter, digit or `_` (a plain key of a root block mapping, if the
/// text is one). Lines ended by a lone `\r` are not seen, so such a text is not cut.
fn split_point(src: &Source) -> Option<usize> {
    let bytes = src.parsed().as_bytes();
    let mut i = bytes.len() / 2;
    loop {
        i += bytes[i..].iter().position(|&b| b == b'\n')? + 1;
        if bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return Some(src.base + i);
        }
    }
}

/// A line that starts with `%`: a directive (`%TAG` would change how the second half
/// reads), or text to leave in one piece.
fn has_directive(text: &str) -> bool {
    let text = text.strip_prefix(crate::source::BOM).unwrap_or(text);
    text.starts_with('%') || memchr::memmem::find(text.as_bytes(), b"\n%").is_some()
}

/// Parse `text` as two halves cut at `at`, on two threads when the thread budget allows,
/// and join the two trees.
///
/// This is only done when the result is certain to be the tree of one parse of the whole
/// text; otherwise None is returned and the caller parses the whole text (which also
/// gives the error, if any). The conditions: each half is one document whose root is a
/// block mapping at column 0, with no anchor (so no alias either: an alias to an unknown
/// anchor does not parse), and the text has no directive. The first half is parsed with a
/// sentinel key line after it, so its last value is ended the way the second half's
/// first key ends it in the whole text (a line at column 0 that starts a plain key), not
/// by the end of the input; the sentinel entry is then dropped. The second half starts
/// with that key at column 0, where the whole parse is in the same state: in the root
/// mapping, at indentation 0, outside any flow collection or scalar (a half that cut a
/// quoted scalar or a flow collection does not parse, and a line at column 0 always ends
/// a plain or block scalar below a root key).
fn parse_split(text: &str, at: usize) -> Option<Vec<Doc>> {
    if has_directive(text) {
        return None;
    }
    let mut head = String::with_capacity(at + SENTINEL.len());
    head.push_str(&text[..at]);
    head.push_str(SENTINEL);
    let tail = &text[at..];
    // The second half goes to another thread when the budget of the fan-out this parse
    // runs in (or the process's) has a worker free; otherwise the halves are parsed one
    // after the other, which still gives the same tree.
    let (head_doc, tail_doc) =
        ThreadBudget::current().join(|| parse_part(&head), || parse_part(tail));
    let (mut head_doc, tail_doc) = (head_doc?, tail_doc?);
    let Kind::Map(head_entries) = &mut head_doc.root.kind else {
        return None;
    };
    // The sentinel must be the last entry, read as written, and not the only one.
    let sentinel = head_entries.pop()?;
    let is_plain = |n: &Node, t: &str, start: usize| {
        n.start == start
            && n.tag.is_none()
            && matches!(&n.kind, Kind::Scalar { value, style: TScalarStyle::Plain } if value == t)
    };
    if head_entries.is_empty()
        || !is_plain(&sentinel.0, "a", at)
        || !is_plain(&sentinel.1, "b", at + 3)
    {
        return None;
    }
    let Kind::Map(mut tail_entries) = tail_doc.root.kind else {
        return None;
    };
    let (first, _) = tail_entries.first_mut()?;
    if first.start != 0 {
        return None;
    }
    // A block mapping is marked at its first `:` until its first key is attached, so
    // that key alone saw the wrong column; in the whole text it follows other keys.
    first.parent_indent = Some(0);
    head_entries.extend(tail_entries.into_iter().map(|(mut k, mut v)| {
        shift(&mut k, at);
        shift(&mut v, at);
        (k, v)
    }));
    Some(vec![head_doc])
}

/// One half: its only document, if it parses and is a block mapping at column 0 with no
/// anchor.
fn parse_part(text: &str) -> Option<Doc> {
    let src = Source::new(text);
    let (mut docs, anchors) = parse_whole(&src).ok()?;
    if docs.len() != 1 || !anchors.is_empty() {
        return None;
    }
    let doc = docs.pop()?;
    let root_ok = matches!(doc.root.kind, Kind::Map(_)) && !doc.root.flow && doc.root.col == 0;
    root_ok.then_some(doc)
}

/// Move the offsets of `node` and its descendants `by` bytes on.
fn shift(node: &mut Node, by: usize) {
    node.start += by;
    if let Some(c) = &mut node.close {
        *c += by;
    }
    match &mut node.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|n| shift(n, by)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, by);
            shift(v, by);
        }),
        Kind::Scalar { .. } | Kind::Alias(_) => {}
    }
}

/// The documents of `src` in one piece: by the fast parser when it reads the text (it
/// records no anchor), else by yaml-rust2.
fn parse_whole(src: &Source) -> Result<(Vec<Doc>, AnchorIndex), Error> {
    match crate::fast::parse(src) {
        Some(docs) => Ok((docs, HashMap::new())),
        None => Builder::new(src).run(),
    }
}

/// The documents as yaml-rust2 reads them, in one piece: what the fast path and the
/// two-half parse are tested against.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_reference(src: &Source) -> Result<Vec<Doc>, Error> {
    Builder::new(src).run().map(|(docs, _)| docs)
}

fn is_alias_stop(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b'[' | b']' | b'{' | b'}'
    )
}

/// An open collection. Its children are kept on the builder's shared `children` stack
/// from index `base` on, and moved into one exactly sized `Vec` when it closes.
struct Frame {
    node: Node,
    base: usize,
}

struct Builder<'s, 'a> {
    src: &'s Source<'a>,
    parser: Parser<std::str::Chars<'a>>,
    stack: Vec<Frame>,
    children: Vec<Node>,
    docs: Vec<Doc>,
    anchors: AnchorIndex,
}

impl<'s, 'a> Builder<'s, 'a> {
    fn new(src: &'s Source<'a>) -> Self {
        Builder {
            src,
            parser: Parser::new_from_str(src.parsed()),
            stack: Vec::new(),
            children: Vec::new(),
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
                    let mut children = self.children.drain(frame.base..);
                    match &mut frame.node.kind {
                        Kind::Seq(items) => *items = children.by_ref().collect(),
                        Kind::Map(entries) => {
                            *entries = Vec::with_capacity(children.len() / 2);
                            while let (Some(k), Some(v)) = (children.next(), children.next()) {
                                entries.push((k, v));
                            }
                        }
                        _ => unreachable!("only collections are pushed"),
                    }
                    drop(children);
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
        // A mapping's key `i` is child `2i`, its value `2i+1`: the children stack holds
        // them in that order.
        let mut path = vec![self.docs.len()];
        for (i, f) in self.stack.iter().enumerate() {
            let end = self
                .stack
                .get(i + 1)
                .map_or(self.children.len(), |next| next.base);
            path.push(end - f.base);
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
            let bytes = self.src.text.as_bytes();
            // (The mark is on the sequence's own `-` when that is followed by a blank;
            // a first item such as `-1` starts with a `-` too.)
            let at_indicator = bytes.get(start) == Some(&b'-')
                && matches!(
                    bytes.get(start + 1),
                    None | Some(b' ' | b'\t' | b'\n' | b'\r')
                );
            if trimmed.ends_with('-') && !at_indicator {
                node.start = line_start + trimmed.len() - 1;
                node.col = trimmed.chars().count() - 1;
            }
        }
        self.stack.push(Frame {
            node,
            base: self.children.len(),
        });
        Ok(())
    }

    fn attach(&mut self, node: Node) {
        let Some(frame) = self.stack.last_mut() else {
            self.docs.push(Doc { root: node });
            return;
        };
        // A block mapping is marked at the `:` of its first key; its position (and
        // indentation) is that of the key.
        if self.children.len() == frame.base
            && matches!(frame.node.kind, Kind::Map(_))
            && !frame.node.flow
            && !node.is_empty_scalar()
        {
            frame.node.start = node.start;
            frame.node.col = node.col;
        }
        self.children.push(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Result<Vec<Doc>, Error> {
        parse_reference(&Source::new(text))
    }

    /// Every cut of `text` that `parse_split` accepts must give exactly the tree of one
    /// parse of the whole text, and the whole text must parse. Returns the cuts accepted.
    fn check_every_cut(name: &str, text: &str) -> usize {
        let bytes = text.as_bytes();
        let mut accepted = 0;
        for (i, _) in text.match_indices('\n') {
            let at = i + 1;
            if !bytes
                .get(at)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            {
                continue;
            }
            if let Some(docs) = parse_split(text, at) {
                accepted += 1;
                let want = whole(text).unwrap_or_else(|e| {
                    panic!("{name}: the cut at byte {at} was accepted, but the whole text is refused: {e}")
                });
                assert_eq!(
                    format!("{docs:?}"),
                    format!("{want:?}"),
                    "{name}: cut at byte {at}"
                );
            }
        }
        accepted
    }

    const TRICKY: &[&str] = &[
        "a: 1\nb: 2\nc: 3\n",
        "a: |\nb: 2\n",
        "a: |+\n\n\nb: 2\n",
        "a: >-\n  x\n\n  y\n\nb: 2\n",
        "a: |\n  x\n\n\nb: |+\n  y\n\n",
        "a:\nb:\nc:\n",
        "a: plain\n  more\n\nb: x\n",
        "a: \"multi\nb: x\"\nc: y\n",
        "a: 'multi\n b: x'\nc: y\n",
        "a: [x,\n  y]\nb: {c: d,\n  e: f}\nz: 1\n",
        "a:\n- x\n- y\nb:\n  - z\nc: 1\n",
        "? a\nb: 1\n",
        "? a\n: 1\nb: 2\n",
        "a: 1\n...\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "--- \na: 1\nb: 2\n",
        "a: &x 1\nb: *x\n",
        "a: 1\nb: *x\n",
        "%TAG !! tag:example.com,2000:\n---\na: !!str 1\nb: !!str 2\n",
        "a: !!str 1\nb: !foo 2\n",
        "a: 1 # c\n# comment\n\nb: 2 # d\n",
        "\u{feff}a: 1\nb: 2\n",
        "a: 1\r\nb: |\r\n  x\r\nc: 2\r\n",
        "a: 1\nb\nc: 2\n",
        "a: 1\nb: 2\n c: 3\n",
        "a: 1\n  b: 2\nc: 3\n",
        "a:\n  b: 1\nc\n: 2\n",
        "a: 1\nb: 2",
        "a: 1\nb: |\n  x",
        "a: 1\nb: \"x\ny\"\n",
        "a: -\nb: 2\n",
        "a: 1\n\tb: 2\n",
        "a: 1\nb:\tx\n",
        "ü: 1\nb: ü\nc: 2\n",
        "- a\nb: 1\n",
        "a: 1\nb: 2\n- c\n",
    ];

    #[test]
    fn a_split_parse_is_one_parse() {
        let mut accepted = 0;
        for (i, t) in TRICKY.iter().enumerate() {
            accepted += check_every_cut(&format!("tricky {i}"), t);
        }
        assert!(accepted > 10, "only {accepted} cuts accepted");
        // The refused layouts.
        assert!(parse_split("a: &x 1\nb: *x\n", 8).is_none());
        assert!(
            parse_split("%TAG !! tag:example.com,2000:\n---\na: !!str 1\nb: 2\n", 45).is_none()
        );
        assert!(parse_split("a: 1\n...\nb: 2\n", 9).is_none());
        assert!(parse_split("a: \"multi\nb: x\"\nc: y\n", 10).is_none());
    }

    /// The same on the YAML test suite (error cases included) and the corpus.
    #[test]
    fn a_split_parse_is_one_parse_on_the_shared_data() {
        let files = crate::fast::tests::shared_files();
        assert!(files.len() > 300, "only {} files", files.len());
        let (mut accepted, mut texts) = (0, 0);
        for f in &files {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            if text.contains('\0') {
                continue;
            }
            texts += 1;
            accepted += check_every_cut(&f.display().to_string(), &text);
        }
        assert!(
            accepted > 50,
            "only {accepted} cuts accepted in {texts} texts"
        );
    }
}

//! The fast path: a parser for the plain shape most configuration files have, which
//! builds exactly the tree that the yaml-rust2 path builds, several times faster.
//!
//! Why: every edit must parse the whole file (an invalid file is refused, and the tree
//! is what the edit is checked against), and yaml-rust2 reads about 20 MB/s, which was
//! the whole cost of an edit in a large values file.
//!
//! What it reads: one document of block mappings and block sequences (compact forms
//! `- - a` and `- k: v` included), comments and blank lines, single-line plain and
//! quoted scalars, single-line flow collections of scalars and flow collections, and
//! literal or folded block scalars. Anything else (anchors, aliases, tags, directives,
//! document markers, explicit keys, multi-line plain or quoted scalars, tabs outside
//! comments and block text, a text that does not end with a line break...) makes it
//! give up by returning None, and the caller parses the text with yaml-rust2, which also
//! reports the error if the text is not YAML. Giving up is always safe; what it accepts
//! it must read exactly as yaml-rust2 does, node positions included. The tests check
//! that on the YAML test suite, the corpus and generated texts.

use crate::source::Source;
use crate::tree::{Doc, Kind, Node};
use yaml_rust2::scanner::TScalarStyle;

/// The documents of `src`, or None when its text is not of the shape this parser reads.
pub(crate) fn parse(src: &Source) -> Option<Vec<Doc>> {
    let text = src.text;
    let parsed = src.parsed();
    if parsed.is_empty() {
        return Some(Vec::new());
    }
    if !parsed.ends_with('\n') || !printable(parsed) {
        return None;
    }
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: src.base,
        line: src.base,
        eof: false,
        children: Vec::with_capacity(64),
    };
    p.skip_to_content()?;
    if p.eof {
        return Some(Vec::new());
    }
    let root = p.block_node(None)?;
    p.eof.then(|| vec![Doc { root }])
}

/// No character that yaml-rust2 might treat specially: control characters other than
/// tab and line breaks, a `\r` that does not start a `\r\n`, C1 controls (NEL is a line
/// break in YAML 1.1), a byte order mark inside the text, Unicode line and paragraph
/// separators, and non-characters.
fn printable(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Most of a text is printable ASCII and line feeds: checked 64 bytes at a time
        // with no branch per byte, so that the compiler vectorizes it.
        if let Some(chunk) = b.get(i..i + 64)
            && chunk.iter().fold(true, |ok, &c| {
                ok & ((c.wrapping_sub(0x20) < 0x5f) | (c == b'\n'))
            })
        {
            i += 64;
            continue;
        }
        let c = b[i];
        if c >= 0x80 {
            // Only here (rarely) is the text decoded.
            let ch = text[i..].chars().next().unwrap_or('\0');
            if matches!(
                ch,
                '\u{80}'
                    ..='\u{9f}' | '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
            ) {
                return false;
            }
            i += ch.len_utf8();
            continue;
        }
        if (c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r')
            || c == 0x7f
            || (c == b'\r' && b.get(i + 1) != Some(&b'\n'))
        {
            return false;
        }
        i += 1;
    }
    true
}

/// Plain scalars may not start with these (a few of them can, followed by a non-blank,
/// but those are left to yaml-rust2).
fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// A space, a line break, or the end of the text.
fn blank_at(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), None | Some(b' ' | b'\n' | b'\r'))
}

#[derive(Clone, Copy)]
enum Chomp {
    Clip,
    Strip,
    Keep,
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    /// The current byte.
    pos: usize,
    /// The start of the current line.
    line: usize,
    /// Set by `skip_to_content` when only blank lines and comments were left.
    eof: bool,
    /// The children of the open collections, innermost last: each collection moves
    /// its own into one exactly sized `Vec` when it closes (no `Vec` grows node by node).
    children: Vec<Node>,
}

impl<'a> Parser<'a> {
    /// The children from `base` on, as key-value pairs.
    fn pairs(&mut self, base: usize) -> Vec<(Node, Node)> {
        let mut children = self.children.drain(base..);
        let mut pairs = Vec::with_capacity(children.len() / 2);
        while let (Some(k), Some(v)) = (children.next(), children.next()) {
            pairs.push((k, v));
        }
        pairs
    }

    /// Character column of byte `at` of the current line.
    fn col(&self, at: usize) -> usize {
        let prefix = &self.b[self.line..at];
        if prefix.is_ascii() {
            prefix.len()
        } else {
            self.text[self.line..at].chars().count()
        }
    }

    /// The indentation of the current content line (`pos` is its first non-space byte).
    fn indent(&self) -> usize {
        self.pos - self.line
    }

    /// Where the current line's text ends (before its `\r\n` or `\n`), from `from` on.
    fn line_end(&self, from: usize) -> usize {
        let nl = memchr::memchr(b'\n', &self.b[from..]).map_or(self.b.len(), |i| from + i);
        if nl > from && self.b[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        }
    }

    /// Move to the start of the next line.
    fn next_line(&mut self) {
        self.line =
            memchr::memchr(b'\n', &self.b[self.pos..]).map_or(self.b.len(), |i| self.pos + i + 1);
        self.pos = self.line;
    }

    fn skip_spaces(&mut self) {
        while self.b.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// From the start of a line, skip blank and comment lines: `pos` ends on the first
    /// byte of the next content line, or `eof` is set.
    fn skip_to_content(&mut self) -> Option<()> {
        loop {
            self.pos = self.line;
            if self.pos >= self.b.len() {
                self.eof = true;
                return Some(());
            }
            self.skip_spaces();
            match self.b.get(self.pos) {
                Some(b'\n' | b'\r' | b'#') => self.next_line(),
                Some(b'\t') | None => return None,
                Some(&c) => {
                    let at_col0 = self.pos == self.line;
                    let marker = |m: &[u8]| {
                        self.b[self.pos..].starts_with(m) && blank_at(self.b, self.pos + 3)
                    };
                    if at_col0 && (c == b'%' || marker(b"---") || marker(b"...")) {
                        return None;
                    }
                    return Some(());
                }
            }
        }
    }

    /// After a value: spaces, maybe a comment, the line break; then on to the next
    /// content line.
    fn end_line(&mut self) -> Option<()> {
        self.skip_spaces();
        match self.b.get(self.pos) {
            Some(b'#') if self.b[self.pos - 1] == b' ' => {}
            Some(b'\n') | Some(b'\r') => {}
            _ => return None,
        }
        self.next_line();
        self.skip_to_content()
    }

    /// True when the next content line starts deeper than `n`, so that it would
    /// continue the value just read (or be an error): left to yaml-rust2.
    fn deeper_than(&self, n: usize) -> bool {
        !self.eof && self.indent() > n
    }

    fn at_seq_entry(&self) -> bool {
        self.b[self.pos] == b'-' && blank_at(self.b, self.pos + 1)
    }

    fn leaf(
        &self,
        value: String,
        style: TScalarStyle,
        start: usize,
        parent_indent: Option<usize>,
        flow: bool,
    ) -> Node {
        Node {
            kind: Kind::Scalar { value, style },
            start,
            col: self.col(start),
            anchor: 0,
            tag: None,
            flow,
            parent_indent,
            close: None,
        }
    }

    /// A block collection starting at `pos`.
    fn block_node(&mut self, parent_indent: Option<usize>) -> Option<Node> {
        if self.at_seq_entry() {
            self.block_seq(parent_indent)
        } else {
            self.block_map(parent_indent)
        }
    }

    fn block_seq(&mut self, parent_indent: Option<usize>) -> Option<Node> {
        let start = self.pos;
        let col = self.col(start);
        let base = self.children.len();
        loop {
            self.pos += 1;
            let item = self.seq_item(col)?;
            self.children.push(item);
            if self.eof || self.indent() < col {
                break;
            }
            if self.indent() > col {
                return None;
            }
            if !self.at_seq_entry() {
                break; // a key after an indentless sequence: the mapping's
            }
        }
        Some(Node {
            kind: Kind::Seq(self.children.drain(base..).collect()),
            start,
            col,
            anchor: 0,
            tag: None,
            flow: false,
            parent_indent,
            close: None,
        })
    }

    /// The item after a `-` at column `col`.
    fn seq_item(&mut self, col: usize) -> Option<Node> {
        self.skip_spaces();
        match self.b[self.pos] {
            b'\n' | b'\r' | b'#' => {
                if self.b[self.pos] == b'#' && self.b[self.pos - 1] != b' ' {
                    return None;
                }
                self.next_line();
                self.skip_to_content()?;
                if !self.deeper_than(col) {
                    return None; // an empty item
                }
                self.block_node(Some(col))
            }
            b'-' if blank_at(self.b, self.pos + 1) => self.block_seq(Some(col)),
            b'[' | b'{' => self.inline_value(col, col),
            _ if self.line_has_key() => self.block_map(Some(col)),
            _ => self.inline_value(col, col),
        }
    }

    /// Does the text from `pos` look like a mapping key (a `:` and a blank after it
    /// before the end of the line)? Only a hint: `key` checks the key itself.
    fn line_has_key(&self) -> bool {
        let end = self.line_end(self.pos);
        let line = &self.b[self.pos..end];
        memchr::memchr_iter(b':', line).any(|i| blank_at(line, i + 1))
    }

    fn block_map(&mut self, parent_indent: Option<usize>) -> Option<Node> {
        let start = self.pos;
        let col = self.col(start);
        let base = self.children.len();
        loop {
            let (mut key, colon) = self.key()?;
            // yaml-rust2 marks a block mapping at the `:` of its first key, and its
            // first key sees that column as its parent's.
            let first = self.children.len() == base;
            key.parent_indent = Some(if first { self.col(colon) } else { col });
            self.pos = colon + 1;
            self.children.push(key);
            let value = self.map_value(col)?;
            self.children.push(value);
            if self.eof || self.indent() < col {
                break;
            }
            if self.indent() > col || self.at_seq_entry() {
                return None;
            }
        }
        Some(Node {
            kind: Kind::Map(self.pairs(base)),
            start,
            col,
            anchor: 0,
            tag: None,
            flow: false,
            parent_indent,
            close: None,
        })
    }

    /// A single-line implicit key at `pos` and the offset of its `:`.
    fn key(&mut self) -> Option<(Node, usize)> {
        let start = self.pos;
        let (value, style) = match self.b[start] {
            b'"' | b'\'' => {
                let (value, style, end) = self.quoted(start)?;
                self.pos = end;
                self.skip_spaces();
                (value, style)
            }
            c if is_indicator(c) => return None,
            _ => {
                let line_end = self.line_end(start);
                let line = &self.b[start..line_end];
                // Keys are short: a plain loop beats a vectorized search here.
                let mut colon = None;
                for (j, &c) in line.iter().enumerate() {
                    if c == b':' && blank_at(line, j + 1) {
                        colon = Some(j);
                        break;
                    }
                    if c == b'#' && line[j - 1] == b' ' {
                        return None; // a comment before any `:`
                    }
                }
                let colon = colon?;
                let mut end = start + colon;
                while self.b[end - 1] == b' ' {
                    end -= 1;
                }
                let raw = &self.text[start..end];
                if raw.contains('\t') {
                    return None;
                }
                self.pos = start + colon;
                (raw.to_string(), TScalarStyle::Plain)
            }
        };
        // yaml-rust2 allows 1024 characters from an implicit key to its `:`.
        if self.b[self.pos] != b':' || !blank_at(self.b, self.pos + 1) || self.pos - start > 1000 {
            return None;
        }
        let node = self.leaf(value, style, start, None, false);
        Some((node, self.pos))
    }

    /// The value after the `:` of a key in a block mapping at column `col`.
    fn map_value(&mut self, col: usize) -> Option<Node> {
        self.skip_spaces();
        match self.b[self.pos] {
            b'\n' | b'\r' | b'#' => {
                if self.b[self.pos] == b'#' && self.b[self.pos - 1] != b' ' {
                    return None;
                }
                self.next_line();
                self.skip_to_content()?;
                if self.deeper_than(col) {
                    return self.block_node(Some(col));
                }
                if !self.eof && self.indent() == col && self.at_seq_entry() {
                    // yaml-rust2 marks an indentless sequence at its first item, and
                    // the tree builder finds the `-` before it on the same line: when
                    // the item is on a later line or is a compact sequence, that `-` is
                    // not found.
                    let mut item = self.pos + 1;
                    while self.b[item] == b' ' {
                        item += 1;
                    }
                    if matches!(self.b[item], b'\n' | b'\r' | b'#')
                        || (self.b[item] == b'-' && blank_at(self.b, item + 1))
                    {
                        return None;
                    }
                    return self.block_seq(Some(col));
                }
                // An empty value: yaml-rust2 marks it where the next token starts.
                let (start, at_col) = if self.eof {
                    (self.b.len(), 0)
                } else {
                    (self.pos, self.indent())
                };
                Some(Node {
                    kind: Kind::Scalar {
                        value: String::new(),
                        style: TScalarStyle::Plain,
                    },
                    start,
                    col: at_col,
                    anchor: 0,
                    tag: None,
                    flow: false,
                    parent_indent: Some(col),
                    close: None,
                })
            }
            _ => self.inline_value(col, col),
        }
    }

    /// A value that starts on the current line, in a block collection at column
    /// `frame_col`, whose continuation lines would be deeper than `n`.
    fn inline_value(&mut self, frame_col: usize, n: usize) -> Option<Node> {
        let start = self.pos;
        let node = match self.b[start] {
            b'"' | b'\'' => {
                let (value, style, end) = self.quoted(start)?;
                self.pos = end;
                let node = self.leaf(value, style, start, Some(frame_col), false);
                self.end_line()?;
                node
            }
            b'[' | b'{' => {
                let node = self.flow(Some(frame_col))?;
                self.end_line()?;
                node
            }
            b'|' | b'>' => self.block_scalar(frame_col, n)?,
            b'-' if !blank_at(self.b, start + 1) => self.plain_line(frame_col)?,
            c if is_indicator(c) => return None,
            _ => self.plain_line(frame_col)?,
        };
        (!self.deeper_than(n)).then_some(node)
    }

    /// A plain scalar that runs to the end of the line or to a comment.
    fn plain_line(&mut self, frame_col: usize) -> Option<Node> {
        let start = self.pos;
        let line_end = self.line_end(start);
        let line = &self.b[start..line_end];
        let mut end = line.len();
        for (i, w) in line.windows(2).enumerate() {
            match w {
                [b' ', b'#'] => {
                    end = i;
                    break;
                }
                [b':', b' '] => return None,
                _ => {}
            }
        }
        while end > 0 && line[end - 1] == b' ' {
            end -= 1;
        }
        let raw = &line[..end];
        if raw.last() == Some(&b':') || memchr::memchr(b'\t', raw).is_some() {
            return None;
        }
        let value = self.text[start..start + end].to_string();
        let node = self.leaf(value, TScalarStyle::Plain, start, Some(frame_col), false);
        self.next_line();
        self.skip_to_content()?;
        Some(node)
    }

    /// A quoted scalar on one line starting at `start`: its value, style and the offset
    /// just past its closing quote.
    fn quoted(&self, start: usize) -> Option<(String, TScalarStyle, usize)> {
        let b = self.b;
        let mut value = String::new();
        let mut i = start + 1;
        if b[start] == b'\'' {
            loop {
                let j = i + memchr::memchr3(b'\'', b'\n', b'\r', &b[i..])?;
                if b[j] != b'\'' {
                    return None;
                }
                value.push_str(&self.text[i..j]);
                if b.get(j + 1) == Some(&b'\'') {
                    value.push('\'');
                    i = j + 2;
                } else {
                    return Some((value, TScalarStyle::SingleQuoted, j + 1));
                }
            }
        }
        loop {
            let j = i + memchr::memchr3(b'"', b'\\', b'\n', &b[i..])?;
            value.push_str(&self.text[i..j]);
            match b[j] {
                b'"' => return Some((value, TScalarStyle::DoubleQuoted, j + 1)),
                b'\\' => {
                    value.push(match b.get(j + 1)? {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0' => '\0',
                        b' ' => ' ',
                        _ => return None,
                    });
                    i = j + 2;
                }
                _ => return None,
            }
        }
    }

    /// A flow collection on one line, at `pos`.
    fn flow(&mut self, parent_indent: Option<usize>) -> Option<Node> {
        let start = self.pos;
        let is_map = self.b[start] == b'{';
        let close = if is_map { b'}' } else { b']' };
        self.pos += 1;
        let base = self.children.len();
        // yaml-rust2 marks the end of a flow mapping (not of a sequence) at a trailing
        // comma.
        let mut trailing_comma = None;
        loop {
            self.skip_spaces();
            if self.b[self.pos] == close {
                break;
            }
            trailing_comma = None;
            if is_map {
                let key = self.flow_item(false)?;
                if !matches!(key.kind, Kind::Scalar { .. }) || self.b[self.pos] != b':' {
                    return None;
                }
                self.pos += 1;
                if self.b[self.pos] != b' ' {
                    return None;
                }
                self.skip_spaces();
                let value = self.flow_item(false)?;
                self.children.push(key);
                self.children.push(value);
            } else {
                let item = self.flow_item(true)?;
                self.children.push(item);
            }
            self.skip_spaces();
            match self.b[self.pos] {
                b',' => {
                    trailing_comma = Some(self.pos);
                    self.pos += 1;
                }
                c if c == close => break,
                _ => return None,
            }
        }
        let end = trailing_comma.filter(|_| is_map).unwrap_or(self.pos);
        self.pos += 1;
        Some(Node {
            kind: if is_map {
                Kind::Map(self.pairs(base))
            } else {
                Kind::Seq(self.children.drain(base..).collect())
            },
            start,
            col: self.col(start),
            anchor: 0,
            tag: None,
            flow: true,
            parent_indent,
            close: Some(end),
        })
    }

    /// An item of a flow collection: a nested collection or a scalar. In a sequence, a
    /// `:` after it would make it a key of a single-pair mapping: left to yaml-rust2.
    fn flow_item(&mut self, in_seq: bool) -> Option<Node> {
        let start = self.pos;
        let node = match self.b[start] {
            b'[' | b'{' => self.flow(None)?,
            b'"' | b'\'' => {
                let (value, style, end) = self.quoted(start)?;
                self.pos = end;
                self.leaf(value, style, start, None, true)
            }
            c if is_indicator(c) => return None,
            _ => {
                let mut i = start;
                loop {
                    match self.b[i] {
                        // yaml-rust2 refuses some of these after a space (`[a -]`).
                        b' ' if matches!(self.b[i + 1], b'-' | b'?' | b':') => return None,
                        b',' | b']' | b'}' | b'\n' | b'\r' => break,
                        b':' if self.b[i + 1] == b' ' => break,
                        b':' | b'#' | b'\t' | b'[' | b'{' => return None,
                        _ => i += 1,
                    }
                }
                if i == start {
                    return None;
                }
                let mut end = i;
                while self.b[end - 1] == b' ' {
                    end -= 1;
                }
                self.pos = i;
                self.leaf(
                    self.text[start..end].to_string(),
                    TScalarStyle::Plain,
                    start,
                    None,
                    true,
                )
            }
        };
        self.skip_spaces();
        if in_seq && self.b[self.pos] == b':' {
            return None;
        }
        Some(node)
    }

    /// A block scalar with no content (only empty lines, then a line at most as deep as
    /// its parent, `spaces` deep, on which `line` is).
    fn empty_block_scalar(
        &mut self,
        header: usize,
        literal: bool,
        chomp: Chomp,
        frame_col: usize,
        spaces: usize,
    ) -> Option<Node> {
        if matches!(chomp, Chomp::Keep) {
            return None;
        }
        self.skip_to_content()?;
        Some(Node {
            kind: Kind::Scalar {
                value: String::new(),
                style: if literal {
                    TScalarStyle::Literal
                } else {
                    TScalarStyle::Folded
                },
            },
            start: header,
            col: spaces,
            anchor: 0,
            tag: None,
            flow: false,
            parent_indent: Some(frame_col),
            close: None,
        })
    }

    /// A literal or folded block scalar whose header is at `pos`, in a block collection
    /// at column `frame_col`; its content must be deeper than `n`.
    fn block_scalar(&mut self, frame_col: usize, n: usize) -> Option<Node> {
        let header = self.pos;
        let literal = self.b[header] == b'|';
        self.pos += 1;
        let chomp = match self.b[self.pos] {
            b'-' => Chomp::Strip,
            b'+' => Chomp::Keep,
            _ => Chomp::Clip,
        };
        if !matches!(chomp, Chomp::Clip) {
            self.pos += 1;
        }
        if !blank_at(self.b, self.pos) {
            return None; // an indentation indicator, or text after the header
        }
        self.skip_spaces();
        match self.b[self.pos] {
            b'#' if self.b[self.pos - 1] == b' ' => {}
            b'\n' | b'\r' => {}
            _ => return None,
        }
        self.next_line();
        // Lines: None for an empty one, else the text after the content indentation.
        let mut lines: Vec<Option<&'a str>> = Vec::new();
        let mut indent = None;
        loop {
            if self.line >= self.b.len() {
                break;
            }
            self.pos = self.line;
            self.skip_spaces();
            let spaces = self.pos - self.line;
            let end = self.line_end(self.pos);
            let blank = self.pos == end;
            let m = match indent {
                Some(m) => m,
                None if blank => {
                    if spaces > 0 {
                        return None; // leading spaces-only lines: left to yaml-rust2
                    }
                    lines.push(None);
                    self.next_line();
                    continue;
                }
                None => {
                    if self.b[self.pos] == b'\t' {
                        return None; // a tab where the indentation ends
                    }
                    if spaces <= n {
                        return self.empty_block_scalar(header, literal, chomp, frame_col, spaces);
                    }
                    if matches!(self.b[self.pos], b'|' | b'>') {
                        // The tree builder would take this text for the header.
                        return None;
                    }
                    indent = Some(spaces);
                    spaces
                }
            };
            if blank {
                if spaces > m {
                    if !literal {
                        return None;
                    }
                    lines.push(Some(&self.text[self.line + m..end]));
                } else {
                    lines.push(None);
                }
            } else if spaces >= m {
                let content = &self.text[self.line + m..end];
                if !literal && content.starts_with([' ', '\t']) {
                    return None; // more-indented folded lines
                }
                lines.push(Some(content));
            } else {
                break;
            }
            self.next_line();
        }
        // An empty block scalar at the end of the text reads as "\n" in yaml-rust2.
        let m = indent?;
        let last = lines.iter().rposition(Option::is_some)?;
        let trailing = lines.len() - last - 1;
        let mut value = String::new();
        let mut empties = 0;
        let mut first = true;
        for l in &lines[..=last] {
            match l {
                None => empties += 1,
                Some(t) => {
                    if literal {
                        if !first {
                            value.push('\n');
                        }
                        value.extend(std::iter::repeat_n('\n', empties));
                    } else if first || empties > 0 {
                        value.extend(std::iter::repeat_n('\n', empties));
                    } else {
                        value.push(' ');
                    }
                    value.push_str(t);
                    empties = 0;
                    first = false;
                }
            }
        }
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => value.push('\n'),
            Chomp::Keep => value.extend(std::iter::repeat_n('\n', trailing + 1)),
        }
        self.skip_to_content()?;
        Some(Node {
            kind: Kind::Scalar {
                value,
                style: if literal {
                    TScalarStyle::Literal
                } else {
                    TScalarStyle::Folded
                },
            },
            start: header,
            col: m,
            anchor: 0,
            tag: None,
            flow: false,
            parent_indent: Some(frame_col),
            close: None,
        })
    }
}

/// None when the fast path gives up on `text`; otherwise whether it read `text` as the
/// yaml-rust2 path does (which must then accept it), with the difference if not.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn compare(text: &str) -> Option<Result<(), String>> {
    let src = Source::new(text);
    let fast = parse(&src)?;
    let reference = match crate::tree::parse_reference(&src) {
        Ok(docs) => docs,
        Err(e) => {
            return Some(Err(format!(
                "the fast path read a text yaml-rust2 refuses ({e}):\n{text}"
            )));
        }
    };
    let (fast, reference) = (format!("{fast:?}"), format!("{reference:?}"));
    if fast == reference {
        return Some(Ok(()));
    }
    let at = fast
        .bytes()
        .zip(reference.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(fast.len().min(reference.len()));
    let from = at.saturating_sub(300);
    Some(Err(format!(
        "the fast path reads this differently:\n{text}\nfast:      ...{}\nreference: ...{}",
        &fast[from..(at + 80).min(fast.len())],
        &reference[from..(at + 80).min(reference.len())]
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// None if the fast path gives up on `text`; otherwise it must agree with yaml-rust2.
    fn check(name: &str, text: &str) -> Option<()> {
        compare(text)?.unwrap_or_else(|e| panic!("{name}: {e}"));
        Some(())
    }

    #[test]
    fn reads_what_yaml_rust2_reads() {
        let accepted: &[&str] = &[
            "a: 1\n",
            "a:\n  b: x\n  c:\n  - 1\n  - k: v\n    z: |\n      lit\nd: [x, \"y\"]\n",
            "# head\n\na: 1 # c\n\n# mid\nb:\n\n  c: 'it''s'\n",
            "a:\nb:   # c\n\n  # x\nc: 1\nd:\n",
            "a: |\n  x\nb: >-\n\n  x\n\n  y\n\n\nc: |+\n  z\n\n",
            "- a\n- - b\n  - c\n- k: v\n  l: w\n- {x: y, z: [1, 2]}\n",
            "k:\n- a\n-\n  - b\n- {x: y}\nj: 2\n",
            "\"ab c\": x\nab  : y\n'q': \"a\\\"b\\\\c\\n\"\n",
            "a: 1\r\nb: |\r\n  x\r\n  y\r\nc: [a, b]\r\n",
            "\u{feff}a: ü\nü: b  # ö\nc: \"ö\"\n",
            "a: http://x:80/y\nb: x#y\nc: -1\nd: a - b\ne: [a , b ,]\nf: {}\ng: []\n",
            "a:\n    - x\n    -   y\nb:\n  -\n    c: d\n",
            "config: |\n  listen = \":8080\"\n\n    indented\n  workers = 4\n\nnext: 1\n",
            "# only a comment\n",
            "",
        ];
        for (i, t) in accepted.iter().enumerate() {
            check(&format!("case {i}"), t)
                .unwrap_or_else(|| panic!("case {i}: the fast path gave up on:\n{t}"));
        }
        // Either way, never a different reading.
        let odd: &[&str] = &[
            "a: b -\n",
            "a: b -}\n",
            "a: [b -]\n",
            "a: {s: g -}\n",
            "a: b ?\n",
            "a: b :\n",
            "a: - b\n",
            "a: b\n-\n",
            "a: 'b' c\n",
            "a: \"b\"#c\n",
            "a: [b]c\n",
            "a: |\n  x\n b\n",
            "a: >\n  x\n   y\n  z\n",
            "- a\n - b\n",
            "a:\n  - b\n - c\n",
            "[a]: b\n",
            "a: [b, {c: d}]\n",
            "a: {b: [c, d], e: f}\n",
            "a: b # c: d\n",
            "a: b\t\n",
            "a:  \n",
            "a:\n\n\n",
            "'a': \n",
            "a: ''''\n",
            "a: '\n",
            "a: {s: g -}\n",
        ];
        for t in odd {
            check("odd", t);
        }
        // Long keys: yaml-rust2 refuses an implicit key of more than 1024 characters.
        for n in [990, 1000, 1010, 1030] {
            check("long key", &format!("{}: x\n", "k".repeat(n)));
            check("long key", &format!("\"{}\": x\n", "k".repeat(n)));
            check("long key", &format!("- {}: x\n", "é".repeat(n)));
        }
        let refused: &[&str] = &[
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "--- \na: 1\n",
            "a: 1\n...\n",
            "%YAML 1.2\n---\na: 1\n",
            "? a\n: 1\n",
            "a: plain\n  more\n",
            "a: \"two\n  lines\"\n",
            "a: [x,\n  y]\n",
            "a:\tb\n",
            "a: 1",
            "a: b: c\n",
            "a: 1\n b: 2\n",
            "- \n- x\n",
            "a: |2\n   x\n",
            "a: \"\\x41\"\n",
            "a: 1\rb: 2\n",
        ];
        for t in refused {
            assert!(parse(&Source::new(t)).is_none(), "accepted:\n{t}");
        }
    }

    /// Every `.yaml` file of the YAML test suite and of the corpus in `../shared`.
    pub(crate) fn shared_files() -> Vec<std::path::PathBuf> {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
        let mut files = Vec::new();
        let mut dirs = vec![
            std::path::PathBuf::from(format!("{shared}/yaml-test-suite")),
            std::path::PathBuf::from(format!("{shared}/yaml-corpus")),
        ];
        while let Some(d) = dirs.pop() {
            let entries = std::fs::read_dir(&d).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (the data must be at ../shared beside the checkout)",
                    d.display()
                )
            });
            for e in entries {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        files
    }

    /// Every file of the test suite (error cases included) and of the corpus that the
    /// fast path reads, it reads as yaml-rust2 does; and it reads the whole corpus.
    #[test]
    fn agrees_on_the_shared_data() {
        let (mut corpus, mut corpus_read, mut suite_read) = (0, 0, 0);
        for f in shared_files() {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            let name = f.display().to_string();
            let read = check(&name, &text).is_some();
            if !read && name.contains("yaml-corpus") {
                eprintln!("gave up on {name}");
            }
            if name.contains("yaml-corpus") {
                corpus += 1;
                corpus_read += read as usize;
            } else {
                suite_read += read as usize;
            }
        }
        assert!(corpus >= 7, "only {corpus} corpus files");
        // Real values files and kustomizations are what the fast path is for.
        assert_eq!(
            corpus_read, corpus,
            "the fast path read only {corpus_read} of {corpus} corpus files"
        );
        assert!(suite_read > 30, "only {suite_read} test-suite files read");
    }

    /// Lines made of YAML's pieces in every order: whatever the fast path reads of them,
    /// yaml-rust2 must read the same way.
    mod generated {
        use super::check;
        use proptest::prelude::*;
        use proptest::strategy::ValueTree;

        const TOKENS: &[&str] = &[
            "a",
            "b",
            "k1",
            "-",
            "- ",
            "-1",
            ": ",
            ":",
            "#c",
            " # c",
            "'q'",
            "'it''s'",
            "\"d\"",
            "\"e\\n\"",
            "\"\\x41\"",
            "\"\\\"\"",
            "[",
            "]",
            "{",
            "}",
            ", ",
            ",",
            "|",
            ">",
            "|-",
            ">+",
            "|+",
            "|2",
            "&x ",
            "*x",
            "!t ",
            "? ",
            "---",
            "...",
            "1",
            "true",
            "null",
            "é",
            " ",
            "  ",
            "\t",
            "''",
            "x y",
            "http://h:1",
            "[a, b]",
            "{a: b}",
            "{a: b, }",
            "[a, ]",
            "a: b",
            "- a",
            "key: ",
            "x:y",
            "~",
            "[]",
            "{}",
            "%",
            "@",
            "#",
            "a #b",
            "' x '",
            "\"\"",
            "ü: ö",
            "1.5",
            "0x1F",
        ];

        fn line() -> impl Strategy<Value = String> {
            (
                prop::sample::select(&[0usize, 0, 1, 2, 2, 3, 4, 4, 6][..]),
                prop::collection::vec(prop::sample::select(TOKENS), 0..5),
                prop::sample::select(&["\n", "\n", "\n", "\n", "\r\n", ""][..]),
            )
                .prop_map(|(indent, tokens, eol)| {
                    format!("{}{}{eol}", " ".repeat(indent), tokens.concat())
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]
            #[test]
            fn agrees_on_generated_texts(lines in prop::collection::vec(line(), 1..10)) {
                check("generated", &lines.concat());
            }
        }

        /// A document tree; its layout is chosen while it is written out.
        #[derive(Debug, Clone)]
        enum Shape {
            Leaf(usize),
            Map(Vec<(usize, Shape)>),
            Seq(Vec<Shape>),
        }

        const KEYS: &[&str] = &[
            "a", "image", "tag", "k8s.io/x", "\"q k\"", "'s'", "é", "a b", "x-y", "1", "true",
            "\"\"", "url",
        ];
        const SCALARS: &[&str] = &[
            "v1.2.0",
            "true",
            "-1",
            "http://x:1/y",
            "a b",
            "x#y",
            "é日",
            "1e3",
            "~",
            "a,b",
            "'a b'",
            "'it''s'",
            "''",
            "\"x\"",
            "\"a\\nb\"",
            "\"\\\\\"",
            "\"\"",
            "[a, b]",
            "{a: 1, b: [c]}",
            "[]",
            "{}",
            "{a: b, }",
            "[ 'x' , \"y\" ]",
            "null",
            "0755",
            "x: y",
            "- x",
            "a  # c",
            "|",
            "|-",
            ">",
            ">+",
            "|+",
            "a]",
            "{a: {b: c}}",
        ];

        fn shape() -> impl Strategy<Value = Shape> {
            let leaf = (0..SCALARS.len()).prop_map(Shape::Leaf);
            leaf.prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec((0..KEYS.len(), inner.clone()), 1..5)
                        .prop_map(Shape::Map),
                    prop::collection::vec(inner, 1..5).prop_map(Shape::Seq),
                ]
            })
        }

        /// Writes a shape out, taking layout decisions from `choices` in turn.
        struct Writer<'c> {
            out: String,
            choices: &'c [u8],
            next: usize,
            eol: &'static str,
        }

        impl Writer<'_> {
            fn choose(&mut self, n: u8) -> u8 {
                let c = self.choices[self.next % self.choices.len()];
                self.next += 1;
                c % n
            }

            fn line_end(&mut self) {
                match self.choose(8) {
                    0 => self.out.push_str("  # note"),
                    1 => {
                        self.out.push_str(self.eol);
                        self.out.push_str("# between");
                    }
                    2 => self.out.push_str(self.eol),
                    _ => {}
                }
                self.out.push_str(self.eol);
            }

            /// A value after `key:` or `- ` on the current line, nested `indent` deep.
            fn value(&mut self, s: &Shape, indent: usize) {
                let step = 1 + self.choose(3) as usize;
                match s {
                    Shape::Leaf(i) => {
                        let text = SCALARS[*i];
                        self.out.push(' ');
                        self.out.push_str(text);
                        if text.starts_with(['|', '>']) {
                            let pad = " ".repeat(indent + step);
                            let eol = self.eol;
                            self.out.push_str(eol);
                            for line in ["one", "", "two  ", " more", ""] {
                                if self.choose(3) > 0 {
                                    if !line.is_empty() {
                                        self.out.push_str(&pad);
                                    }
                                    self.out.push_str(line);
                                    self.out.push_str(eol);
                                }
                            }
                            self.out.push_str(&pad);
                            self.out.push_str("end");
                        }
                        self.line_end();
                    }
                    Shape::Seq(items) if self.choose(3) == 0 => {
                        // An indentless sequence, or a compact one after `- `.
                        self.line_end();
                        self.seq(items, indent);
                    }
                    _ => {
                        self.line_end();
                        self.node(s, indent + step);
                    }
                }
            }

            fn seq(&mut self, items: &[Shape], indent: usize) {
                for item in items {
                    self.out.push_str(&" ".repeat(indent));
                    self.out.push('-');
                    match item {
                        Shape::Map(entries) if self.choose(2) == 0 => {
                            // `- key: value` with the rest of the mapping below.
                            let col = indent + 2;
                            self.out.push(' ');
                            self.entries(entries, col, true);
                        }
                        _ => self.value(item, indent),
                    }
                }
            }

            fn entries(&mut self, entries: &[(usize, Shape)], indent: usize, inline_first: bool) {
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 || !inline_first {
                        self.out.push_str(&" ".repeat(indent));
                    }
                    self.out.push_str(KEYS[*k]);
                    self.out.push(':');
                    self.value(v, indent);
                }
            }

            fn node(&mut self, s: &Shape, indent: usize) {
                match s {
                    Shape::Leaf(_) => {
                        self.out.push_str(&" ".repeat(indent));
                        self.out.push_str("k:");
                        self.value(s, indent);
                    }
                    Shape::Map(entries) => self.entries(entries, indent, false),
                    Shape::Seq(items) => self.seq(items, indent),
                }
            }
        }

        /// A written-out document, sometimes with one piece of YAML inserted somewhere
        /// to make it near-valid.
        fn document() -> impl Strategy<Value = String> {
            (
                shape(),
                prop::collection::vec(any::<u8>(), 1..64),
                any::<bool>(),
                prop::option::weighted(
                    0.3,
                    (any::<prop::sample::Index>(), prop::sample::select(TOKENS)),
                ),
            )
                .prop_map(|(shape, choices, crlf, insert)| {
                    let mut w = Writer {
                        out: String::new(),
                        choices: &choices,
                        next: 0,
                        eol: if crlf { "\r\n" } else { "\n" },
                    };
                    w.node(&shape, 0);
                    let mut text = w.out;
                    if let Some((at, token)) = insert {
                        let mut i = at.index(text.len() + 1);
                        while !text.is_char_boundary(i) {
                            i -= 1;
                        }
                        text.insert_str(i, token);
                    }
                    text
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]
            #[test]
            fn agrees_on_generated_documents(text in document()) {
                check("generated", &text);
            }
        }

        #[test]
        fn generated_documents_reach_the_fast_path() {
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let strategy = document();
            let (mut cases, mut read) = (0, 0);
            for _ in 0..5_000 {
                let text = strategy.new_tree(&mut runner).unwrap().current();
                cases += 1;
                read += check("generated", &text).is_some() as usize;
            }
            eprintln!("the fast path read {read} of {cases} documents");
            assert!(
                read * 3 >= cases,
                "the fast path read {read} of {cases} documents"
            );
        }

        /// The generator must reach the fast path often enough for the test above to
        /// mean something.
        #[test]
        fn generated_texts_reach_the_fast_path() {
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let strategy = prop::collection::vec(line(), 1..10);
            let (mut cases, mut read) = (0, 0);
            for _ in 0..5_000 {
                let text = strategy.new_tree(&mut runner).unwrap().current().concat();
                cases += 1;
                read += check("generated", &text).is_some() as usize;
            }
            eprintln!("the fast path read {read} of {cases} texts");
            assert!(
                read * 100 >= cases,
                "the fast path read {read} of {cases} texts"
            );
        }
    }
}

//! Adding keys that do not exist yet, in the style of the mapping that receives them.

use crate::edit::Splice;
use crate::error::Error;
use crate::quote::{self, Quoting, Style};
use crate::scalar::reads_as_non_string;
use crate::tree::{Kind, Node, Tree};
use crate::value::Value;
use yaml_rust2::scanner::TScalarStyle;

/// New keys to add under one existing node, merged so that two edits below the same
/// missing parent (`image.repository`, `image.tag`) create that parent once.
#[derive(Debug, Default)]
pub(crate) struct NewKeys {
    pub entries: Vec<(String, NewNode)>,
}

#[derive(Debug)]
pub(crate) enum NewNode {
    Leaf(Value),
    Branch(NewKeys),
}

impl NewKeys {
    /// Returns false when the keys clash with an earlier edit (the same key set twice,
    /// or set as a value and also used as a parent).
    pub fn add(&mut self, keys: &[String], value: Value) -> bool {
        let (first, rest) = keys.split_first().expect("at least one missing key");
        let slot = self.entries.iter_mut().find(|(k, _)| k == first);
        match (slot, rest.is_empty()) {
            (None, true) => {
                self.entries.push((first.clone(), NewNode::Leaf(value)));
                true
            }
            (None, false) => {
                let mut child = NewKeys::default();
                child.add(rest, value);
                self.entries.push((first.clone(), NewNode::Branch(child)));
                true
            }
            (Some((_, NewNode::Branch(child))), false) => child.add(rest, value),
            _ => false,
        }
    }

    fn block(&self, indent: usize, layout: &Layout, out: &mut String) {
        for (k, v) in &self.entries {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(&quote::fresh_key(k, layout.quoting, false));
            match v {
                NewNode::Leaf(value) => {
                    out.push_str(": ");
                    out.push_str(&quote::fresh(value, layout.quoting, false));
                    out.push_str(layout.nl);
                }
                NewNode::Branch(child) => {
                    out.push(':');
                    out.push_str(layout.nl);
                    child.block(indent + layout.step, layout, out);
                }
            }
        }
    }

    fn flow(&self, quoting: Quoting) -> String {
        self.entries
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    NewNode::Leaf(value) => quote::fresh(value, quoting, true),
                    NewNode::Branch(child) => format!("{{{}}}", child.flow(quoting)),
                };
                format!("{}: {value}", quote::fresh_key(k, quoting, true))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How new lines are written: the file's line break, indentation step and quoting.
pub(crate) struct Layout {
    pub nl: &'static str,
    pub step: usize,
    pub quoting: Quoting,
}

impl Layout {
    pub fn of(tree: &Tree) -> Layout {
        Layout {
            nl: tree.src.newline(),
            step: indent_step(tree),
            quoting: quoting(tree),
        }
    }
}

/// How the file quotes its string values: every string in quotes when most strings that
/// could be plain are quoted anyway, and double quotes when the file uses them more
/// than single ones. Keys, block scalars and tagged values do not count.
pub(crate) fn quoting(tree: &Tree) -> Quoting {
    #[derive(Default)]
    struct Count {
        plain: usize,
        single: usize,
        double: usize,
        needless: usize,
    }
    fn walk(n: &Node, c: &mut Count) {
        match &n.kind {
            Kind::Map(entries) => entries.iter().for_each(|(_, v)| walk(v, c)),
            Kind::Seq(items) => items.iter().for_each(|v| walk(v, c)),
            Kind::Scalar { value, style } if n.tag.is_none() && !value.is_empty() => {
                let quoted = match style {
                    TScalarStyle::Plain => {
                        if matches!(n.typed(), Some(Value::String(_))) {
                            c.plain += 1;
                        }
                        return;
                    }
                    TScalarStyle::SingleQuoted => &mut c.single,
                    TScalarStyle::DoubleQuoted => &mut c.double,
                    _ => return,
                };
                *quoted += 1;
                if quote::plain_ok(value, n.flow) && !reads_as_non_string(value) {
                    c.needless += 1;
                }
            }
            _ => {}
        }
    }
    let mut c = Count::default();
    for d in &tree.docs {
        walk(&d.root, &mut c);
    }
    Quoting {
        always: c.needless > c.plain,
        quote: if c.double > c.single {
            Style::Double
        } else {
            Style::Single
        },
    }
}

/// The indentation step the file uses for nested mappings (2 when nothing tells).
pub(crate) fn indent_step(tree: &Tree) -> usize {
    fn walk(n: &Node) -> Option<usize> {
        match &n.kind {
            Kind::Map(entries) if !n.flow => entries.iter().find_map(|(_, v)| match &v.kind {
                Kind::Map(_) | Kind::Seq(_) if !v.flow && v.col > n.col => Some(v.col - n.col),
                _ => walk(v),
            }),
            Kind::Seq(items) => items.iter().find_map(walk),
            Kind::Map(entries) => entries.iter().find_map(|(_, v)| walk(v)),
            _ => None,
        }
    }
    tree.docs.iter().find_map(|d| walk(&d.root)).unwrap_or(2)
}

fn unsupported(tree: &Tree, path: &str, at: usize, message: &str) -> Error {
    Error::Unsupported {
        path: path.to_string(),
        message: message.to_string(),
        at: tree.loc(at),
    }
}

/// The existing node that receives new keys, and where it sits (`key`/`parent` are
/// needed when `at` is an empty value that becomes a mapping).
pub(crate) struct Target<'t> {
    pub at: &'t Node,
    pub key: Option<&'t Node>,
    pub parent: Option<&'t Node>,
}

/// Where lines added after the entry that ends at `end` go: after that line, and after
/// the comment lines that follow it and belong to the entry. A comment belongs to it when
/// it is indented deeper than `col`, the column of the entry's key (it sits among the
/// entry's children, like a commented-out setting), or when it is at that column right
/// below the entry, with no blank line between. A comment less indented, or one at the
/// entry's column after a blank line, belongs to what follows (or to the file's end),
/// and the new lines go before it.
pub(crate) fn line_after_entry(tree: &Tree, end: usize, col: usize) -> usize {
    let text = tree.src.text;
    let mut pos = tree.src.next_line_start(end);
    let mut scan = pos;
    let mut blank = false;
    while scan < text.len() {
        let next = tree.src.next_line_start(scan);
        let line = text[scan..next].trim_end_matches(['\n', '\r']);
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        if body.trim_start_matches([' ', '\t']).is_empty() {
            blank = true;
        } else if body.starts_with('#') && (indent > col || (indent == col && !blank)) {
            pos = next;
        } else {
            break;
        }
        scan = next;
    }
    pos
}

/// One splice that adds `keys` under the target.
pub(crate) fn render(
    tree: &Tree,
    target: &Target,
    keys: &NewKeys,
    path: &str,
    layout: &Layout,
) -> Result<Splice, Error> {
    let Target { at, key, parent } = *target;
    let text = tree.src.text;
    let nl = layout.nl;
    // Where the new lines go when they start a line of their own: after the entry that
    // ends at `end` (see `line_after_entry`), with a line break first when that line is
    // the unterminated last one.
    let line_after = |end: usize, col: usize, indent: usize| {
        let pos = line_after_entry(tree, end, col);
        let mut s = String::new();
        if pos == text.len() && !text.ends_with(['\n', '\r']) {
            s.push_str(nl);
        }
        keys.block(indent, layout, &mut s);
        Splice {
            start: pos,
            end: pos,
            text: s,
        }
    };
    match &at.kind {
        Kind::Map(entries) if at.flow => {
            let Some((lk, lv)) = entries.last() else {
                return Ok(Splice {
                    start: at.start + 1,
                    end: at.start + 1,
                    text: keys.flow(layout.quoting),
                });
            };
            let end = if lv.is_empty_scalar() {
                tree.colon_after(lk)
                    .map(|c| c + 1)
                    .or_else(|| tree.node_end(lk))
            } else {
                tree.node_end(lv)
            };
            let end = end.ok_or_else(|| {
                unsupported(tree, path, at.start, "cannot find the end of this mapping")
            })?;
            Ok(Splice {
                start: end,
                end,
                text: format!(", {}", keys.flow(layout.quoting)),
            })
        }
        Kind::Map(_) => {
            let end = tree.node_end(at).ok_or_else(|| {
                unsupported(tree, path, at.start, "cannot find the end of this mapping")
            })?;
            Ok(line_after(end, at.col, at.col))
        }
        Kind::Scalar { .. } if at.is_empty_scalar() && at.tag.is_none() && at.anchor == 0 => {
            let (Some(k), Some(p)) = (key, parent) else {
                return Err(Error::Unsupported {
                    path: path.to_string(),
                    message: "it would go under an empty list item or an empty document; write a mapping there first"
                        .into(),
                    at: tree.loc(at.start.min(text.len())),
                });
            };
            let colon = tree.colon_after(k).ok_or_else(|| {
                unsupported(tree, path, k.start, "cannot find the ':' after this key")
            })?;
            if p.flow {
                Ok(Splice {
                    start: colon + 1,
                    end: colon + 1,
                    text: format!(" {{{}}}", keys.flow(layout.quoting)),
                })
            } else {
                Ok(line_after(colon, p.col, p.col + layout.step))
            }
        }
        _ => Err(Error::WrongKind {
            path: path.to_string(),
            found: at.kind_name(),
            expected: "a mapping",
            at: tree.loc(at.start),
        }),
    }
}

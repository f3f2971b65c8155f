//! Adding keys that do not exist yet, in the style of the mapping that receives them.

use crate::edit::Splice;
use crate::error::Error;
use crate::quote::{self, Style};
use crate::tree::{Kind, Node, Tree};
use crate::value::Value;

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

    fn block(&self, indent: usize, step: usize, nl: &str, out: &mut String) {
        for (k, v) in &self.entries {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(&quote::key(k, false));
            match v {
                NewNode::Leaf(value) => {
                    out.push_str(": ");
                    out.push_str(&quote::inline(value, Style::Plain, false));
                    out.push_str(nl);
                }
                NewNode::Branch(child) => {
                    out.push(':');
                    out.push_str(nl);
                    child.block(indent + step, step, nl, out);
                }
            }
        }
    }

    fn flow(&self) -> String {
        self.entries
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    NewNode::Leaf(value) => quote::inline(value, Style::Plain, true),
                    NewNode::Branch(child) => format!("{{{}}}", child.flow()),
                };
                format!("{}: {value}", quote::key(k, true))
            })
            .collect::<Vec<_>>()
            .join(", ")
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

/// One splice that adds `keys` under the target.
pub(crate) fn render(
    tree: &Tree,
    target: &Target,
    keys: &NewKeys,
    path: &str,
    step: usize,
    nl: &str,
) -> Result<Splice, Error> {
    let Target { at, key, parent } = *target;
    let text = tree.src.text;
    // Where the new lines go when they start a line of their own: after the line that
    // holds `end`, with a line break first when that line is the unterminated last one.
    let line_after = |end: usize, indent: usize| {
        let pos = tree.src.next_line_start(end);
        let mut s = String::new();
        if pos == text.len() && !text.ends_with(['\n', '\r']) {
            s.push_str(nl);
        }
        keys.block(indent, step, nl, &mut s);
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
                    text: keys.flow(),
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
                text: format!(", {}", keys.flow()),
            })
        }
        Kind::Map(_) => {
            let end = tree.node_end(at).ok_or_else(|| {
                unsupported(tree, path, at.start, "cannot find the end of this mapping")
            })?;
            Ok(line_after(end, at.col))
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
                    text: format!(" {{{}}}", keys.flow()),
                })
            } else {
                Ok(line_after(colon, p.col + step))
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

//! `set`: turn edits into byte splices of the original text, apply them in one pass,
//! and check the result by parsing it again.

use crate::error::Error;
use crate::insert::{self, NewKeys};
use crate::locate::{DocSelector, Located, locate, missing_key, select_doc};
use crate::path::{Path, Segment};
use crate::quote::{self, Style};
use crate::tree::{Extent, Kind, Node, Tree};
use crate::value::Value;
use crate::verify;
use std::collections::HashSet;
use yaml_rust2::scanner::TScalarStyle;

/// One change: write `value` at `path` in the chosen document.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub doc: DocSelector,
    pub path: Path,
    pub value: Value,
    pub typing: Typing,
}

/// How the type of the written value is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Typing {
    /// The value's own type decides (`Value::Int(3)` is written `3`, a string that
    /// reads as a number is quoted).
    #[default]
    AsGiven,
    /// The value is text as a person typed it (`Value::String`), written with the type
    /// of the scalar it replaces: an int stays an int when the text is one, a bool a
    /// bool, a float a float. Text the old type cannot hold is refused with
    /// [`Error::TypeMismatch`]. A new key, an empty or null value and a string get a
    /// string.
    LikeOld,
}

impl Edit {
    pub fn new(path: Path, value: impl Into<Value>) -> Self {
        Edit {
            doc: DocSelector::Auto,
            path,
            value: value.into(),
            typing: Typing::AsGiven,
        }
    }

    /// Write `text` with the type of the value it replaces (see [`Typing::LikeOld`]).
    pub fn like_old(path: Path, text: impl Into<String>) -> Self {
        Edit {
            typing: Typing::LikeOld,
            ..Edit::new(path, Value::String(text.into()))
        }
    }

    pub fn in_doc(mut self, doc: DocSelector) -> Self {
        self.doc = doc;
        self
    }
}

/// Replace `start..end` of the original text by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

struct InsertGroup<'t> {
    doc: usize,
    target: insert::Target<'t>,
    keys: NewKeys,
    path: String,
}

/// Apply several edits to `text` in one pass and return the new text. Either every
/// edit is applied or none is (the error says why).
pub fn set_many(text: &str, edits: &[Edit]) -> Result<String, Error> {
    let tree = Tree::parse(text)?;
    let typed;
    let edits = if edits.iter().any(|e| e.typing == Typing::LikeOld) {
        typed = edits
            .iter()
            .map(|e| resolve_type(&tree, e))
            .collect::<Result<Vec<_>, _>>()?;
        &typed[..]
    } else {
        edits
    };
    let keep = vec![BlockScalars::Keep; edits.len()];
    match set_many_in(&tree, text, edits, &keep) {
        // yaml-rust2 reads a few block-scalar layouts (keep chomping before some comment
        // and blank-line arrangements) otherwise than the spec; the re-read catches it.
        // Such values are then written in double quotes, which every reader agrees on:
        // only the values that do not read back on their own, as one edit at a time
        // would write them, and all of them if that is not enough.
        Err(Error::Verification { .. }) => {
            let blocks: Vec<BlockScalars> = edits
                .iter()
                .map(|e| {
                    let alone =
                        set_many_in(&tree, text, std::slice::from_ref(e), &[BlockScalars::Keep]);
                    match alone {
                        Err(Error::Verification { .. }) => BlockScalars::Quote,
                        _ => BlockScalars::Keep,
                    }
                })
                .collect();
            match set_many_in(&tree, text, edits, &blocks) {
                Err(Error::Verification { .. }) => {
                    let quote = vec![BlockScalars::Quote; edits.len()];
                    set_many_in(&tree, text, edits, &quote)
                }
                other => other,
            }
        }
        other => other,
    }
}

/// The edit with its value typed like the scalar it replaces.
fn resolve_type(tree: &Tree, e: &Edit) -> Result<Edit, Error> {
    let Value::String(raw) = &e.value else {
        return Ok(e.clone());
    };
    if e.typing == Typing::AsGiven {
        return Ok(e.clone());
    }
    let d = select_doc(tree, &e.doc)?;
    let old = match locate(tree, &tree.docs[d].root, &e.path, false)? {
        Located::Found { node, .. } if !node.is_empty_scalar() => node.typed().map(|v| (node, v)),
        _ => None,
    };
    let text = raw.trim();
    let value = match &old {
        None | Some((_, Value::String(_) | Value::Null)) => Some(e.value.clone()),
        Some((_, Value::Int(_))) => text.parse::<i64>().ok().map(Value::Int),
        Some((_, Value::Float(_))) => match crate::scalar::resolve_plain(text) {
            Value::Float(f) => Some(Value::Float(f)),
            Value::Int(i) => Some(Value::Float(i as f64)),
            _ => None,
        },
        Some((_, Value::Bool(_))) => match crate::scalar::resolve_plain(text) {
            Value::Bool(b) => Some(Value::Bool(b)),
            _ => None,
        },
    };
    match (value, old) {
        (Some(value), _) => Ok(Edit {
            value,
            typing: Typing::AsGiven,
            ..e.clone()
        }),
        (None, Some((node, old))) => {
            let suggested = match crate::scalar::resolve_plain(text) {
                v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_)) => v.kind(),
                _ => "string",
            };
            Err(Error::TypeMismatch {
                path: e.path.to_string(),
                old_kind: old.kind(),
                old: tree.extent(node).map_or_else(
                    || old.to_string(),
                    |x| match x {
                        Extent::Inline { start, end } => tree.src.text[start..end].to_string(),
                        Extent::Block(_) => old.to_string(),
                    },
                ),
                value: raw.clone(),
                suggested,
                at: tree.loc(node.start),
            })
        }
        (None, None) => unreachable!("a missing or string value takes any text"),
    }
}

/// Whether a new string value in a block scalar stays a block scalar.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockScalars {
    Keep,
    Quote,
}

fn set_many_in(
    tree: &Tree,
    text: &str,
    edits: &[Edit],
    blocks: &[BlockScalars],
) -> Result<String, Error> {
    let mut splices = Vec::new();
    let mut seen_paths = HashSet::new();
    let mut seen_nodes = HashSet::new();
    let mut groups: Vec<InsertGroup> = Vec::new();
    let mut resolved = Vec::with_capacity(edits.len());
    for (e, &blocks) in edits.iter().zip(blocks) {
        let d = select_doc(tree, &e.doc)?;
        resolved.push(d);
        if !seen_paths.insert((d, e.path.clone())) {
            return Err(Error::DuplicateEdit {
                path: e.path.to_string(),
            });
        }
        match locate(tree, &tree.docs[d].root, &e.path, false)? {
            Located::Found { node, key, parent } => {
                if !seen_nodes.insert(node as *const Node) {
                    return Err(Error::DuplicateEdit {
                        path: e.path.to_string(),
                    });
                }
                splices.extend(replace(tree, node, key, parent, &e.value, &e.path, blocks)?);
            }
            Located::Missing {
                at,
                key,
                parent,
                depth,
            } => {
                let mut keys = Vec::new();
                for seg in &e.path.segments[depth..] {
                    match seg {
                        Segment::Key(k) => keys.push(k.clone()),
                        _ => return Err(missing_key(tree, &e.path, at, depth)),
                    }
                }
                let idx = match groups
                    .iter()
                    .position(|g| g.doc == d && std::ptr::eq(g.target.at, at))
                {
                    Some(i) => i,
                    None => {
                        groups.push(InsertGroup {
                            doc: d,
                            target: insert::Target { at, key, parent },
                            keys: NewKeys::default(),
                            path: e.path.prefix(depth).to_string(),
                        });
                        groups.len() - 1
                    }
                };
                if !groups[idx].keys.add(&keys, e.value.clone()) {
                    return Err(Error::DuplicateEdit {
                        path: e.path.to_string(),
                    });
                }
            }
        }
    }
    if !groups.is_empty() {
        let layout = insert::Layout::of(tree);
        for g in &groups {
            splices.push(insert::render(tree, &g.target, &g.keys, &g.path, &layout)?);
        }
    }
    let out = apply(text, splices.clone())?;
    let applied: Vec<(usize, &Edit)> = resolved.into_iter().zip(edits).collect();
    if !verify::check_regions(tree, &splices, &applied) {
        verify::check(tree, &out, &applied)?;
    }
    Ok(out)
}

pub(crate) fn apply(text: &str, mut splices: Vec<Splice>) -> Result<String, Error> {
    splices.sort_by_key(|s| (s.start, s.end));
    let mut out =
        String::with_capacity(text.len() + splices.iter().map(|s| s.text.len()).sum::<usize>());
    let mut pos = 0;
    for s in &splices {
        if s.start < pos || s.end < s.start || s.end > text.len() {
            return Err(Error::Verification {
                message: "two edits overlap".into(),
            });
        }
        out.push_str(&text[pos..s.start]);
        out.push_str(&s.text);
        pos = s.end;
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

fn style_of(style: TScalarStyle) -> Style {
    match style {
        TScalarStyle::SingleQuoted => Style::Single,
        TScalarStyle::DoubleQuoted => Style::Double,
        _ => Style::Plain,
    }
}

fn replace(
    tree: &Tree,
    node: &Node,
    key: Option<&Node>,
    parent: Option<&Node>,
    value: &Value,
    path: &Path,
    blocks: BlockScalars,
) -> Result<Vec<Splice>, Error> {
    let nl = tree.src.newline();
    let unsupported = |at: usize, message: &str| Error::Unsupported {
        path: path.to_string(),
        message: message.to_string(),
        at: tree.loc(at.min(tree.src.text.len())),
    };
    let Kind::Scalar { style, .. } = &node.kind else {
        return Err(Error::WrongKind {
            path: path.to_string(),
            found: node.kind_name(),
            expected: "a scalar",
            at: tree.loc(node.start),
        });
    };
    if let Some(tag) = &node.tag {
        // The tag decides the type: a string can replace a `!!str` or an application
        // tag's text, but nothing can safely replace a value tagged `!!int` and the like.
        let core = tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:";
        if !matches!(value, Value::String(_)) || (core && tag.suffix != "str") {
            return Err(unsupported(
                node.start,
                &format!(
                    "the value has an explicit tag ({}{}) that decides its type; remove the tag first",
                    if core { "!!" } else { tag.handle.as_str() },
                    tag.suffix
                ),
            ));
        }
    }
    if node.is_empty_scalar() {
        if node.tag.is_some() || node.anchor != 0 {
            return Err(unsupported(
                node.start,
                "the value is empty but has a tag or an anchor; write a placeholder value after them first",
            ));
        }
        let Some(k) = key else {
            return Err(unsupported(
                node.start,
                "the value is empty with no key before it (an empty list item or document); write a placeholder value first",
            ));
        };
        let colon = tree
            .colon_after(k)
            .ok_or_else(|| {
                unsupported(
                    k.start,
                    "the key has no ':' after it (an explicit '? key' with no value); add ': placeholder' first",
                )
            })?;
        let flow = parent.is_some_and(|p| p.flow);
        return Ok(vec![Splice {
            start: colon + 1,
            end: colon + 1,
            // A value the file did not have: written in the file's quoting.
            text: format!(" {}", quote::fresh(value, insert::quoting(tree), flow)),
        }]);
    }
    let extent = tree.extent(node).ok_or_else(|| {
        unsupported(
            node.start,
            "cannot tell where the current value ends; it was left untouched",
        )
    })?;
    match extent {
        Extent::Inline { start, end } => Ok(vec![Splice {
            start,
            end,
            text: quote::inline(value, style_of(*style), node.flow),
        }]),
        Extent::Block(b) => {
            let folded = *style == TScalarStyle::Folded;
            let plan = match value {
                Value::String(_) if blocks == BlockScalars::Quote => None,
                Value::String(s) => quote::block_plan(s, folded)
                    .map(|p| (p, if folded { '>' } else { '|' }))
                    .or_else(|| {
                        folded
                            .then(|| quote::block_plan(s, false).map(|p| (p, '|')))
                            .flatten()
                    }),
                _ => None,
            };
            let parent_indent = node.parent_indent.unwrap_or(0);
            let indent = b
                .content_indent
                .unwrap_or((parent_indent + 2).max(b.leading_blank_width));
            let indicator = match &plan {
                Some((p, _)) if p.leading_space => indent
                    .checked_sub(parent_indent)
                    .filter(|m| (1..=9).contains(m)),
                _ => None,
            };
            let block = plan.filter(|(p, _)| !p.leading_space || indicator.is_some());
            let Some((plan, ch)) = block else {
                // Not representable as a block scalar (or not a string): one line, in
                // double quotes since the text may hold line breaks or control characters.
                let text = quote::inline(value, Style::Double, false);
                return Ok(vec![
                    Splice {
                        start: b.header.0,
                        end: b.header.1,
                        text,
                    },
                    Splice {
                        start: b.header_line_end,
                        end: b.end,
                        text: String::new(),
                    },
                ]);
            };
            let mut header = String::new();
            header.push(ch);
            if let Some(m) = indicator {
                header.push_str(&m.to_string());
            }
            header.push_str(plan.chomp);
            let pad = " ".repeat(indent);
            let mut body = String::new();
            for line in &plan.lines {
                body.push_str(nl);
                if !line.is_empty() {
                    body.push_str(&pad);
                    body.push_str(line);
                }
            }
            for _ in 0..plan.extra_trailing {
                body.push_str(nl);
            }
            if b.end == tree.src.text.len() && !plan.chomp.starts_with('-') {
                // The last line had no break; the new value needs one to end in `\n`.
                body.push_str(nl);
            }
            Ok(vec![
                Splice {
                    start: b.header.0,
                    end: b.header.1,
                    text: header,
                },
                Splice {
                    start: b.header_line_end,
                    end: b.end,
                    text: body,
                },
            ])
        }
    }
}

//! Finding a document in a stream and a node in a document.

use crate::error::Error;
use crate::path::{Path, Segment};
use crate::tree::{Kind, Node, Tree};

/// Which document of a multi-document file a path applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocSelector {
    /// The only document (documents that are empty are not counted).
    #[default]
    Auto,
    /// 0-based position in the file.
    Index(usize),
    /// The Kubernetes object with this `kind` and `metadata.name`.
    KindName { kind: String, name: String },
}

impl std::str::FromStr for DocSelector {
    type Err = Error;
    /// `kind/name`, as in `Deployment/web`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once('/') {
            Some((k, n)) if !k.is_empty() && !n.is_empty() => Ok(DocSelector::KindName {
                kind: k.to_string(),
                name: n.to_string(),
            }),
            _ => Err(Error::Document {
                message: format!(
                    "invalid document selector {s:?}; write kind/name, e.g. Deployment/web"
                ),
            }),
        }
    }
}

pub(crate) fn select_doc(tree: &Tree, sel: &DocSelector) -> Result<usize, Error> {
    let n = tree.docs.len();
    match sel {
        DocSelector::Auto => {
            let non_empty: Vec<usize> = (0..n)
                .filter(|&i| !tree.docs[i].root.is_empty_scalar())
                .collect();
            match (n, non_empty.as_slice()) {
                (0, _) => Err(Error::Document {
                    message: "the file holds no YAML document".into(),
                }),
                (1, _) => Ok(0),
                (_, [only]) => Ok(*only),
                _ => Err(Error::AmbiguousDocument { count: n }),
            }
        }
        DocSelector::Index(i) if *i < n => Ok(*i),
        DocSelector::Index(i) => Err(Error::Document {
            message: format!("there is no document {i}: the file holds {n} (counted from 0)"),
        }),
        DocSelector::KindName { kind, name } => {
            let mut found = Vec::new();
            let mut seen = Vec::new();
            for (i, d) in tree.docs.iter().enumerate() {
                let k = map_get(&d.root, "kind").and_then(Node::scalar_text);
                let nm = map_get(&d.root, "metadata")
                    .and_then(|m| map_get(m, "name"))
                    .and_then(Node::scalar_text);
                if let (Some(k), Some(nm)) = (k, nm) {
                    if k == kind && nm == name {
                        found.push(i);
                    }
                    seen.push(format!("{k}/{nm}"));
                }
            }
            match found.as_slice() {
                [one] => Ok(*one),
                [] => Err(Error::Document {
                    message: format!(
                        "no document is {kind}/{name}; the file holds: {}",
                        if seen.is_empty() {
                            "no Kubernetes objects".to_string()
                        } else {
                            seen.join(", ")
                        }
                    ),
                }),
                many => Err(Error::AmbiguousKindName {
                    count: many.len(),
                    kind: kind.clone(),
                    name: name.clone(),
                }),
            }
        }
    }
}

fn map_get<'t>(node: &'t Node, key: &str) -> Option<&'t Node> {
    match &node.kind {
        Kind::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub(crate) enum Located<'t> {
    /// The path exists. `key` is the mapping key it sits under (needed to write a value
    /// into an empty `key:`), `parent` the collection holding it.
    Found {
        node: &'t Node,
        key: Option<&'t Node>,
        parent: Option<&'t Node>,
    },
    /// The first `depth` segments exist and lead to `at`, which has no key
    /// `path[depth]`. `at` is a mapping, or an empty value that can become one.
    Missing {
        at: &'t Node,
        key: Option<&'t Node>,
        parent: Option<&'t Node>,
        depth: usize,
    },
}

pub(crate) fn locate<'t>(
    tree: &'t Tree,
    root: &'t Node,
    path: &Path,
    follow_aliases: bool,
) -> Result<Located<'t>, Error> {
    let mut cur = root;
    let mut key: Option<&Node> = None;
    let mut parent: Option<&Node> = None;
    for (i, seg) in path.segments.iter().enumerate() {
        cur = deref(tree, cur, path, i, follow_aliases)?;
        let here = || path.prefix(i).to_string();
        match seg {
            Segment::Key(k) => {
                if cur.is_empty_scalar() {
                    return Ok(Located::Missing {
                        at: cur,
                        key,
                        parent,
                        depth: i,
                    });
                }
                let Kind::Map(entries) = &cur.kind else {
                    return Err(wrong_kind(tree, cur, &here(), "a mapping"));
                };
                // `*a : x` is the key that anchor `a` names (only the key is shared, so
                // its value can still be edited).
                let key_text = |kn: &'t Node| match kn.kind {
                    Kind::Alias(id) => tree.find_anchor(id).and_then(Node::scalar_text),
                    _ => kn.scalar_text(),
                };
                let mut hits = entries
                    .iter()
                    .filter(|(kn, _)| key_text(kn) == Some(k.as_str()));
                match (hits.next(), hits.next()) {
                    (Some(_), Some((dup, _))) => {
                        return Err(Error::DuplicateKey {
                            key: k.clone(),
                            at: tree.loc(dup.start),
                        });
                    }
                    (Some((kn, v)), None) => {
                        parent = Some(cur);
                        key = Some(kn);
                        cur = v;
                    }
                    (None, _) => match merged(tree, entries, k) {
                        Some((alias, v)) if follow_aliases => {
                            let _ = alias;
                            parent = None;
                            key = None;
                            cur = v;
                        }
                        Some((alias, _)) => {
                            return Err(behind_alias(tree, alias, &path.prefix(i + 1)));
                        }
                        None => {
                            return Ok(Located::Missing {
                                at: cur,
                                key,
                                parent,
                                depth: i,
                            });
                        }
                    },
                }
            }
            Segment::Index(n) => {
                let Kind::Seq(items) = &cur.kind else {
                    return Err(wrong_kind(tree, cur, &here(), "a list"));
                };
                let Some(item) = items.get(*n) else {
                    return Err(Error::NoSuchPath {
                        path: path.to_string(),
                        deepest: here(),
                        detail: format!(
                            "'{}' is a list of {} items (indexes count from 0)",
                            here(),
                            items.len()
                        ),
                        at: tree.loc(cur.start),
                    });
                };
                parent = Some(cur);
                key = None;
                cur = item;
            }
            Segment::Select { key: sk, value: sv } => {
                let Kind::Seq(items) = &cur.kind else {
                    return Err(wrong_kind(tree, cur, &here(), "a list"));
                };
                let mut matches = Vec::new();
                let mut available = Vec::new();
                for item in items {
                    let item_node = if follow_aliases {
                        resolve(tree, item).unwrap_or(item)
                    } else {
                        item
                    };
                    if let Some(v) = map_get(item_node, sk).and_then(Node::scalar_text) {
                        if v == sv {
                            matches.push(item);
                        }
                        available.push(v.to_string());
                    }
                }
                match matches.as_slice() {
                    [one] => {
                        parent = Some(cur);
                        key = None;
                        cur = one;
                    }
                    [] => {
                        let hint = suggestion(sv, available.iter().map(String::as_str))
                            .map(|s| format!("; did you mean {sk}={s}?"))
                            .unwrap_or_default();
                        return Err(Error::NoSuchPath {
                            path: path.to_string(),
                            deepest: here(),
                            detail: format!("no item of '{}' has {sk}={sv}{hint}", here()),
                            at: tree.loc(cur.start),
                        });
                    }
                    many => {
                        return Err(Error::AmbiguousSelector {
                            path: path.to_string(),
                            selector: format!("{sk}={sv}"),
                            count: many.len(),
                            at: tree.loc(many[1].start),
                        });
                    }
                }
            }
        }
    }
    let node = deref(tree, cur, path, path.segments.len(), follow_aliases)?;
    if !std::ptr::eq(node, cur) {
        key = None;
        parent = None;
    }
    Ok(Located::Found { node, key, parent })
}

fn resolve<'t>(tree: &'t Tree, node: &'t Node) -> Option<&'t Node> {
    match node.kind {
        Kind::Alias(id) => tree.find_anchor(id),
        _ => Some(node),
    }
}

fn deref<'t>(
    tree: &'t Tree,
    node: &'t Node,
    path: &Path,
    depth: usize,
    follow: bool,
) -> Result<&'t Node, Error> {
    match node.kind {
        Kind::Alias(id) if follow => tree.find_anchor(id).ok_or_else(|| Error::Syntax {
            at: tree.loc(node.start),
            message: "alias to an unknown anchor".into(),
        }),
        Kind::Alias(_) => Err(behind_alias(tree, node, &path.prefix(depth))),
        _ => Ok(node),
    }
}

/// A key that is not in the mapping itself but comes from a `<<: *base` merge.
fn merged<'t>(
    tree: &'t Tree,
    entries: &'t [(Node, Node)],
    key: &str,
) -> Option<(&'t Node, &'t Node)> {
    for (k, v) in entries {
        if k.scalar_text() != Some("<<") {
            continue;
        }
        let sources: Vec<&Node> = match &v.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![v],
        };
        for s in sources {
            if let Kind::Alias(id) = s.kind
                && let Some(target) = tree.find_anchor(id).and_then(|m| map_get(m, key))
            {
                return Some((s, target));
            }
        }
    }
    None
}

fn behind_alias(tree: &Tree, alias: &Node, path: &Path) -> Error {
    let anchor_line = match alias.kind {
        Kind::Alias(id) => tree
            .find_anchor(id)
            .map(|a| tree.loc(a.start).line)
            .unwrap_or(0),
        _ => 0,
    };
    Error::BehindAlias {
        path: path.to_string(),
        anchor: tree.alias_name(alias),
        anchor_line,
        at: tree.loc(alias.start),
    }
}

fn wrong_kind(tree: &Tree, node: &Node, path: &str, expected: &'static str) -> Error {
    Error::WrongKind {
        path: path.to_string(),
        found: node.kind_name(),
        expected,
        at: tree.loc(node.start),
    }
}

pub(crate) fn suggestion<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The "no such path" error for a key that is missing under `at`.
pub(crate) fn missing_key(tree: &Tree, path: &Path, at: &Node, depth: usize) -> Error {
    let Segment::Key(k) = &path.segments[depth] else {
        unreachable!("only keys can be missing")
    };
    let deepest = path.prefix(depth).to_string();
    let owner = if depth == 0 {
        "the document".to_string()
    } else {
        format!("'{deepest}'")
    };
    let detail = match &at.kind {
        Kind::Map(entries) => {
            let hint = suggestion(k, entries.iter().filter_map(|(k, _)| k.scalar_text()))
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            format!(
                "{owner} (line {}) has no key '{k}'{hint}",
                tree.loc(at.start).line
            )
        }
        _ => format!("{owner} is empty"),
    };
    Error::NoSuchPath {
        path: path.to_string(),
        deepest,
        detail,
        at: tree.loc(at.start),
    }
}

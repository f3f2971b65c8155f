//! The safety net: the edited text is parsed again and must hold exactly the original
//! data with the edited values changed. If it does not, the edit is refused; a wrong
//! file is never returned.

use crate::edit::{Edit, Splice, apply};
use crate::error::Error;
use crate::path::Segment;
use crate::tree::{Kind, Node, Tree};
use crate::value::Value;

/// Data without positions. `text` is the scalar's own text, compared when both sides
/// have it (an edited value is compared by type and value only).
#[derive(Debug, Clone)]
enum Data {
    Scalar {
        value: Value,
        text: Option<String>,
        anchor: usize,
    },
    Seq(Vec<Data>, usize),
    Map(Vec<(Data, Data)>, usize),
    /// An alias, with the text of its anchor when that is a scalar (for `*a : x` keys).
    Alias(usize, Option<String>),
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Data::Scalar {
                    value: a,
                    text: ta,
                    anchor: xa,
                },
                Data::Scalar {
                    value: b,
                    text: tb,
                    anchor: xb,
                },
            ) => a == b && xa == xb && (ta.is_none() || tb.is_none() || ta == tb),
            (Data::Seq(a, x), Data::Seq(b, y)) => x == y && a == b,
            (Data::Map(a, x), Data::Map(b, y)) => x == y && a == b,
            (Data::Alias(a, _), Data::Alias(b, _)) => a == b,
            _ => false,
        }
    }
}

fn data(tree: &Tree, n: &Node) -> Data {
    let data = |n: &Node| data(tree, n);
    match &n.kind {
        Kind::Scalar { value, .. } => Data::Scalar {
            value: n.typed().unwrap_or(Value::Null),
            text: Some(value.clone()),
            anchor: n.anchor,
        },
        Kind::Seq(items) => Data::Seq(items.iter().map(data).collect(), n.anchor),
        Kind::Map(entries) => Data::Map(
            entries.iter().map(|(k, v)| (data(k), data(v))).collect(),
            n.anchor,
        ),
        Kind::Alias(id) => Data::Alias(
            *id,
            tree.find_anchor(*id)
                .and_then(Node::scalar_text)
                .map(str::to_string),
        ),
    }
}

fn text_of(d: &Data) -> Option<&str> {
    match d {
        Data::Scalar { text, .. } => text.as_deref(),
        Data::Alias(_, text) => text.as_deref(),
        _ => None,
    }
}

fn lookup<'d>(entries: &'d [(Data, Data)], key: &str) -> Option<&'d Data> {
    entries
        .iter()
        .find(|(k, _)| text_of(k) == Some(key))
        .map(|(_, v)| v)
}

/// Write `value` at `path` in `d`, creating missing mappings as `set` does.
fn put(d: &mut Data, path: &[Segment], value: &Value) -> bool {
    let Some((seg, rest)) = path.split_first() else {
        let anchor = match d {
            Data::Scalar { anchor, .. } => *anchor,
            _ => 0,
        };
        *d = Data::Scalar {
            value: value.clone(),
            text: None,
            anchor,
        };
        return true;
    };
    if matches!(d, Data::Scalar { value: Value::Null, text: Some(t), .. } if t.is_empty()) {
        *d = Data::Map(Vec::new(), 0);
    }
    match (seg, d) {
        (Segment::Key(k), Data::Map(entries, _)) => {
            if let Some(i) = entries.iter().position(|(kd, _)| text_of(kd) == Some(k)) {
                return put(&mut entries[i].1, rest, value);
            }
            let mut child = Data::Scalar {
                value: Value::Null,
                text: Some(String::new()),
                anchor: 0,
            };
            let ok = put(&mut child, rest, value);
            entries.push((
                Data::Scalar {
                    value: Value::String(k.clone()),
                    text: Some(k.clone()),
                    anchor: 0,
                },
                child,
            ));
            ok
        }
        (Segment::Index(i), Data::Seq(items, _)) => items.get_mut(*i).is_some_and(|c| put(c, rest, value)),
        (Segment::Select { key, value: want }, Data::Seq(items, _)) => items
            .iter_mut()
            .find(|item| matches!(item, Data::Map(e, _) if lookup(e, key).and_then(text_of) == Some(want)))
            .is_some_and(|c| put(c, rest, value)),
        _ => false,
    }
}

pub(crate) fn check(
    before: &Tree,
    after_text: &str,
    edits: &[(usize, &Edit)],
) -> Result<(), Error> {
    let fail = |message: String| Error::Verification { message };
    let after = Tree::parse(after_text)
        .map_err(|e| fail(format!("the edited text does not parse: {e}")))?;
    if after.docs.len() != before.docs.len() {
        return Err(fail(
            "the edited text has a different number of documents".into(),
        ));
    }
    let mut expected: Vec<Option<Data>> = vec![None; before.docs.len()];
    for (d, e) in edits {
        let slot = expected[*d].get_or_insert_with(|| data(before, &before.docs[*d].root));
        if !put(slot, &e.path.segments, &e.value) {
            return Err(fail(format!("cannot replay the edit of '{}'", e.path)));
        }
    }
    for (i, (b, a)) in before.docs.iter().zip(&after.docs).enumerate() {
        let got = data(&after, &a.root);
        let ok = match &expected[i] {
            Some(want) => *want == got,
            None => data(before, &b.root) == got,
        };
        if !ok {
            let paths: Vec<String> = edits.iter().map(|(_, e)| e.path.to_string()).collect();
            return Err(fail(format!(
                "document {i} does not read back as expected after editing {}",
                paths.join(", ")
            )));
        }
    }
    Ok(())
}

/// The start of the first `---` or `...` line at or after `from`, or the end of the text.
fn document_end(text: &str, from: usize) -> usize {
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        let marker = (line.starts_with("---") || line.starts_with("..."))
            && line[3..].chars().next().is_none_or(char::is_whitespace);
        if marker {
            return at;
        }
        at += line.len();
    }
    text.len()
}

/// The cheap check, for the common case of a document whose root is a block mapping at
/// column 0: each top-level entry then runs from its key's line to the next key's line,
/// and the unchanged entries around an edited one cannot read differently. So only the
/// edited entries are parsed again, on their own, and compared with the expected data.
///
/// Returns false when it cannot vouch for the edit (another layout, anchors or aliases
/// in the entry, or a mismatch); the caller then runs the full check, which decides.
pub(crate) fn check_regions(before: &Tree, splices: &[Splice], edits: &[(usize, &Edit)]) -> bool {
    let text = before.src.text;
    // (doc, entry index, start, end) of every top-level entry of the edited documents.
    let mut regions: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut docs: Vec<usize> = edits.iter().map(|(d, _)| *d).collect();
    docs.sort_unstable();
    docs.dedup();
    for &d in &docs {
        let root = &before.docs[d].root;
        let Kind::Map(entries) = &root.kind else {
            return false;
        };
        if root.flow
            || entries.is_empty()
            || entries
                .iter()
                .any(|(k, _)| k.col != 0 || k.is_empty_scalar())
        {
            return false;
        }
        let Some(end) = before.node_end(root) else {
            return false;
        };
        // The last entry runs to the end of its document: the blank and comment lines
        // after it can still belong to it (a block scalar takes blank lines).
        let doc_end = document_end(text, before.src.next_line_start(end));
        for (i, (k, _)) in entries.iter().enumerate() {
            let next = entries.get(i + 1).map_or(doc_end, |(nk, _)| nk.start);
            regions.push((d, i, k.start, next));
        }
    }
    if edits
        .iter()
        .any(|(_, e)| !matches!(e.path.segments.first(), Some(Segment::Key(_))))
    {
        return false;
    }
    // Assign each splice to the first region that holds it (an insertion at the very end
    // of an entry belongs to that entry, not to the next one).
    let mut touched: Vec<(usize, Vec<Splice>)> = Vec::new();
    for s in splices {
        let Some(r) = regions
            .iter()
            .position(|&(_, _, a, b)| a <= s.start && s.end <= b)
        else {
            return false;
        };
        match touched.iter_mut().find(|(i, _)| *i == r) {
            Some((_, list)) => list.push(s.clone()),
            None => touched.push((r, vec![s.clone()])),
        }
    }
    for (r, list) in touched {
        let (d, i, a, b) = regions[r];
        let original = &text[a..b];
        if original.contains(['&', '*']) {
            return false;
        }
        let shifted = list
            .into_iter()
            .map(|s| Splice {
                start: s.start - a,
                end: s.end - a,
                text: s.text,
            })
            .collect();
        let Ok(edited) = apply(original, shifted) else {
            return false;
        };
        let Ok(tree) = Tree::parse(&edited) else {
            return false;
        };
        if tree.docs.len() != 1 {
            return false;
        }
        let Kind::Map(entries) = &before.docs[d].root.kind else {
            return false;
        };
        let last = i + 1 == entries.len();
        let (key, value) = &entries[i];
        let key_text = key.scalar_text();
        let mut want = Data::Map(vec![(data(before, key), data(before, value))], 0);
        for (ed, e) in edits.iter().filter(|(ed, _)| *ed == d) {
            let _ = ed;
            let Some(Segment::Key(first)) = e.path.segments.first() else {
                return false;
            };
            let ours = Some(first.as_str()) == key_text
                || (last
                    && !entries
                        .iter()
                        .any(|(k, _)| k.scalar_text() == Some(first.as_str())));
            if ours && !put(&mut want, &e.path.segments, &e.value) {
                return false;
            }
        }
        if data(&tree, &tree.docs[0].root) != want {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Path;

    fn edit(path: &str, v: &str) -> Edit {
        Edit::new(Path::parse(path).unwrap(), v)
    }

    fn splice(start: usize, end: usize, text: &str) -> Splice {
        Splice {
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn regions_vouch_for_a_matching_edit() {
        let text = "a: 1\nb:\n  c: x # c\nd: 2\n";
        let tree = Tree::parse(text).unwrap();
        let e = edit("b.c", "y");
        assert!(check_regions(&tree, &[splice(13, 14, "y")], &[(0, &e)]));
        // Appending a new top-level key belongs to the last entry.
        let e = edit("z", "v");
        assert!(check_regions(
            &tree,
            &[splice(text.len(), text.len(), "z: v\n")],
            &[(0, &e)]
        ));
    }

    #[test]
    fn regions_refuse_a_wrong_edit_and_defer_on_anchors() {
        let text = "a: 1\nb:\n  c: x # c\nd: 2\n";
        let tree = Tree::parse(text).unwrap();
        let e = edit("b.c", "y");
        assert!(!check_regions(&tree, &[splice(13, 14, "z")], &[(0, &e)]));
        // A splice that breaks the next entry is outside the region logic.
        assert!(!check_regions(&tree, &[splice(13, 20, "y")], &[(0, &e)]));
        let text = "a: &x 1\nb: *x\n";
        let tree = Tree::parse(text).unwrap();
        let e = edit("a", "2");
        assert!(!check_regions(&tree, &[splice(6, 7, "'2'")], &[(0, &e)]));
        // Blank lines after the last entry still belong to it: a badly indented block
        // body makes them content, and the check must see that.
        let text = "foo: |\n \n    ";
        let tree = Tree::parse(text).unwrap();
        let e = edit("foo", "1.20");
        let bad = [splice(5, 6, "|-"), splice(6, 6, "\n  1.20")];
        assert!(!check_regions(&tree, &bad, &[(0, &e)]));
        let good = [splice(5, 6, "|-"), splice(6, 6, "\n    1.20")];
        assert!(check_regions(&tree, &good, &[(0, &e)]));
        let text = "- a\n- b\n";
        let tree = Tree::parse(text).unwrap();
        let e = Edit::new(Path::parse("[0]").unwrap(), "c");
        assert!(!check_regions(&tree, &[splice(2, 3, "c")], &[(0, &e)]));
    }
}

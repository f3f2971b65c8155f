//! Parsing rendered documents without parsing the values in them again.
//!
//! Every document is parsed after rendering, to check it and write it canonically. Most
//! of a document's text is values that `{{yaml x}}` and `{{x}}` wrote as JSON; parsing
//! them back was most of the cost of a render. So while a template renders, each value
//! is recorded and a marker is written in its place. The marked text (the skeleton) is
//! the same for every document of the same shape: it is parsed once, and each document
//! is the skeleton with its values put back where the markers stand.
//!
//! The result is the same as parsing the real text, because a value's JSON text parses
//! back to that value wherever a plain scalar may stand. Where a marker stands anywhere
//! else (inside a quoted or block scalar, a tag, a longer string) or splicing would make a
//! duplicate key, the real text is parsed instead.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use ladder_model::yaml::{self, Node, SyntaxError};
use serde_json::Value;

/// A marker prefix no template contains: random per process.
static PREFIX: LazyLock<String> = LazyLock::new(|| {
    let nonce = std::hash::RandomState::new().build_hasher().finish();
    format!("ladder{nonce:016x}m")
});

thread_local! {
    static RECORDED: RefCell<Option<Vec<Value>>> = const { RefCell::new(None) };
}

/// The text to write for a value: a marker while a render is recording, else its JSON.
pub fn write_value(value: Value) -> String {
    RECORDED.with(|recorded| match recorded.borrow_mut().as_mut() {
        Some(values) => {
            values.push(value);
            format!("{}{}x", *PREFIX, values.len() - 1)
        }
        None => serde_json::to_string(&value).expect("JSON values serialize"),
    })
}

/// Runs a render on this thread, recording the values it writes.
pub fn record<R>(render: impl FnOnce() -> R) -> (R, Vec<Value>) {
    RECORDED.with(|recorded| *recorded.borrow_mut() = Some(Vec::new()));
    let result = render();
    let values = RECORDED.with(|recorded| recorded.borrow_mut().take().unwrap_or_default());
    (result, values)
}

/// A rendered document: the skeleton and the values its markers stand for.
pub struct Rendered {
    pub skeleton: String,
    pub values: Vec<Value>,
}

impl Rendered {
    /// The text the template really produced.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(self.skeleton.len() * 2);
        let mut rest = self.skeleton.as_str();
        while let Some(start) = rest.find(PREFIX.as_str()) {
            text.push_str(&rest[..start]);
            let after = &rest[start + PREFIX.len()..];
            let end = after.find('x').expect("markers end with x");
            let index: usize = after[..end].parse().expect("marker index");
            text.push_str(&serde_json::to_string(&self.values[index]).expect("serializes"));
            rest = &after[end + 1..];
        }
        text.push_str(rest);
        text
    }
}

/// The value a marker stands for, when `text` is exactly one marker.
fn marker_index(text: &str) -> Option<usize> {
    text.strip_prefix(PREFIX.as_str())?
        .strip_suffix('x')?
        .parse()
        .ok()
}

/// Parsed skeletons, shared by the render threads.
#[derive(Default)]
pub struct Skeletons {
    parsed: Mutex<HashMap<String, Arc<Node>>>,
}

/// Documents of other shapes than these many are parsed in full, so that templates
/// whose shape varies per document cannot grow the cache without bound.
const MAX_SHAPES: usize = 256;

impl Skeletons {
    /// The document a render produced; a syntax error's position is in the real text.
    pub fn document(&self, rendered: &Rendered) -> Result<Value, SyntaxError> {
        let cached = self
            .parsed
            .lock()
            .expect("not poisoned")
            .get(&rendered.skeleton)
            .cloned();
        let skeleton = match cached {
            Some(node) => node,
            None => match yaml::parse(&rendered.skeleton) {
                Ok(node) => {
                    let node = Arc::new(node);
                    let mut parsed = self.parsed.lock().expect("not poisoned");
                    if parsed.len() < MAX_SHAPES {
                        parsed.insert(rendered.skeleton.clone(), node.clone());
                    }
                    node
                }
                // Report the error against the real text.
                Err(_) => return yaml::parse(&rendered.text()).map(Node::into_json),
            },
        };
        match splice(&skeleton, &rendered.values) {
            Some(doc) => Ok(doc),
            None => yaml::parse(&rendered.text()).map(Node::into_json),
        }
    }
}

/// The skeleton with each marker replaced by its value; `None` where that would not be
/// what parsing the real text gives.
fn splice(node: &Node, values: &[Value]) -> Option<Value> {
    if let Some(text) = node.as_str().filter(|t| t.contains(PREFIX.as_str())) {
        let index = marker_index(text).filter(|_| node.plain)?;
        return values.get(index).cloned();
    }
    match &node.value {
        yaml::Value::Sequence(items) => items.iter().map(|i| splice(i, values)).collect(),
        yaml::Value::Mapping(entries) => {
            let mut map = serde_json::Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key.as_str() {
                    Some(text) if text.contains(PREFIX.as_str()) => {
                        let index = marker_index(text).filter(|_| key.plain)?;
                        values.get(index)?.as_str()?.to_string()
                    }
                    _ => key.scalar_text(),
                };
                if map.insert(key, splice(value, values)?).is_some() {
                    return None;
                }
            }
            Some(Value::Object(map))
        }
        yaml::Value::Scalar(_) => Some(node.to_json()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Renders `parts` (text, or a value to write) the way templates do.
    fn render(parts: &[Result<&str, Value>]) -> Rendered {
        let (skeleton, values) = record(|| {
            parts
                .iter()
                .map(|p| match p {
                    Ok(text) => text.to_string(),
                    Err(value) => write_value(value.clone()),
                })
                .collect::<String>()
        });
        Rendered { skeleton, values }
    }

    fn both_ways(
        parts: &[Result<&str, Value>],
    ) -> (Result<Value, SyntaxError>, Result<Value, SyntaxError>) {
        let rendered = render(parts);
        let spliced = Skeletons::default().document(&rendered);
        let parsed = yaml::parse(&rendered.text()).map(Node::into_json);
        (spliced, parsed)
    }

    #[test]
    fn splices_values_where_plain_scalars_stand() {
        let (spliced, parsed) = both_ways(&[
            Ok("a: "),
            Err(json!({"k": ["x: y", "#z", 1, true, null]})),
            Ok("\nb:\n  - "),
            Err(json!("it's \"q\"\n")),
            Ok("\n"),
            Err(json!("c")),
            Ok(": [1, "),
            Err(json!(2)),
            Ok("]\n"),
        ]);
        assert_eq!(spliced.unwrap(), parsed.unwrap());
    }

    #[test]
    fn falls_back_where_a_marker_is_not_a_whole_plain_scalar() {
        for parts in [
            vec![Ok("a: \""), Err(json!("v")), Ok("\"\n")],
            vec![Ok("a: x-"), Err(json!("v")), Ok("\n")],
            vec![Ok("a: |\n  "), Err(json!("v")), Ok("\n")],
            vec![Ok("a: !!str "), Err(json!(5)), Ok("\n")],
            vec![Ok(""), Err(json!("a")), Ok(": 1\na: 2\n")],
            vec![Ok(""), Err(json!(["k"])), Ok(": 1\n")],
        ] {
            let (spliced, parsed) = both_ways(&parts);
            assert_eq!(spliced, parsed, "{parts:?}");
        }
    }

    #[test]
    fn a_skeleton_is_parsed_once_per_shape() {
        let skeletons = Skeletons::default();
        for v in ["one", "two", "three"] {
            let doc = skeletons
                .document(&render(&[Ok("a: "), Err(json!(v)), Ok("\n")]))
                .unwrap();
            assert_eq!(doc, json!({"a": v}));
        }
        assert_eq!(skeletons.parsed.lock().unwrap().len(), 1);
    }

    proptest! {
        /// Splicing gives what parsing the real text gives, value for value.
        #[test]
        fn splicing_equals_parsing(a in crate::arbitrary::json_value(), b in crate::arbitrary::json_value(), key in "[a-z:# ]{1,6}") {
            let parts = [
                Ok("x: "), Err(a.clone()), Ok("\ny:\n  - "), Err(b.clone()),
                Ok("\n  - {k: "), Err(a), Ok("}\n"), Err(Value::String(key)), Ok(": 1\n"),
            ];
            let (spliced, parsed) = both_ways(&parts);
            prop_assert_eq!(spliced, parsed);
        }
    }
}

//! Minimal YAML path lookup for history queries.
//!
//! Kept behind [`lookup`] so the full path implementation from the YAML editing crate can
//! replace it without touching the history code. Syntax: dot-separated keys, with a
//! purely numeric segment indexing a sequence (`image.tag`, `containers.0.image`).

use serde_yaml::Value;

/// Why a YAML path lookup could not run.
#[derive(Debug, thiserror::Error)]
pub enum YamlPathError {
    #[error("empty YAML path; use a dot path such as image.tag")]
    Empty,
    #[error("YAML path {path:?} has an empty segment")]
    EmptySegment { path: String },
}

/// A parsed dot path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct YamlPath {
    text: String,
}

impl YamlPath {
    pub fn parse(text: &str) -> Result<YamlPath, YamlPathError> {
        if text.is_empty() {
            return Err(YamlPathError::Empty);
        }
        if text.split('.').any(str::is_empty) {
            return Err(YamlPathError::EmptySegment {
                path: text.to_string(),
            });
        }
        Ok(YamlPath {
            text: text.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The value at `path` in the YAML document `doc`, or `None` when the document does not
/// parse or the path does not exist. Unparseable history is not an error for callers:
/// it is simply "not this value".
pub fn lookup(doc: &[u8], path: &YamlPath) -> Option<Value> {
    let root: Value = match serde_yaml::from_slice(doc) {
        Ok(v) => v,
        Err(err) => {
            tracing::debug!(%err, "YAML document does not parse; treating the value as absent");
            return None;
        }
    };
    let mut cur = &root;
    for seg in path.text.split('.') {
        cur = match cur {
            Value::Mapping(m) => m.get(seg)?,
            Value::Sequence(s) => s.get(seg.parse::<usize>().ok()?)?,
            Value::Tagged(t) => match &t.value {
                Value::Mapping(m) => m.get(seg)?,
                _ => return None,
            },
            _ => return None,
        };
    }
    Some(cur.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_indices() {
        let doc = b"image:\n  tag: v1.2.3\ncontainers:\n  - name: a\n  - name: b\n";
        let p = |s| YamlPath::parse(s).unwrap();
        assert_eq!(
            lookup(doc, &p("image.tag")),
            Some(Value::String("v1.2.3".into()))
        );
        assert_eq!(
            lookup(doc, &p("containers.1.name")),
            Some(Value::String("b".into()))
        );
        assert_eq!(lookup(doc, &p("image.missing")), None);
        assert_eq!(lookup(b": : not yaml [", &p("image.tag")), None);
        assert!(YamlPath::parse("a..b").is_err());
    }
}

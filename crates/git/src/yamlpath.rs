//! YAML path lookups for history queries, with the editor's path syntax and reading
//! (`image.tag`, `images[name=ghcr.io/acme/web].newTag`), so that history answers
//! questions about exactly the values a promotion edits.

pub use yamledit::Value;

/// Why a YAML path lookup could not run.
#[derive(Debug, thiserror::Error)]
pub enum YamlPathError {
    #[error("YAML path {path:?} is not valid: {reason}")]
    Invalid { path: String, reason: String },
}

/// A parsed YAML path.
#[derive(Debug, Clone)]
pub struct YamlPath {
    text: String,
    path: yamledit::Path,
}

impl YamlPath {
    pub fn parse(text: &str) -> Result<YamlPath, YamlPathError> {
        let invalid = |reason: String| YamlPathError::Invalid {
            path: text.to_string(),
            reason,
        };
        if text.trim().is_empty() {
            return Err(invalid("it is empty; use a path such as image.tag".into()));
        }
        let path = yamledit::Path::parse(text).map_err(|e| invalid(e.to_string()))?;
        Ok(YamlPath {
            text: text.to_string(),
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The scalar at `path` in the YAML document `doc`, or `None` when the document does not
/// parse, the path does not exist or holds no scalar. Unparseable history is not an error
/// for callers: it is simply "not this value".
pub fn lookup(doc: &[u8], path: &YamlPath) -> Option<Value> {
    let text = std::str::from_utf8(doc).ok()?;
    match yamledit::get(text, &yamledit::DocSelector::Auto, &path.path) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(%err, "no value at the path; treating it as absent");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_indices_and_selectors() {
        let doc = b"image:\n  tag: v1.2.3\ncontainers:\n  - name: a\n  - name: b\n    image: x:1\n";
        let p = |s| YamlPath::parse(s).unwrap();
        assert_eq!(
            lookup(doc, &p("image.tag")),
            Some(Value::String("v1.2.3".into()))
        );
        assert_eq!(
            lookup(doc, &p("containers[1].name")),
            Some(Value::String("b".into()))
        );
        assert_eq!(
            lookup(doc, &p("containers[name=b].image")),
            Some(Value::String("x:1".into()))
        );
        assert_eq!(lookup(doc, &p("image.missing")), None);
        assert_eq!(lookup(b": : not yaml [", &p("image.tag")), None);
        assert!(YamlPath::parse("a..b").is_err());
        assert!(YamlPath::parse("").is_err());
    }
}

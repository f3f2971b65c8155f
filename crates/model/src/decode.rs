//! Reading typed values out of a [`Node`] tree while collecting every problem.

use crate::config::Keyword;
use crate::diag::{Problem, did_you_mean};
use crate::pattern::{AppFile, AppFileError, Pattern, PlaceholderSet};
use crate::yaml::{Node, Scalar, Value};

/// Decodes nodes of one file, appending problems instead of stopping at the first.
pub struct Decoder<'p> {
    pub file: String,
    pub problems: &'p mut Vec<Problem>,
}

/// The entries of a mapping whose keys were checked against the known set.
pub struct Fields<'n> {
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

impl<'p> Decoder<'p> {
    pub fn new(file: impl Into<String>, problems: &'p mut Vec<Problem>) -> Self {
        Decoder {
            file: file.into(),
            problems,
        }
    }

    pub fn problem(&mut self, node: &Node, message: impl Into<String>) {
        self.problems
            .push(Problem::at(&self.file, node.position, message));
    }

    /// Reports a value of the wrong type; a scalar that YAML read as something other
    /// than a string is quoted as written, since that is where the surprise is.
    fn expected(&mut self, node: &Node, what: &str, expected: &str) {
        let found = match &node.written {
            Some(text) if !text.is_empty() => format!("{} `{text}`", node.value.kind()),
            _ => node.value.kind().to_string(),
        };
        self.problem(node, format!("`{what}` must be {expected}, found {found}"));
    }

    /// A mapping whose keys must all be in `known`; unknown keys are reported with the
    /// closest known key.
    pub fn fields<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Mapping(entries) = &node.value else {
            self.expected(node, what, "a mapping");
            return None;
        };
        for (key, _) in entries {
            let Some(name) = key.as_str() else {
                self.problem(key, format!("keys of `{what}` must be strings"));
                continue;
            };
            if !known.contains(&name) {
                let hint = match did_you_mean(name, known) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!("; known keys: {}", known.join(", ")),
                };
                self.problem(key, format!("unknown key `{name}` in `{what}`{hint}"));
            }
        }
        Some(Fields { entries })
    }

    /// A required key: reports its absence at the mapping.
    pub fn required<'n>(
        &mut self,
        fields: &Fields<'n>,
        parent: &Node,
        key: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let found = fields.get(key);
        if found.is_none() {
            // A block mapping's own mark points past its first key; its first key is
            // where a reader looks.
            let at = fields.entries.first().map(|(k, _)| k).unwrap_or(parent);
            self.problem(at, format!("`{what}` needs `{key}`"));
        }
        found
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(Scalar::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Scalar::String(_)) => {
                self.problem(node, format!("`{what}` must not be empty"));
                None
            }
            // Numbers where text is expected are a classic YAML trap (`1.20` reads as 1.2).
            Some(Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_)) => {
                self.problem(
                    node,
                    format!(
                        "`{what}` must be a string, found {} `{}`; quote it",
                        node.value.kind(),
                        node.written_text()
                    ),
                );
                None
            }
            _ => {
                self.expected(node, what, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.scalar() {
            Some(Scalar::Bool(b)) => Some(*b),
            Some(Scalar::String(s))
                if matches!(s.as_str(), "yes" | "no" | "on" | "off" | "y" | "n") =>
            {
                self.problem(
                    node,
                    format!("`{what}` must be true or false; `{s}` is a string in YAML 1.2"),
                );
                None
            }
            _ => {
                self.expected(node, what, "true or false");
                None
            }
        }
    }

    pub fn sequence<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Sequence(items) => Some(items),
            _ => {
                self.expected(node, what, "a list");
                None
            }
        }
    }

    /// A list of strings; duplicates are reported.
    pub fn string_list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
        let mut out: Vec<(String, &'n Node)> = Vec::new();
        let Value::Sequence(items) = &node.value else {
            self.expected(node, what, "a list of strings");
            return out;
        };
        for item in items {
            if let Some(s) = self.string(item, what) {
                if out.iter().any(|(seen, _)| *seen == s) {
                    self.problem(item, format!("duplicate entry `{s}` in `{what}`"));
                    continue;
                }
                out.push((s, item));
            }
        }
        out
    }

    /// A string with placeholders of the set `P`.
    pub fn pattern<P: PlaceholderSet>(&mut self, node: &Node, what: &str) -> Option<Pattern<P>> {
        let text = self.string(node, what)?;
        match Pattern::parse(text) {
            Ok(pattern) => Some(pattern),
            Err(why) => {
                self.problem(node, format!("`{what}`: {why}"));
                None
            }
        }
    }

    /// A file relative to the app's folder, already read as `text`; `noun` names it in
    /// messages ("value file").
    pub fn app_file(
        &mut self,
        node: &Node,
        text: String,
        what: &str,
        noun: &str,
    ) -> Option<AppFile> {
        match AppFile::parse(text.as_str()) {
            Ok(file) => Some(file),
            Err(AppFileError::Pattern(why)) => {
                self.problem(node, format!("`{what}`: {why}"));
                None
            }
            Err(why) => {
                self.problem(node, format!("{noun} `{text}` {why}"));
                None
            }
        }
    }

    /// One of the words of a [`Keyword`] enum; an unknown word is reported with the
    /// closest known one.
    pub fn keyword<K: Keyword>(&mut self, node: &Node, what: &str) -> Option<K> {
        let text = self.string(node, what)?;
        if let Some(value) = K::parse(&text) {
            return Some(value);
        }
        let words: Vec<&str> = K::WORDS.iter().map(|(word, _)| *word).collect();
        let hint = did_you_mean(&text, &words)
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        self.problem(
            node,
            format!(
                "unknown {} `{text}`; {hint}known: {}",
                K::WHAT,
                words.join(", ")
            ),
        );
        None
    }

    /// A DNS-1123 label, as Kubernetes requires for names and namespaces.
    pub fn dns_label(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        match crate::names::check_dns_label(&s) {
            Ok(()) => Some(s),
            Err(why) => {
                self.problem(
                    node,
                    format!("`{what}` `{s}` is not a DNS-1123 label: {why}"),
                );
                None
            }
        }
    }
}

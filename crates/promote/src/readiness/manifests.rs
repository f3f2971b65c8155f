//! The manifests of an app as ladder sees them: objects with the file they come from,
//! and what ladder knows it cannot see.

use ladder_tree::{ConfigTree, EntryKind, join_repo_path};
use serde::Deserialize;
use serde_json::Value;

use super::ReadinessError;

/// One Kubernetes object.
#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub value: Value,
    /// The file that defines it.
    pub file: String,
    /// Every name it has had (Kustomize prefixes and suffixes add names); patches match
    /// any of them, as Kustomize's do.
    pub names: Vec<String>,
    /// The files of the patches applied to it.
    pub patched_by: Vec<String>,
    /// Changes that may apply to it and that ladder did not understand.
    pub unknown: Vec<String>,
}

impl Object {
    pub fn new(value: Value, file: &str) -> Self {
        let name = str_at(&value, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        Object {
            value,
            file: file.to_string(),
            names: vec![name],
            patched_by: Vec::new(),
            unknown: Vec::new(),
        }
    }

    pub fn kind(&self) -> &str {
        str_at(&self.value, &["kind"]).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        str_at(&self.value, &["metadata", "name"]).unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        str_at(&self.value, &["metadata", "namespace"]).unwrap_or_default()
    }

    pub fn api_version(&self) -> &str {
        str_at(&self.value, &["apiVersion"]).unwrap_or_default()
    }

    /// `Deployment shop (apps/shop/base/deployment.yaml, patched by ...)`.
    pub fn describe(&self) -> String {
        let mut where_ = self.file.clone();
        if !self.patched_by.is_empty() {
            let mut by = self.patched_by.clone();
            by.dedup();
            where_ = format!("{where_}, patched by {}", by.join(", "));
        }
        format!("{} {} ({where_})", self.kind(), self.name())
    }
}

/// The objects of one app in one environment, and why there may be more, or other,
/// than ladder sees.
#[derive(Debug, Default)]
pub(crate) struct Manifests {
    /// Where they come from, for messages: `apps/docs/dev`.
    pub source: String,
    pub objects: Vec<Object>,
    /// Reasons there may be objects ladder does not see (a remote base, a generator).
    pub hidden: Vec<String>,
    /// Reasons any object may differ from what ladder sees (a transformer).
    pub changed: Vec<String>,
}

pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(*key))
}

pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// Every document of a YAML (or JSON) file, empty ones left out.
pub(crate) fn parse_documents(file: &str, bytes: &[u8]) -> Result<Vec<Value>, ReadinessError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ReadinessError::Yaml {
        file: file.to_string(),
        line: 0,
        column: 0,
        message: format!("not UTF-8: {e}"),
    })?;
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ReadinessError::Yaml {
                file: file.to_string(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// The objects of one document: itself, or the items of a `kind: List`.
pub(crate) fn objects_of(value: Value, file: &str, out: &mut Vec<Object>) {
    let is_list = str_at(&value, &["kind"]).is_some_and(|k| k == "List")
        && at(&value, &["items"]).is_some_and(Value::is_array);
    if is_list {
        if let Value::Object(mut map) = value
            && let Some(Value::Array(items)) = map.remove("items")
        {
            for item in items.into_iter().filter(|i| !i.is_null()) {
                objects_of(item, file, out);
            }
        }
    } else {
        out.push(Object::new(value, file));
    }
}

/// A directory app: every YAML or JSON file directly in `path`, as Argo CD reads it
/// without `directory.recurse`.
pub(crate) fn directory(tree: &dyn ConfigTree, path: &str) -> Result<Manifests, ReadinessError> {
    let entries = tree
        .list_dir(path)?
        .ok_or_else(|| ReadinessError::Missing {
            path: path.to_string(),
            what: "the app's source path".into(),
        })?;
    let mut manifests = Manifests {
        source: path.to_string(),
        ..Manifests::default()
    };
    for entry in entries.iter().filter(|e| e.kind == EntryKind::File) {
        let name = entry.name.as_str();
        let file = join_repo_path(path, name).expect("a name inside the folder");
        if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
            let Some(bytes) = tree.read_file(&file)? else {
                continue;
            };
            for value in parse_documents(&file, &bytes)? {
                objects_of(value, &file, &mut manifests.objects);
            }
        } else if name.ends_with(".jsonnet") || name.ends_with(".libsonnet") {
            manifests
                .hidden
                .push(format!("{file} is Jsonnet, which ladder does not evaluate"));
        }
    }
    Ok(manifests)
}

//! A Kustomize overlay merged with its bases in the config repo, without running
//! Kustomize.
//!
//! Understood, in Kustomize's order within one kustomization: `resources` and `bases`
//! (files with any number of documents, and folders holding a `kustomization.yaml`,
//! `kustomization.yml` or `Kustomization`), then `components` (applied to what the
//! resources gave), then `patchesStrategicMerge` (files or inline), `patches` (file or
//! inline, strategic merge or JSON6902, with or without a `target`), `patchesJson6902`,
//! then `namePrefix`/`nameSuffix` and `commonAnnotations` (on objects and pod
//! templates). A strategic-merge patch without a target matches by kind and name (any
//! name the object has had, as Kustomize matches original names too); `$patch: delete`
//! at its top removes the object. A `target` matches `kind`, `name`, `namespace`,
//! `group` and `version` as anchored regular expressions made of literal characters and
//! `.`; see `patch.rs` for the merge itself.
//!
//! Ignored, since they cannot change an item: `images`, `replicas`, `namespace`,
//! `commonLabels`, `labels`, `configMapGenerator`, `secretGenerator`,
//! `generatorOptions`, `vars` (string substitution only), `buildMetadata`,
//! `sortOptions`, `crds`, `apiVersion`, `kind`, `metadata`.
//!
//! Not understood, so never a pass: remote or out-of-repo resources and components, and
//! `helmCharts`/`generators` (objects ladder cannot see); `replacements`,
//! `transformers`, `configurations`, `openapi` and any other field (every object may
//! differ); a patch whose target uses `labelSelector`, `annotationSelector` or other
//! regular expressions, or whose content uses a directive or operation not understood
//! (the objects it may touch are unknown).

use ladder_tree::{ConfigTree, join_repo_path};
use serde_json::{Map, Value};

use super::ReadinessError;
use super::manifests::{Manifests, Object, at, objects_of, parse_documents, str_at};
use super::patch;

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

const IGNORED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "images",
    "replicas",
    "namespace",
    "commonLabels",
    "labels",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "vars",
    "buildMetadata",
    "sortOptions",
    "crds",
];

const UNDERSTOOD: &[&str] = &[
    "resources",
    "bases",
    "components",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "namePrefix",
    "nameSuffix",
    "commonAnnotations",
];

/// The objects of the Kustomize build of `path`.
pub(crate) fn build(tree: &dyn ConfigTree, path: &str) -> Result<Manifests, ReadinessError> {
    let mut builder = Builder {
        tree,
        manifests: Manifests {
            source: format!("the Kustomize build of {path}"),
            ..Manifests::default()
        },
        stack: Vec::new(),
    };
    let objects = builder.build_dir(path, Vec::new())?;
    builder.manifests.objects = objects;
    Ok(builder.manifests)
}

struct Builder<'a> {
    tree: &'a dyn ConfigTree,
    manifests: Manifests,
    /// The kustomizations being built, to refuse cycles.
    stack: Vec<String>,
}

fn kustomize_error(file: &str, message: impl Into<String>) -> ReadinessError {
    ReadinessError::Kustomize {
        file: file.to_string(),
        message: message.into(),
    }
}

/// A resource that is no path in the repo: a URL or `host/org/repo//path?ref=...`.
fn looks_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.contains("?ref=")
        || entry.starts_with("git@")
        || entry
            .split('/')
            .next()
            .is_some_and(|host| host.contains('.') && host != "." && host != "..")
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

impl Builder<'_> {
    fn hidden(&mut self, reason: String) {
        self.manifests.hidden.push(reason);
    }

    fn changed(&mut self, reason: String) {
        self.manifests.changed.push(reason);
    }

    /// Builds the kustomization in `dir`; `objects` are those it transforms besides its
    /// own (a component's parent's).
    fn build_dir(
        &mut self,
        dir: &str,
        mut objects: Vec<Object>,
    ) -> Result<Vec<Object>, ReadinessError> {
        if self.stack.iter().any(|d| d == dir) {
            return Err(kustomize_error(
                dir,
                format!(
                    "a cycle of kustomizations: {} -> {dir}",
                    self.stack.join(" -> ")
                ),
            ));
        }
        let mut found = None;
        for name in KUSTOMIZATION_FILES {
            let file = join_repo_path(dir, name).expect("a name inside the folder");
            if let Some(bytes) = self.tree.read_file(&file)? {
                found = Some((file, bytes));
                break;
            }
        }
        let Some((file, bytes)) = found else {
            return Err(kustomize_error(dir, "no kustomization.yaml in this folder"));
        };
        let kustomization = match parse_documents(&file, &bytes)?.into_iter().next() {
            Some(Value::Object(map)) => map,
            None => Map::new(),
            Some(_) => return Err(kustomize_error(&file, "not a mapping")),
        };
        self.stack.push(dir.to_string());

        for key in kustomization.keys() {
            if IGNORED.contains(&key.as_str()) || UNDERSTOOD.contains(&key.as_str()) {
                continue;
            }
            match key.as_str() {
                "helmCharts" | "helmChartInflationGenerator" | "generators" => self.hidden(
                    format!("`{key}` in {file} makes manifests ladder does not render"),
                ),
                _ => self.changed(format!(
                    "`{key}` in {file} is not understood by ladder and may change any object"
                )),
            }
        }

        let resources = strings(kustomization.get("resources"))
            .chain(strings(kustomization.get("bases")))
            .cloned()
            .collect::<Vec<_>>();
        for entry in &resources {
            self.resource(dir, &file, entry, &mut objects)?;
        }
        for entry in strings(kustomization.get("components"))
            .cloned()
            .collect::<Vec<_>>()
        {
            let component = entry
                .as_str()
                .and_then(|e| join_repo_path(dir, e).map(|path| (e, path)));
            match component {
                Some((_, path)) if self.tree.is_dir(&path)? => {
                    objects = self.build_dir(&path, objects)?;
                }
                Some((e, _)) if !looks_remote(e) => {
                    return Err(kustomize_error(&file, format!("component `{e}` not found")));
                }
                _ => {
                    let reason = format!("the component {entry} in {file} is not in the repo");
                    self.hidden(reason.clone());
                    self.changed(reason);
                }
            }
        }

        for entry in strings(kustomization.get("patchesStrategicMerge")) {
            let Some(text) = entry.as_str() else {
                self.changed(format!(
                    "a `patchesStrategicMerge` entry in {file} is not a string"
                ));
                continue;
            };
            let path = join_repo_path(dir, text).filter(|_| !text.contains('\n'));
            let (source, content) = match path {
                Some(path) if self.tree.is_file(&path)? => {
                    let bytes = self.tree.read_file(&path)?.unwrap_or_default();
                    (path, bytes)
                }
                _ => (file.clone(), text.as_bytes().to_vec()),
            };
            self.patch(&file, &source, &content, None, &mut objects)?;
        }
        for field in ["patches", "patchesJson6902"] {
            for entry in strings(kustomization.get(field)) {
                let target = entry.get("target");
                let content = match (entry.get("path"), entry.get("patch")) {
                    (Some(Value::String(path)), None) => {
                        let path = join_repo_path(dir, path).ok_or_else(|| {
                            kustomize_error(
                                &file,
                                format!("the patch `{path}` is outside the repo"),
                            )
                        })?;
                        let bytes = self.tree.read_file(&path)?.ok_or_else(|| {
                            kustomize_error(&file, format!("the patch `{path}` is not in the repo"))
                        })?;
                        Some((path, bytes))
                    }
                    (None, Some(Value::String(text))) => {
                        Some((file.clone(), text.as_bytes().to_vec()))
                    }
                    _ => None,
                };
                match content {
                    Some((source, bytes)) => {
                        self.patch(&file, &source, &bytes, target, &mut objects)?
                    }
                    None => self.changed(format!(
                        "a `{field}` entry in {file} has neither a `path` nor a `patch` ladder reads"
                    )),
                }
            }
        }

        let prefix = kustomization.get("namePrefix").and_then(Value::as_str);
        let suffix = kustomization.get("nameSuffix").and_then(Value::as_str);
        if prefix.is_some() || suffix.is_some() {
            for object in &mut objects {
                if matches!(object.kind(), "Namespace" | "CustomResourceDefinition") {
                    continue;
                }
                let name = format!(
                    "{}{}{}",
                    prefix.unwrap_or_default(),
                    object.name(),
                    suffix.unwrap_or_default()
                );
                if let Some(Value::Object(metadata)) = object.value.get_mut("metadata") {
                    metadata.insert("name".into(), Value::String(name.clone()));
                }
                object.names.push(name);
            }
        }
        if let Some(Value::Object(annotations)) = kustomization.get("commonAnnotations") {
            for object in &mut objects {
                annotate(&mut object.value, &["metadata"], annotations);
                for template in [
                    &["spec", "template", "metadata"][..],
                    &["spec", "jobTemplate", "spec", "template", "metadata"],
                ] {
                    if at(&object.value, &template[..template.len() - 1]).is_some() {
                        annotate(&mut object.value, template, annotations);
                    }
                }
            }
        }

        self.stack.pop();
        Ok(objects)
    }

    fn resource(
        &mut self,
        dir: &str,
        file: &str,
        entry: &Value,
        objects: &mut Vec<Object>,
    ) -> Result<(), ReadinessError> {
        let Some(entry) = entry.as_str() else {
            self.hidden(format!("a resource in {file} is not a string"));
            return Ok(());
        };
        let Some(path) = join_repo_path(dir, entry) else {
            self.hidden(format!(
                "the resource `{entry}` in {file} is outside the repo"
            ));
            return Ok(());
        };
        if self.tree.is_dir(&path)? {
            let built = self.build_dir(&path, Vec::new())?;
            objects.extend(built);
        } else if let Some(bytes) = self.tree.read_file(&path)? {
            for value in parse_documents(&path, &bytes)? {
                objects_of(value, &path, objects);
            }
        } else if looks_remote(entry) {
            self.hidden(format!(
                "the remote resource `{entry}` in {file} is not read"
            ));
        } else {
            return Err(kustomize_error(
                file,
                format!("the resource `{entry}` is not in the repo"),
            ));
        }
        Ok(())
    }

    /// Applies every document of a patch. `file` is the kustomization, `source` where the
    /// patch is written.
    fn patch(
        &mut self,
        file: &str,
        source: &str,
        bytes: &[u8],
        target: Option<&Value>,
        objects: &mut Vec<Object>,
    ) -> Result<(), ReadinessError> {
        for document in parse_documents(source, bytes)? {
            let selector = match (target, &document) {
                (Some(target), _) => Selector::from_target(target),
                (None, Value::Object(_)) => Selector::from_patch(&document),
                (None, _) => {
                    self.changed(format!("a JSON6902 patch in {source} has no target"));
                    continue;
                }
            };
            let matches: Vec<(usize, Match)> = objects
                .iter()
                .enumerate()
                .map(|(i, o)| (i, selector.matches(o)))
                .filter(|(_, m)| *m != Match::No)
                .collect();
            if matches.is_empty() && target.is_none() && self.manifests.hidden.is_empty() {
                return Err(kustomize_error(
                    file,
                    format!(
                        "the patch {} {} in {source} matches no resource",
                        selector.kind.as_deref().unwrap_or("?"),
                        selector.name.as_deref().unwrap_or("?")
                    ),
                ));
            }
            let delete = document.is_object() && str_at(&document, &["$patch"]) == Some("delete");
            let mut deleted = Vec::new();
            for (i, matched) in matches {
                let object = &mut objects[i];
                if let Match::Maybe(why) = matched {
                    object
                        .unknown
                        .push(format!("the patch in {source} may apply ({why})"));
                    continue;
                }
                if delete {
                    deleted.push(i);
                    continue;
                }
                let result = match &document {
                    Value::Array(ops) => patch::json6902(&mut object.value, ops),
                    Value::Object(_) => patch::strategic_merge(&mut object.value, &document),
                    _ => Err("a patch that is neither a mapping nor a list".into()),
                };
                match result {
                    Ok(()) => object.patched_by.push(source.to_string()),
                    Err(why) => object
                        .unknown
                        .push(format!("the patch in {source} is not understood: {why}")),
                }
            }
            for i in deleted.into_iter().rev() {
                objects.remove(i);
            }
        }
        Ok(())
    }
}

fn annotate(value: &mut Value, path: &[&str], annotations: &Map<String, Value>) {
    let mut current = value;
    for key in path.iter().chain(std::iter::once(&"annotations")) {
        let Value::Object(map) = current else {
            return;
        };
        current = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if current.is_null() {
            *current = Value::Object(Map::new());
        }
    }
    if let Value::Object(map) = current {
        for (key, v) in annotations {
            map.insert(key.clone(), v.clone());
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Match {
    No,
    Yes,
    /// It may match; ladder cannot tell (why).
    Maybe(String),
}

/// What a patch applies to.
#[derive(Debug, Default)]
struct Selector {
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    group: Option<String>,
    version: Option<String>,
    /// Names are regular expressions (a `target`) rather than literal (a patch's own).
    regex: bool,
    /// A part of the target ladder does not evaluate.
    opaque: Option<String>,
}

impl Selector {
    fn from_target(target: &Value) -> Self {
        let field = |name: &str| target.get(name).and_then(Value::as_str).map(String::from);
        let opaque = ["labelSelector", "annotationSelector"]
            .into_iter()
            .find(|key| target.get(*key).is_some())
            .map(|key| format!("its target's `{key}`"));
        Selector {
            kind: field("kind"),
            name: field("name"),
            namespace: field("namespace"),
            group: field("group"),
            version: field("version"),
            regex: true,
            opaque,
        }
    }

    fn from_patch(patch: &Value) -> Self {
        Selector {
            kind: str_at(patch, &["kind"]).map(String::from),
            name: str_at(patch, &["metadata", "name"]).map(String::from),
            // By kind and name only: the namespace may be set later by a `namespace:`.
            ..Selector::default()
        }
    }

    fn matches(&self, object: &Object) -> Match {
        let (group, version) = match object.api_version().rsplit_once('/') {
            Some((group, version)) => (group, version),
            None => ("", object.api_version()),
        };
        let checks: [(&Option<String>, Vec<&str>); 5] = [
            (&self.kind, vec![object.kind()]),
            (
                &self.name,
                object.names.iter().map(String::as_str).collect(),
            ),
            (&self.namespace, vec![object.namespace()]),
            (&self.group, vec![group]),
            (&self.version, vec![version]),
        ];
        let mut maybe = self.opaque.clone();
        for (pattern, candidates) in checks {
            let Some(pattern) = pattern else { continue };
            let mut result = Some(false);
            for candidate in candidates {
                match matches_pattern(pattern, candidate, self.regex) {
                    Some(true) => {
                        result = Some(true);
                        break;
                    }
                    Some(false) => {}
                    None => result = None,
                }
            }
            match result {
                Some(true) => {}
                Some(false) => return Match::No,
                None => maybe = Some(format!("the pattern `{pattern}` of its target")),
            }
        }
        match maybe {
            Some(why) => Match::Maybe(why),
            None => Match::Yes,
        }
    }
}

/// An anchored regular expression of literal characters and `.`; `None` when it uses
/// anything else.
fn matches_pattern(pattern: &str, text: &str, regex: bool) -> Option<bool> {
    if !regex {
        return Some(pattern == text);
    }
    if pattern.chars().any(|c| "\\^$*+?()[]{}|".contains(c)) {
        return None;
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    Some(p.len() == t.len() && p.iter().zip(&t).all(|(p, t)| *p == '.' || p == t))
}

//! Every exchange with the fake is checked against GitHub's published OpenAPI description,
//! so that the fake cannot drift into answering shapes GitHub never sends (and ladder's
//! requests cannot drift into shapes GitHub would refuse).
//!
//! The description (13 MB) is parsed once per process. Validators are compiled lazily,
//! one per (operation, status) or (operation, request body), from a standalone schema that
//! holds only the components it reaches: compiling against the whole description would
//! cost seconds for every validator.
//!
//! Answers that GitHub gives for every operation rather than per operation (bad
//! credentials, a repository the token cannot see, rate limits, server errors, a JSON
//! body that does not parse) are "generic": their status need not be documented for the
//! operation, but their body must still be a `basic-error`. A 304 to a conditional GET
//! needs no documentation either and has no body.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// Where `make reference` unpacks GitHub's description.
const DESCRIPTION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/reference/openapi/package/generated/api.github.com.json"
);

/// Path parameters that may hold slashes (`heads/ladder/staging/api`): GitHub routes them
/// greedily, and clients send them unescaped.
const MULTI_SEGMENT_PARAMS: [&str; 3] = ["ref", "path", "branch"];

/// Answers GitHub gives with an error body where the description documents the status
/// without one (a gap in the description, not in the fake): the body must then be a
/// `basic-error`.
const UNDOCUMENTED_ERROR_BODIES: &[(&str, &str, u16)] = &[
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        422,
    ),
    // "Reference does not exist".
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", 422),
];

/// GitHub's description, ready to check exchanges against.
pub(crate) struct Spec {
    doc: Value,
    /// OpenAPI 3.0 marks nullable schemas with `nullable: true`, unknown to JSON Schema.
    nullable_keyword: bool,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<(usize, String), Arc<jsonschema::Validator>>>,
    /// How long parsing the description took, for reports on the cost of the check.
    pub load_time: Duration,
}

struct Operation {
    method: String,
    template: String,
    segments: Vec<Segment>,
}

enum Segment {
    Literal(String),
    Param { multi: bool },
}

/// The process-wide description, or why it could not be loaded.
pub(crate) fn spec() -> Result<&'static Spec, String> {
    static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load(DESCRIPTION))
        .as_ref()
        .map_err(Clone::clone)
}

impl Spec {
    fn load(path: &str) -> Result<Spec, String> {
        let started = Instant::now();
        let text = std::fs::read(path).map_err(|e| {
            format!("cannot read GitHub's OpenAPI description at {path} ({e}): run `make reference` at the workspace root")
        })?;
        let doc: Value = serde_json::from_slice(&text)
            .map_err(|e| format!("{path} is not JSON ({e}): run `make reference` again"))?;
        let version = doc["openapi"].as_str().unwrap_or("").to_string();
        let nullable_keyword = if version.starts_with("3.0") {
            true
        } else if version.starts_with("3.1") {
            false
        } else {
            return Err(format!("{path}: unsupported OpenAPI version {version:?}"));
        };
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in ["get", "put", "post", "delete", "patch", "head"] {
                if item.get(method).is_some() {
                    operations.push(Operation {
                        method: method.to_ascii_uppercase(),
                        template: template.clone(),
                        segments: segments(template),
                    });
                }
            }
        }
        Ok(Spec {
            doc,
            nullable_keyword,
            operations,
            validators: Mutex::default(),
            load_time: started.elapsed(),
        })
    }

    /// The operation serving `method` on `path` (without the API prefix): its index and
    /// path template. A literal segment beats a parameter, as GitHub routes.
    pub fn find(&self, method: &str, path: &str) -> Option<(usize, &str)> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.operations
            .iter()
            .enumerate()
            .filter(|(_, op)| op.method == method)
            .filter(|(_, op)| matches(&op.segments, &parts))
            .map(|(i, op)| {
                let literals = op
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                (literals, op.segments.len(), i)
            })
            .max()
            .map(|(_, _, i)| (i, self.operations[i].template.as_str()))
    }

    fn operation(&self, index: usize) -> &Value {
        let op = &self.operations[index];
        &self.doc["paths"][&op.template][op.method.to_ascii_lowercase()]
    }

    /// Every mismatch of one exchange with the description, as readable lines.
    pub fn check(&self, exchange: &Exchange<'_>) -> Vec<String> {
        let what = format!(
            "{} {} -> {}",
            exchange.method, exchange.path, exchange.status
        );
        let Some((index, _)) = self.find(exchange.method, exchange.path) else {
            return vec![format!(
                "{what}: no operation of GitHub's description serves this method and path"
            )];
        };
        let mut found = Vec::new();
        if let Some(body) = exchange.request
            && let Some(schema) = self.request_schema(index)
        {
            found.extend(
                self.validate(index, "request", &schema, body)
                    .into_iter()
                    .map(|e| format!("{what}: request body: {e}")),
            );
        }
        if exchange.status == 304 {
            if !exchange.conditional {
                found.push(format!("{what}: 304 to a request without If-None-Match"));
            }
            return found;
        }
        let response = self.response(index, exchange.status);
        let op = &self.operations[index];
        let gap = UNDOCUMENTED_ERROR_BODIES
            .iter()
            .any(|(m, t, s)| *m == op.method && *t == op.template && *s == exchange.status);
        let schema = match (response, exchange.generic) {
            (Some(_), _) if gap => Some(json!({"$ref": "#/components/schemas/basic-error"})),
            (Some(r), _) => self.content_schema(r),
            (None, true) => Some(json!({"$ref": "#/components/schemas/basic-error"})),
            (None, false) => {
                found.push(format!(
                    "{what}: status {} is not documented for {} {}",
                    exchange.status, self.operations[index].method, self.operations[index].template
                ));
                return found;
            }
        };
        match (schema, exchange.response) {
            (Some(schema), Some(body)) => {
                let key = if response.is_some() && !gap {
                    exchange.status.to_string()
                } else {
                    "generic".to_string()
                };
                found.extend(
                    self.validate(index, &key, &schema, body)
                        .into_iter()
                        .map(|e| format!("{what}: response body: {e}")),
                );
            }
            (Some(_), None) => found.push(format!("{what}: documented body missing")),
            (None, Some(_)) => found.push(format!("{what}: a body where none is documented")),
            (None, None) => {}
        }
        found
    }

    fn request_schema(&self, index: usize) -> Option<Value> {
        let body = self.resolve(self.operation(index).get("requestBody")?);
        self.content_schema(body)
    }

    fn response(&self, index: usize, status: u16) -> Option<&Value> {
        let responses = &self.operation(index)["responses"];
        responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .map(|r| self.resolve(r))
    }

    fn content_schema(&self, response: &Value) -> Option<Value> {
        let content = response.get("content")?.as_object()?;
        content
            .iter()
            .find(|(ty, _)| ty.contains("json"))
            .and_then(|(_, c)| c.get("schema").cloned())
    }

    /// Follows a `$ref` to `#/components/...` (responses and request bodies are shared).
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(pointer) => self
                .doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or(value),
            None => value,
        }
    }

    fn validate(&self, index: usize, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        let validator = match self.validator(index, key, schema) {
            Ok(v) => v,
            Err(e) => return vec![format!("schema does not compile: {e}")],
        };
        validator
            .iter_errors(instance)
            .map(|e| {
                format!(
                    "{e} (at {:?}, schema {:?})",
                    e.instance_path().as_str(),
                    e.schema_path().as_str()
                )
            })
            .collect()
    }

    fn validator(
        &self,
        index: usize,
        key: &str,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let cache_key = (index, key.to_string());
        if let Some(v) = self.validators.lock().unwrap().get(&cache_key) {
            return Ok(v.clone());
        }
        let standalone = self.standalone(schema);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&standalone)
            .map_err(|e| e.to_string())?;
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .unwrap()
            .insert(cache_key, validator.clone());
        Ok(validator)
    }

    /// `schema` as a JSON Schema 2020-12 document of its own: the components it reaches
    /// under `$defs`, OpenAPI 3.0's dialect translated.
    pub fn standalone(&self, schema: &Value) -> Value {
        let components = &self.doc["components"]["schemas"];
        let mut defs = Map::new();
        let mut todo: Vec<String> = Vec::new();
        refs(schema, &mut todo);
        let mut seen = BTreeSet::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(component) = components.get(&name) else {
                continue;
            };
            refs(component, &mut todo);
            defs.insert(name, self.translate(component));
        }
        let mut root = self.translate(schema);
        if let Value::Object(root) = &mut root {
            root.insert("$defs".into(), Value::Object(defs));
            root.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
        }
        root
    }

    fn translate(&self, schema: &Value) -> Value {
        translate(schema, self.nullable_keyword)
    }
}

/// One request and its answer, as the fake exchanged them.
pub(crate) struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub request: Option<&'a Value>,
    pub status: u16,
    pub response: Option<&'a Value>,
    pub conditional: bool,
    /// An answer GitHub gives to any operation (see the module documentation).
    pub generic: bool,
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param {
                    multi: MULTI_SEGMENT_PARAMS.contains(&name),
                },
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

/// Whether `parts` fit the template; a multi-segment parameter takes one or more parts.
fn matches(template: &[Segment], parts: &[&str]) -> bool {
    match template.split_first() {
        None => parts.is_empty(),
        Some((Segment::Literal(l), rest)) => {
            parts.first().is_some_and(|p| p == l) && matches(rest, &parts[1..])
        }
        Some((Segment::Param { multi }, rest)) => {
            let most = if *multi {
                parts.len()
            } else {
                1.min(parts.len())
            };
            (1..=most)
                .any(|n| !parts[..n].iter().any(|p| p.is_empty()) && matches(rest, &parts[n..]))
        }
    }
}

/// Names of the components `schema` refers to.
fn refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref"
                    && let Some(name) = v
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name.to_string());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// OpenAPI's schema dialect as JSON Schema 2020-12: component references point under
/// `$defs`; in 3.0, `nullable: true` becomes "null or the schema" (wrapping, rather than
/// adding "null" to `type`, also admits null past an `enum` or an `allOf`), and boolean
/// `exclusiveMinimum`/`exclusiveMaximum` become the numeric form.
fn translate(schema: &Value, nullable_keyword: bool) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let v = match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        Value::String(r.replace("#/components/schemas/", "#/$defs/"))
                    }
                    // Values of these are examples and enums, not schemas.
                    ("example" | "examples" | "enum" | "const" | "default", v) => v.clone(),
                    // Maps of names to schemas: a property may be called `nullable`.
                    ("properties" | "patternProperties", Value::Object(props)) => Value::Object(
                        props
                            .iter()
                            .map(|(name, s)| (name.clone(), translate(s, nullable_keyword)))
                            .collect(),
                    ),
                    (_, v) => translate(v, nullable_keyword),
                };
                out.insert(k.clone(), v);
            }
            if nullable_keyword {
                for (flag, bound) in [
                    ("exclusiveMinimum", "minimum"),
                    ("exclusiveMaximum", "maximum"),
                ] {
                    if let Some(Value::Bool(exclusive)) = out.remove(flag)
                        && exclusive
                        && let Some(b) = out.remove(bound)
                    {
                        out.insert(flag.into(), b);
                    }
                }
                if out.remove("nullable") == Some(Value::Bool(true)) {
                    return json!({"anyOf": [{"type": "null"}, Value::Object(out)]});
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| translate(v, nullable_keyword))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> &'static Spec {
        super::spec().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn routes_literal_over_parameter_and_slashes_in_refs() {
        let s = spec();
        let find = |m, p| s.find(m, p).map(|(_, t)| t.to_string());
        assert_eq!(
            find("GET", "/repos/o/r/git/ref/heads/ladder/staging/api").as_deref(),
            Some("/repos/{owner}/{repo}/git/ref/{ref}")
        );
        assert_eq!(
            find("PUT", "/repos/o/r/pulls/3/merge").as_deref(),
            Some("/repos/{owner}/{repo}/pulls/{pull_number}/merge")
        );
        assert_eq!(
            find("GET", "/repos/o/r/commits/main/check-runs").as_deref(),
            Some("/repos/{owner}/{repo}/commits/{ref}/check-runs")
        );
        assert_eq!(find("GET", "/repos/o/r/no/such/thing"), None);
        assert_eq!(find("PATCH", "/rate_limit"), None);
    }

    #[test]
    fn a_response_missing_a_required_field_is_a_violation() {
        let s = spec();
        let label = json!({"id": 1, "node_id": "L_1", "url": "http://127.0.0.1/api/v3/repos/o/r/labels/x",
            "name": "x", "description": null, "color": "ededed", "default": false});
        let exchange = |body: &Value, status| {
            s.check(&Exchange {
                method: "GET",
                path: "/repos/o/r/labels/x",
                request: None,
                status,
                response: Some(body),
                conditional: false,
                generic: false,
            })
        };
        assert_eq!(exchange(&label, 200), Vec::<String>::new());
        let mut broken = label.clone();
        broken.as_object_mut().unwrap().remove("color");
        let found = exchange(&broken, 200);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("color"), "{found:?}");
        // 3.0's nullable is honoured: description may be null, not a number.
        broken = label.clone();
        broken["description"] = json!(7);
        assert_eq!(exchange(&broken, 200).len(), 1);
        // A status the operation does not document.
        assert!(exchange(&label, 418)[0].contains("not documented"));
    }

    #[test]
    fn request_bodies_are_checked_and_unknown_operations_reported() {
        let s = spec();
        let ok = json!({"sha": "0123456789012345678901234567890123456789", "force": false});
        let bad = json!({"force": "yes"});
        let check = |body: &Value| {
            s.check(&Exchange {
                method: "PATCH",
                path: "/repos/o/r/git/refs/heads/main",
                request: Some(body),
                status: 422,
                response: Some(&json!({"message": "Update is not a fast forward",
                    "documentation_url": "https://docs.github.com/rest"})),
                conditional: false,
                generic: false,
            })
        };
        assert_eq!(check(&ok), Vec::<String>::new());
        assert!(check(&bad).iter().all(|v| v.contains("request body")));
        assert_eq!(check(&bad).len(), 2, "{:?}", check(&bad));
        let unknown = s.check(&Exchange {
            method: "GET",
            path: "/nope",
            request: None,
            status: 404,
            response: None,
            conditional: false,
            generic: true,
        });
        assert!(unknown[0].contains("no operation"));
    }
}

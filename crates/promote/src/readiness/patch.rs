//! Strategic-merge and JSON6902 patches on one object, as Kustomize applies them, as far
//! as ladder understands them. An `Err` says what was not understood (or failed); the
//! caller then treats the object as unknown.
//!
//! Strategic merge: mappings merge key by key, `null` deletes a key, `$patch: replace`
//! replaces a mapping or list, `$patch: delete` deletes a key or a list item. Lists merge
//! item by item on the Kubernetes merge keys of the fields that hold them in a pod spec
//! or Service (`containers`, `initContainers`, `ephemeralContainers`, `volumes`, `env`,
//! `imagePullSecrets` by `name`; `volumeMounts` by `mountPath`; `volumeDevices` by
//! `devicePath`; `ports` by `containerPort`, or `port` for a Service's;
//! `hostAliases` by `ip`; `topologySpreadConstraints` by `topologyKey`); any other list
//! is replaced. Other directives (`$setElementOrder`, `$retainKeys`,
//! `$deleteFromPrimitiveList`) are not understood.

use serde_json::{Map, Value};

pub(crate) fn strategic_merge(base: &mut Value, patch: &Value) -> Result<(), String> {
    merge(base, patch, "")
}

fn directive(value: &Value) -> Option<&str> {
    value.as_object()?.get("$patch")?.as_str()
}

fn merge(base: &mut Value, patch: &Value, field: &str) -> Result<(), String> {
    match patch {
        Value::Object(p) => {
            match directive(patch) {
                None | Some("merge") => {}
                Some("replace") => {
                    *base = clean(patch)?;
                    return Ok(());
                }
                Some(other) => return Err(format!("`$patch: {other}` here is not understood")),
            }
            if !base.is_object() {
                *base = clean(patch)?;
                return Ok(());
            }
            let b = base.as_object_mut().expect("checked");
            for (key, value) in p {
                if key == "$patch" {
                    continue;
                }
                if key.starts_with('$') {
                    return Err(format!("the directive `{key}` is not understood"));
                }
                if value.is_null() || directive(value) == Some("delete") {
                    b.remove(key);
                    continue;
                }
                match b.get_mut(key) {
                    Some(existing) => merge(existing, value, key)?,
                    None => {
                        b.insert(key.clone(), clean(value)?);
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            match (merge_key(field, items), base) {
                (Some(key), Value::Array(b)) => merge_list(b, items, field, key)?,
                (_, base) => *base = clean(patch)?,
            }
            Ok(())
        }
        _ => {
            *base = patch.clone();
            Ok(())
        }
    }
}

fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

fn merge_list(
    base: &mut Vec<Value>,
    items: &[Value],
    field: &str,
    key: &str,
) -> Result<(), String> {
    if items.iter().any(|i| directive(i) == Some("replace")) {
        *base = items
            .iter()
            .filter(|i| directive(i) != Some("replace"))
            .map(clean)
            .collect::<Result<_, _>>()?;
        return Ok(());
    }
    for item in items {
        let Some(wanted) = item.as_object().and_then(|o| o.get(key)) else {
            return Err(format!("an item of `{field}` without `{key}`"));
        };
        let position = base.iter().position(|b| b.get(key) == Some(wanted));
        match (directive(item), position) {
            (Some("delete"), Some(at)) => {
                base.remove(at);
            }
            (Some("delete"), None) => {}
            (_, Some(at)) => merge(&mut base[at], item, "")?,
            (_, None) => base.push(clean(item)?),
        }
    }
    Ok(())
}

/// A patch value inserted where there is nothing to merge with: directives and nulls
/// dropped.
fn clean(value: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                if key == "$patch" || v.is_null() {
                    continue;
                }
                if key.starts_with('$') {
                    return Err(format!("the directive `{key}` is not understood"));
                }
                out.insert(key.clone(), clean(v)?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| directive(i) != Some("delete"))
                .map(clean)
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Applies a JSON6902 patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
pub(crate) fn json6902(doc: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let field = |name: &str| op.get(name).and_then(Value::as_str);
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| "an operation without `value`".to_string())
        };
        let Some(name) = field("op") else {
            return Err("an operation without `op`".into());
        };
        let Some(path) = field("path") else {
            return Err(format!("a `{name}` without `path`"));
        };
        match name {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                let target = doc
                    .pointer_mut(path)
                    .ok_or_else(|| format!("replace: nothing at `{path}`"))?;
                *target = value()?;
            }
            "move" => {
                let from = field("from").ok_or("a `move` without `from`")?;
                let moved = remove(doc, from)?;
                add(doc, path, moved)?;
            }
            "copy" => {
                let from = field("from").ok_or("a `copy` without `from`")?;
                let copied = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("copy: nothing at `{from}`"))?;
                add(doc, path, copied)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("test: `{path}` differs"));
                }
            }
            other => return Err(format!("the operation `{other}` is not understood")),
        }
    }
    Ok(())
}

/// The parent's pointer and the last token, unescaped; `None` for the whole document.
fn split(path: &str) -> Result<Option<(&str, String)>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let Some(at) = path.rfind('/') else {
        return Err(format!("`{path}` is not a JSON pointer"));
    };
    let token = path[at + 1..].replace("~1", "/").replace("~0", "~");
    Ok(Some((&path[..at], token)))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let Some((parent, token)) = split(path)? else {
        *doc = value;
        return Ok(());
    };
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
        }
        Some(Value::Array(items)) => {
            if token == "-" {
                items.push(value);
            } else {
                match token.parse::<usize>() {
                    Ok(i) if i <= items.len() => items.insert(i, value),
                    _ => return Err(format!("add: no index `{token}` in `{parent}`")),
                }
            }
        }
        _ => return Err(format!("add: nothing at `{parent}`")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let Some((parent, token)) = split(path)? else {
        return Err("remove: the whole object".into());
    };
    let removed = match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&token),
        Some(Value::Array(items)) => match token.parse::<usize>() {
            Ok(i) if i < items.len() => Some(items.remove(i)),
            _ => None,
        },
        _ => None,
    };
    removed.ok_or_else(|| format!("remove: nothing at `{path}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_containers_by_name_and_deletes() {
        let mut base = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}},
            {"name": "b"}
        ]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": null}}},
            {"name": "b", "$patch": "delete"},
            {"name": "c"}
        ]}});
        strategic_merge(&mut base, &patch).unwrap();
        assert_eq!(
            base,
            json!({"spec": {"containers": [
                {"name": "a", "image": "x", "resources": {"limits": {}}},
                {"name": "c"}
            ]}})
        );
        assert!(strategic_merge(&mut base, &json!({"$setElementOrder/x": []})).is_err());
    }

    #[test]
    fn json_patch_operations() {
        let mut doc = json!({"a": {"b": [1, 2]}, "c": 1});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "replace", "path": "/c", "value": 2},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/a/e~1f"},
            {"op": "test", "path": "/c", "value": 2}
        ]);
        json6902(&mut doc, ops.as_array().unwrap()).unwrap();
        assert_eq!(doc, json!({"a": {"b": [2, 3], "e/f": 2}, "c": 2}));
        let bad = json!([{"op": "replace", "path": "/nope", "value": 1}]);
        assert!(json6902(&mut doc, bad.as_array().unwrap()).is_err());
    }
}

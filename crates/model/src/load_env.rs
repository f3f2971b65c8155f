//! `environments/<env>.yaml`, and the promotion graph between environments.

use std::collections::BTreeMap;

use crate::config::{Environment, Promotion, SyncMode};
use crate::decode::Decoder;
use crate::diag::{Problem, did_you_mean};
use crate::yaml::{Node, Value};

const KEYS: [&str; 6] = [
    "name",
    "cluster",
    "namespace",
    "sync",
    "syncWindows",
    "promotion",
];
const WINDOW_KEYS: [&str; 9] = [
    "kind",
    "schedule",
    "duration",
    "applications",
    "namespaces",
    "clusters",
    "manualSync",
    "timeZone",
    "description",
];
const NAMESPACE_PLACEHOLDERS: [&str; 4] = ["tenant", "env", "cluster", "app"];

pub(crate) fn environment(node: &Node, file_stem: &str, d: &mut Decoder) -> Option<Environment> {
    let fields = d.fields(node, "environment", &KEYS)?;
    let name = d
        .required(&fields, node, "name", "environment")
        .and_then(|n| {
            let name = d.dns_label(n, "name")?;
            if name != file_stem {
                d.problem(
                    n,
                    format!("`name` is `{name}` but the file is {file_stem}.yaml; they must match"),
                );
                return None;
            }
            Some(name)
        });
    let cluster = d
        .required(&fields, node, "cluster", "environment")
        .and_then(|n| d.dns_label(n, "cluster"));
    let namespace = match fields.get("namespace") {
        Some(n) => d.pattern(n, "namespace", &NAMESPACE_PLACEHOLDERS),
        None => Some("{app}".to_string()),
    };
    let sync = match fields.get("sync") {
        Some(n) => d.string(n, "sync").and_then(|s| match SyncMode::parse(&s) {
            Some(mode) => Some(mode),
            None => {
                let hint = did_you_mean(&s, &SyncMode::NAMES)
                    .map(|c| format!("did you mean `{c}`? "))
                    .unwrap_or_default();
                d.problem(
                    n,
                    format!(
                        "unknown sync policy `{s}`; {hint}known: {}",
                        SyncMode::NAMES.join(", ")
                    ),
                );
                None
            }
        }),
        None => Some(SyncMode::Manual),
    };
    let sync_windows = match fields.get("syncWindows") {
        Some(n) => sync_windows(n, d),
        None => Vec::new(),
    };
    let promotion = match fields.get("promotion") {
        Some(n) => promotion(n, d).map(Some),
        None => Some(None),
    };
    Some(Environment {
        name: name?,
        cluster: cluster?,
        namespace: namespace?,
        sync: sync?,
        sync_windows,
        promotion: promotion?,
        file: d.file.clone(),
    })
}

fn promotion(node: &Node, d: &mut Decoder) -> Option<Promotion> {
    let Value::Mapping(entries) = &node.value else {
        d.problem(
            node,
            format!("`promotion` must be a mapping, found {}", node.value.kind()),
        );
        return None;
    };
    let mut from = None;
    let mut settings = serde_json::Map::new();
    for (key, value) in entries {
        match key.as_str() {
            Some("from") => from = d.dns_label(value, "promotion.from").map(|f| (f, value)),
            Some(other) => {
                settings.insert(other.to_string(), value.to_json());
            }
            None => d.problem(key, "keys of `promotion` must be strings"),
        }
    }
    let Some((from, from_node)) = from else {
        if !entries.iter().any(|(k, _)| k.as_str() == Some("from")) {
            d.problem(
                node,
                "`promotion` needs `from`: the environment this one promotes from",
            );
        }
        return None;
    };
    Some(Promotion {
        from,
        from_at: from_node.position,
        settings,
    })
}

/// Checks each sync window against what Argo CD accepts at run time; keeps them verbatim.
fn sync_windows(node: &Node, d: &mut Decoder) -> Vec<serde_json::Value> {
    let Some(items) = d.sequence(node, "syncWindows") else {
        return Vec::new();
    };
    let mut windows = Vec::new();
    for item in items {
        let Some(f) = d.fields(item, "syncWindows[]", &WINDOW_KEYS) else {
            continue;
        };
        let before = d.problems.len();
        match f.get("kind").map(|n| (n, d.string(n, "kind"))) {
            Some((_, Some(k))) if k == "allow" || k == "deny" => {}
            Some((n, Some(k))) => d.problem(
                n,
                format!("sync window `kind` must be allow or deny, found `{k}`"),
            ),
            Some((_, None)) => {}
            None => d.problem(item, "a sync window needs `kind` (allow or deny)"),
        }
        match f.get("schedule").map(|n| (n, d.string(n, "schedule"))) {
            Some((n, Some(s))) => {
                if let Err(why) = check_cron(&s) {
                    d.problem(
                        n,
                        format!(
                            "sync window `schedule` `{s}` is not a 5-field cron expression: {why}"
                        ),
                    );
                }
            }
            Some((_, None)) => {}
            None => d.problem(
                item,
                "a sync window needs `schedule` (a 5-field cron expression)",
            ),
        }
        match f.get("duration").map(|n| (n, d.string(n, "duration"))) {
            Some((n, Some(s))) => {
                if !is_go_duration(&s) {
                    d.problem(
                        n,
                        format!("sync window `duration` `{s}` is not a duration such as 1h or 30m"),
                    );
                }
            }
            Some((_, None)) => {}
            None => d.problem(item, "a sync window needs `duration`, such as 1h"),
        }
        let mut scoped = false;
        for key in ["applications", "namespaces", "clusters"] {
            if let Some(n) = f.get(key) {
                scoped |= !d.string_list(n, key).is_empty();
            }
        }
        if !scoped {
            d.problem(
                item,
                "a sync window needs at least one of `applications`, `namespaces`, `clusters`",
            );
        }
        for key in ["manualSync"] {
            if let Some(n) = f.get(key) {
                d.bool(n, key);
            }
        }
        for key in ["timeZone", "description"] {
            if let Some(n) = f.get(key) {
                d.string(n, key);
            }
        }
        if d.problems.len() == before {
            windows.push(item.to_json());
        }
    }
    windows
}

fn check_cron(schedule: &str) -> Result<(), String> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("it has {} fields", fields.len()));
    }
    for field in fields {
        if !field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
        {
            return Err(format!("`{field}` has characters cron does not take"));
        }
    }
    Ok(())
}

/// Go's `time.ParseDuration` format: one or more `<number><unit>`.
fn is_go_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return false;
        }
        rest = &rest[number_len..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// Orders environments so each comes after the one it promotes from; reports unknown
/// `from` environments and cycles.
pub(crate) fn promotion_order(
    environments: Vec<Environment>,
    broken: &[String],
    problems: &mut Vec<Problem>,
) -> Vec<Environment> {
    let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let mut ok = true;
    for env in &environments {
        let Some(promotion) = &env.promotion else {
            continue;
        };
        if promotion.from == env.name {
            problems.push(Problem::at(
                &env.file,
                promotion.from_at,
                format!("environment `{}` promotes from itself", env.name),
            ));
            ok = false;
        } else if !names.contains(&promotion.from.as_str()) && !broken.contains(&promotion.from) {
            let hint = did_you_mean(&promotion.from, &names)
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            problems.push(Problem::at(
                &env.file,
                promotion.from_at,
                format!(
                    "`promotion.from` names unknown environment `{}`; {hint}environments: {}",
                    promotion.from,
                    names.join(", ")
                ),
            ));
            ok = false;
        }
    }
    if !ok {
        return environments;
    }

    // Kahn's algorithm over `from` edges, taking ready environments by name.
    let mut by_name: BTreeMap<String, Environment> = environments
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let mut ordered: Vec<Environment> = Vec::new();
    loop {
        let ready = by_name
            .iter()
            .find(|(_, e)| match &e.promotion {
                None => true,
                Some(p) => broken.contains(&p.from) || ordered.iter().any(|o| o.name == p.from),
            })
            .map(|(name, _)| name.clone());
        match ready {
            Some(name) => ordered.push(by_name.remove(&name).expect("present")),
            None => break,
        }
    }
    // What is left is either on a cycle or downstream of one; report those on it, with
    // the cycle spelt out.
    for env in by_name.values() {
        let mut path = vec![env.name.as_str()];
        let mut at = env;
        while let Some(next) = at.promotion.as_ref().and_then(|p| by_name.get(&p.from)) {
            path.push(&next.name);
            if next.name == env.name || path.len() > by_name.len() + 1 {
                break;
            }
            at = next;
        }
        if path.len() > 1 && path.last() == Some(&env.name.as_str()) {
            let promotion = env.promotion.as_ref().expect("on a cycle");
            problems.push(Problem::at(
                &env.file,
                promotion.from_at,
                format!(
                    "promotion cycle: {}; one environment of the cycle must have no `promotion.from`",
                    path.join(" -> ")
                ),
            ));
        }
    }
    ordered.extend(by_name.into_values());
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert!(is_go_duration("1h"));
        assert!(is_go_duration("1h30m"));
        assert!(is_go_duration("1.5h"));
        assert!(is_go_duration("250ms"));
        assert!(!is_go_duration("1 hour"));
        assert!(!is_go_duration("h"));
        assert!(!is_go_duration("10"));
    }

    #[test]
    fn cron() {
        assert!(check_cron("0 22 * * *").is_ok());
        assert!(check_cron("*/5 1-5 * * MON-FRI").is_ok());
        assert!(check_cron("0 22 * *").is_err());
        assert!(check_cron("0 22 * * $").is_err());
    }
}

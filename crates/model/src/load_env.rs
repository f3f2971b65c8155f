//! `environments/<env>.yaml`, and the promotion graph between environments.

use std::collections::BTreeMap;

use crate::config::{EnvPositions, Environment, Finalizer, Promotion, SyncMode};
use crate::decode::Decoder;
use crate::diag::{Problem, did_you_mean};
use crate::duration::parse_duration;
use crate::load::RESERVED_ENVIRONMENT_NAMES;
use crate::pattern::Pattern;
use crate::yaml::{Node, Scalar};

/// In the order docs/tenant-repo.md documents them.
const KEYS: [&str; 9] = [
    "name",
    "cluster",
    "namespace",
    "sync",
    "syncWindows",
    "promotion",
    "finalizer",
    "protected",
    "retire",
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

/// In the order docs/tenant-repo.md documents them.
const PROMOTION_KEYS: [&str; 9] = [
    "from",
    "mode",
    "soak",
    "frozen",
    "requireReadiness",
    "group",
    "labels",
    "reviewers",
    "backflow",
];

pub(crate) fn environment(node: &Node, file_stem: &str, d: &mut Decoder) -> Option<Environment> {
    let fields = d.fields(node, "environment", &KEYS)?;
    let name_node = fields.get("name");
    if RESERVED_ENVIRONMENT_NAMES.contains(&file_stem) {
        let message = format!(
            "`{file_stem}` cannot be an environment name: ladder's promotion branches are named ladder/{file_stem}/...; rename environments/{file_stem}.yaml and its `name`"
        );
        match name_node {
            Some(n) => d.problem(n, message),
            None => d.problems.push(Problem::in_file(&d.file, message)),
        }
        return None;
    }
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
        Some(n) => d.pattern(n, "namespace"),
        None => Some(Pattern::app_name()),
    };
    let sync = match fields.get("sync") {
        Some(n) => d.keyword::<SyncMode>(n, "sync"),
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
    let finalizer = match fields.get("finalizer") {
        Some(n) => d.keyword::<Finalizer>(n, "finalizer"),
        None => Some(Finalizer::default()),
    };
    let protected = match fields.get("protected") {
        Some(n) => d.bool(n, "protected"),
        None => Some(false),
    };
    let mut at = EnvPositions {
        namespace: fields.get("namespace").map(|n| n.position),
        retire: Vec::new(),
    };
    let mut retire = Vec::new();
    let mut retire_ok = true;
    if let Some(n) = fields.get("retire") {
        let before = d.problems.len();
        for (app, item) in d.string_list(n, "retire") {
            if let Err(why) = crate::names::check_dns_label(&app) {
                d.problem(
                    item,
                    format!("`retire` entry `{app}` is not an app name (a DNS-1123 label): {why}"),
                );
                continue;
            }
            retire.push(app);
            at.retire.push(item.position);
        }
        retire_ok = d.problems.len() == before;
    }
    Some(Environment {
        name: name?,
        cluster: cluster?,
        namespace: namespace?,
        sync: sync?,
        sync_windows,
        promotion: promotion?,
        finalizer: finalizer?,
        protected: protected?,
        retire: retire_ok.then_some(retire)?,
        file: d.file.clone(),
        at,
    })
}

/// `promotion:`: every key typed, every problem reported; `from` is required, since
/// every other setting is about promoting from it.
fn promotion(node: &Node, d: &mut Decoder) -> Option<Promotion> {
    let before = d.problems.len();
    let f = d.fields(node, "promotion", &PROMOTION_KEYS)?;
    let from_node = d.required(&f, node, "from", "promotion");
    let from = from_node.and_then(|n| d.dns_label(n, "promotion.from"));
    let mut promotion = Promotion::new(from.clone().unwrap_or_default());
    if let Some(n) = from_node {
        promotion.from_at = n.position;
    }
    if let Some(n) = f.get("mode") {
        promotion.mode = d.keyword(n, "promotion.mode").unwrap_or(promotion.mode);
    }
    if let Some(n) = f.get("soak")
        && let Some(soak) = duration(n, "promotion.soak", "30m, 24h or 1h30m", d)
    {
        promotion.soak = soak;
    }
    if let Some(n) = f.get("group") {
        promotion.group = d.keyword(n, "promotion.group").unwrap_or(promotion.group);
    }
    for (key, flag) in [
        ("frozen", &mut promotion.frozen),
        ("requireReadiness", &mut promotion.require_readiness),
        ("backflow", &mut promotion.backflow),
    ] {
        if let Some(n) = f.get(key) {
            *flag = d.bool(n, &format!("promotion.{key}")).unwrap_or(*flag);
        }
    }
    for (key, list) in [
        ("labels", &mut promotion.labels),
        ("reviewers", &mut promotion.reviewers),
    ] {
        if let Some(n) = f.get(key) {
            *list = d
                .string_list(n, &format!("promotion.{key}"))
                .into_iter()
                .map(|(s, _)| s)
                .collect();
        }
    }
    // A promotion with a problem is not kept: half a setting is worse than none.
    (from.is_some() && d.problems.len() == before).then_some(promotion)
}

/// A duration written as text, such as `24h`; `examples` says what one looks like.
fn duration(
    node: &Node,
    what: &str,
    examples: &str,
    d: &mut Decoder,
) -> Option<std::time::Duration> {
    if let Some(Scalar::Int(_) | Scalar::Float(_)) = node.scalar() {
        d.problem(
            node,
            format!(
                "`{what}` `{}` has no unit; write a duration such as {examples}",
                node.written_text()
            ),
        );
        return None;
    }
    let text = d.string(node, what)?;
    match parse_duration(&text) {
        Ok(duration) => Some(duration),
        Err(why) => {
            d.problem(
                node,
                format!("`{what}` `{text}` is not a duration such as {examples}: {why}"),
            );
            None
        }
    }
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
        match f.get("duration") {
            Some(n) => {
                duration(n, "syncWindows[].duration", "1h or 30m", d);
            }
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
    fn cron() {
        assert!(check_cron("0 22 * * *").is_ok());
        assert!(check_cron("*/5 1-5 * * MON-FRI").is_ok());
        assert!(check_cron("0 22 * *").is_err());
        assert!(check_cron("0 22 * * $").is_err());
    }
}

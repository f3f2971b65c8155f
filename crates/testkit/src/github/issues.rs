//! The issue side of pull requests (comments, labels) and what CI reports on commits
//! (statuses, check runs).

use serde_json::{Value, json};

use super::auth;
use super::json as gh;
use super::routes::{Call, Params, Reply, paginate};
use super::state::{Comment, Label, State, now};

/// The pull request an issue number names: this fake has no plain issues.
fn issue(st: &State, p: &Params) -> Option<u64> {
    let n = p.number("issue_number")?;
    st.repo(&p.repo)
        .pulls
        .iter()
        .any(|pr| pr.number == n)
        .then_some(n)
}

pub(crate) fn list_comments(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = issue(st, p) else {
        return Reply::not_found();
    };
    let comments: Vec<Comment> = gh::find_pull(st.repo(&p.repo), n)
        .comments
        .iter()
        .map(|c| Comment {
            id: c.id,
            user: c.user.clone(),
            body: c.body.clone(),
            created: c.created,
        })
        .collect();
    let items = comments
        .iter()
        .map(|c| gh::comment(st, &p.repo_full(st), n, c))
        .collect();
    paginate(st, call, items)
}

pub(crate) fn create_comment(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = issue(st, p) else {
        return Reply::not_found();
    };
    let Some(body) = call.str("body") else {
        return Reply::invalid(
            json!([{"resource": "IssueComment", "field": "body", "code": "missing_field"}]),
        );
    };
    let login = call
        .actor
        .as_ref()
        .map(|a| auth::login(st, a))
        .unwrap_or_default();
    let comment = Comment {
        id: st.next_id(),
        user: login,
        body: body.to_string(),
        created: now(),
    };
    let json = gh::comment(st, &p.repo_full(st), n, &comment);
    let pr = st
        .repo_mut(&p.repo)
        .pulls
        .iter_mut()
        .find(|pr| pr.number == n)
        .unwrap();
    pr.comments.push(comment);
    pr.updated = now();
    Reply::json(201, json)
}

fn labels_of(st: &State, p: &Params, n: u64) -> Value {
    let repo = st.repo(&p.repo);
    let full = repo.full_name();
    Value::Array(
        gh::find_pull(repo, n)
            .labels
            .iter()
            .filter_map(|name| repo.labels.iter().find(|l| &l.name == name))
            .map(|l| gh::label(st, &full, l))
            .collect(),
    )
}

pub(crate) fn add_labels(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = issue(st, p) else {
        return Reply::not_found();
    };
    // `{"labels": [...]}`, or the bare array GitHub also accepts.
    let names: Vec<String> = call
        .body
        .get("labels")
        .unwrap_or(call.body)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().or_else(|| v.get("name")?.as_str()))
        .map(str::to_string)
        .collect();
    for name in names {
        // Adding a label the repo lacks creates it, as on GitHub.
        if !st.repo(&p.repo).labels.iter().any(|l| l.name == name) {
            let id = st.next_id();
            st.repo_mut(&p.repo).labels.push(Label {
                id,
                name: name.clone(),
                color: "ededed".into(),
                description: None,
            });
        }
        let pr = st
            .repo_mut(&p.repo)
            .pulls
            .iter_mut()
            .find(|pr| pr.number == n)
            .unwrap();
        if !pr.labels.contains(&name) {
            pr.labels.push(name);
            pr.updated = now();
        }
    }
    Reply::json(200, labels_of(st, p, n))
}

pub(crate) fn remove_label(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = issue(st, p) else {
        return Reply::not_found();
    };
    let name = p.get("name").to_string();
    let pr = st
        .repo_mut(&p.repo)
        .pulls
        .iter_mut()
        .find(|pr| pr.number == n)
        .unwrap();
    let before = pr.labels.len();
    pr.labels.retain(|l| *l != name);
    if pr.labels.len() == before {
        return Reply::error(404, "Label does not exist");
    }
    pr.updated = now();
    Reply::json(200, labels_of(st, p, n))
}

pub(crate) fn get_label(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let repo = st.repo(&p.repo);
    match repo
        .labels
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(p.get("name")))
    {
        Some(l) => Reply::json(200, gh::label(st, &repo.full_name(), l)),
        None => Reply::not_found(),
    }
}

pub(crate) fn create_label(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(name) = call.str("name") else {
        return Reply::invalid(
            json!([{"resource": "Label", "field": "name", "code": "missing_field"}]),
        );
    };
    if st
        .repo(&p.repo)
        .labels
        .iter()
        .any(|l| l.name.eq_ignore_ascii_case(name))
    {
        return Reply::invalid(
            json!([{"resource": "Label", "code": "already_exists", "field": "name"}]),
        );
    }
    let label = Label {
        id: st.next_id(),
        name: name.to_string(),
        color: call
            .str("color")
            .unwrap_or("ededed")
            .trim_start_matches('#')
            .to_string(),
        description: call.str("description").map(str::to_string),
    };
    let json = gh::label(st, &p.repo_full(st), &label);
    st.repo_mut(&p.repo).labels.push(label);
    Reply::json(201, json)
}

pub(crate) fn combined_status(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let repo = st.repo(&p.repo);
    let Some(sha) = repo.bare.resolve_commit(p.get("ref")) else {
        return Reply::error(404, &format!("No commit found for SHA: {}", p.get("ref")));
    };
    let full = repo.full_name();
    // The latest status of each context counts.
    let mut latest: Vec<&super::state::Status> = Vec::new();
    for s in repo.statuses.iter().rev().filter(|s| s.sha == sha) {
        if !latest.iter().any(|l| l.context == s.context) {
            latest.push(s);
        }
    }
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let statuses: Vec<Value> = latest.iter().map(|s| gh::status(st, &full, s)).collect();
    let total = statuses.len();
    let repo_json = gh::repo(st, &p.repo);
    let api = format!("{}/repos/{full}", st.api());
    Reply::json(
        200,
        json!({
            "state": state,
            "statuses": statuses,
            "sha": sha,
            "total_count": total,
            "repository": repo_json,
            "commit_url": format!("{api}/commits/{sha}"),
            "url": format!("{api}/commits/{sha}/status"),
        }),
    )
}

pub(crate) fn check_runs(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let repo = st.repo(&p.repo);
    let Some(sha) = repo.bare.resolve_commit(p.get("ref")) else {
        return Reply::generic(404, "Not Found");
    };
    let full = repo.full_name();
    let mut latest: Vec<&super::state::CheckRun> = Vec::new();
    for c in repo.check_runs.iter().rev().filter(|c| c.sha == sha) {
        let wanted = call.query("check_name").is_none_or(|n| n == c.name)
            && call.query("status").is_none_or(|s| s == c.status);
        if wanted && !latest.iter().any(|l| l.name == c.name) {
            latest.push(c);
        }
    }
    let runs: Vec<Value> = latest.iter().map(|c| gh::check_run(st, &full, c)).collect();
    Reply::json(200, json!({"total_count": runs.len(), "check_runs": runs}))
}

impl Params {
    /// The repo's full name as its owner spelt it.
    pub(crate) fn repo_full(&self, st: &State) -> String {
        st.repo(&self.repo).full_name()
    }
}

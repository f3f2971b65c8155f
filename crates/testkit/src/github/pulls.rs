//! Pull requests: listing, opening, editing, merging (for real, in the bare repo) and
//! review requests.

use serde_json::{Value, json};

use super::auth;
use super::git::Ident;
use super::json as gh;
use super::routes::{Call, Params, Reply, paginate};
use super::state::{Pull, State, now};

pub(crate) fn list(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    st.refresh_pulls(&p.repo);
    let repo = st.repo(&p.repo);
    let state = call.query("state").unwrap_or("open");
    let head = call.query("head").map(|h| {
        // `owner:branch`; GitHub reads a bare `branch` as the repo owner's.
        match h.split_once(':') {
            Some((owner, branch)) => (owner.to_ascii_lowercase(), branch.to_string()),
            None => (repo.owner.to_ascii_lowercase(), h.to_string()),
        }
    });
    let base = call.query("base");
    let sort = call.query("sort").unwrap_or("created");
    let desc = match call.query("direction") {
        Some(d) => d == "desc",
        None => sort == "created",
    };
    let mut chosen: Vec<&Pull> = repo
        .pulls
        .iter()
        .filter(|pr| match state {
            "closed" => !pr.open,
            "all" => true,
            _ => pr.open,
        })
        .filter(|pr| {
            head.as_ref().is_none_or(|(owner, branch)| {
                *owner == repo.owner.to_ascii_lowercase() && pr.head_ref == *branch
            })
        })
        .filter(|pr| base.is_none_or(|b| pr.base_ref == b))
        .collect();
    chosen.sort_by_key(|pr| {
        let t = if sort == "updated" {
            pr.updated
        } else {
            pr.created
        };
        (t, pr.number)
    });
    if desc {
        chosen.reverse();
    }
    let numbers: Vec<u64> = chosen.iter().map(|pr| pr.number).collect();
    let items = numbers
        .into_iter()
        .map(|n| gh::pull(st, &p.repo, n, false))
        .collect();
    paginate(st, call, items)
}

fn pull_number(st: &State, p: &Params) -> Option<u64> {
    let n = p.number("pull_number")?;
    st.repo(&p.repo)
        .pulls
        .iter()
        .any(|pr| pr.number == n)
        .then_some(n)
}

pub(crate) fn get(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = pull_number(st, p) else {
        return Reply::not_found();
    };
    st.refresh_pull(&p.repo, n);
    let repo = st.repo_mut(&p.repo);
    let bare = repo.bare.clone();
    let pull = repo.pulls.iter_mut().find(|pr| pr.number == n).unwrap();
    if pull.open {
        if pull.mergeable_wait > 0 {
            pull.mergeable_wait -= 1;
        } else if pull.mergeable.is_none() {
            pull.mergeable = Some(matches!(
                bare.merge_tree(&pull.base_sha, &pull.head_sha, None),
                Ok(Some(_))
            ));
        }
    }
    Reply::json(200, gh::pull(st, &p.repo, n, true))
}

pub(crate) fn create(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let (Some(title), Some(head), Some(base)) =
        (call.str("title"), call.str("head"), call.str("base"))
    else {
        return Reply::invalid(json!([{"resource": "PullRequest", "code": "missing_field",
            "field": if call.str("title").is_none() { "title" } else if call.str("head").is_none() { "head" } else { "base" }}]));
    };
    let repo = st.repo(&p.repo);
    let owner = repo.owner.clone();
    let branch = match head.split_once(':') {
        Some((o, b)) if o.eq_ignore_ascii_case(&owner) => b.to_string(),
        Some(_) => {
            return Reply::invalid(
                json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
            );
        }
        None => head.to_string(),
    };
    let Some(head_sha) = repo.bare.branch(&branch) else {
        return Reply::invalid(
            json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
        );
    };
    let Some(base_sha) = repo.bare.branch(base) else {
        return Reply::invalid(
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
        );
    };
    if repo.pulls.iter().any(|pr| pr.open && pr.head_ref == branch) {
        return Reply::invalid(json!([{"resource": "PullRequest", "code": "custom",
            "message": format!("A pull request already exists for {owner}:{branch}.")}]));
    }
    if repo.bare.commits_between(&base_sha, &head_sha).is_empty()
        && repo.bare.is_ancestor(&head_sha, &base_sha)
    {
        return Reply::invalid(json!([{"resource": "PullRequest", "code": "custom",
            "message": format!("No commits between {base} and {branch}")}]));
    }
    let login = call
        .actor
        .as_ref()
        .map(|a| auth::login(st, a))
        .unwrap_or_default();
    let id = st.next_id();
    let delay = st.mergeable_delay;
    let repo = st.repo_mut(&p.repo);
    let number = repo.pulls.iter().map(|pr| pr.number).max().unwrap_or(0) + 1;
    let t = now();
    repo.pulls.push(Pull {
        number,
        id,
        user: login,
        title: title.to_string(),
        body: call.str("body").map(str::to_string),
        open: true,
        merged: false,
        merged_at: None,
        merged_by: None,
        merge_commit_sha: None,
        head_ref: branch,
        head_sha,
        base_ref: base.to_string(),
        base_sha,
        labels: Vec::new(),
        requested_reviewers: Vec::new(),
        comments: Vec::new(),
        created: t,
        updated: t,
        closed_at: None,
        mergeable_wait: delay,
        mergeable: None,
        draft: call
            .body
            .get("draft")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        mergeable_state: None,
    });
    let mut reply = Reply::json(201, gh::pull(st, &p.repo, number, true));
    let url = reply.body.as_ref().unwrap()["url"]
        .as_str()
        .unwrap_or("")
        .to_string();
    reply.headers.push(("location".into(), url));
    reply
}

pub(crate) fn update(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = pull_number(st, p) else {
        return Reply::not_found();
    };
    st.refresh_pull(&p.repo, n);
    let delay = st.mergeable_delay;
    let repo = st.repo_mut(&p.repo);
    let bare = repo.bare.clone();
    let (head_ref, was_open) = {
        let pr = repo.pulls.iter().find(|pr| pr.number == n).unwrap();
        (pr.head_ref.clone(), pr.open)
    };
    let reopen = call.str("state") == Some("open") && !was_open;
    if reopen {
        let merged = repo.pulls.iter().any(|pr| pr.number == n && pr.merged);
        let duplicate = repo
            .pulls
            .iter()
            .any(|pr| pr.open && pr.head_ref == head_ref);
        if merged || duplicate || bare.branch(&head_ref).is_none() {
            return Reply::invalid(
                json!([{"resource": "PullRequest", "code": "custom", "field": "state",
                "message": "state cannot be changed. The head branch cannot be reopened."}]),
            );
        }
    }
    if let Some(base) = call.str("base")
        && bare.branch(base).is_none()
    {
        return Reply::invalid(
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
        );
    }
    let pr = repo.pulls.iter_mut().find(|pr| pr.number == n).unwrap();
    if let Some(title) = call.str("title") {
        pr.title = title.to_string();
    }
    if call.body.get("body").is_some() {
        pr.body = call.str("body").map(str::to_string);
    }
    if let Some(base) = call.str("base") {
        pr.base_ref = base.to_string();
    }
    match call.str("state") {
        Some("closed") if pr.open => {
            pr.open = false;
            pr.closed_at = Some(now());
        }
        Some("open") if reopen => {
            pr.open = true;
            pr.closed_at = None;
            pr.mergeable_wait = delay;
            pr.mergeable = None;
        }
        _ => {}
    }
    pr.updated = now();
    st.refresh_pull(&p.repo, n);
    Reply::json(200, gh::pull(st, &p.repo, n, true))
}

pub(crate) fn merge(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = pull_number(st, p) else {
        return Reply::not_found();
    };
    let method = call.str("merge_method").unwrap_or("merge");
    if !["merge", "squash", "rebase"].contains(&method) {
        return Reply::invalid(
            json!([{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}]),
        );
    }
    let login = call
        .actor
        .as_ref()
        .map(|a| auth::login(st, a))
        .unwrap_or_default();
    // Branch protection, conflicts and drafts refuse an API merge.
    let refused = st
        .repo(&p.repo)
        .pulls
        .iter()
        .find(|pr| pr.number == n)
        .and_then(|pr| pr.mergeable_state.as_deref())
        .is_some_and(|s| matches!(s, "blocked" | "dirty" | "draft"));
    if refused {
        return Reply::error(405, "Pull Request is not mergeable");
    }
    let options = MergeOptions {
        method,
        sha: call.str("sha"),
        title: call.str("commit_title"),
        message: call.str("commit_message"),
    };
    match merge_pull(st, &p.repo, n, &login, &options) {
        Ok(sha) => Reply::json(
            200,
            json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
        ),
        Err(reply) => reply,
    }
}

pub(crate) struct MergeOptions<'a> {
    pub method: &'a str,
    pub sha: Option<&'a str>,
    pub title: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// Merges pull request `n` as GitHub does: a real commit on the base branch, moved with
/// compare-and-swap so a concurrent push is never lost. Its sha, or GitHub's refusal.
pub(crate) fn merge_pull(
    st: &mut State,
    repo_key: &str,
    n: u64,
    login: &str,
    options: &MergeOptions<'_>,
) -> Result<String, Reply> {
    st.refresh_pull(repo_key, n);
    let repo = st.repo(repo_key);
    let owner = repo.owner.clone();
    let bare = repo.bare.clone();
    let pr = gh::find_pull(repo, n);
    if !pr.open {
        return Err(Reply::error(405, "Pull Request is not mergeable"));
    }
    if options.sha.is_some_and(|s| s != pr.head_sha) {
        return Err(Reply::error(
            409,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let (base, head) = (pr.base_sha.clone(), pr.head_sha.clone());
    let Ok(Some(tree)) = bare.merge_tree(&base, &head, None) else {
        return Err(Reply::error(405, "Pull Request is not mergeable"));
    };
    let author = Ident::new(login, &format!("{login}@users.noreply.github.com"));
    let github = Ident::github();
    let title = options.title.map(str::to_string);
    let new = match options.method {
        "squash" => {
            let message = format!(
                "{}\n\n{}",
                title.unwrap_or_else(|| format!("{} (#{n})", pr.title)),
                options.message.unwrap_or("")
            );
            bare.commit_tree(
                &tree,
                std::slice::from_ref(&base),
                message.trim_end(),
                &author,
                &github,
            )
        }
        "rebase" => {
            let mut tip = base.clone();
            for commit in bare.commits_between(&base, &head) {
                let info = bare
                    .commit(&commit)
                    .ok_or_else(|| Reply::error(500, "lost commit"))?;
                let parent = info.parents.first().cloned().unwrap_or_default();
                let Ok(Some(tree)) = bare.merge_tree(&tip, &commit, Some(&parent)) else {
                    return Err(Reply::error(405, "Pull Request is not mergeable"));
                };
                let original = Ident {
                    name: info.author.0,
                    email: info.author.1,
                    date: Some(format!("@{} +0000", info.author.2)),
                };
                tip = bare
                    .commit_tree(&tree, &[tip], &info.message, &original, &github)
                    .map_err(|e| Reply::error(500, &e))?;
            }
            Ok(tip)
        }
        _ => {
            let message = format!(
                "{}\n\n{}",
                title.unwrap_or_else(|| format!(
                    "Merge pull request #{n} from {owner}/{}",
                    pr.head_ref
                )),
                options.message.unwrap_or(&pr.title)
            );
            bare.commit_tree(
                &tree,
                &[base.clone(), head],
                message.trim_end(),
                &author,
                &github,
            )
        }
    }
    .map_err(|e| Reply::error(500, &e))?;
    let base_ref = format!("refs/heads/{}", pr.base_ref);
    if bare.update_ref(&base_ref, &new, Some(&base)).is_err() {
        return Err(Reply::error(
            409,
            "Base branch was modified. Review and try the merge again.",
        ));
    }
    let repo = st.repo_mut(repo_key);
    let pr = repo.pulls.iter_mut().find(|pr| pr.number == n).unwrap();
    let t = now();
    pr.open = false;
    pr.merged = true;
    pr.merged_at = Some(t);
    pr.closed_at = Some(t);
    pr.updated = t;
    pr.merged_by = Some(login.to_string());
    pr.merge_commit_sha = Some(new.clone());
    pr.base_sha = new.clone();
    // Other pull requests onto this base now see a new base tip.
    st.refresh_pulls(repo_key);
    Ok(new)
}

pub(crate) fn request_reviewers(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(n) = pull_number(st, p) else {
        return Reply::not_found();
    };
    let reviewers: Vec<String> = call
        .body
        .get("reviewers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let repo = st.repo_mut(&p.repo);
    let full = repo.full_name();
    let strangers = reviewers
        .iter()
        .any(|r| !repo.collaborators.contains(&r.to_ascii_lowercase()));
    if strangers {
        return Reply::json(
            422,
            json!({
                "message": format!("Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {full} repository."),
                "documentation_url": "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request",
                "status": "422",
            }),
        );
    }
    let pr = repo.pulls.iter_mut().find(|pr| pr.number == n).unwrap();
    for r in reviewers {
        if !pr.requested_reviewers.contains(&r) {
            pr.requested_reviewers.push(r);
        }
    }
    Reply::json(201, gh::pull(st, &p.repo, n, false))
}

//! The fake's objects as GitHub's JSON: every field GitHub's description requires, with
//! URLs that point back at the fake.

use serde_json::{Value, json};

use super::state::{CheckRun, Comment, Label, Pull, Repo, State, Status, iso};

/// A login in a URL path: `app[bot]` has brackets, which URLs must escape.
fn escape(login: &str) -> String {
    login.replace('[', "%5B").replace(']', "%5D")
}

pub(crate) fn user(st: &mut State, login: &str) -> Value {
    let id = st.user_id(login);
    let api = st.api();
    let u = format!("{api}/users/{}", escape(login));
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_{id}"),
        "avatar_url": format!("{}/avatars/u/{id}", st.base),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("{}/{}", st.base, escape(login)),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind,
        "site_admin": false,
        "user_view_type": "public",
    })
}

/// A repository, with every field of `full-repository` (a superset of `repository`).
pub(crate) fn repo(st: &mut State, full_name: &str) -> Value {
    let owner_login = st.repo(full_name).owner.clone();
    let owner = user(st, &owner_login);
    let r = st.repo(full_name);
    let full = r.full_name();
    let api = format!("{}/repos/{full}", st.api());
    let open = r.pulls.iter().filter(|p| p.open).count();
    let html = format!("{}/{full}", st.base);
    let host = st.base.trim_start_matches("http://");
    let mut v = json!({
        "id": r.id,
        "node_id": format!("R_{}", r.id),
        "name": r.name,
        "full_name": full,
        "owner": owner,
        "private": true,
        "visibility": "private",
        "html_url": html,
        "description": null,
        "fork": false,
        "url": api,
    });
    // Two literals: one would exceed json!'s macro recursion limit.
    let rest = json!({
        "clone_url": format!("{html}.git"),
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "svn_url": html,
        "mirror_url": null,
        "homepage": null,
        "language": null,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "size": 0,
        "default_branch": r.default_branch,
        "open_issues": open,
        "open_issues_count": open,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": false,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": false,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "pushed_at": iso(r.created),
        "created_at": iso(r.created),
        "updated_at": iso(r.created),
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
        "allow_merge_commit": true,
        "allow_squash_merge": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "license": null,
        "network_count": 0,
        "subscribers_count": 0,
        "web_commit_signoff_required": false,
    });
    for (k, val) in rest.as_object().unwrap() {
        v[k] = val.clone();
    }
    for (k, suffix) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        v[k] = json!(format!("{api}{suffix}"));
    }
    v
}

pub(crate) fn label(st: &State, full_name: &str, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": format!("LA_{}", l.id),
        "url": format!("{}/repos/{full_name}/labels/{}", st.api(), escape_path(&l.name)),
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "default": false,
    })
}

/// A label name in a URL path (names may hold spaces and slashes).
pub(crate) fn escape_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn link(href: String) -> Value {
    json!({ "href": href })
}

/// A pull request: the `pull-request-simple` of listings, or with `full` the
/// `pull-request` of `GET /pulls/{n}` (mergeability, counts, `merged`).
pub(crate) fn pull(st: &mut State, full_name: &str, number: u64, full: bool) -> Value {
    let repo_json = repo(st, full_name);
    let owner_login = st.repo(full_name).owner.clone();
    let owner = user(st, &owner_login);
    let (author_login, reviewer_logins, merged_by_login) = {
        let p = find_pull(st.repo(full_name), number);
        (
            p.user.clone(),
            p.requested_reviewers.clone(),
            p.merged_by.clone(),
        )
    };
    let author = user(st, &author_login);
    let reviewers: Vec<Value> = reviewer_logins.iter().map(|l| user(st, l)).collect();
    let merged_by = merged_by_login.map(|l| user(st, &l));
    let r = st.repo(full_name);
    let p = find_pull(r, number);
    let labels: Vec<Value> = p
        .labels
        .iter()
        .filter_map(|name| r.labels.iter().find(|l| &l.name == name))
        .map(|l| label(st, full_name, l))
        .collect();
    let full_name = r.full_name();
    let api = format!("{}/repos/{full_name}", st.api());
    let url = format!("{api}/pulls/{number}");
    let html = format!("{}/{full_name}/pull/{number}", st.base);
    let issue = format!("{api}/issues/{number}");
    let head_label = format!("{}:{}", r.owner, p.head_ref);
    let state = if p.open { "open" } else { "closed" };
    let head = json!({
        "label": head_label,
        "ref": p.head_ref,
        "sha": p.head_sha,
        "user": owner.clone(),
        "repo": repo_json.clone(),
    });
    let base = json!({
        "label": format!("{}:{}", r.owner, p.base_ref),
        "ref": p.base_ref,
        "sha": p.base_sha,
        "user": owner,
        "repo": repo_json,
    });
    let links = json!({
        "self": link(url.clone()),
        "html": link(html.clone()),
        "issue": link(issue.clone()),
        "comments": link(format!("{issue}/comments")),
        "review_comments": link(format!("{url}/comments")),
        "review_comment": link(format!("{api}/pulls/comments{{/number}}")),
        "commits": link(format!("{url}/commits")),
        "statuses": link(format!("{api}/statuses/{}", p.head_sha)),
    });
    let mut v = json!({
        "url": url,
        "id": p.id,
        "node_id": format!("PR_{}", p.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue}/comments"),
        "statuses_url": format!("{api}/statuses/{}", p.head_sha),
        "number": number,
        "state": state,
        "locked": false,
        "title": p.title,
        "user": author,
        "body": p.body,
        "labels": labels,
        "milestone": null,
        "active_lock_reason": null,
        "created_at": iso(p.created),
        "updated_at": iso(p.updated),
        "closed_at": p.closed_at.map(iso),
        "merged_at": p.merged_at.map(iso),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": reviewers,
        "requested_teams": [],
        "head": head,
        "base": base,
        "_links": links,
        "author_association": "COLLABORATOR",
        "auto_merge": null,
        "draft": p.draft,
    });
    if full {
        let commits = r.bare.commits_between(&p.base_sha, &p.head_sha).len();
        let mergeable_state = match (p.open, p.mergeable, p.mergeable_state.as_deref()) {
            (false, _, _) | (true, None, _) => "unknown",
            (true, Some(_), Some(set)) => set,
            (true, Some(true), None) => "clean",
            (true, Some(false), None) => "dirty",
        };
        // A state a test set says whether it merges: only a conflict does not.
        let mergeable = match (p.mergeable, p.mergeable_state.as_deref()) {
            (Some(_), Some(set)) => Some(set != "dirty"),
            (m, _) => m,
        };
        let extra = json!({
            "merged": p.merged,
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": mergeable_state,
            "merged_by": merged_by,
            "comments": p.comments.len(),
            "review_comments": 0,
            "maintainer_can_modify": false,
            "commits": commits,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
    }
    v
}

pub(crate) fn find_pull(r: &Repo, number: u64) -> &Pull {
    r.pulls.iter().find(|p| p.number == number).unwrap()
}

pub(crate) fn comment(st: &mut State, full_name: &str, number: u64, c: &Comment) -> Value {
    let author = user(st, &c.user);
    let api = format!("{}/repos/{full_name}", st.api());
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("{api}/issues/comments/{}", c.id),
        "html_url": format!("{}/{full_name}/pull/{number}#issuecomment-{}", st.base, c.id),
        "body": c.body,
        "user": author,
        "created_at": iso(c.created),
        "updated_at": iso(c.created),
        "issue_url": format!("{api}/issues/{number}"),
        "author_association": "COLLABORATOR",
    })
}

pub(crate) fn status(st: &State, full_name: &str, s: &Status) -> Value {
    json!({
        "id": s.id,
        "node_id": format!("SC_{}", s.id),
        "url": format!("{}/repos/{full_name}/statuses/{}", st.api(), s.sha),
        "avatar_url": null,
        "state": s.state,
        "description": null,
        "target_url": null,
        "context": s.context,
        "created_at": iso(s.created),
        "updated_at": iso(s.created),
    })
}

pub(crate) fn check_run(st: &State, full_name: &str, c: &CheckRun) -> Value {
    let api = format!("{}/repos/{full_name}", st.api());
    let completed = c.status == "completed";
    json!({
        "id": c.id,
        "node_id": format!("CR_{}", c.id),
        "head_sha": c.sha,
        "external_id": null,
        "url": format!("{api}/check-runs/{}", c.id),
        "html_url": format!("{}/{full_name}/runs/{}", st.base, c.id),
        "details_url": null,
        "status": c.status,
        "conclusion": c.conclusion,
        "started_at": iso(c.created),
        "completed_at": if completed { Value::String(iso(c.created)) } else { Value::Null },
        "output": {
            "title": null,
            "summary": null,
            "text": null,
            "annotations_count": 0,
            "annotations_url": format!("{api}/check-runs/{}/annotations", c.id),
        },
        "name": c.name,
        "check_suite": {"id": c.id},
        "app": null,
        "pull_requests": [],
    })
}

/// A basic error body, as GitHub sends with most 4xx and 5xx answers.
pub(crate) fn error(status: u16, message: &str) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string(),
    })
}

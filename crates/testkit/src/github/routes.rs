//! Routing an API request to its endpoint, after authentication and access checks, and
//! the endpoints that are neither pulls, issues nor Git data: the rate limit, repos, Apps.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::auth::{self, Actor};
use super::state::{RATE_LIMIT, State, Token, iso, now};
use super::{gitdata, issues, json as gh, pulls};

/// An endpoint's answer.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Answered the same way by any operation (see `openapi`): its status need not be
    /// documented per operation.
    pub generic: bool,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            generic: false,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
            generic: false,
        }
    }

    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, gh::error(status, message))
    }

    /// An answer any operation may give: bad credentials, a repo out of reach, ...
    pub fn generic(status: u16, message: &str) -> Reply {
        Reply {
            generic: true,
            ..Reply::error(status, message)
        }
    }

    /// 422 Validation Failed with GitHub's `errors` array.
    pub fn invalid(errors: Value) -> Reply {
        Reply::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": "https://docs.github.com/rest",
                "status": "422",
            }),
        )
    }

    pub fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }
}

/// One API request, parsed.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    /// Without the `/api/v3` prefix.
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub body: &'a Value,
    pub actor: Option<Actor>,
}

impl Call<'_> {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str)
    }
}

/// Path parameters, and the repo the request is about (its lower-case key), once it is
/// known to exist and be visible to the caller.
pub(crate) struct Params {
    values: HashMap<String, String>,
    pub repo: String,
}

impl Params {
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name).parse().ok()
    }
}

type Handler = fn(&mut State, &Call<'_>, &Params) -> Reply;

/// Who may call an endpoint.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    Anyone,
    /// A user or installation token.
    Token,
    /// An App's JWT.
    Jwt,
}

const ROUTES: &[(&str, &str, Needs, Handler)] = &[
    ("GET", "/rate_limit", Needs::Anyone, rate_limit),
    ("GET", "/repos/{owner}/{repo}", Needs::Token, get_repo),
    (
        "GET",
        "/repos/{owner}/{repo}/installation",
        Needs::Jwt,
        repo_installation,
    ),
    (
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        Needs::Jwt,
        access_token,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls",
        Needs::Token,
        pulls::list,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls",
        Needs::Token,
        pulls::create,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        Needs::Token,
        pulls::get,
    ),
    (
        "PATCH",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        Needs::Token,
        pulls::update,
    ),
    (
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
        Needs::Token,
        pulls::merge,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        Needs::Token,
        pulls::request_reviewers,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        Needs::Token,
        issues::list_comments,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        Needs::Token,
        issues::create_comment,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        Needs::Token,
        issues::add_labels,
    ),
    (
        "DELETE",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
        Needs::Token,
        issues::remove_label,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/labels/{name}",
        Needs::Token,
        issues::get_label,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/labels",
        Needs::Token,
        issues::create_label,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/status",
        Needs::Token,
        issues::combined_status,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        Needs::Token,
        issues::check_runs,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/git/ref/{ref}",
        Needs::Token,
        gitdata::get_ref,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/git/matching-refs/{ref}",
        Needs::Token,
        gitdata::matching_refs,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/git/refs",
        Needs::Token,
        gitdata::create_ref,
    ),
    (
        "PATCH",
        "/repos/{owner}/{repo}/git/refs/{ref}",
        Needs::Token,
        gitdata::update_ref,
    ),
    (
        "DELETE",
        "/repos/{owner}/{repo}/git/refs/{ref}",
        Needs::Token,
        gitdata::delete_ref,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/git/blobs",
        Needs::Token,
        gitdata::create_blob,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/git/trees",
        Needs::Token,
        gitdata::create_tree,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/git/commits",
        Needs::Token,
        gitdata::create_commit,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/git/commits/{commit_sha}",
        Needs::Token,
        gitdata::get_commit,
    ),
];

/// Answers one authenticated (or anonymous) API request.
pub(crate) fn dispatch(st: &mut State, call: &Call<'_>) -> Reply {
    let Some((needs, handler, values)) = route(call.method, call.path) else {
        return Reply::generic(404, "Not Found");
    };
    match (&call.actor, needs) {
        (_, Needs::Anyone) => {}
        (None, _) => return Reply::generic(401, "Requires authentication"),
        (Some(Actor::App { .. }), Needs::Token) => {
            return Reply::generic(403, "Resource not accessible by integration");
        }
        (Some(Actor::User { .. } | Actor::Installation { .. }), Needs::Jwt) => {
            return Reply::generic(401, "A JSON web token could not be decoded");
        }
        _ => {}
    }
    let mut params = Params {
        values,
        repo: String::new(),
    };
    if params.values.contains_key("owner") {
        let key = format!("{}/{}", params.get("owner"), params.get("repo")).to_ascii_lowercase();
        let visible = st.repos.contains_key(&key)
            && match &call.actor {
                Some(Actor::App { app_id }) => st
                    .installations
                    .values()
                    .any(|i| i.app_id == *app_id && i.repos.contains(&key)),
                Some(actor) => auth::can_see(st, actor, &key),
                None => false,
            };
        if !visible {
            return Reply::generic(404, "Not Found");
        }
        params.repo = key;
    }
    handler(st, call, &params)
}

/// The endpoint for `method` and `path`, and its path parameters (percent-decoded).
/// Templates are GitHub's own; a literal segment beats a parameter.
fn route(method: &str, path: &str) -> Option<(Needs, Handler, HashMap<String, String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    ROUTES
        .iter()
        .filter(|(m, ..)| *m == method)
        .filter_map(|(_, template, needs, handler)| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            let values = capture(&t, &parts)?;
            let literals = t.iter().filter(|s| !s.starts_with('{')).count();
            Some((literals, *needs, *handler, values))
        })
        .max_by_key(|(literals, ..)| *literals)
        .map(|(_, needs, handler, values)| (needs, handler, values))
}

/// Matches path parts to template segments; `{ref}` is the one parameter that may span
/// several parts (`heads/ladder/staging/api`), and is always last in the templates.
fn capture(template: &[&str], parts: &[&str]) -> Option<HashMap<String, String>> {
    let mut values = HashMap::new();
    let mut i = 0;
    for (n, seg) in template.iter().enumerate() {
        let part = parts.get(i)?;
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let take = if name == "ref" {
                    // Leave what the rest of the template needs.
                    parts.len().checked_sub(i + (template.len() - n - 1))?
                } else {
                    1
                };
                if take == 0 || parts[i..i + take].iter().any(|p| p.is_empty()) {
                    return None;
                }
                let joined = parts[i..i + take].join("/");
                values.insert(name.to_string(), percent_decode(&joined));
                i += take;
            }
            None if seg == part => i += 1,
            None => return None,
        }
    }
    (i == parts.len()).then_some(values)
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rate_limit(st: &mut State, _: &Call<'_>, _: &Params) -> Reply {
    let remaining = RATE_LIMIT.saturating_sub(st.rate_used + 1);
    let core = json!({"limit": RATE_LIMIT, "remaining": remaining, "reset": st.rate_reset, "used": st.rate_used + 1, "resource": "core"});
    let search =
        json!({"limit": 30, "remaining": 30, "reset": now() + 60, "used": 0, "resource": "search"});
    Reply::json(
        200,
        json!({"resources": {"core": core.clone(), "search": search}, "rate": core}),
    )
}

fn get_repo(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    Reply::json(200, gh::repo(st, &p.repo))
}

fn installation_json(st: &mut State, installation_id: u64) -> Value {
    let inst = &st.installations[&installation_id];
    let (app_id, created) = (inst.app_id, inst.created);
    let slug = st.apps[&app_id].slug.clone();
    let owner = inst
        .repos
        .iter()
        .next()
        .map(|r| st.repo(r).owner.clone())
        .unwrap_or_default();
    let account = gh::user(st, &owner);
    let api = st.api();
    json!({
        "id": installation_id,
        "account": account,
        "app_id": app_id,
        "app_slug": slug,
        "client_id": format!("Iv1.{app_id}"),
        "target_id": account["id"],
        "target_type": "User",
        "repository_selection": "selected",
        "access_tokens_url": format!("{api}/app/installations/{installation_id}/access_tokens"),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": format!("{}/settings/installations/{installation_id}", st.base),
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read", "statuses": "read", "checks": "read"},
        "events": [],
        "created_at": iso(created),
        "updated_at": iso(created),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
    })
}

fn repo_installation(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(Actor::App { app_id }) = call.actor else {
        return Reply::not_found();
    };
    let found = st
        .installations
        .values()
        .find(|i| i.app_id == app_id && i.repos.contains(&p.repo))
        .map(|i| i.id);
    match found {
        Some(id) => Reply::json(200, installation_json(st, id)),
        None => Reply::not_found(),
    }
}

fn access_token(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(Actor::App { app_id }) = call.actor else {
        return Reply::not_found();
    };
    let Some(inst) = p
        .number("installation_id")
        .and_then(|id| st.installations.get(&id))
        .filter(|i| i.app_id == app_id)
    else {
        return Reply::not_found();
    };
    let (id, repos) = (inst.id, inst.repos.clone());
    let expires = now() + st.installation_ttl.as_secs();
    let token = format!("ghs_fake{:08}{}", st.next_id(), now());
    let slug = st.apps[&app_id].slug.clone();
    st.tokens.insert(
        token.clone(),
        Token {
            login: format!("{slug}[bot]"),
            repos,
            installation: Some((id, expires)),
        },
    );
    Reply::json(
        201,
        json!({
            "token": token,
            "expires_at": iso(expires),
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read"},
            "repository_selection": "selected",
        }),
    )
}

/// One page of `items` as GitHub pages listings: `per_page` (default 30, at most 100) and
/// `page` (from 1), with a `Link` header to the first, previous, next and last pages.
pub(crate) fn paginate(st: &State, call: &Call<'_>, items: Vec<Value>) -> Reply {
    let per_page = call
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = call
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let url = |n: usize| {
        let mut query: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{}={}", gh::escape_path(k), gh::escape_path(v)))
            .collect();
        query.push(format!("page={n}"));
        format!("{}{}?{}", st.api(), call.path, query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    let mut reply = Reply::json(200, Value::Array(body));
    if !links.is_empty() {
        reply.headers.push(("link".into(), links.join(", ")));
    }
    reply
}

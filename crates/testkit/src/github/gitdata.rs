//! The Git Data API: refs, blobs, trees and commits, written as real objects in the bare
//! repo so a fetch sees exactly what the API made.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::auth::{self, Actor};
use super::git::{Ident, TreeEdit};
use super::routes::{Call, Params, Reply};
use super::state::{State, iso};

fn api(st: &State, p: &Params) -> String {
    format!("{}/repos/{}", st.api(), p.repo_full(st))
}

fn ref_json(st: &State, p: &Params, name: &str, sha: &str, kind: &str) -> Value {
    let api = api(st, p);
    let short = name.trim_start_matches("refs/");
    json!({
        "ref": name,
        "node_id": format!("REF_{}", &sha[..12.min(sha.len())]),
        "url": format!("{api}/git/refs/{short}"),
        "object": {"type": kind, "sha": sha, "url": format!("{api}/git/{kind}s/{sha}")},
    })
}

pub(crate) fn get_ref(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let name = format!("refs/{}", p.get("ref"));
    let found = st
        .repo(&p.repo)
        .bare
        .refs()
        .into_iter()
        .find(|(n, ..)| *n == name);
    match found {
        Some((n, sha, kind)) => Reply::json(200, ref_json(st, p, &n, &sha, &kind)),
        None => Reply::not_found(),
    }
}

pub(crate) fn matching_refs(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let prefix = format!("refs/{}", p.get("ref"));
    let refs: Vec<Value> = st
        .repo(&p.repo)
        .bare
        .refs()
        .into_iter()
        .filter(|(n, ..)| n.starts_with(&prefix))
        .map(|(n, sha, kind)| ref_json(st, p, &n, &sha, &kind))
        .collect();
    Reply::json(200, Value::Array(refs))
}

pub(crate) fn create_ref(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let (Some(name), Some(sha)) = (call.str("ref"), call.str("sha")) else {
        return Reply::invalid(
            json!([{"resource": "Reference", "code": "missing_field", "field": "ref"}]),
        );
    };
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return Reply::error(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    }
    let bare = st.repo(&p.repo).bare.clone();
    let Some(kind) = bare.object_type(sha) else {
        return Reply::error(422, "Object does not exist");
    };
    if bare.ref_target(name).is_some() {
        return Reply::error(422, "Reference already exists");
    }
    if let Err(e) = bare.update_ref(name, sha, None) {
        return Reply::error(422, &format!("Reference cannot be created: {e}"));
    }
    st.refresh_pulls(&p.repo);
    Reply::json(201, ref_json(st, p, name, sha, &kind))
}

pub(crate) fn update_ref(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let name = format!("refs/{}", p.get("ref"));
    let Some(sha) = call.str("sha") else {
        return Reply::invalid(
            json!([{"resource": "Reference", "code": "missing_field", "field": "sha"}]),
        );
    };
    let force = call
        .body
        .get("force")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let bare = st.repo(&p.repo).bare.clone();
    let Some(old) = bare.ref_target(&name) else {
        return Reply::error(422, "Reference does not exist");
    };
    let Some(kind) = bare.object_type(sha) else {
        return Reply::error(422, "Object does not exist");
    };
    if !force && !bare.is_ancestor(&old, sha) {
        return Reply::error(422, "Update is not a fast forward");
    }
    if bare.update_ref(&name, sha, Some(&old)).is_err() {
        return Reply::error(409, "Reference update failed: it moved concurrently");
    }
    st.refresh_pulls(&p.repo);
    Reply::json(200, ref_json(st, p, &name, sha, &kind))
}

pub(crate) fn delete_ref(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    let name = format!("refs/{}", p.get("ref"));
    let bare = st.repo(&p.repo).bare.clone();
    let Some(old) = bare.ref_target(&name) else {
        return Reply::error(422, "Reference does not exist");
    };
    if bare.delete_ref(&name, &old).is_err() {
        return Reply::error(409, "Reference update failed: it moved concurrently");
    }
    st.refresh_pulls(&p.repo);
    Reply::empty(204)
}

pub(crate) fn create_blob(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let Some(content) = call.str("content") else {
        return Reply::invalid(
            json!([{"resource": "Blob", "code": "missing_field", "field": "content"}]),
        );
    };
    let bytes = match call.str("encoding").unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            // GitHub accepts base64 wrapped in lines, as `base64` prints it.
            let clean: String = content.chars().filter(|c| !c.is_whitespace()).collect();
            match STANDARD.decode(clean) {
                Ok(b) => b,
                Err(_) => {
                    return Reply::invalid(
                        json!([{"resource": "Blob", "code": "invalid", "field": "content"}]),
                    );
                }
            }
        }
        _ => {
            return Reply::invalid(
                json!([{"resource": "Blob", "code": "invalid", "field": "encoding"}]),
            );
        }
    };
    match st.repo(&p.repo).bare.write_blob(&bytes) {
        Ok(sha) => Reply::json(
            201,
            json!({"url": format!("{}/git/blobs/{sha}", api(st, p)), "sha": sha}),
        ),
        Err(e) => Reply::error(500, &e),
    }
}

pub(crate) fn create_tree(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let bare = st.repo(&p.repo).bare.clone();
    let base = call.str("base_tree");
    if let Some(b) = base
        && bare.object_type(b).as_deref() != Some("tree")
        && bare.object_type(b).as_deref() != Some("commit")
    {
        return Reply::invalid(
            json!([{"resource": "Tree", "code": "invalid", "field": "base_tree"}]),
        );
    }
    let Some(entries) = call.body.get("tree").and_then(Value::as_array) else {
        return Reply::invalid(
            json!([{"resource": "Tree", "code": "missing_field", "field": "tree"}]),
        );
    };
    let mut edits = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let bad = |field: &str| {
            Reply::invalid(
                json!([{"resource": "Tree", "code": "invalid", "field": field, "index": i}]),
            )
        };
        let (Some(path), Some(mode)) = (e["path"].as_str(), e["mode"].as_str()) else {
            return bad("path");
        };
        let kind = e["type"].as_str().unwrap_or("blob");
        let expected = match mode {
            "100644" | "100755" | "120000" => "blob",
            "040000" => "tree",
            "160000" => "commit",
            _ => return bad("mode"),
        };
        if kind != expected || path.is_empty() || path.starts_with('/') {
            return bad("type");
        }
        let sha = match (e.get("sha"), e["content"].as_str()) {
            (_, Some(content)) if kind == "blob" => match bare.write_blob(content.as_bytes()) {
                Ok(s) => Some(s),
                Err(err) => return Reply::error(500, &err),
            },
            (Some(Value::Null), None) => None,
            (Some(Value::String(s)), None) => {
                if kind != "commit" && bare.object_type(s).as_deref() != Some(kind) {
                    return bad("sha");
                }
                Some(s.clone())
            }
            _ => return bad("sha"),
        };
        edits.push(TreeEdit {
            path: path.to_string(),
            mode: mode.to_string(),
            sha,
        });
    }
    let tree = match bare.build_tree(base, &edits) {
        Ok(t) => t,
        Err(e) => {
            return Reply::invalid(json!([{"resource": "Tree", "code": "invalid", "message": e}]));
        }
    };
    let api = api(st, p);
    let listing: Vec<Value> = bare
        .ls_tree(&tree)
        .into_iter()
        .map(|(mode, kind, sha, path)| {
            let mut entry = json!({"path": path, "mode": mode, "type": kind, "sha": sha,
                "url": format!("{api}/git/{kind}s/{sha}")});
            if kind == "blob" {
                entry["size"] = json!(0);
            }
            entry
        })
        .collect();
    Reply::json(
        201,
        json!({"sha": tree, "url": format!("{api}/git/trees/{tree}"), "tree": listing, "truncated": false}),
    )
}

fn ident(v: &Value) -> Option<Ident> {
    Some(Ident {
        name: v.get("name")?.as_str()?.to_string(),
        email: v.get("email")?.as_str()?.to_string(),
        date: v.get("date").and_then(Value::as_str).map(str::to_string),
    })
}

pub(crate) fn create_commit(st: &mut State, call: &Call<'_>, p: &Params) -> Reply {
    let (Some(message), Some(tree)) = (call.str("message"), call.str("tree")) else {
        return Reply::invalid(
            json!([{"resource": "Commit", "code": "missing_field", "field": "tree"}]),
        );
    };
    let bare = st.repo(&p.repo).bare.clone();
    if bare.object_type(tree).as_deref() != Some("tree") {
        return Reply::error(422, "Tree SHA does not exist");
    }
    let parents: Vec<String> = call
        .body
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if parents
        .iter()
        .any(|sha| bare.object_type(sha).as_deref() != Some("commit"))
    {
        return Reply::error(422, "Parent SHA does not exist or is not a commit object");
    }
    let actor = call.actor.clone();
    let login = actor
        .as_ref()
        .map(|a| auth::login(st, a))
        .unwrap_or_default();
    let default = Ident::new(&login, &format!("{login}@users.noreply.github.com"));
    let explicit_author = call.body.get("author").and_then(ident);
    let author = explicit_author.clone().unwrap_or_else(|| default.clone());
    let committer = call
        .body
        .get("committer")
        .and_then(ident)
        .unwrap_or_else(|| author.clone());
    let sha = match bare.commit_tree(tree, &parents, message, &author, &committer) {
        Ok(s) => s,
        Err(e) => return Reply::error(500, &e),
    };
    // An App's commits made without an explicit author are signed by GitHub.
    if explicit_author.is_none() && matches!(actor, Some(Actor::Installation { .. })) {
        st.repo_mut(&p.repo).verified.insert(sha.clone());
    }
    match commit_json(st, p, &sha) {
        Some(v) => Reply::json(201, v),
        None => Reply::error(500, "commit vanished"),
    }
}

pub(crate) fn get_commit(st: &mut State, _: &Call<'_>, p: &Params) -> Reply {
    match commit_json(st, p, p.get("commit_sha")) {
        Some(v) => Reply::json(200, v),
        None => Reply::not_found(),
    }
}

fn commit_json(st: &State, p: &Params, sha: &str) -> Option<Value> {
    let repo = st.repo(&p.repo);
    let info = repo.bare.commit(sha)?;
    let api = api(st, p);
    let html = format!("{}/{}", st.base, repo.full_name());
    let verified = repo.verified.contains(sha);
    let person = |(name, email, secs): &(String, String, u64)| json!({"name": name, "email": email, "date": iso(*secs)});
    Some(json!({
        "sha": sha,
        "node_id": format!("C_{}", &sha[..12]),
        "url": format!("{api}/git/commits/{sha}"),
        "html_url": format!("{html}/commit/{sha}"),
        "author": person(&info.author),
        "committer": person(&info.committer),
        "tree": {"sha": info.tree, "url": format!("{api}/git/trees/{}", info.tree)},
        "message": info.message.strip_suffix('\n').unwrap_or(&info.message),
        "parents": info.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/git/commits/{p}"),
            "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
        "verification": {
            "verified": verified,
            "reason": if verified { "valid" } else { "unsigned" },
            "signature": null,
            "payload": null,
            "verified_at": null,
        },
    }))
}

//! The fake GitHub driven with a plain HTTP client and the `git` program, as the GitHub
//! forge and a person would: every test also asserts that all exchanges conformed to
//! GitHub's OpenAPI description.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ladder_testkit::git;
use ladder_testkit::github::{FakeGitHub, Fault};
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A blocking HTTP client. reqwest is built with rustls and no crypto provider of its
/// own in this workspace (see ladder-git), so the test installs ring first.
fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

const REPO: &str = "acme/config";
const TOKEN: &str = "ghp_test";

/// A fake with `acme/config` (branch `main`, one commit) and `acme/other`, a token that
/// sees only the first, and a work clone to push from.
struct World {
    gh: FakeGitHub,
    dir: tempfile::TempDir,
    client: Client,
}

impl World {
    fn new() -> World {
        let gh = FakeGitHub::start();
        let dir = tempfile::tempdir().unwrap();
        for name in ["config.git", "other.git"] {
            git(dir.path(), &["init", "-q", "--bare", "-b", "main", name]);
        }
        gh.add_repo(REPO, &dir.path().join("config.git"), "main");
        gh.add_repo("acme/other", &dir.path().join("other.git"), "main");
        gh.add_token(TOKEN, &[REPO]);
        let w = World {
            gh,
            dir,
            client: client(),
        };
        git(w.dir.path(), &["init", "-q", "-b", "main", "work"]);
        w.write("app.yaml", "image:\n  tag: v1\n");
        w.commit("initial");
        w.push("main");
        w
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn bare(&self) -> PathBuf {
        self.dir.path().join("config.git")
    }

    fn write(&self, file: &str, content: &str) {
        let path = self.work().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn commit(&self, message: &str) -> String {
        git(&self.work(), &["add", "-A"]);
        git(&self.work(), &["commit", "-q", "-m", message]);
        git(&self.work(), &["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Pushes the work clone's HEAD to `branch` over smart HTTP with the token.
    fn push(&self, branch: &str) {
        let url = self
            .gh
            .git_url(REPO)
            .replace("http://", &format!("http://x-access-token:{TOKEN}@"));
        git(
            &self.work(),
            &["push", "-q", &url, &format!("+HEAD:refs/heads/{branch}")],
        );
    }

    /// A branch off main changing one file.
    fn branch(&self, name: &str, tag: &str) -> String {
        git(&self.work(), &["checkout", "-q", "-B", name, "main"]);
        self.write("app.yaml", &format!("image:\n  tag: {tag}\n"));
        let sha = self.commit(&format!("promote {tag}"));
        self.push(name);
        git(&self.work(), &["checkout", "-q", "main"]);
        sha
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_as(TOKEN, method, path, body, &[])
    }

    fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = format!("{}{path}", self.gh.api_url());
        let mut req = self
            .client
            .request(method.parse().unwrap(), url)
            .header("accept", "application/vnd.github+json");
        if !token.is_empty() {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    fn bare_branch(&self, name: &str) -> String {
        git(&self.bare(), &["rev-parse", &format!("refs/heads/{name}")])
            .trim()
            .to_string()
    }

    fn assert_conformed(&self) {
        let v = self.gh.openapi_violations();
        assert!(v.is_empty(), "OpenAPI violations:\n{}", v.join("\n"));
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The URL of the `rel` page of the `Link` header, as a path under the API root.
    fn link(&self, rel: &str, api: &str) -> Option<String> {
        self.header("link").split(", ").find_map(|l| {
            let (url, r) = l.split_once("; ")?;
            (r == format!("rel=\"{rel}\"")).then(|| {
                url.trim_matches(|c| c == '<' || c == '>')
                    .trim_start_matches(api)
                    .to_string()
            })
        })
    }
}

#[test]
fn pull_request_lifecycle() {
    let w = World::new();
    let load = FakeGitHub::load_openapi().unwrap();
    eprintln!("OpenAPI description loaded in {load:?}");
    let heads: Vec<String> = (1..=5)
        .map(|i| w.branch(&format!("ladder/staging/app{i}"), &format!("v1{i}")))
        .collect();
    for i in 1..=5 {
        let a = w.call(
            "POST",
            "/repos/acme/config/pulls",
            Some(
                json!({"title": format!("Promote app{i}"), "head": format!("ladder/staging/app{i}"),
                "base": "main", "body": "ladder"}),
            ),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["number"], i);
        assert_eq!(a.body["head"]["sha"], heads[i as usize - 1].as_str());
    }
    // Three pages of two, by the Link header.
    let api = w.gh.api_url();
    let mut path = Some("/repos/acme/config/pulls?state=open&per_page=2".to_string());
    let mut pages = Vec::new();
    while let Some(p) = path {
        let a = w.call("GET", &p, None);
        assert_eq!(a.status, 200);
        pages.push(
            a.body
                .as_array()
                .unwrap()
                .iter()
                .map(|pr| pr["number"].as_u64().unwrap())
                .collect::<Vec<_>>(),
        );
        if pages.len() == 1 {
            assert_eq!(
                a.link("last", &api).unwrap(),
                "/repos/acme/config/pulls?state=open&per_page=2&page=3"
            );
        }
        path = a.link("next", &api);
    }
    assert_eq!(pages, vec![vec![5, 4], vec![3, 2], vec![1]]);

    // An open pull request for that head already exists.
    let dup = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "again", "head": "acme:ladder/staging/app1", "base": "main"})),
    );
    assert_eq!(dup.status, 422);
    assert_eq!(dup.body["message"], "Validation Failed");
    assert_eq!(
        dup.body["errors"][0]["message"],
        "A pull request already exists for acme:ladder/staging/app1."
    );
    let missing = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "x", "head": "no-such-branch", "base": "main"})),
    );
    assert_eq!(missing.status, 422);

    // Mergeability is computed in the background.
    let first = w.call("GET", "/repos/acme/config/pulls/1", None);
    assert_eq!(first.body["mergeable"], Value::Null);
    let second = w.call("GET", "/repos/acme/config/pulls/1", None);
    assert_eq!(second.body["mergeable"], true);
    assert_eq!(second.body["mergeable_state"], "clean");

    let main_before = w.bare_branch("main");
    let stale = w.call(
        "PUT",
        "/repos/acme/config/pulls/1/merge",
        Some(json!({"merge_method": "merge", "sha": main_before})),
    );
    assert_eq!(stale.status, 409, "{}", stale.body);
    let merged = w.call(
        "PUT",
        "/repos/acme/config/pulls/1/merge",
        Some(json!({"merge_method": "merge", "sha": heads[0]})),
    );
    assert_eq!(merged.status, 200, "{}", merged.body);
    let merge_sha = merged.body["sha"].as_str().unwrap();
    assert_eq!(w.bare_branch("main"), merge_sha);
    let parents = git(
        &w.bare(),
        &[
            "rev-parse",
            &format!("{merge_sha}^1"),
            &format!("{merge_sha}^2"),
        ],
    );
    assert_eq!(
        parents.split_whitespace().collect::<Vec<_>>(),
        vec![main_before.as_str(), heads[0].as_str()]
    );

    let closed = w.call(
        "GET",
        "/repos/acme/config/pulls?state=closed&head=acme:ladder/staging/app1",
        None,
    );
    let listed = closed.body.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "closed");
    assert!(listed[0]["merged_at"].is_string());
    let full = w.call("GET", "/repos/acme/config/pulls/1", None);
    assert_eq!(full.body["merged"], true);

    // The base moved: the others are computed again; a person merges one, closes one.
    let again = w.call("GET", "/repos/acme/config/pulls/2", None);
    assert_eq!(again.body["mergeable"], Value::Null);
    assert_eq!(again.body["base"]["sha"], merge_sha);
    w.gh.close_as_person(REPO, 3);
    let snapshot = w.gh.pulls(REPO);
    assert_eq!(snapshot[2].state, "closed");
    assert!(!snapshot[2].merged);
    assert!(snapshot[0].merged);
    assert!(
        w.gh.requests()
            .iter()
            .any(|r| r.write && r.path == "/repos/acme/config/pulls/1/merge" && r.status == 200)
    );
    w.assert_conformed();
}

#[test]
fn labels_comments_and_reviewers() {
    let w = World::new();
    w.branch("ladder/prod/api", "v2");
    w.gh.add_collaborator(REPO, "alice");
    let pr = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "Promote api", "head": "ladder/prod/api", "base": "main"})),
    );
    assert_eq!(pr.status, 201);
    assert_eq!(
        w.call("GET", "/repos/acme/config/labels/ladder", None)
            .status,
        404
    );
    let created = w.call(
        "POST",
        "/repos/acme/config/labels",
        Some(json!({"name": "ladder", "color": "0e8a16", "description": "by ladder"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let exists = w.call(
        "POST",
        "/repos/acme/config/labels",
        Some(json!({"name": "ladder"})),
    );
    assert_eq!(exists.status, 422);
    assert_eq!(exists.body["errors"][0]["code"], "already_exists");
    assert_eq!(
        w.call("GET", "/repos/acme/config/labels/ladder", None)
            .status,
        200
    );
    let added = w.call(
        "POST",
        "/repos/acme/config/issues/1/labels",
        Some(json!({"labels": ["ladder", "frozen"]})),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.body.as_array().unwrap().len(), 2);
    let removed = w.call("DELETE", "/repos/acme/config/issues/1/labels/frozen", None);
    assert_eq!(removed.status, 200);
    assert_eq!(
        w.call("DELETE", "/repos/acme/config/issues/1/labels/frozen", None)
            .status,
        404
    );
    let comment = w.call(
        "POST",
        "/repos/acme/config/issues/1/comments",
        Some(json!({"body": "frozen until Monday"})),
    );
    assert_eq!(comment.status, 201);
    let comments = w.call("GET", "/repos/acme/config/issues/1/comments", None);
    assert_eq!(comments.body[0]["body"], "frozen until Monday");
    let stranger = w.call(
        "POST",
        "/repos/acme/config/pulls/1/requested_reviewers",
        Some(json!({"reviewers": ["mallory"]})),
    );
    assert_eq!(stranger.status, 422);
    let reviewers = w.call(
        "POST",
        "/repos/acme/config/pulls/1/requested_reviewers",
        Some(json!({"reviewers": ["alice"]})),
    );
    assert_eq!(reviewers.status, 201, "{}", reviewers.body);
    let snap = &w.gh.pulls(REPO)[0];
    assert_eq!(snap.labels, vec!["ladder"]);
    assert_eq!(snap.requested_reviewers, vec!["alice"]);
    assert_eq!(snap.comments, vec!["frozen until Monday"]);

    // CI reports.
    let head = snap.head_sha.clone();
    let status = w.call(
        "GET",
        &format!("/repos/acme/config/commits/{head}/status"),
        None,
    );
    assert_eq!(
        (status.status, status.body["state"].as_str()),
        (200, Some("pending"))
    );
    w.gh.set_commit_status(REPO, &head, "ci/build", "pending");
    w.gh.set_commit_status(REPO, &head, "ci/build", "success");
    w.gh.set_commit_status(REPO, &head, "ci/lint", "success");
    w.gh.add_check_run(REPO, &head, "test", "completed", Some("success"));
    let status = w.call(
        "GET",
        "/repos/acme/config/commits/ladder/prod/api/status",
        None,
    );
    assert_eq!(status.body["state"], "success");
    assert_eq!(status.body["total_count"], 2);
    let runs = w.call(
        "GET",
        &format!("/repos/acme/config/commits/{head}/check-runs"),
        None,
    );
    assert_eq!(runs.body["total_count"], 1);
    assert_eq!(runs.body["check_runs"][0]["conclusion"], "success");
    w.gh.set_commit_status(REPO, &head, "ci/lint", "failure");
    let status = w.call(
        "GET",
        &format!("/repos/acme/config/commits/{head}/status"),
        None,
    );
    assert_eq!(status.body["state"], "failure");
    w.assert_conformed();
}

#[test]
fn git_data_api_writes_real_objects() {
    let w = World::new();
    let main = w.bare_branch("main");
    let base_tree = git(&w.bare(), &["rev-parse", "main^{tree}"])
        .trim()
        .to_string();
    let blob = w.call(
        "POST",
        "/repos/acme/config/git/blobs",
        Some(json!({"content": "aW1hZ2U6CiAgdGFnOiB2Mgo=", "encoding": "base64"})),
    );
    assert_eq!(blob.status, 201, "{}", blob.body);
    let tree = w.call(
        "POST",
        "/repos/acme/config/git/trees",
        Some(json!({"base_tree": base_tree, "tree": [
            {"path": "app.yaml", "mode": "100644", "type": "blob", "sha": blob.body["sha"]},
            {"path": "envs/prod/values.yaml", "mode": "100644", "type": "blob", "content": "replicas: 3\n"},
        ]})),
    );
    assert_eq!(tree.status, 201, "{}", tree.body);
    // The same files committed with git give the same tree.
    w.write("app.yaml", "image:\n  tag: v2\n");
    w.write("envs/prod/values.yaml", "replicas: 3\n");
    git(&w.work(), &["add", "-A"]);
    let expected = git(&w.work(), &["write-tree"]).trim().to_string();
    assert_eq!(tree.body["sha"], expected.as_str());

    let commit = w.call(
        "POST",
        "/repos/acme/config/git/commits",
        Some(json!({"message": "promote api to v2", "tree": expected, "parents": [main]})),
    );
    assert_eq!(commit.status, 201, "{}", commit.body);
    let sha = commit.body["sha"].as_str().unwrap().to_string();
    assert_eq!(
        commit.body["verification"]["verified"], false,
        "a PAT's commits are not signed"
    );
    assert_eq!(
        git(&w.bare(), &["rev-parse", &format!("{sha}^{{tree}}")]).trim(),
        expected
    );
    let got = w.call(
        "GET",
        &format!("/repos/acme/config/git/commits/{sha}"),
        None,
    );
    assert_eq!(got.body["message"], "promote api to v2");
    assert_eq!(got.body["parents"][0]["sha"], main.as_str());

    let created = w.call(
        "POST",
        "/repos/acme/config/git/refs",
        Some(json!({"ref": "refs/heads/ladder/prod/api", "sha": sha})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(w.bare_branch("ladder/prod/api"), sha);
    let again = w.call(
        "POST",
        "/repos/acme/config/git/refs",
        Some(json!({"ref": "refs/heads/ladder/prod/api", "sha": sha})),
    );
    assert_eq!(again.status, 422);
    let got = w.call(
        "GET",
        "/repos/acme/config/git/ref/heads/ladder/prod/api",
        None,
    );
    assert_eq!(got.body["object"]["sha"], sha.as_str());
    let matching = w.call(
        "GET",
        "/repos/acme/config/git/matching-refs/heads/ladder/",
        None,
    );
    assert_eq!(matching.body.as_array().unwrap().len(), 1);
    assert_eq!(
        w.call("GET", "/repos/acme/config/git/ref/heads/nope", None)
            .status,
        404
    );

    // Back to main is not a fast-forward: refused unless forced.
    let back = w.call(
        "PATCH",
        "/repos/acme/config/git/refs/heads/ladder/prod/api",
        Some(json!({"sha": main, "force": false})),
    );
    assert_eq!(back.status, 422);
    assert_eq!(back.body["message"], "Update is not a fast forward");
    assert_eq!(w.bare_branch("ladder/prod/api"), sha);
    let forced = w.call(
        "PATCH",
        "/repos/acme/config/git/refs/heads/ladder/prod/api",
        Some(json!({"sha": main, "force": true})),
    );
    assert_eq!(forced.status, 200);
    assert_eq!(w.bare_branch("ladder/prod/api"), main);
    let deleted = w.call(
        "DELETE",
        "/repos/acme/config/git/refs/heads/ladder/prod/api",
        None,
    );
    assert_eq!(deleted.status, 204);
    assert_eq!(
        w.call(
            "DELETE",
            "/repos/acme/config/git/refs/heads/ladder/prod/api",
            None
        )
        .status,
        422
    );
    w.assert_conformed();
}

#[test]
fn etags_credentials_and_rate_limit() {
    let w = World::new();
    let first = w.call("GET", "/repos/acme/config", None);
    assert_eq!(first.status, 200);
    assert_eq!(first.body["default_branch"], "main");
    assert_eq!(first.body["permissions"]["push"], true);
    let etag = first.header("etag").to_string();
    let remaining: u64 = first.header("x-ratelimit-remaining").parse().unwrap();
    let cached = w.call_as(
        TOKEN,
        "GET",
        "/repos/acme/config",
        None,
        &[("if-none-match", &etag)],
    );
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, Value::Null);
    assert_eq!(
        cached
            .header("x-ratelimit-remaining")
            .parse::<u64>()
            .unwrap(),
        remaining
    );
    let next = w.call("GET", "/rate_limit", None);
    assert_eq!(
        next.header("x-ratelimit-remaining").parse::<u64>().unwrap(),
        remaining - 1
    );
    assert_eq!(next.header("x-ratelimit-resource"), "core");
    assert!(
        w.gh.requests()
            .iter()
            .any(|r| r.status == 304 && r.conditional)
    );

    let bad = w.call_as("ghp_nope", "GET", "/repos/acme/config", None, &[]);
    assert_eq!(
        (bad.status, bad.body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    let hidden = w.call("GET", "/repos/acme/other", None);
    assert_eq!(
        (hidden.status, hidden.body["message"].as_str()),
        (404, Some("Not Found"))
    );
    let anonymous = w.call_as("", "GET", "/repos/acme/config", None, &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(w.gh.requests().last().unwrap().auth, "none");

    // Smart HTTP wants a token that sees the repo.
    let clone = |token: &str| {
        let url =
            w.gh.git_url(REPO)
                .replace("http://", &format!("http://x-access-token:{token}@"));
        Command::new("git")
            .args(["ls-remote", &url])
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(clone(TOKEN));
    assert!(!clone("ghp_nope"));
    w.assert_conformed();
}

/// An RSA key pair made by ssh-keygen: (private PEM, public PKCS#1 PEM).
fn rsa_key(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = Command::new("ssh-keygen")
        .args(["-e", "-m", "PEM", "-f"])
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    (
        std::fs::read_to_string(&key).unwrap(),
        String::from_utf8(public.stdout).unwrap(),
    )
}

fn jwt(private_pem: &str, iss: Value, ttl: u64) -> String {
    // Any other backend in the build must not make encode() ambiguous.
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iat": now - 60, "exp": now - 60 + ttl, "iss": iss}),
        &jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[test]
fn app_installation_tokens() {
    let w = World::new();
    let (private, public) = rsa_key(w.dir.path(), "app");
    let (other_private, _) = rsa_key(w.dir.path(), "other");
    w.gh.add_app(42, &public, 7, &[REPO]);

    let token = jwt(&private, json!(42), 600);
    let inst = w.call_as(&token, "GET", "/repos/acme/config/installation", None, &[]);
    assert_eq!(inst.status, 200, "{}", inst.body);
    assert_eq!(inst.body["id"], 7);
    assert_eq!(
        w.call_as(&token, "GET", "/repos/acme/other/installation", None, &[])
            .status,
        404
    );
    let string_iss = jwt(&private, json!("42"), 600);
    let access = w.call_as(
        &string_iss,
        "POST",
        "/app/installations/7/access_tokens",
        None,
        &[],
    );
    assert_eq!(access.status, 201, "{}", access.body);
    let installation_token = access.body["token"].as_str().unwrap().to_string();
    assert!(access.body["expires_at"].is_string());
    assert_eq!(w.gh.requests().last().unwrap().auth, "jwt");

    // The JWT is not a token for repos, a token is not a JWT.
    assert_eq!(
        w.call_as(&token, "GET", "/repos/acme/config", None, &[])
            .status,
        403
    );
    assert_eq!(
        w.call("POST", "/app/installations/7/access_tokens", None)
            .status,
        401
    );
    // Signed by another key, or living too long, or expired.
    let forged = jwt(&other_private, json!(42), 600);
    assert_eq!(
        w.call_as(&forged, "GET", "/repos/acme/config/installation", None, &[])
            .status,
        401
    );
    let too_long = jwt(&private, json!(42), 1200);
    assert_eq!(
        w.call_as(
            &too_long,
            "GET",
            "/repos/acme/config/installation",
            None,
            &[]
        )
        .status,
        401
    );
    let expired = jwt(&private, json!(42), 30);
    assert_eq!(
        w.call_as(
            &expired,
            "GET",
            "/repos/acme/config/installation",
            None,
            &[]
        )
        .status,
        401
    );

    // The installation acts as the App's bot; its API commits are verified.
    let repo = w.call_as(&installation_token, "GET", "/repos/acme/config", None, &[]);
    assert_eq!(repo.status, 200);
    assert_eq!(w.gh.requests().last().unwrap().auth, "installation");
    let tree = git(&w.bare(), &["rev-parse", "main^{tree}"])
        .trim()
        .to_string();
    let commit = w.call_as(
        &installation_token,
        "POST",
        "/repos/acme/config/git/commits",
        Some(json!({"message": "by the app", "tree": tree, "parents": [w.bare_branch("main")]})),
        &[],
    );
    assert_eq!(commit.status, 201, "{}", commit.body);
    assert_eq!(commit.body["verification"]["verified"], true);
    assert_eq!(commit.body["author"]["name"], "app-42[bot]");

    // Short-lived tokens expire.
    w.gh.set_installation_token_ttl(Duration::from_secs(1));
    let short = w.call_as(
        &token,
        "POST",
        "/app/installations/7/access_tokens",
        None,
        &[],
    );
    let short = short.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        w.call_as(&short, "GET", "/repos/acme/config", None, &[])
            .status,
        200
    );
    std::thread::sleep(Duration::from_millis(2100));
    let stale = w.call_as(&short, "GET", "/repos/acme/config", None, &[]);
    assert_eq!(
        (stale.status, stale.body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    w.assert_conformed();
}

#[test]
fn faults_replace_answers_without_effect() {
    let w = World::new();
    w.branch("ladder/dev/web", "v9");
    w.gh.fail_every(
        1,
        Fault::SecondaryRateLimit {
            retry_after_secs: 7,
        },
    );
    let a = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "x", "head": "ladder/dev/web", "base": "main"})),
    );
    assert_eq!(a.status, 403);
    assert_eq!(a.header("retry-after"), "7");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    assert!(
        w.gh.pulls(REPO).is_empty(),
        "a faulted request has no effect"
    );
    w.gh.clear_faults();

    w.gh.fail_every(1, Fault::PrimaryRateLimit { reset_in_secs: 60 });
    let a = w.call("GET", "/repos/acme/config", None);
    assert_eq!(a.status, 403);
    assert_eq!(a.header("x-ratelimit-remaining"), "0");
    let reset: u64 = a.header("x-ratelimit-reset").parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset >= now + 58 && reset <= now + 61, "{reset} vs {now}");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for")
    );
    w.gh.clear_faults();

    w.gh.fail_every(2, Fault::ServerError(502));
    let statuses: Vec<u16> = (0..4)
        .map(|_| w.call("GET", "/repos/acme/config", None).status)
        .collect();
    assert_eq!(statuses, vec![200, 502, 200, 502]);
    w.gh.clear_faults();
    let a = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "x", "head": "ladder/dev/web", "base": "main"})),
    );
    assert_eq!(a.status, 201);
    w.assert_conformed();
}

#[test]
fn one_shot_faults_hit_the_next_matching_request_and_a_lost_reply_takes_effect() {
    let w = World::new();
    w.branch("ladder/dev/web", "v9");
    let open = || {
        w.call(
            "POST",
            "/repos/acme/config/pulls",
            Some(json!({"title": "x", "head": "ladder/dev/web", "base": "main"})),
        )
    };
    // Before its effect: a 502, nothing done; other requests are not touched.
    w.gh.fail_next("POST", "/pulls", Fault::ServerError(502));
    assert_eq!(w.call("GET", "/repos/acme/config/pulls", None).status, 200);
    assert_eq!(w.gh.pending_faults().len(), 1);
    assert_eq!(open().status, 502);
    assert!(w.gh.pulls(REPO).is_empty());
    assert!(w.gh.pending_faults().is_empty(), "used up");

    // After it: the pull request is opened, the answer is a 502; once.
    w.gh.fail_next("POST", "/pulls", Fault::LostReply);
    let lost = open();
    assert_eq!(lost.status, 502);
    assert_eq!(w.gh.pulls(REPO).len(), 1, "a lost reply takes effect");
    let again = open();
    assert_eq!(again.status, 422, "{:?}", again.body);
    assert!(
        again.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let recorded: Vec<u16> = w.gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, [200, 502, 502, 422]);
    w.assert_conformed();
}

#[test]
fn a_mergeable_state_set_by_a_test_is_answered_once_mergeability_is_computed() {
    let w = World::new();
    w.branch("ladder/dev/web", "v9");
    let pr = w.call(
        "POST",
        "/repos/acme/config/pulls",
        Some(json!({"title": "x", "head": "ladder/dev/web", "base": "main"})),
    );
    let n = pr.body["number"].as_u64().unwrap();
    let get = || {
        w.call("GET", &format!("/repos/acme/config/pulls/{n}"), None)
            .body
    };
    w.gh.set_mergeable_state(REPO, n, "blocked");
    // GitHub computes first: null and unknown meanwhile.
    let first = get();
    assert_eq!(
        (&first["mergeable"], first["mergeable_state"].as_str()),
        (&Value::Null, Some("unknown"))
    );
    let computed = get();
    assert_eq!(
        (&computed["mergeable"], computed["mergeable_state"].as_str()),
        (&json!(true), Some("blocked"))
    );
    let merge = w.call(
        "PUT",
        &format!("/repos/acme/config/pulls/{n}/merge"),
        Some(json!({"merge_method": "merge"})),
    );
    assert_eq!(merge.status, 405, "branch protection refuses the merge");
    for state in ["behind", "unstable"] {
        w.gh.set_mergeable_state(REPO, n, state);
        let now = get();
        assert_eq!(
            (&now["mergeable"], now["mergeable_state"].as_str()),
            (&json!(true), Some(state))
        );
    }
    w.gh.set_mergeable_state(REPO, n, "dirty");
    assert_eq!(get()["mergeable"], json!(false));
    w.gh.set_mergeable_state(REPO, n, "clean");
    let merge = w.call(
        "PUT",
        &format!("/repos/acme/config/pulls/{n}/merge"),
        Some(json!({"merge_method": "squash"})),
    );
    assert_eq!(merge.status, 200, "{:?}", merge.body);
    w.assert_conformed();
}

#[test]
fn drop_stops_the_server() {
    let started = Instant::now();
    let gh = FakeGitHub::start();
    let url = gh.api_url();
    assert_eq!(
        client()
            .get(format!("{url}/rate_limit"))
            .send()
            .unwrap()
            .status(),
        200
    );
    drop(gh);
    assert!(client().get(format!("{url}/rate_limit")).send().is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}

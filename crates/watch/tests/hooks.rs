//! Webhook payloads: GitHub's published examples (`@octokit/webhooks-examples`, unpacked
//! by `make reference`) and hand-written Gitea and GitLab deliveries.

use std::path::PathBuf;

use ladder_watch::{HookError, HookKind, parse_gitea, parse_github, parse_gitlab, same_repo};
use serde_json::Value;

/// Every `index.json` of the examples package: github.com and each GHES version.
fn example_indexes() -> Vec<(PathBuf, Vec<Value>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/reference/webhooks-examples/package");
    assert!(
        root.join("package.json").is_file(),
        "GitHub's webhook examples are missing at {}: run `make reference`",
        root.display()
    );
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path().join("index.json");
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap();
            let events: Vec<Value> = serde_json::from_str(&text).unwrap();
            indexes.push((path, events));
        }
    }
    assert!(
        indexes
            .iter()
            .any(|(p, _)| p.ends_with("api.github.com/index.json")),
        "no api.github.com examples in {}",
        root.display()
    );
    indexes
}

/// The examples of one event, with the file they came from.
fn examples(event: &str) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for (path, events) in example_indexes() {
        for e in events.iter().filter(|e| e["name"] == event) {
            for example in e["examples"].as_array().unwrap() {
                out.push((path.clone(), example.clone()));
            }
        }
    }
    assert!(!out.is_empty(), "no {event} examples");
    out
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// The repository URLs the payload names, in the order the parser reports them.
fn github_urls(repo: &Value) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for field in ["clone_url", "ssh_url", "git_url", "html_url"] {
        if let Some(url) = repo[field].as_str()
            && !urls.iter().any(|u| u == url)
        {
            urls.push(url.to_string());
        }
    }
    urls
}

#[test]
fn every_github_push_example_parses() {
    let examples = examples("push");
    let mut branches = 0;
    for (path, example) in &examples {
        let event = parse_github("push", &body(example))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .expect("a push is an event");
        assert_eq!(event.kind, HookKind::Push);
        let git_ref = example["ref"].as_str().unwrap();
        let expected = git_ref.strip_prefix("refs/heads/").map(str::to_string);
        assert_eq!(event.branch, expected, "{}: {git_ref}", path.display());
        branches += usize::from(expected.is_some());
        assert!(!event.merged);
        assert_eq!(event.repo_urls, github_urls(&example["repository"]));
        assert_eq!(
            event.full_name.as_deref(),
            example["repository"]["full_name"].as_str()
        );
        // Every URL names the repository the clone URL does.
        let clone_url = example["repository"]["clone_url"].as_str().unwrap();
        for url in &event.repo_urls {
            assert!(same_repo(clone_url, url), "{clone_url} vs {url}");
        }
    }
    assert!(branches > 0, "no branch push among the examples");
}

#[test]
fn github_dot_com_push_routes_by_any_configured_spelling() {
    let (_, example) = examples("push")
        .into_iter()
        .find(|(p, e)| p.ends_with("api.github.com/index.json") && e["ref"] == "refs/heads/master")
        .expect("a branch push on github.com");
    let event = parse_github("push", &body(&example)).unwrap().unwrap();
    assert_eq!(event.branch.as_deref(), Some("master"));
    assert_eq!(
        event.repo_urls,
        [
            "https://github.com/Codertocat/Hello-World.git",
            "git@github.com:Codertocat/Hello-World.git",
            "git://github.com/Codertocat/Hello-World.git",
            "https://github.com/Codertocat/Hello-World",
        ]
    );
    for configured in [
        "https://github.com/codertocat/hello-world",
        "ssh://git@github.com/Codertocat/Hello-World.git",
    ] {
        assert!(event.repo_urls.iter().any(|u| same_repo(configured, u)));
    }
    assert!(
        !event
            .repo_urls
            .iter()
            .any(|u| same_repo("https://github.com/Octocoders/Hello-World", u))
    );
}

#[test]
fn pull_request_examples_report_merged_exactly_when_closed_by_a_merge() {
    let mut closed = 0;
    for (path, example) in examples("pull_request") {
        let event = parse_github("pull_request", &body(&example))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .expect("a pull_request is an event");
        assert_eq!(event.kind, HookKind::PullRequest);
        assert_eq!(
            event.branch.as_deref(),
            example["pull_request"]["base"]["ref"].as_str()
        );
        let action = example["action"].as_str().unwrap();
        let merged_flag = example["pull_request"]["merged"].as_bool() == Some(true);
        assert_eq!(event.merged, action == "closed" && merged_flag, "{action}");
        if action == "closed" {
            closed += 1;
            // The published closed examples are all closed without merging; the same
            // payload with GitHub's `merged: true` is a merge.
            let mut merged = example.clone();
            merged["pull_request"]["merged"] = Value::Bool(true);
            let event = parse_github("pull_request", &body(&merged))
                .unwrap()
                .unwrap();
            assert!(event.merged);
            merged["pull_request"]["merged"] = Value::Bool(false);
            let event = parse_github("pull_request", &body(&merged))
                .unwrap()
                .unwrap();
            assert!(!event.merged);
        } else {
            assert!(!event.merged);
        }
    }
    assert!(closed > 0, "no closed pull_request example");
}

#[test]
fn ping_and_other_events_are_ignored() {
    for (path, example) in examples("ping") {
        assert_eq!(
            parse_github("ping", &body(&example)),
            Ok(None),
            "{}",
            path.display()
        );
    }
    for (_, example) in examples("issues") {
        assert_eq!(parse_github("issues", &body(&example)), Ok(None));
    }
}

#[test]
fn missing_event_and_bad_bodies_are_errors() {
    assert!(matches!(
        parse_github("", b"{}"),
        Err(HookError::UnsupportedEvent(_))
    ));
    assert!(matches!(
        parse_github("push", b"not json"),
        Err(HookError::Payload(_))
    ));
    // A push without a repository cannot be routed.
    assert!(matches!(
        parse_github("push", br#"{"ref":"refs/heads/main"}"#),
        Err(HookError::Payload(_))
    ));
    assert!(matches!(
        parse_gitlab("Push Hook", br#"{"ref":"refs/heads/main"}"#),
        Err(HookError::Payload(_))
    ));
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn gitea_push_hand_written() {
    let event = parse_gitea("push", &fixture("gitea-push.hand-written.json"))
        .unwrap()
        .unwrap();
    assert_eq!(event.kind, HookKind::Push);
    assert_eq!(event.branch.as_deref(), Some("develop"));
    assert_eq!(event.full_name.as_deref(), Some("gitea/webhooks"));
    assert_eq!(
        event.repo_urls,
        [
            "http://localhost:3000/gitea/webhooks.git",
            "ssh://gitea@localhost:2222/gitea/webhooks.git",
            "http://localhost:3000/gitea/webhooks",
        ]
    );
    assert!(
        event
            .repo_urls
            .iter()
            .all(|u| same_repo("https://LOCALHOST/gitea/webhooks", u))
    );
    assert_eq!(parse_gitea("issues", b"{}"), Ok(None));
}

#[test]
fn gitea_pull_request_shaped_like_github() {
    let body = br#"{
        "action": "closed",
        "number": 1,
        "pull_request": {"merged": true, "base": {"ref": "main"}, "head": {"ref": "ladder/staging/web"}},
        "repository": {"full_name": "acme/config", "clone_url": "https://gitea.example/acme/config.git"}
    }"#;
    let event = parse_gitea("pull_request", body).unwrap().unwrap();
    assert_eq!(event.kind, HookKind::PullRequest);
    assert!(event.merged);
    assert_eq!(event.branch.as_deref(), Some("main"));
}

#[test]
fn gitlab_push_hand_written() {
    let body = fixture("gitlab-push.hand-written.json");
    let event = parse_gitlab("Push Hook", &body).unwrap().unwrap();
    assert_eq!(event.kind, HookKind::Push);
    assert_eq!(event.branch.as_deref(), Some("master"));
    assert_eq!(event.full_name.as_deref(), Some("mike/diaspora"));
    assert_eq!(
        event.repo_urls,
        [
            "http://example.com/mike/diaspora.git",
            "git@example.com:mike/diaspora.git",
            "http://example.com/mike/diaspora",
        ]
    );
    assert!(
        event
            .repo_urls
            .iter()
            .all(|u| same_repo("https://example.com/Mike/Diaspora.git", u))
    );
    // A tag push is a push with no branch; other hooks are ignored.
    let mut tag: Value = serde_json::from_slice(&body).unwrap();
    tag["object_kind"] = "tag_push".into();
    tag["ref"] = "refs/tags/v1.0.0".into();
    let event = parse_gitlab("Tag Push Hook", &serde_json::to_vec(&tag).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(event.branch, None);
    assert_eq!(parse_gitlab("Merge Request Hook", &body), Ok(None));
}

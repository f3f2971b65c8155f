//! Pull requests, their comments, labels, reviewers, checks and merges.

use std::collections::HashSet;
use std::sync::Mutex;

use http::Method;
use ladder_git::ObjectId;
use ladder_promote::forge::{Checks, ClosedProposal, MergeState, Proposal, ProposalText};
use serde::Deserialize;

use crate::client::{Client, encode};
use crate::error::GitHubError;
use crate::gitdata::oid;
use crate::options::MergeMethod;

#[derive(Deserialize)]
pub(crate) struct Pull {
    number: u64,
    html_url: Option<String>,
    title: Option<String>,
    body: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    head: Head,
    base: Base,
    mergeable: Option<bool>,
    /// Only in a single pull request's answer: `clean`, `unstable`, `has_hooks`,
    /// `blocked`, `behind`, `draft`, `dirty`, `unknown`.
    mergeable_state: Option<String>,
    merged_at: Option<String>,
}

#[derive(Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    branch: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ref")]
    branch: String,
    sha: String,
    repo: Option<HeadRepo>,
}

#[derive(Deserialize)]
struct HeadRepo {
    full_name: String,
}

impl Pull {
    fn proposal(self) -> Result<Proposal, GitHubError> {
        Ok(Proposal {
            head: oid(&self.head.sha, &self.head.branch)?,
            branch: self.head.branch,
            number: Some(self.number),
            url: self.html_url,
            title: self.title,
            body: Some(self.body.unwrap_or_default()),
            base: Some(self.base.branch),
            labels: self.labels.into_iter().map(|l| l.name).collect(),
        })
    }
}

/// `?head=owner:branch` for the pull requests of one branch of the repository.
fn head_query(client: &Client, branch: &str) -> String {
    encode(&format!("{}:{branch}", client.repo.owner()), false)
}

pub(crate) async fn proposals(client: &Client, prefix: &str) -> Result<Vec<Proposal>, GitHubError> {
    let first = client.repo_path("/pulls?state=open&per_page=100");
    let pulls: Vec<Pull> = client
        .get_all(&first, "the open pull requests", Some)
        .await?;
    pulls
        .into_iter()
        // A fork's branch of the same name is not ladder's, even if it looks like it.
        .filter(|p| {
            p.head.branch.starts_with(prefix)
                && p.head
                    .repo
                    .as_ref()
                    .is_some_and(|r| client.repo.same_as(&r.full_name))
        })
        .map(Pull::proposal)
        .collect()
}

/// The open pull request of `branch` (into `base`, when given), if any.
async fn open_pull(
    client: &Client,
    branch: &str,
    base: Option<&str>,
) -> Result<Option<Pull>, GitHubError> {
    let path = client.repo_path(&format!(
        "/pulls?state=open&head={}&per_page=100",
        head_query(client, branch)
    ));
    let reply = client.get(&path).await?;
    client.check(&reply, &Method::GET, &path)?;
    let pulls: Vec<Pull> = reply.json("the pull requests of a branch")?;
    Ok(pulls.into_iter().find(|p| {
        p.head.branch == branch
            && base.is_none_or(|b| p.base.branch == b)
            && p.head
                .repo
                .as_ref()
                .is_some_and(|r| client.repo.same_as(&r.full_name))
    }))
}

/// The proposal's number, looked up by its branch when the caller does not know it (a
/// proposal opened in this run).
async fn number(client: &Client, proposal: &Proposal) -> Result<u64, GitHubError> {
    if let Some(n) = proposal.number {
        return Ok(n);
    }
    open_pull(client, &proposal.branch, proposal.base.as_deref())
        .await?
        .map(|p| p.number)
        .ok_or_else(|| GitHubError::NoPullRequest {
            branch: proposal.branch.clone(),
        })
}

async fn edit(
    client: &Client,
    number: u64,
    body: serde_json::Value,
) -> Result<Proposal, GitHubError> {
    let path = client.repo_path(&format!("/pulls/{number}"));
    let reply = client.send_ok(Method::PATCH, &path, Some(&body)).await?;
    reply.json::<Pull>("an updated pull request")?.proposal()
}

pub(crate) async fn open(
    client: &Client,
    branch: &str,
    base: &str,
    text: &ProposalText,
) -> Result<Proposal, GitHubError> {
    let path = client.repo_path("/pulls");
    let body = serde_json::json!({
        "title": text.title, "body": text.body, "head": branch, "base": base,
    });
    let reply = client.send(Method::POST, &path, Some(&body)).await?;
    if reply.status.as_u16() == 422 && reply.message().contains("already exists") {
        // Opened before (a run that failed after opening it, or a person): adopt it.
        let pull = open_pull(client, branch, Some(base))
            .await?
            .ok_or_else(|| GitHubError::NoPullRequest {
                branch: branch.to_string(),
            })?;
        let body = serde_json::json!({ "title": text.title, "body": text.body });
        return edit(client, pull.number, body).await;
    }
    client.check(&reply, &Method::POST, &path)?;
    reply.json::<Pull>("a new pull request")?.proposal()
}

pub(crate) async fn update(
    client: &Client,
    proposal: &Proposal,
    text: &ProposalText,
) -> Result<Proposal, GitHubError> {
    let n = number(client, proposal).await?;
    let body = serde_json::json!({ "title": text.title, "body": text.body });
    edit(client, n, body).await
}

pub(crate) async fn comment(
    client: &Client,
    proposal: &Proposal,
    text: &str,
) -> Result<(), GitHubError> {
    let n = number(client, proposal).await?;
    let path = client.repo_path(&format!("/issues/{n}/comments"));
    let body = serde_json::json!({ "body": text });
    client
        .send_ok(Method::POST, &path, Some(&body))
        .await
        .map(|_| ())
}

/// The bodies of a pull request's comments, every page.
pub(crate) async fn comments(
    client: &Client,
    proposal: &Proposal,
) -> Result<Vec<String>, GitHubError> {
    #[derive(serde::Deserialize)]
    struct Comment {
        body: Option<String>,
    }
    let n = number(client, proposal).await?;
    let first = client.repo_path(&format!("/issues/{n}/comments?per_page=100"));
    let list: Vec<Comment> = client
        .get_all(&first, "the comments of a pull request", Some)
        .await?;
    Ok(list.into_iter().filter_map(|c| c.body).collect())
}

/// The line ladder adds to the body of a pull request it closes, in the same request
/// that closes it: a closed pull request with it was closed by ladder (no longer due,
/// regrouped), one without it by a person. (Someone who reopens such a pull request and
/// closes it again by hand is taken for ladder; GitHub's `closed_by` would tell, at the
/// cost of knowing ladder's own login and a read per closed pull request.)
pub(crate) const CLOSED_MARKER: &str = "<!-- ladder:closed -->";

pub(crate) async fn close(
    client: &Client,
    proposal: &Proposal,
    reason: &str,
) -> Result<(), GitHubError> {
    let n = number(client, proposal).await?;
    let with_number = Proposal {
        number: Some(n),
        ..proposal.clone()
    };
    comment(client, &with_number, reason).await?;
    let mut patch = serde_json::json!({ "state": "closed" });
    let body = proposal.body.clone().unwrap_or_default();
    if !body.contains(CLOSED_MARKER) {
        patch["body"] = format!("{}\n{CLOSED_MARKER}\n", body.trim_end()).into();
    }
    edit(client, n, patch).await.map(|_| ())
}

/// A colour for a label ladder creates: stable per name, so a label looks the same in
/// every repository.
fn colour(name: &str) -> String {
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{:06x}", hash & 0x00ff_ffff)
}

/// Makes sure each label exists in the repository, remembering those that do.
async fn ensure_labels(
    client: &Client,
    known: &Mutex<HashSet<String>>,
    labels: &[String],
) -> Result<(), GitHubError> {
    for label in labels {
        if known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(label)
        {
            continue;
        }
        let path = client.repo_path(&format!("/labels/{}", encode(label, false)));
        let reply = client.get(&path).await?;
        if reply.status.as_u16() == 404 {
            let create = client.repo_path("/labels");
            // Says where it came from, for the people who find it in their label list.
            let body = serde_json::json!({
                "name": label,
                "color": colour(label),
                "description": "Managed by ladder",
            });
            let reply = client.send(Method::POST, &create, Some(&body)).await?;
            // 422 already_exists: created meanwhile, which is what we wanted.
            if reply.status.as_u16() != 422 {
                client.check(&reply, &Method::POST, &create)?;
            }
        } else {
            client.check(&reply, &Method::GET, &path)?;
        }
        known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(label.clone());
    }
    Ok(())
}

pub(crate) async fn label(
    client: &Client,
    known: &Mutex<HashSet<String>>,
    proposal: &Proposal,
    labels: &[String],
) -> Result<(), GitHubError> {
    if labels.is_empty() {
        return Ok(());
    }
    let n = number(client, proposal).await?;
    ensure_labels(client, known, labels).await?;
    let path = client.repo_path(&format!("/issues/{n}/labels"));
    let body = serde_json::json!({ "labels": labels });
    client
        .send_ok(Method::POST, &path, Some(&body))
        .await
        .map(|_| ())
}

pub(crate) async fn unlabel(
    client: &Client,
    proposal: &Proposal,
    labels: &[String],
) -> Result<(), GitHubError> {
    if labels.is_empty() {
        return Ok(());
    }
    let n = number(client, proposal).await?;
    for label in labels {
        let path = client.repo_path(&format!("/issues/{n}/labels/{}", encode(label, false)));
        let reply = client.send(Method::DELETE, &path, None).await?;
        // 404: the label was not on it (anymore).
        if reply.status.as_u16() != 404 {
            client.check(&reply, &Method::DELETE, &path)?;
        }
    }
    Ok(())
}

/// Users, and teams written `org/team` (or `@org/team`).
fn split_reviewers(reviewers: &[String]) -> (Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    let mut teams = Vec::new();
    for r in reviewers {
        let r = r.trim().trim_start_matches('@');
        match r.split_once('/') {
            Some((_, team)) => teams.push(team.to_string()),
            None if !r.is_empty() => users.push(r.to_string()),
            None => {}
        }
    }
    (users, teams)
}

pub(crate) async fn request_reviewers(
    client: &Client,
    proposal: &Proposal,
    reviewers: &[String],
) -> Result<(), GitHubError> {
    let (users, teams) = split_reviewers(reviewers);
    if users.is_empty() && teams.is_empty() {
        return Ok(());
    }
    let n = number(client, proposal).await?;
    let path = client.repo_path(&format!("/pulls/{n}/requested_reviewers"));
    let body = serde_json::json!({ "reviewers": users, "team_reviewers": teams });
    let reply = client.send(Method::POST, &path, Some(&body)).await?;
    if reply.status.as_u16() != 422 {
        return client.check(&reply, &Method::POST, &path);
    }
    // GitHub refuses the whole request for one reviewer it cannot ask (not a
    // collaborator, no such team): ask each one alone, so the others still are, and
    // name the refused ones.
    if reviewers.len() == 1 {
        return Err(GitHubError::Reviewers {
            number: n,
            reviewers: reviewers.join(", "),
            message: reply.message(),
        });
    }
    let mut refused = Vec::new();
    let mut message = reply.message();
    for reviewer in reviewers {
        let (users, teams) = split_reviewers(std::slice::from_ref(reviewer));
        let body = serde_json::json!({ "reviewers": users, "team_reviewers": teams });
        let reply = client.send(Method::POST, &path, Some(&body)).await?;
        if reply.status.as_u16() == 422 {
            refused.push(reviewer.as_str());
            message = reply.message();
        } else {
            client.check(&reply, &Method::POST, &path)?;
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(GitHubError::Reviewers {
        number: n,
        reviewers: refused.join(", "),
        message,
    })
}

/// How a set of commit statuses and check runs adds up: any failure fails, else anything
/// unfinished is pending, else any success passes; nothing at all is `None`.
pub(crate) fn combine_checks<'a>(
    statuses: impl IntoIterator<Item = &'a str>,
    runs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Checks {
    let mut failed = false;
    let mut pending = false;
    let mut passed = false;
    for state in statuses {
        match state {
            "success" => passed = true,
            "pending" => pending = true,
            // error, failure, and anything GitHub may add: never merge on a guess.
            _ => failed = true,
        }
    }
    for (status, conclusion) in runs {
        if status != "completed" {
            pending = true;
            continue;
        }
        match conclusion {
            Some("success" | "neutral" | "skipped") => passed = true,
            None => pending = true,
            // failure, cancelled, timed_out, action_required, stale, startup_failure...
            Some(_) => failed = true,
        }
    }
    if failed {
        Checks::Failed
    } else if pending {
        Checks::Pending
    } else if passed {
        Checks::Passed
    } else {
        Checks::None
    }
}

async fn checks(client: &Client, sha: &str) -> Result<Checks, GitHubError> {
    #[derive(Deserialize)]
    struct Status {
        state: String,
    }
    #[derive(Deserialize)]
    struct Run {
        status: String,
        conclusion: Option<String>,
    }
    let statuses: Vec<Status> = client
        .get_all(
            &client.repo_path(&format!("/commits/{sha}/status?per_page=100")),
            "the commit's statuses",
            |mut page| page.get_mut("statuses").map(serde_json::Value::take),
        )
        .await?;
    let runs: Vec<Run> = client
        .get_all(
            &client.repo_path(&format!("/commits/{sha}/check-runs?per_page=100")),
            "the commit's check runs",
            |mut page| page.get_mut("check_runs").map(serde_json::Value::take),
        )
        .await?;
    Ok(combine_checks(
        statuses.iter().map(|s| s.state.as_str()),
        runs.iter()
            .map(|r| (r.status.as_str(), r.conclusion.as_deref())),
    ))
}

pub(crate) async fn merge_state(
    client: &Client,
    proposal: &Proposal,
) -> Result<MergeState, GitHubError> {
    let n = number(client, proposal).await?;
    let path = client.repo_path(&format!("/pulls/{n}"));
    let reply = client.get(&path).await?;
    client.check(&reply, &Method::GET, &path)?;
    let pull: Pull = reply.json("a pull request")?;
    if oid(&pull.head.sha, &pull.head.branch)? != proposal.head {
        // GitHub has not caught up with the last push yet (or someone pushed):
        // whatever it says is about another commit.
        return Ok(MergeState::Unknown);
    }
    let state = pull.mergeable_state.as_deref().unwrap_or_default();
    Ok(match (pull.mergeable, state) {
        // Still computing: never guess.
        (None, _) | (_, "unknown") => MergeState::Unknown,
        (_, "dirty") | (Some(false), _) => MergeState::Blocked {
            reason: "it has conflicts with the base branch".into(),
        },
        (_, "draft") => MergeState::Blocked {
            reason: "it is a draft".into(),
        },
        (_, "blocked") => MergeState::Blocked {
            reason: "branch protection blocks it (required reviews or checks)".into(),
        },
        (_, "behind") => MergeState::Blocked {
            reason: "its head is behind the base branch (the next run rebuilds it)".into(),
        },
        // clean, has_hooks, unstable (a check that is not required failed: the checks
        // say so), or a state GitHub adds later.
        (Some(true), _) => MergeState::Mergeable {
            checks: checks(client, &pull.head.sha).await?,
        },
    })
}

pub(crate) async fn merge(
    client: &Client,
    proposal: &Proposal,
    method: MergeMethod,
) -> Result<(), GitHubError> {
    let n = number(client, proposal).await?;
    let path = client.repo_path(&format!("/pulls/{n}/merge"));
    // `sha`: GitHub merges only if the head is still the one ladder checked.
    let body = serde_json::json!({
        "merge_method": crate::options::merge_method_name(method),
        "sha": proposal.head.to_string(),
    });
    let reply = client.send(Method::PUT, &path, Some(&body)).await?;
    match reply.status.as_u16() {
        409 => Err(GitHubError::Moved {
            branch: proposal.branch.clone(),
        }),
        405 => Err(GitHubError::NotMergeable {
            number: n,
            message: reply.message(),
        }),
        _ => client.check(&reply, &Method::PUT, &path),
    }
}

pub(crate) async fn closed_proposal(
    client: &Client,
    branch: &str,
) -> Result<Option<ClosedProposal>, GitHubError> {
    let path = client.repo_path(&format!(
        "/pulls?state=closed&head={}&sort=created&direction=desc&per_page=1",
        head_query(client, branch)
    ));
    let reply = client.get(&path).await?;
    client.check(&reply, &Method::GET, &path)?;
    let pulls: Vec<Pull> = reply.json("the closed pull requests of a branch")?;
    let Some(pull) = pulls.into_iter().next() else {
        return Ok(None);
    };
    let head: ObjectId = oid(&pull.head.sha, branch)?;
    Ok(Some(ClosedProposal {
        branch: branch.to_string(),
        head,
        number: Some(pull.number),
        url: pull.html_url,
        merged: pull.merged_at.is_some(),
        closed_by_ladder: pull
            .body
            .as_deref()
            .is_some_and(|b| b.contains(CLOSED_MARKER)),
        body: pull.body.unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_combine() {
        let none: [&str; 0] = [];
        assert_eq!(combine_checks(none, []), Checks::None);
        assert_eq!(combine_checks(["success"], []), Checks::Passed);
        assert_eq!(
            combine_checks([], [("completed", Some("skipped"))]),
            Checks::Passed
        );
        assert_eq!(
            combine_checks(["success"], [("in_progress", None)]),
            Checks::Pending
        );
        assert_eq!(combine_checks(["pending"], []), Checks::Pending);
        assert_eq!(
            combine_checks(["pending"], [("completed", Some("timed_out"))]),
            Checks::Failed
        );
        assert_eq!(combine_checks(["error"], []), Checks::Failed);
        for bad in ["failure", "cancelled", "action_required", "stale"] {
            assert_eq!(
                combine_checks(["success"], [("completed", Some(bad))]),
                Checks::Failed,
                "{bad}"
            );
        }
        assert_eq!(
            combine_checks([], [("queued", None), ("completed", Some("neutral"))]),
            Checks::Pending
        );
    }

    #[test]
    fn reviewers_split_into_users_and_teams() {
        let (users, teams) = split_reviewers(&[
            "alice".into(),
            "@acme/platform".into(),
            "acme/sre".into(),
            " ".into(),
        ]);
        assert_eq!(users, ["alice"]);
        assert_eq!(teams, ["platform", "sre"]);
    }

    #[test]
    fn label_colours_are_stable_hex() {
        let c = colour("ladder:held");
        assert_eq!(c.len(), 6);
        assert!(c.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(c, colour("ladder:held"));
    }
}

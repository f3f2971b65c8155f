//! Branches through GitHub's Git data API: reading refs, recreating a commit from its
//! content (blobs, a tree on the parent's, a commit GitHub signs), moving and deleting
//! refs under a lease.
//!
//! GitHub's ref update takes no expected old value, so the lease is checked by reading
//! the ref right before the update (a mismatch writes nothing) and again right after (a
//! mismatch means someone raced us: reported as moved). A writer that moves the branch
//! between our read and our update and whose own write then lands before our re-read is
//! invisible to the first check and overwritten; the re-read catches every other
//! interleaving. Pushes (`commitMode: push`) have no such window.

use base64::Engine;
use http::Method;
use ladder_git::{Lease, ObjectId};
use ladder_promote::forge::CommitContent;
use serde::Deserialize;

use crate::client::{Client, encode};
use crate::error::GitHubError;

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct RefObject {
    object: Sha,
}

#[derive(Deserialize)]
struct Commit {
    tree: Sha,
}

pub(crate) fn oid(sha: &str, what: &str) -> Result<ObjectId, GitHubError> {
    ObjectId::from_hex(sha.as_bytes()).map_err(|e| GitHubError::Decode {
        what: what.to_string(),
        message: format!("{sha:?} is not a commit id: {e}"),
    })
}

fn ref_path(client: &Client, branch: &str) -> String {
    client.repo_path(&format!("/git/refs/heads/{}", encode(branch, true)))
}

/// The branch's tip; `fresh` skips the conditional request (around ref updates).
pub(crate) async fn branch_tip(
    client: &Client,
    branch: &str,
    fresh: bool,
) -> Result<Option<ObjectId>, GitHubError> {
    let path = client.repo_path(&format!("/git/ref/heads/{}", encode(branch, true)));
    let reply = if fresh {
        client.get_fresh(&path).await?
    } else {
        client.get(&path).await?
    };
    if reply.status.as_u16() == 404 {
        // A missing branch, unless the repository itself is missing: that would
        // otherwise look like "no branch" forever.
        return if branch_missing(client).await? {
            Ok(None)
        } else {
            Err(client.error(&reply, &Method::GET, &path))
        };
    }
    client.check(&reply, &Method::GET, &path)?;
    // `git/ref/heads/x` may answer a list when x is a prefix of other refs (old API).
    let value: serde_json::Value = reply.json("a branch")?;
    if value.is_array() {
        return Ok(None);
    }
    let object: RefObject = serde_json::from_value(value).map_err(|e| GitHubError::Decode {
        what: format!("the ref of {branch}"),
        message: e.to_string(),
    })?;
    Ok(Some(oid(&object.object.sha, branch)?))
}

/// After a 404 on a ref: true when the repository is there (so the branch is what is
/// missing). The answer is remembered by ETag, so it costs no rate limit when repeated.
async fn branch_missing(client: &Client) -> Result<bool, GitHubError> {
    let path = client.repo_path("");
    let reply = client.get(&path).await?;
    client.check(&reply, &Method::GET, &path)?;
    Ok(true)
}

/// Recreates `content` as a commit through the API and returns its id.
pub(crate) async fn create_commit(
    client: &Client,
    content: &CommitContent,
) -> Result<ObjectId, GitHubError> {
    let parent = content.parent.to_string();
    // A commit never changes: its conditional GET is free from the second time on.
    let path = client.repo_path(&format!("/git/commits/{parent}"));
    let reply = client.get(&path).await?;
    client.check(&reply, &Method::GET, &path)?;
    let base_tree = reply.json::<Commit>("the parent commit")?.tree.sha;

    let mut entries = Vec::new();
    let blobs = client.repo_path("/git/blobs");
    for (file, bytes) in &content.files {
        let body = serde_json::json!({
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "encoding": "base64",
        });
        let reply = client.send_ok(Method::POST, &blobs, Some(&body)).await?;
        let sha = reply.json::<Sha>("a new blob")?.sha;
        // ladder writes YAML values files: regular, not executable.
        entries.push(serde_json::json!({
            "path": file, "mode": "100644", "type": "blob", "sha": sha,
        }));
    }
    let trees = client.repo_path("/git/trees");
    let body = serde_json::json!({ "base_tree": base_tree, "tree": entries });
    let reply = client.send_ok(Method::POST, &trees, Some(&body)).await?;
    let tree = reply.json::<Sha>("a new tree")?.sha;

    // No author or committer: GitHub makes the commit as the token's user or App and
    // signs it, so it shows as verified.
    let commits = client.repo_path("/git/commits");
    let body = serde_json::json!({
        "message": content.message,
        "tree": tree,
        "parents": [parent],
    });
    let reply = client.send_ok(Method::POST, &commits, Some(&body)).await?;
    oid(&reply.json::<Sha>("a new commit")?.sha, "a new commit")
}

/// Points `branch` at `commit` if it is where `lease` says (see the module docs for
/// the window GitHub's API leaves).
pub(crate) async fn move_ref(
    client: &Client,
    branch: &str,
    commit: ObjectId,
    lease: Lease,
) -> Result<(), GitHubError> {
    let moved = || GitHubError::Moved {
        branch: branch.to_string(),
    };
    match lease {
        Lease::Absent => {
            let path = client.repo_path("/git/refs");
            let body = serde_json::json!({
                "ref": format!("refs/heads/{branch}"),
                "sha": commit.to_string(),
            });
            let reply = client.send(Method::POST, &path, Some(&body)).await?;
            if reply.status.as_u16() == 422 {
                // "Reference already exists": someone created it first.
                return Err(moved());
            }
            client.check(&reply, &Method::POST, &path)?;
        }
        Lease::At(expected) => {
            if branch_tip(client, branch, true).await? != Some(expected) {
                return Err(moved());
            }
            let path = ref_path(client, branch);
            let body = serde_json::json!({ "sha": commit.to_string(), "force": true });
            let reply = client.send(Method::PATCH, &path, Some(&body)).await?;
            if reply.status.as_u16() == 422 {
                // The ref vanished between the read and the update.
                return Err(moved());
            }
            client.check(&reply, &Method::PATCH, &path)?;
            if branch_tip(client, branch, true).await? != Some(commit) {
                return Err(moved());
            }
        }
    }
    Ok(())
}

/// Deletes `branch` if it still points to `expected`.
pub(crate) async fn delete_ref(
    client: &Client,
    branch: &str,
    expected: ObjectId,
) -> Result<(), GitHubError> {
    let moved = || GitHubError::Moved {
        branch: branch.to_string(),
    };
    if branch_tip(client, branch, true).await? != Some(expected) {
        return Err(moved());
    }
    let path = ref_path(client, branch);
    let reply = client.send(Method::DELETE, &path, None).await?;
    if reply.status.as_u16() == 422 {
        // "Reference does not exist": deleted by someone else meanwhile.
        return Err(moved());
    }
    client.check(&reply, &Method::DELETE, &path)
}

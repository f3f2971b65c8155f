//! `render: {path: FOLDER}`: the render kept in a folder of the config branch itself,
//! changed only through a proposal (`ladder/render`, or `ladder/<tenant>/render` in a
//! monorepo) that a person merges like any other. One commit on the config branch's
//! head replaces the folder with the render; kept while up to date, rebuilt under a
//! lease when the head or the render moves, deleted once the branch holds the render.

use std::collections::BTreeMap;

use ladder_engine::ConfigBranch;
use ladder_git::{CommitOutcome, CommitRequest, Edits, Lease, ObjectId};
use ladder_model::{ConfigTree, EntryKind};
use ladder_promote::forge::{BranchWrite, CommitContent, Forge, ProposalText};

use crate::sync::{RenderReport, SyncError, TenantRuntime};

/// The trailer naming the folder a render commit replaces.
const TRAILER: &str = "Ladder-Render";

pub(crate) fn publish(
    rt: &TenantRuntime,
    branch: &ConfigBranch,
    head: ObjectId,
    files: &BTreeMap<String, Vec<u8>>,
    folder: &str,
    forge: &dyn Forge,
) -> Result<RenderReport, SyncError> {
    let folder = folder.trim_matches('/');
    let failed = |message: String| SyncError::Publish {
        branch: format!("the folder {folder}"),
        message,
    };
    let repo = branch.repo();
    let subfolder = branch.opened.subfolder().trim_end_matches('/');
    let in_repo = |path: &str| {
        if subfolder.is_empty() {
            path.to_string()
        } else {
            format!("{subfolder}/{path}")
        }
    };
    let mut edits = Edits::new();
    let mut existing = Vec::new();
    walk(branch.opened.tree(), folder, &mut existing).map_err(|e| failed(e.to_string()))?;
    for path in &existing {
        let relative = path.strip_prefix(&format!("{folder}/")).unwrap_or(path);
        if !files.contains_key(relative) {
            edits.delete(in_repo(path));
        }
    }
    for (path, bytes) in files {
        edits.write(in_repo(&format!("{folder}/{path}")), bytes.clone());
    }
    let short = &head.to_string()[..12];
    let request = CommitRequest {
        parent: head,
        edits,
        author: rt.identity.clone(),
        committer: rt.identity.clone(),
        message: format!("Render {short} into {folder}"),
        trailers: vec![
            (TRAILER.into(), folder.to_string()),
            ("Ladder-Rendered-From".into(), head.to_string()),
        ],
        time: None,
    };
    let prefix = ladder_promote::plan::branch_prefix(&branch.tenant, !subfolder.is_empty());
    let proposal_branch = format!("{prefix}render");
    let tip = repo
        .branch_tip(&proposal_branch)
        .map_err(|e| failed(e.to_string()))?;
    let ours = |id: ObjectId| -> Result<Option<(ObjectId, ObjectId)>, SyncError> {
        let commit = repo.read_commit(id).map_err(|e| failed(e.to_string()))?;
        Ok(commit.and_then(|c| {
            let marked = c
                .message
                .lines()
                .any(|l| l.strip_prefix(&format!("{TRAILER}: ")) == Some(folder));
            match c.parents.as_slice() {
                [parent] if marked => Some((*parent, c.tree)),
                _ => None,
            }
        }))
    };
    let built = repo
        .build_commit(&request)
        .map_err(|e| failed(e.to_string()))?;
    let (commit, tree) = match built {
        CommitOutcome::Unchanged => {
            // The folder holds the render: a proposal of it was merged (or it was
            // committed by hand). Its branch goes, if it is ladder's.
            if let Some(tip) = tip
                && ours(tip)?.is_some()
            {
                write(forge, &proposal_branch, None, Lease::At(tip), None).map_err(failed)?;
            }
            return Ok(RenderReport::InPlace {
                folder: folder.to_string(),
                commit: head,
            });
        }
        CommitOutcome::Created { commit, tree } => (commit, tree),
    };
    let lease = match tip {
        None => Lease::Absent,
        Some(tip) => match ours(tip)? {
            Some((parent, t)) if parent == head && t == tree => {
                ensure_open(forge, &proposal_branch, &branch.branch, folder, short)
                    .map_err(failed)?;
                return Ok(RenderReport::Proposed {
                    branch: proposal_branch,
                    commit: tip,
                });
            }
            Some(_) => Lease::At(tip),
            None => {
                return Err(failed(format!(
                    "someone else pushed to {proposal_branch}; ladder leaves it alone (delete it to let ladder propose the render again)"
                )));
            }
        },
    };
    let content = CommitContent::of(&request).map_err(|e| failed(e.to_string()))?;
    let written = write(forge, &proposal_branch, Some(commit), lease, Some(content))
        .map_err(failed)?
        .unwrap_or(commit);
    ensure_open(forge, &proposal_branch, &branch.branch, folder, short).map_err(failed)?;
    Ok(RenderReport::Proposed {
        branch: proposal_branch,
        commit: written,
    })
}

/// One branch write through the forge; the commit the branch holds afterwards.
fn write(
    forge: &dyn Forge,
    branch: &str,
    new: Option<ObjectId>,
    lease: Lease,
    content: Option<CommitContent>,
) -> Result<Option<ObjectId>, String> {
    let write = BranchWrite {
        branch: branch.to_string(),
        new,
        lease,
        content,
    };
    forge
        .write_branches(std::slice::from_ref(&write))
        .map_err(|e| e.to_string())?
        .pop()
        .expect("one result per write")
        .map_err(|e| e.to_string())
}

/// Opens the render's proposal unless the forge already has it open.
fn ensure_open(
    forge: &dyn Forge,
    branch: &str,
    base: &str,
    folder: &str,
    short: &str,
) -> Result<(), String> {
    // The `git` forge lists the branch itself, which is its proposal.
    let open = forge.proposals(branch).map_err(|e| e.to_string())?;
    if open.iter().any(|p| p.branch == branch) {
        return Ok(());
    }
    let text = ProposalText {
        title: format!("Render {short} into {folder}"),
        body: format!(
            "<!-- ladder:render {folder} -->\nThe rendered Argo CD manifests of config commit {short}, into `{folder}`. ladder keeps this up to date; merge it to publish the render.\n"
        ),
        ..ProposalText::default()
    };
    forge
        .open(branch, base, &text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every file under `folder` of `tree`, as tenant-relative paths.
fn walk(
    tree: &dyn ConfigTree,
    folder: &str,
    out: &mut Vec<String>,
) -> Result<(), ladder_model::TreeError> {
    let Some(entries) = tree.list_dir(folder)? else {
        return Ok(());
    };
    for entry in entries {
        let path = format!("{folder}/{}", entry.name);
        match entry.kind {
            EntryKind::File => out.push(path),
            EntryKind::Dir => walk(tree, &path, out)?,
        }
    }
    Ok(())
}

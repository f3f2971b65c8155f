//! Where proposals live: the [`Forge`] trait, which the reconcile drives and each forge
//! implements (the offline [`GitForge`](crate::git_forge::GitForge) here, a GitHub
//! forge later), and the types it speaks.
//!
//! The reconcile builds every commit itself, in memory in the local repository (the
//! mirror, or the folder's own repository), so a forge only publishes branches, keeps
//! the proposal around a branch (title, body, labels, reviewers), and reports and
//! performs merges. A forge without an API answers [`ForgeError::Unsupported`] for what
//! it has no place for (comments, labels, reviewers, closed-proposal lookup); the
//! reconcile treats that as "nothing to do there". Forges that commit through their API
//! (GitHub's `commitMode: api`) recreate each commit from [`BranchWrite::content`].

use ladder_git::{Lease, ObjectId};

/// An open proposal ladder made: a branch on the forge, and on forges with an API the
/// pull request around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The proposal's branch, `ladder/<env>/<app>`.
    pub branch: String,
    /// The branch's tip as the forge reports it: the lease of the next write.
    pub head: ObjectId,
    /// The pull request's number, on forges that number them.
    pub number: Option<u64>,
    /// Where a person looks at it (a pull request, or a compare view), when known.
    pub url: Option<String>,
    /// The title the forge holds, when it holds one.
    pub title: Option<String>,
    /// The body the forge holds, when it holds one: its first line is ladder's hidden
    /// marker, which says which values the proposal carries.
    pub body: Option<String>,
    /// The branch it proposes to merge into, on forges where that is a choice: only
    /// proposals into the config branch are ladder's.
    pub base: Option<String>,
    /// The labels it carries, on forges that have them.
    pub labels: Vec<String>,
}

/// What a proposal says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalText {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
}

/// One branch change of a batched write: `new: None` deletes the branch. Every write
/// carries its own lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchWrite {
    pub branch: String,
    /// The commit (in the local repository) the branch is to hold; `None` deletes it.
    pub new: Option<ObjectId>,
    pub lease: Lease,
    /// The same commit as content (its parent, the files it writes, its message), for
    /// forges that recreate it through their API instead of pushing `new`
    /// (`commitMode: api`). The recreated commit has the same tree and message.
    pub content: Option<CommitContent>,
}

impl BranchWrite {
    /// Deletes `branch`, which must still be at `head`.
    pub fn delete(branch: impl Into<String>, head: ObjectId) -> BranchWrite {
        BranchWrite {
            branch: branch.into(),
            new: None,
            lease: Lease::At(head),
            content: None,
        }
    }
}

/// A one-parent commit described by what it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitContent {
    pub parent: ObjectId,
    /// Files written (paths from the repository root) and their whole new contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// The whole message, trailers included.
    pub message: String,
}

/// Whether a proposal can be merged now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeState {
    /// It merges cleanly; `checks` says how its checks stand.
    Mergeable { checks: Checks },
    /// It does not merge now, and `reason` says why (conflicts, the base moved and the
    /// forge cannot fast-forward, branch protection wants reviews, a draft).
    Blocked { reason: String },
    /// The forge has not decided yet (it is computing mergeability, or the proposal was
    /// written in this run and its checks may not be registered yet): wait for a later
    /// run.
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// There are none.
    None,
    Pending,
    Passed,
    Failed,
}

impl CommitContent {
    /// What building `request` commits: its parent, the files it writes, its whole
    /// message. Fails only on a trailer that cannot be written.
    pub fn of(request: &ladder_git::CommitRequest) -> Result<CommitContent, ladder_git::Error> {
        Ok(CommitContent {
            parent: request.parent,
            files: request
                .edits
                .changes()
                .filter_map(|(path, bytes)| bytes.map(|b| (path.to_string(), b.to_vec())))
                .collect(),
            message: request.full_message()?,
        })
    }
}

/// A proposal that was closed, found by its branch (on forges that keep them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedProposal {
    pub branch: String,
    /// The head commit when it was closed.
    pub head: ObjectId,
    pub number: Option<u64>,
    pub url: Option<String>,
    /// Merged (by anyone), as opposed to closed without merging.
    pub merged: bool,
    /// Its body as it was closed: ladder's hidden marker in it says which values it
    /// proposed.
    pub body: String,
    /// ladder closed it (no longer due, regrouped), as opposed to a person: only a
    /// person's close holds the values it proposed.
    pub closed_by_ladder: bool,
}

/// What a forge call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// This forge has no such operation (the `git` forge has no comments, labels,
    /// reviewers or API).
    #[error("the {forge} forge cannot {what}")]
    Unsupported {
        forge: &'static str,
        what: &'static str,
    },
    /// The branch is not where the lease said: someone else wrote it. Read again,
    /// recompute, retry; never overwrite blindly.
    #[error("{branch} moved")]
    Moved {
        branch: String,
        #[source]
        source: Option<Box<ladder_git::Error>>,
    },
    /// A branch checked out in the folder given as the repo, which ladder never moves
    /// under a person.
    #[error("{branch} is checked out in {repo}; ladder does not move it")]
    CheckedOut { branch: String, repo: String },
    /// The git layer failed (network, credentials, limits, the object database).
    #[error("{context}: {source}")]
    Git {
        context: String,
        #[source]
        source: Box<ladder_git::Error>,
    },
    /// The forge itself answered with an error.
    #[error("{message}")]
    Api { message: String, transient: bool },
}

impl ForgeError {
    /// True when trying again later may help.
    pub fn is_transient(&self) -> bool {
        match self {
            ForgeError::Moved { .. } => true,
            ForgeError::Git { source, .. } => source.is_transient(),
            ForgeError::Api { transient, .. } => *transient,
            ForgeError::Unsupported { .. } | ForgeError::CheckedOut { .. } => false,
        }
    }
}

/// A place proposals live. See the module documentation for who does what.
pub trait Forge {
    /// The forge's name for messages (`git`, `github`).
    fn name(&self) -> &'static str;

    /// Every open proposal whose branch starts with `prefix` (`ladder/`).
    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError>;

    /// The commit `branch` (the target branch) points to on the forge now.
    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError>;

    /// Publishes the commits of `writes` (already in the local repository) in one
    /// batch, each branch under its own lease. The outer error fails the whole batch;
    /// each write has its own result, in order: the commit the branch holds now (`new`,
    /// or the forge's own commit when it recreated it through its API), `None` for a
    /// deletion.
    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError>;

    /// Opens the proposal of `branch` (already written) into `base`.
    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError>;

    /// Brings an open proposal's title and body up to date.
    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError>;

    /// Closes a proposal, saying why, so that [`ClosedProposal::closed_by_ladder`] tells
    /// it from a person's close later. Its branch is deleted by a [`BranchWrite`].
    fn close(&self, proposal: &Proposal, reason: &str) -> Result<(), ForgeError>;

    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError>;

    /// The bodies of the proposal's comments, oldest first, so a comment ladder must
    /// post once is looked for before it is posted again after a lost answer.
    fn comments(&self, _proposal: &Proposal) -> Result<Vec<String>, ForgeError> {
        Err(ForgeError::Unsupported {
            forge: "this",
            what: "list comments",
        })
    }

    /// Adds `labels` to the proposal (those it has already stay).
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError>;

    /// Removes `labels` from the proposal.
    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError>;

    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError>;

    /// Whether `proposal` can be merged into `base` now, and its checks.
    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError>;

    /// Merges `proposal` into `base`, which must still be at `base_tip`.
    fn merge(&self, proposal: &Proposal, base: &str, base_tip: ObjectId) -> Result<(), ForgeError>;

    /// The most recent closed proposal of `branch`, merged or not, if the forge keeps
    /// them.
    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError>;

    /// What is left of the forge's API budget (GitHub's rate limit), as last reported.
    fn rate_limit_remaining(&self) -> Option<u64> {
        None
    }
}

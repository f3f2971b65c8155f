//! Test forges shared by the promoter's tests: [`PrForge`], a forge whose proposals are
//! pull requests (a title, a body, labels, reviewers, comments, and closed ones kept)
//! around the `git` forge's branches, and [`Faulty`], which fails one call of any forge,
//! before its effect or after it (the effect lands, the answer is lost).

// Each test file uses part of this module.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use ladder_git::{Lease, ObjectId};
use ladder_promote::GitForge;
use ladder_promote::forge::{
    BranchWrite, ClosedProposal, Forge, ForgeError, MergeState, Proposal, ProposalText,
};

/// An open pull request, as the fake keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pr {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub comments: Vec<String>,
}

/// Pull-request state kept beside the git forge's branches.
#[derive(Clone, Debug, Default)]
pub struct Prs {
    /// branch -> its open pull request.
    pub open: BTreeMap<String, Pr>,
    /// branch -> its most recent closed pull request.
    pub closed: BTreeMap<String, ClosedProposal>,
    /// Fail `close` calls.
    pub fail_close: bool,
    /// The writes made (`open <branch>`, `update <branch>`, ...), since the last clear.
    pub calls: Vec<String>,
}

/// The line the GitHub forge adds to the body of a pull request it closes.
pub const CLOSED_MARKER: &str = "<!-- ladder:closed -->";

fn no_such(branch: &str) -> ForgeError {
    ForgeError::Api {
        message: format!("no open pull request from {branch}"),
        transient: false,
    }
}

/// A forge of pull requests around the `git` forge's branches, which behaves as GitHub
/// does where the reconcile can tell: only branches with an open pull request are
/// proposals; opening one that is open adopts it (and sets its text); labels and
/// reviewers are sets; a pull request ladder closes is marked so.
pub struct PrForge<'a> {
    pub inner: GitForge<'a>,
    pub prs: &'a RefCell<Prs>,
}

impl PrForge<'_> {
    fn record(&self, call: String) {
        self.prs.borrow_mut().calls.push(call);
    }
}

impl Forge for PrForge<'_> {
    fn name(&self) -> &'static str {
        "prs"
    }
    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        let prs = self.prs.borrow();
        Ok(self
            .inner
            .proposals(prefix)?
            .into_iter()
            .filter_map(|mut p| {
                let pr = prs.open.get(&p.branch)?.clone();
                p.title = Some(pr.title);
                p.body = Some(pr.body);
                p.labels = pr.labels;
                Some(p)
            })
            .collect())
    }
    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.inner.branch_tip(branch)
    }
    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        for w in writes {
            self.record(format!("write {}", w.branch));
        }
        let results = self.inner.write_branches(writes)?;
        // A deleted head branch closes its pull request, as on GitHub.
        let mut prs = self.prs.borrow_mut();
        for (w, r) in writes.iter().zip(&results) {
            if w.new.is_none()
                && r.is_ok()
                && let Some(pr) = prs.open.remove(&w.branch)
            {
                let closed = ClosedProposal {
                    branch: w.branch.clone(),
                    head: match w.lease {
                        Lease::At(tip) => tip,
                        Lease::Absent => ObjectId::from_hex(&[b'0'; 40]).unwrap(),
                    },
                    number: None,
                    url: None,
                    merged: false,
                    closed_by_ladder: pr.body.contains(CLOSED_MARKER),
                    body: pr.body,
                };
                prs.closed.insert(w.branch.clone(), closed);
            }
        }
        Ok(results)
    }
    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.record(format!("open {branch}"));
        // The branch must exist.
        let opened = self.inner.open(branch, base, text)?;
        let mut prs = self.prs.borrow_mut();
        let pr = prs.open.entry(branch.into()).or_default();
        pr.title = text.title.clone();
        pr.body = text.body.clone();
        Ok(Proposal {
            title: Some(pr.title.clone()),
            body: Some(pr.body.clone()),
            labels: pr.labels.clone(),
            ..opened
        })
    }
    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.record(format!("update {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        let pr = prs
            .open
            .get_mut(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        pr.title = text.title.clone();
        pr.body = text.body.clone();
        Ok(proposal.clone())
    }
    fn close(&self, proposal: &Proposal, _reason: &str) -> Result<(), ForgeError> {
        self.record(format!("close {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        if prs.fail_close {
            return Err(ForgeError::Api {
                message: "injected".into(),
                transient: true,
            });
        }
        let pr = prs
            .open
            .remove(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        prs.closed.insert(
            proposal.branch.clone(),
            ClosedProposal {
                branch: proposal.branch.clone(),
                head: proposal.head,
                number: None,
                url: None,
                merged: false,
                body: format!("{}\n{CLOSED_MARKER}\n", pr.body),
                closed_by_ladder: true,
            },
        );
        Ok(())
    }
    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError> {
        self.record(format!("comment {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        let pr = prs
            .open
            .get_mut(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        pr.comments.push(text.to_string());
        Ok(())
    }
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.record(format!("label {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        let pr = prs
            .open
            .get_mut(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        for l in labels {
            if !pr.labels.contains(l) {
                pr.labels.push(l.clone());
            }
        }
        Ok(())
    }
    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.record(format!("unlabel {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        let pr = prs
            .open
            .get_mut(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        pr.labels.retain(|l| !labels.contains(l));
        Ok(())
    }
    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError> {
        self.record(format!("request_reviewers {}", proposal.branch));
        let mut prs = self.prs.borrow_mut();
        let pr = prs
            .open
            .get_mut(&proposal.branch)
            .ok_or_else(|| no_such(&proposal.branch))?;
        for r in reviewers {
            if !pr.reviewers.contains(r) {
                pr.reviewers.push(r.clone());
            }
        }
        Ok(())
    }
    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError> {
        self.inner.merge_state(proposal, base)
    }
    fn merge(&self, proposal: &Proposal, base: &str, tip: ObjectId) -> Result<(), ForgeError> {
        self.record(format!("merge {}", proposal.branch));
        self.inner.merge(proposal, base, tip)
    }
    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        Ok(self.prs.borrow().closed.get(branch).cloned())
    }
}

/// Where [`Faulty`] fails its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// The call fails before it has any effect.
    Before,
    /// The call has its effect, then fails (the answer is lost).
    After,
}

/// A forge that fails its `fail_at`-th call (counting from 0) in `mode`, and records
/// every call (`name argument`).
pub struct Faulty<F> {
    pub inner: F,
    pub fail_at: Option<(usize, FaultMode)>,
    pub calls: RefCell<Vec<String>>,
    pub failed: Cell<bool>,
}

impl<F: Forge> Faulty<F> {
    pub fn new(inner: F, fail_at: Option<(usize, FaultMode)>) -> Faulty<F> {
        Faulty {
            inner,
            fail_at,
            calls: RefCell::new(Vec::new()),
            failed: Cell::new(false),
        }
    }

    /// The message of the injected failure of call `n`.
    pub fn message(n: usize) -> String {
        format!("injected failure of call {n}")
    }

    fn step<T>(
        &self,
        call: String,
        f: impl FnOnce() -> Result<T, ForgeError>,
    ) -> Result<T, ForgeError> {
        let n = self.calls.borrow().len();
        self.calls.borrow_mut().push(call);
        match self.fail_at {
            Some((at, mode)) if at == n => {
                if mode == FaultMode::After {
                    let _ = f();
                }
                self.failed.set(true);
                Err(ForgeError::Api {
                    message: Self::message(n),
                    transient: true,
                })
            }
            _ => f(),
        }
    }
}

impl<F: Forge> Forge for Faulty<F> {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        self.step(format!("proposals {prefix}"), || {
            self.inner.proposals(prefix)
        })
    }
    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.step(format!("branch_tip {branch}"), || {
            self.inner.branch_tip(branch)
        })
    }
    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        let names: Vec<&str> = writes.iter().map(|w| w.branch.as_str()).collect();
        self.step(format!("write_branches {}", names.join(",")), || {
            self.inner.write_branches(writes)
        })
    }
    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.step(format!("open {branch}"), || {
            self.inner.open(branch, base, text)
        })
    }
    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.step(format!("update {}", proposal.branch), || {
            self.inner.update(proposal, text)
        })
    }
    fn close(&self, proposal: &Proposal, reason: &str) -> Result<(), ForgeError> {
        self.step(format!("close {}", proposal.branch), || {
            self.inner.close(proposal, reason)
        })
    }
    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError> {
        self.step(format!("comment {}", proposal.branch), || {
            self.inner.comment(proposal, text)
        })
    }
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.step(format!("label {}", proposal.branch), || {
            self.inner.label(proposal, labels)
        })
    }
    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.step(format!("unlabel {}", proposal.branch), || {
            self.inner.unlabel(proposal, labels)
        })
    }
    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError> {
        self.step(format!("request_reviewers {}", proposal.branch), || {
            self.inner.request_reviewers(proposal, reviewers)
        })
    }
    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError> {
        self.step(format!("merge_state {}", proposal.branch), || {
            self.inner.merge_state(proposal, base)
        })
    }
    fn merge(&self, proposal: &Proposal, base: &str, tip: ObjectId) -> Result<(), ForgeError> {
        self.step(format!("merge {}", proposal.branch), || {
            self.inner.merge(proposal, base, tip)
        })
    }
    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        self.step(format!("closed_proposal {branch}"), || {
            self.inner.closed_proposal(branch)
        })
    }
}

//! On forges with labels and reviewers: a new proposal gets the environment's reviewers
//! and labels (the reviewers asked again when the labels are gone); a frozen one is
//! marked once (label and comment), and unmarked once it moves again; one someone else
//! pushed to is marked once and left alone; a proposal that is up to date costs no API
//! write.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use ladder_git::{Identity, ObjectId, Repo};
use ladder_model::LoadOptions;
use ladder_promote::GitForge;
use ladder_promote::forge::{
    BranchWrite, ClosedProposal, Forge, ForgeError, MergeState, Proposal, ProposalText,
};
use ladder_promote::reconcile::{FOREIGN_LABEL, FROZEN_LABEL};
use ladder_promote::{ConfigHead, PromoteOptions};
use ladder_testkit::git;

/// The git forge plus labels and reviewers kept in memory, with every write recorded.
struct Labelled<'a> {
    inner: GitForge<'a>,
    labels: &'a RefCell<BTreeMap<String, Vec<String>>>,
    calls: RefCell<Vec<String>>,
}

impl Forge for Labelled<'_> {
    fn name(&self) -> &'static str {
        "labelled"
    }
    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        let mut list = self.inner.proposals(prefix)?;
        for p in &mut list {
            p.labels = self
                .labels
                .borrow()
                .get(&p.branch)
                .cloned()
                .unwrap_or_default();
        }
        Ok(list)
    }
    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.inner.branch_tip(branch)
    }
    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        self.inner.write_branches(writes)
    }
    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.calls.borrow_mut().push(format!("open {branch}"));
        self.inner.open(branch, base, text)
    }
    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.calls
            .borrow_mut()
            .push(format!("update {}", proposal.branch));
        self.inner.update(proposal, text)
    }
    fn close(&self, proposal: &Proposal, reason: &str) -> Result<(), ForgeError> {
        self.inner.close(proposal, reason)
    }
    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError> {
        // After ladder's hidden marker line, if any.
        let shown = match text.split_once('\n') {
            Some((first, rest)) if first.starts_with("<!--") => rest,
            _ => text,
        };
        let first_words: Vec<&str> = shown.split_whitespace().take(4).collect();
        self.calls.borrow_mut().push(format!(
            "comment {} {}",
            proposal.branch,
            first_words.join(" ")
        ));
        Ok(())
    }
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.calls
            .borrow_mut()
            .push(format!("label {} {}", proposal.branch, labels.join(",")));
        let mut all = self.labels.borrow_mut();
        let list = all.entry(proposal.branch.clone()).or_default();
        for l in labels {
            if !list.contains(l) {
                list.push(l.clone());
            }
        }
        Ok(())
    }
    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.calls
            .borrow_mut()
            .push(format!("unlabel {} {}", proposal.branch, labels.join(",")));
        if let Some(list) = self.labels.borrow_mut().get_mut(&proposal.branch) {
            list.retain(|l| !labels.contains(l));
        }
        Ok(())
    }
    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError> {
        self.calls.borrow_mut().push(format!(
            "reviewers {} {}",
            proposal.branch,
            reviewers.join(",")
        ));
        Ok(())
    }
    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError> {
        self.inner.merge_state(proposal, base)
    }
    fn merge(&self, proposal: &Proposal, base: &str, tip: ObjectId) -> Result<(), ForgeError> {
        self.inner.merge(proposal, base, tip)
    }
    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        self.inner.closed_proposal(branch)
    }
}

fn staging(frozen: bool) -> String {
    format!(
        "name: staging\ncluster: staging\nnamespace: \"{{app}}\"\nsync: auto\npromotion:\n  from: dev\n  frozen: {frozen}\n  labels: [promotion]\n  reviewers: [alice]\n"
    )
}

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// One promote; the forge's write calls.
fn run(dir: &Path, labels: &RefCell<BTreeMap<String, Vec<String>>>) -> Vec<String> {
    let repo = Repo::open_local(dir).unwrap();
    let head = repo.resolve("main").unwrap();
    let tree = repo.tree_at(head).unwrap();
    let tenant = ladder_model::load(&tree, &LoadOptions::default()).unwrap();
    let forge = Labelled {
        inner: GitForge::new(&repo),
        labels,
        calls: RefCell::new(Vec::new()),
    };
    let outcome = ladder_promote::promote(
        &ConfigHead {
            tenant: &tenant,
            tree: &tree,
            branch: "main",
            head,
            repo: &repo,
            subfolder: "",
        },
        &forge,
        &PromoteOptions {
            apps: &[],
            envs: &[],
            force: &[],
            dry_run: false,
            identity: Identity::new("ladder", "ladder@localhost"),
            now: 2_000_000_000,
        },
    )
    .unwrap()
    .outcome;
    assert!(!outcome.failed(), "{:?}", outcome.actions);
    forge.calls.into_inner()
}

#[test]
fn labels_and_reviewers_on_open_and_the_held_mark_written_only_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    write(
        work,
        "ladder.yaml",
        "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n",
    );
    write(
        work,
        "environments/dev.yaml",
        "name: dev\ncluster: dev\nnamespace: \"{app}\"\nsync: auto\n",
    );
    write(work, "environments/staging.yaml", &staging(false));
    write(
        work,
        "apps/web/app.yaml",
        "name: web\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: chart\nvalues:\n  - env/{env}.yaml\npromote:\n  - image.tag\n",
    );
    write(work, "apps/web/env/dev.yaml", "image:\n  tag: v1\n");
    write(work, "apps/web/env/staging.yaml", "image:\n  tag: v1\n");
    git(work, &["init", "-q", "-b", "main"]);
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "tenant"]);
    write(work, "apps/web/env/dev.yaml", "image:\n  tag: v2\n");
    git(work, &["commit", "-q", "-am", "v2 in dev"]);
    let labels = RefCell::new(BTreeMap::new());
    let branch = "ladder/staging/web";

    // Reviewers before labels: the labels mark that the reviewers were asked.
    assert_eq!(
        run(work, &labels),
        [
            format!("open {branch}"),
            format!("reviewers {branch} alice"),
            format!("label {branch} promotion"),
        ]
    );
    // Up to date: no API write at all.
    assert_eq!(run(work, &labels), Vec::<String>::new());

    // Without its labels (a run that died after opening it, or a person's hand) the
    // proposal may lack its review request too: asked again, then labelled, once.
    labels.borrow_mut().remove(branch);
    assert_eq!(
        run(work, &labels),
        [
            format!("reviewers {branch} alice"),
            format!("label {branch} promotion"),
        ]
    );
    assert_eq!(run(work, &labels), Vec::<String>::new());

    // Frozen: the open proposal stays and is marked, once.
    write(work, "environments/staging.yaml", &staging(true));
    git(work, &["commit", "-q", "-am", "freeze staging"]);
    assert_eq!(
        run(work, &labels),
        [
            format!("comment {branch} ladder holds this promotion:"),
            format!("label {branch} {FROZEN_LABEL}"),
        ]
    );
    assert_eq!(run(work, &labels), Vec::<String>::new());

    // Thawed: rebuilt on the new head, and unmarked.
    write(work, "environments/staging.yaml", &staging(false));
    git(work, &["commit", "-q", "-am", "thaw staging"]);
    assert_eq!(
        run(work, &labels),
        [
            format!("update {branch}"),
            format!("unlabel {branch} {FROZEN_LABEL}")
        ]
    );
    assert_eq!(labels.borrow()[branch], ["promotion"]);
    assert_eq!(run(work, &labels), Vec::<String>::new());

    // Someone else pushes to the branch: ladder says so once, and leaves it alone.
    git(work, &["checkout", "-q", branch]);
    write(
        work,
        "apps/web/env/staging.yaml",
        "image:\n  tag: hand-made\n",
    );
    git(work, &["commit", "-q", "-am", "a person's commit"]);
    git(work, &["checkout", "-q", "main"]);
    let foreign_tip = git(work, &["rev-parse", branch]);
    assert_eq!(
        run(work, &labels),
        [
            format!("comment {branch} ladder: someone else pushed"),
            format!("label {branch} {FOREIGN_LABEL}"),
        ]
    );
    assert_eq!(run(work, &labels), Vec::<String>::new());
    assert_eq!(git(work, &["rev-parse", branch]), foreign_tip);

    // The person deletes the branch: ladder proposes again, unmarked.
    git(work, &["branch", "-q", "-D", branch]);
    labels.borrow_mut().remove(branch);
    assert_eq!(
        run(work, &labels),
        [
            format!("open {branch}"),
            format!("reviewers {branch} alice"),
            format!("label {branch} promotion"),
        ]
    );

    // A label added to the environment: put on, without asking the reviewers again.
    write(
        work,
        "environments/staging.yaml",
        &staging(false).replace("[promotion]", "[promotion, staging]"),
    );
    git(work, &["commit", "-q", "-am", "label staging"]);
    assert_eq!(
        run(work, &labels),
        [
            format!("update {branch}"),
            format!("label {branch} staging"),
        ]
    );
    assert_eq!(run(work, &labels), Vec::<String>::new());
}

//! The reconcile is crash-safe: a forge that fails each call in turn, before its effect
//! or after it (the write lands, the answer is lost), then a clean rerun, ends exactly
//! where a clean run ends; and a further run writes nothing.

use std::cell::Cell;
use std::path::Path;

use ladder_git::{Identity, ObjectId, Repo};
use ladder_model::LoadOptions;
use ladder_promote::GitForge;
use ladder_promote::forge::{
    BranchWrite, ClosedProposal, Forge, ForgeError, MergeState, Proposal, ProposalText,
};
use ladder_promote::reconcile::{ActionKind, Outcome};
use ladder_promote::{ConfigHead, PromoteOptions};
use ladder_testkit::{copy_tree, git};

/// A forge that fails its `fail_at`-th call (counting from 0), before or after doing it.
struct Faulty<'a> {
    inner: GitForge<'a>,
    calls: Cell<usize>,
    fail_at: Option<usize>,
    after: bool,
}

impl Faulty<'_> {
    fn step<T>(&self, f: impl FnOnce() -> Result<T, ForgeError>) -> Result<T, ForgeError> {
        let n = self.calls.get();
        self.calls.set(n + 1);
        if self.fail_at == Some(n) {
            if self.after {
                let _ = f();
            }
            return Err(ForgeError::Api {
                message: format!("injected failure of call {n}"),
                transient: true,
            });
        }
        f()
    }
}

impl Forge for Faulty<'_> {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn proposals(&self, prefix: &str) -> Result<Vec<Proposal>, ForgeError> {
        self.step(|| self.inner.proposals(prefix))
    }
    fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>, ForgeError> {
        self.step(|| self.inner.branch_tip(branch))
    }
    fn write_branches(
        &self,
        writes: &[BranchWrite],
    ) -> Result<Vec<Result<Option<ObjectId>, ForgeError>>, ForgeError> {
        self.step(|| self.inner.write_branches(writes))
    }
    fn open(&self, branch: &str, base: &str, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.step(|| self.inner.open(branch, base, text))
    }
    fn update(&self, proposal: &Proposal, text: &ProposalText) -> Result<Proposal, ForgeError> {
        self.step(|| self.inner.update(proposal, text))
    }
    fn close(&self, proposal: &Proposal, reason: &str) -> Result<(), ForgeError> {
        self.step(|| self.inner.close(proposal, reason))
    }
    fn comment(&self, proposal: &Proposal, text: &str) -> Result<(), ForgeError> {
        self.step(|| self.inner.comment(proposal, text))
    }
    fn label(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.step(|| self.inner.label(proposal, labels))
    }
    fn unlabel(&self, proposal: &Proposal, labels: &[String]) -> Result<(), ForgeError> {
        self.step(|| self.inner.unlabel(proposal, labels))
    }
    fn request_reviewers(
        &self,
        proposal: &Proposal,
        reviewers: &[String],
    ) -> Result<(), ForgeError> {
        self.step(|| self.inner.request_reviewers(proposal, reviewers))
    }
    fn merge_state(&self, proposal: &Proposal, base: &str) -> Result<MergeState, ForgeError> {
        self.step(|| self.inner.merge_state(proposal, base))
    }
    fn merge(&self, proposal: &Proposal, base: &str, tip: ObjectId) -> Result<(), ForgeError> {
        self.step(|| self.inner.merge(proposal, base, tip))
    }
    fn closed_proposal(&self, branch: &str) -> Result<Option<ClosedProposal>, ForgeError> {
        self.step(|| self.inner.closed_proposal(branch))
    }
}

fn env_file(name: &str, from: Option<&str>) -> String {
    let promotion = from
        .map(|f| format!("promotion:\n  from: {f}\n"))
        .unwrap_or_default();
    format!("name: {name}\ncluster: {name}\nnamespace: \"{{app}}\"\nsync: auto\n{promotion}")
}

fn values(tag: &str) -> String {
    format!("image:\n  tag: \"{tag}\" # the tag\n")
}

fn app(name: &str, envs: &str) -> String {
    format!(
        "name: {name}\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: chart\nvalues:\n  - env/{{env}}.yaml\nenvironments: [{envs}]\npromote:\n  - image.tag\n"
    )
}

/// A folder repository where staging/web and prod/docs are due, and a proposal branch
/// of an app that no longer exists waits to be deleted.
fn base_repo(dir: &Path) {
    let files = [
        (
            "ladder.yaml",
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n".to_string(),
        ),
        ("environments/dev.yaml", env_file("dev", None)),
        ("environments/staging.yaml", env_file("staging", Some("dev"))),
        ("environments/prod.yaml", env_file("prod", Some("staging"))),
        ("apps/web/app.yaml", app("web", "dev, staging, prod")),
        ("apps/web/env/dev.yaml", values("v2")),
        ("apps/web/env/staging.yaml", values("v1")),
        ("apps/web/env/prod.yaml", values("v1")),
        ("apps/docs/app.yaml", app("docs", "dev, prod")),
        ("apps/docs/env/dev.yaml", values("d2")),
        ("apps/docs/env/prod.yaml", values("d1")),
    ];
    for (path, text) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "tenant"]);
    // ladder's proposal for an app that no longer exists.
    let gone = git(
        dir,
        &[
            "commit-tree",
            "main^{tree}",
            "-p",
            "main",
            "-m",
            "Promote gone to staging: image.tag 1 -> 2\n\nLadder-Promotion: staging/gone",
        ],
    );
    git(dir, &["branch", "ladder/staging/gone", gone.trim()]);
}

/// One `promote`: list proposals, plan, reconcile, through `forge`.
fn run(dir: &Path, fail_at: Option<usize>, after: bool) -> Result<Outcome, String> {
    let repo = Repo::open_local(dir).unwrap();
    let head = repo.resolve("main").unwrap();
    let tree = repo.tree_at(head).unwrap();
    let tenant = ladder_model::load(&tree, &LoadOptions::default()).unwrap();
    let forge = Faulty {
        inner: GitForge::new(&repo),
        calls: Cell::new(0),
        fail_at,
        after,
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
    .map_err(|e| e.to_string())?
    .outcome;
    if outcome.failed() {
        return Err(format!("{:?}", outcome.actions));
    }
    Ok(outcome)
}

/// Every ladder branch with its tip's parent and tree (commit ids carry a time).
fn state(dir: &Path) -> Vec<String> {
    git(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/ladder/",
        ],
    )
    .lines()
    .map(|b| {
        let shape = git(
            dir,
            &["rev-parse", &format!("{b}^"), &format!("{b}^{{tree}}")],
        );
        format!(
            "{b} {}",
            shape.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    })
    .collect()
}

#[test]
fn every_failed_call_converges_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    base_repo(&base);

    let clean = dir.path().join("clean");
    copy_tree(&base, &clean);
    let first = run(&clean, None, false).unwrap();
    let mut kinds: Vec<_> = first
        .actions
        .iter()
        .map(|a| format!("{:?} {}", a.kind, a.branch))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Close ladder/staging/gone",
            "Open ladder/prod/docs",
            "Open ladder/staging/web"
        ]
    );
    let expected = state(&clean);
    assert_eq!(expected.len(), 2, "{expected:?}");
    // list, close, write (one batch), open, open
    let calls = 5;

    for fail_at in 0..calls {
        for after in [false, true] {
            let case = dir.path().join(format!("case-{fail_at}-{after}"));
            copy_tree(&base, &case);
            let failed = run(&case, Some(fail_at), after);
            assert!(
                failed.is_err(),
                "call {fail_at} (after: {after}) did not fail"
            );
            let rerun = run(&case, None, false)
                .unwrap_or_else(|e| panic!("rerun after call {fail_at} (after: {after}): {e}"));
            assert_eq!(
                state(&case),
                expected,
                "call {fail_at} failed (after: {after})"
            );
            // Converged: nothing more to write.
            let settled = run(&case, None, false).unwrap();
            assert_eq!(settled.writes, 0, "{:?} after {rerun:?}", settled.actions);
            assert!(settled.actions.iter().all(|a| a.kind == ActionKind::Keep));
        }
    }
}

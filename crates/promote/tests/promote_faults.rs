//! The reconcile is crash-safe: on a forge of pull requests, every call failing in turn,
//! before its effect or after it (the write lands, the answer is lost), then a clean
//! rerun, ends exactly where a clean run ends (branches, and each pull request's title,
//! marker, labels, reviewers, open or closed); and a further run writes nothing.

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use ladder_git::{Identity, Repo};
use ladder_model::LoadOptions;
use ladder_promote::GitForge;
use ladder_promote::reconcile::{ActionKind, Outcome};
use ladder_promote::{ConfigHead, PromoteOptions};
use ladder_testkit::{copy_tree, git};
use support::{FaultMode, Faulty, PrForge, Prs};

fn env_file(name: &str, promotion: &str) -> String {
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

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// One `promote` through `forge`: the outcome, or the run's error.
fn promote(dir: &Path, forge: &dyn ladder_promote::forge::Forge) -> Result<Outcome, String> {
    let repo = Repo::open_local(dir).unwrap();
    let head = repo.resolve("main").unwrap();
    let tree = repo.tree_at(head).unwrap();
    let tenant = ladder_model::load(&tree, &LoadOptions::default()).unwrap();
    ladder_promote::promote(
        &ConfigHead {
            tenant: &tenant,
            tree: &tree,
            branch: "main",
            head,
            repo: &repo,
            subfolder: "",
        },
        forge,
        &PromoteOptions {
            apps: &[],
            envs: &[],
            force: &[],
            dry_run: false,
            identity: Identity::new("ladder", "ladder@localhost"),
            now: 2_000_000_000,
        },
    )
    .map(|p| p.outcome)
    .map_err(|e| e.to_string())
}

/// What one run through a [`Faulty`] forge did.
struct Run {
    result: Result<Outcome, String>,
    /// Every forge call, in order.
    calls: Vec<String>,
}

/// One `promote` on the pull requests `prs`, failing call `fail_at` if any.
fn run(dir: &Path, prs: &RefCell<Prs>, fail_at: Option<(usize, FaultMode)>) -> Run {
    let repo = Repo::open_local(dir).unwrap();
    let forge = Faulty::new(
        PrForge {
            inner: GitForge::new(&repo),
            prs,
        },
        fail_at,
    );
    prs.borrow_mut().calls.clear();
    let result = promote(dir, &forge);
    Run {
        result,
        calls: forge.calls.into_inner(),
    }
}

/// A tenant whose first run opened staging/web, staging/api and staging/gone (with
/// their labels and reviewers); then dev's web moved on (staging/web is updated), api
/// was set by hand in staging (staging/api is closed), the app `gone` was removed (its
/// proposal is closed) and docs moved in dev (prod/docs is opened).
fn base(dir: &Path, prs: &RefCell<Prs>) {
    write(
        dir,
        "ladder.yaml",
        "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n",
    );
    write(dir, "environments/dev.yaml", &env_file("dev", ""));
    write(
        dir,
        "environments/staging.yaml",
        &env_file(
            "staging",
            "promotion:\n  from: dev\n  labels: [promotion, staging]\n  reviewers: [alice]\n",
        ),
    );
    write(
        dir,
        "environments/prod.yaml",
        &env_file(
            "prod",
            "promotion:\n  from: staging\n  labels: [promotion, prod]\n  reviewers: [bob, carol]\n",
        ),
    );
    for (name, envs, dev, rest) in [
        ("web", "dev, staging, prod", "v2", "v1"),
        ("api", "dev, staging", "a2", "a1"),
        ("gone", "dev, staging", "g2", "g1"),
        ("docs", "dev, prod", "d1", "d1"),
    ] {
        write(dir, &format!("apps/{name}/app.yaml"), &app(name, envs));
        for env in envs.split(", ") {
            let tag = if env == "dev" { dev } else { rest };
            write(dir, &format!("apps/{name}/env/{env}.yaml"), &values(tag));
        }
    }
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "tenant"]);
    let first = run(dir, prs, None);
    let mut kinds = kinds(&first.result.unwrap());
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Open ladder/staging/api",
            "Open ladder/staging/gone",
            "Open ladder/staging/web"
        ]
    );

    write(dir, "apps/web/env/dev.yaml", &values("v3"));
    write(dir, "apps/api/env/staging.yaml", &values("a2"));
    write(dir, "apps/docs/env/dev.yaml", &values("d2"));
    std::fs::remove_dir_all(dir.join("apps/gone")).unwrap();
    git(dir, &["add", "-A"]);
    git(
        dir,
        &["commit", "-q", "-m", "web v3, api by hand, docs d2, gone"],
    );
}

fn kinds(outcome: &Outcome) -> Vec<String> {
    outcome
        .actions
        .iter()
        .map(|a| format!("{:?} {}", a.kind, a.branch))
        .collect()
}

/// The end state, without what carries a time (commit ids): every ladder branch with
/// its tip's parent and tree; each open pull request's title, hidden marker (the
/// body's first line) and labels; each closed one's marker and whether ladder closed
/// it; and, apart, each open pull request's reviewers.
#[derive(Debug, PartialEq, Eq)]
struct EndState {
    branches: Vec<String>,
    open: BTreeMap<String, (String, String, Vec<String>)>,
    closed: BTreeMap<String, (String, bool, bool)>,
    reviewers: BTreeMap<String, Vec<String>>,
}

fn end_state(dir: &Path, prs: &RefCell<Prs>) -> EndState {
    let branches = git(
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
    .collect();
    let marker = |body: &str| body.lines().next().unwrap_or_default().to_string();
    let prs = prs.borrow();
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    EndState {
        branches,
        open: prs
            .open
            .iter()
            .map(|(b, pr)| {
                (
                    b.clone(),
                    (pr.title.clone(), marker(&pr.body), sorted(&pr.labels)),
                )
            })
            .collect(),
        closed: prs
            .closed
            .iter()
            .map(|(b, c)| (b.clone(), (marker(&c.body), c.closed_by_ladder, c.merged)))
            .collect(),
        reviewers: prs
            .open
            .iter()
            .map(|(b, pr)| (b.clone(), sorted(&pr.reviewers)))
            .collect(),
    }
}

#[test]
fn every_failed_call_converges_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let base_dir = dir.path().join("base");
    let base_prs = RefCell::new(Prs::default());
    base(&base_dir, &base_prs);

    // A clean run: what every faulted run and its rerun must end as, and how many forge
    // calls there are to fail.
    let clean_dir = dir.path().join("clean");
    copy_tree(&base_dir, &clean_dir);
    let clean_prs = RefCell::new(base_prs.borrow().clone());
    let clean = run(&clean_dir, &clean_prs, None);
    let mut clean_kinds = kinds(clean.result.as_ref().unwrap());
    clean_kinds.sort();
    assert_eq!(
        clean_kinds,
        [
            "Close ladder/staging/api",
            "Close ladder/staging/gone",
            "Open ladder/prod/docs",
            "Update ladder/staging/web",
        ],
        "{:?}",
        clean.result
    );
    assert!(!clean.result.as_ref().unwrap().failed());
    let expected = end_state(&clean_dir, &clean_prs);
    // The scenario is what it says: an opened pull request with labels and reviewers,
    // an updated one, two closed by ladder.
    assert_eq!(
        expected.open.keys().collect::<Vec<_>>(),
        ["ladder/prod/docs", "ladder/staging/web"]
    );
    assert_eq!(
        expected.open["ladder/prod/docs"].2,
        ["prod", "promotion"],
        "{expected:#?}"
    );
    assert_eq!(expected.reviewers["ladder/prod/docs"], ["bob", "carol"]);
    assert_eq!(expected.reviewers["ladder/staging/web"], ["alice"]);
    assert_eq!(
        expected.open["ladder/staging/web"].0,
        "Promote web to staging: image.tag v1 -> v3"
    );
    assert_eq!(
        expected.closed.keys().collect::<Vec<_>>(),
        ["ladder/staging/api", "ladder/staging/gone"]
    );
    assert!(expected.closed.values().all(|(_, by_ladder, _)| *by_ladder));
    assert_eq!(expected.branches.len(), 2, "{expected:#?}");
    let calls = clean.calls.len();
    for needed in [
        "proposals",
        "write_branches",
        "open",
        "update",
        "close",
        "label",
        "request_reviewers",
    ] {
        assert!(
            clean
                .calls
                .iter()
                .any(|c| c.split(' ').next() == Some(needed)),
            "the clean run makes no {needed} call: {:?}",
            clean.calls
        );
    }

    let mut diverged = Vec::new();
    for fail_at in 0..calls {
        for mode in [FaultMode::Before, FaultMode::After] {
            let call = &clean.calls[fail_at];
            let case = format!("call {fail_at} ({call}) failing {mode:?}");
            let case_dir = dir.path().join(format!("case-{fail_at}-{mode:?}"));
            copy_tree(&base_dir, &case_dir);
            let prs = RefCell::new(base_prs.borrow().clone());

            // The run sees the failure: an error of the run, or of an action, or (a
            // reviewer request, which does not keep a proposal from standing) a
            // warning.
            let failed = run(&case_dir, &prs, Some((fail_at, mode)));
            assert_eq!(
                &failed.calls[..=fail_at],
                &clean.calls[..=fail_at],
                "{case}"
            );
            let injected = Faulty::<PrForge>::message(fail_at);
            match &failed.result {
                Err(e) => assert!(e.contains(&injected), "{case}: {e}"),
                Ok(outcome) => assert!(
                    outcome.actions.iter().any(|a| {
                        a.error.as_deref().is_some_and(|e| e.contains(&injected))
                            || a.warning.as_deref().is_some_and(|w| w.contains(&injected))
                    }),
                    "{case}: the failure was not reported: {:#?}",
                    outcome.actions
                ),
            }

            let rerun = run(&case_dir, &prs, None);
            let rerun_outcome = rerun
                .result
                .unwrap_or_else(|e| panic!("{case}: the rerun failed: {e}"));
            assert!(
                !rerun_outcome.failed(),
                "{case}: {:#?}",
                rerun_outcome.actions
            );
            let got = end_state(&case_dir, &prs);
            if got != expected {
                diverged.push(format!("{case}: {}", diff(&got, &expected)));
                continue;
            }

            // Converged: a further run calls no write at all.
            let settled = run(&case_dir, &prs, None);
            let settled_outcome = settled.result.unwrap();
            assert_eq!(settled_outcome.writes, 0, "{case}");
            assert_eq!(prs.borrow().calls, Vec::<String>::new(), "{case}");
            assert!(
                settled_outcome
                    .actions
                    .iter()
                    .all(|a| a.kind == ActionKind::Keep),
                "{case}: {:#?}",
                settled_outcome.actions
            );
        }
    }
    assert_eq!(
        diverged,
        Vec::<String>::new(),
        "the reruns that did not converge"
    );
}

/// What differs between two end states, briefly.
fn diff(got: &EndState, expected: &EndState) -> String {
    let mut out = Vec::new();
    if got.branches != expected.branches {
        out.push(format!(
            "branches {:?}, not {:?}",
            got.branches, expected.branches
        ));
    }
    if got.open != expected.open {
        out.push(format!("open {:?}, not {:?}", got.open, expected.open));
    }
    if got.closed != expected.closed {
        out.push(format!(
            "closed {:?}, not {:?}",
            got.closed, expected.closed
        ));
    }
    if got.reviewers != expected.reviewers {
        out.push(format!(
            "reviewers {:?}, not {:?}",
            got.reviewers, expected.reviewers
        ));
    }
    out.join("; ")
}

//! On forges whose proposals are more than their branch (pull requests with a title, a
//! body, and closed ones kept): a stale title is fixed on an up-to-date branch, and only
//! then; a failed close does not stop the run; a proposal ladder closed holds nothing,
//! one a person closed does; a merge the config branch read does not show yet opens
//! nothing.

mod support;

use std::cell::RefCell;
use std::path::Path;

use ladder_git::{Identity, ObjectId, Repo};
use ladder_model::LoadOptions;
use ladder_promote::GitForge;
use ladder_promote::forge::ClosedProposal;
use ladder_promote::plan::State;
use ladder_promote::reconcile::ActionKind;
use ladder_promote::{ConfigHead, PromoteOptions};
use ladder_testkit::git;
use support::{PrForge, Prs};

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

fn run(dir: &Path, prs: &RefCell<Prs>) -> ladder_promote::Promoted {
    prs.borrow_mut().calls.clear();
    let repo = Repo::open_local(dir).unwrap();
    let head = repo.resolve("main").unwrap();
    let tree = repo.tree_at(head).unwrap();
    let tenant = ladder_model::load(&tree, &LoadOptions::default()).unwrap();
    let forge = PrForge {
        inner: GitForge::new(&repo),
        prs,
    };
    ladder_promote::promote(
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
}

fn tenant(dir: &Path) {
    write(
        dir,
        "ladder.yaml",
        "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n",
    );
    write(
        dir,
        "environments/dev.yaml",
        "name: dev\ncluster: dev\nnamespace: \"{app}\"\nsync: auto\n",
    );
    write(
        dir,
        "environments/staging.yaml",
        "name: staging\ncluster: staging\nnamespace: \"{app}\"\nsync: auto\npromotion:\n  from: dev\n",
    );
    for app in ["web", "api"] {
        write(
            dir,
            &format!("apps/{app}/app.yaml"),
            &format!(
                "name: {app}\nsource:\n  type: helm\n  repoURL: https://github.com/acme/charts.git\n  path: chart\nvalues:\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
            ),
        );
        write(
            dir,
            &format!("apps/{app}/env/dev.yaml"),
            "image:\n  tag: v2\n",
        );
        write(
            dir,
            &format!("apps/{app}/env/staging.yaml"),
            "image:\n  tag: v1\n",
        );
    }
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "tenant"]);
}

#[test]
fn a_stale_title_is_fixed_on_a_kept_proposal_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path());
    let prs = RefCell::new(Prs::default());
    run(dir.path(), &prs);
    let branch = "ladder/staging/web";
    // A run died after rebuilding the branch, before updating the pull request.
    prs.borrow_mut().open.get_mut(branch).unwrap().title = "Promote web to staging: stale".into();
    let promoted = run(dir.path(), &prs);
    assert!(!promoted.outcome.failed(), "{:?}", promoted.outcome.actions);
    assert_eq!(prs.borrow().calls, [format!("update {branch}")]);
    assert_eq!(
        prs.borrow().open[branch].title,
        "Promote web to staging: image.tag v1 -> v2"
    );
    // Up to date now: no write.
    run(dir.path(), &prs);
    assert_eq!(prs.borrow().calls, Vec::<String>::new());
}

#[test]
fn a_failed_close_is_its_actions_error_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path());
    let prs = RefCell::new(Prs::default());
    run(dir.path(), &prs);
    // web made equal by hand: its proposal is to be closed; api gets a new value.
    write(
        dir.path(),
        "apps/web/env/staging.yaml",
        "image:\n  tag: v2\n",
    );
    write(dir.path(), "apps/api/env/dev.yaml", "image:\n  tag: v3\n");
    git(dir.path(), &["commit", "-q", "-am", "web by hand, api v3"]);
    prs.borrow_mut().fail_close = true;
    let promoted = run(dir.path(), &prs);
    let action = |branch: &str| {
        promoted
            .outcome
            .actions
            .iter()
            .find(|a| a.branch == branch)
            .unwrap()
            .clone()
    };
    let close = action("ladder/staging/web");
    assert_eq!(close.kind, ActionKind::Close);
    assert!(
        close.error.as_deref().unwrap().contains("injected"),
        "{close:?}"
    );
    assert!(!close.written);
    let update = action("ladder/staging/api");
    assert_eq!(update.kind, ActionKind::Update);
    assert!(update.written && update.error.is_none(), "{update:?}");
    // The branch of the failed close stays for the next run, which closes it.
    assert!(!git(dir.path(), &["branch", "--list", "ladder/staging/web"]).is_empty());
    prs.borrow_mut().fail_close = false;
    let promoted = run(dir.path(), &prs);
    assert!(!promoted.outcome.failed(), "{:?}", promoted.outcome.actions);
    assert!(git(dir.path(), &["branch", "--list", "ladder/staging/web"]).is_empty());
}

#[test]
fn only_a_persons_close_holds_and_a_fresh_merge_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path());
    let prs = RefCell::new(Prs::default());
    run(dir.path(), &prs);
    let web = "ladder/staging/web";
    let api = "ladder/staging/api";
    let body = |b: &str| prs.borrow().open[b].body.clone();
    let (web_body, api_body) = (body(web), body(api));
    // ladder closed web's (say, the group changed back and forth); a person closed
    // api's; both branches are gone.
    for (branch, body, by_ladder) in [(web, web_body, true), (api, api_body, false)] {
        let mut prs = prs.borrow_mut();
        prs.open.remove(branch);
        prs.closed.insert(
            branch.into(),
            ClosedProposal {
                branch: branch.into(),
                head: ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap(),
                number: None,
                url: None,
                merged: false,
                body,
                closed_by_ladder: by_ladder,
            },
        );
        git(dir.path(), &["branch", "-q", "-D", branch]);
    }
    let promoted = run(dir.path(), &prs);
    let state = |app: &str| {
        promoted
            .plan
            .promotions
            .iter()
            .find(|r| r.app == app)
            .unwrap()
            .state
    };
    assert_eq!(state("web"), State::Due);
    assert_eq!(state("api"), State::Held);
    assert_eq!(
        prs.borrow().calls,
        [format!("write {web}"), format!("open {web}")]
    );

    // api's proposal was merged after the config branch was read (main still shows
    // v1): nothing is opened for those values in this run.
    let api_body = prs.borrow().closed[api].body.clone();
    {
        let mut prs = prs.borrow_mut();
        let closed = prs.closed.get_mut(api).unwrap();
        closed.merged = true;
        closed.body = api_body;
    }
    let promoted = run(dir.path(), &prs);
    assert!(
        !prs.borrow().calls.contains(&format!("open {api}")),
        "{:?}",
        prs.borrow().calls
    );
    let hold = promoted
        .outcome
        .actions
        .iter()
        .find(|a| a.branch == api)
        .unwrap();
    assert_eq!(hold.kind, ActionKind::Hold);
    assert!(hold.reason.contains("merged"), "{}", hold.reason);
}

#[test]
fn a_rollback_takes_over_its_leftover_branch() {
    use ladder_promote::rollback::{RollbackInput, rollback};
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path());
    let before = git(dir.path(), &["rev-parse", "main"]);
    write(
        dir.path(),
        "apps/web/env/staging.yaml",
        "image:\n  tag: v2\n",
    );
    git(dir.path(), &["commit", "-q", "-am", "web v2 in staging"]);
    let prs = RefCell::new(Prs::default());
    let roll = || {
        let repo = Repo::open_local(dir.path()).unwrap();
        let head = repo.resolve("main").unwrap();
        let tree = repo.tree_at(head).unwrap();
        let tenant = ladder_model::load(&tree, &LoadOptions::default()).unwrap();
        let forge = PrForge {
            inner: GitForge::new(&repo),
            prs: &prs,
        };
        rollback(
            &RollbackInput {
                config: ConfigHead {
                    tenant: &tenant,
                    tree: &tree,
                    branch: "main",
                    head,
                    repo: &repo,
                    subfolder: "",
                },
                app: "web",
                env: "staging",
                to: ObjectId::from_hex(before.trim().as_bytes()).unwrap(),
                reason: Some("broken"),
                force: false,
                dry_run: false,
                now: 2_000_000_000,
                identity: Identity::new("ladder", "ladder@localhost"),
            },
            &forge,
        )
        .map(|o| o.kind)
        .map_err(|e| e.to_string())
    };
    assert_eq!(roll(), Ok(Some(ActionKind::Open)));
    // Its pull request is gone (merged with the branch kept, or a run that died
    // between the push and the open), the branch with ladder's commit is left.
    prs.borrow_mut().open.clear();
    assert_eq!(roll(), Ok(Some(ActionKind::Open)));
    assert!(
        prs.borrow()
            .open
            .contains_key("ladder/rollback/staging/web")
    );
    // Someone else's commit on it is refused.
    prs.borrow_mut().open.clear();
    git(
        dir.path(),
        &["checkout", "-q", "ladder/rollback/staging/web"],
    );
    write(
        dir.path(),
        "apps/web/env/staging.yaml",
        "image:\n  tag: mine\n",
    );
    git(dir.path(), &["commit", "-q", "-am", "a person's commit"]);
    git(dir.path(), &["checkout", "-q", "main"]);
    let err = roll().unwrap_err();
    assert!(err.contains("someone else"), "{err}");
}

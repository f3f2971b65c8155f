//! Rendering stays within the thread budget it is given: a daemon rendering several
//! tenants at once on a small node must not start a set of threads per tenant.

use std::path::Path;
use std::sync::{Barrier, OnceLock};

use ladder_model::{FsTree, LoadOptions, Tenant};
use ladder_render::{RenderOptions, Rendering, ThreadBudget, render};

const APPS: usize = 300;

fn write(root: &Path, path: &str, text: &str) {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(target, text).unwrap();
}

/// A tenant of 300 apps in the 3 built-in environments (903 documents), loaded once.
fn tenant() -> &'static Tenant {
    static TENANT: OnceLock<Tenant> = OnceLock::new();
    TENANT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "ladder.yaml",
            "tenant: big\nconfigRepo:\n  url: https://git.example/big/config.git\n  branch: main\n",
        );
        for i in 0..APPS {
            let name = format!("app{i:04}");
            write(
                root,
                &format!("apps/{name}/app.yaml"),
                &format!(
                    "name: {name}\nsource:\n  type: helm\n  repoURL: https://git.example/charts/{name}.git\n  targetRevision: v1.0.0\n  path: chart\nvalues:\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
                ),
            );
            for env in ["dev", "staging", "prod"] {
                write(
                    root,
                    &format!("apps/{name}/env/{env}.yaml"),
                    "image:\n  tag: \"1.0.0\"\n",
                );
            }
        }
        ladder_model::load(&FsTree::new(root), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("the generated tenant loads: {e:?}"))
    })
}

fn render_with(budget: &ThreadBudget) -> Rendering {
    let options = RenderOptions {
        budget: budget.clone(),
        ..RenderOptions::default()
    };
    render(tenant(), &options).unwrap_or_else(|p| panic!("renders: {p:?}"))
}

/// Two renders at once, each started at the same moment, several times over, under a
/// budget of 2: the budget's own count of threads working in its fan-outs (callers and
/// helpers, counted as they start and stop) never passes 2, and the output is the same
/// as a render on one thread.
#[test]
fn two_concurrent_renders_under_a_budget_of_two_use_at_most_two_workers() {
    let reference = render_with(&ThreadBudget::new(1));
    assert!(reference.documents() > 900, "{}", reference.documents());
    let budget = ThreadBudget::new(2);
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (budget, start, reference) = (&budget, &start, &reference);
            s.spawn(move || {
                for _ in 0..3 {
                    start.wait();
                    assert_eq!(&render_with(budget), reference);
                }
            });
        }
    });
    let stats = budget.stats();
    // The renders really went through this budget, two workers at a time (two callers,
    // or a caller and a helper), never more, and never ran over the limit.
    assert_eq!(stats.fan_outs, 6, "{stats:?}");
    assert_eq!(stats.peak_workers, 2, "{stats:?}");
    assert_eq!(stats.overdrafts, 0, "{stats:?}");
    assert_eq!(stats.workers, 0, "{stats:?}");
}

/// The same renders under the default budget do use several threads when the machine
/// has several cores: the check above is not passing because rendering is sequential.
#[test]
fn the_default_budget_renders_on_several_threads() {
    let options = RenderOptions::default();
    assert!(options.budget.same_as(&ThreadBudget::process_default()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let before = ThreadBudget::process_default().stats();
    let rendering = render(tenant(), &options).unwrap();
    assert!(rendering.documents() > 900);
    let after = ThreadBudget::process_default().stats();
    assert!(after.fan_outs > before.fan_outs, "{after:?}");
    if cores >= 2 {
        assert!(after.peak_workers >= 2, "{cores} cores: {after:?}");
        assert!(after.helpers_spawned > before.helpers_spawned, "{after:?}");
    }
}

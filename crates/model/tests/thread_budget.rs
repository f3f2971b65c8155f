//! Loading stays within the thread budget it is given (`LoadOptions::budget`): the app
//! folders are spread over the workers the budget allows and no more, in folder order.

use std::collections::HashSet;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use ladder_model::{ConfigTree, DirEntry, LoadOptions, Tenant, TreeError, load};
use ladder_testkit::MemTree;
use ladder_threads::ThreadBudget;

const APPS: usize = 256;

/// A tenant of 256 helm apps, each with a value file per built-in environment.
fn generated_tenant() -> MemTree {
    let mut tree = MemTree::new().with(
        "ladder.yaml",
        "tenant: big\nconfigRepo:\n  url: https://git.example/big/config.git\n  branch: main\n",
    );
    for i in 0..APPS {
        let name = format!("app{i:04}");
        tree = tree.with(
            &format!("apps/{name}/app.yaml"),
            format!(
                "name: {name}\nsource:\n  type: helm\n  repoURL: https://git.example/charts/{name}.git\n  targetRevision: v1.0.0\n  path: chart\nvalues:\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
            ),
        );
        for env in ["dev", "staging", "prod"] {
            tree = tree.with(
                &format!("apps/{name}/env/{env}.yaml"),
                "image:\n  tag: \"1.0.0\"\n",
            );
        }
    }
    tree
}

/// A tree that remembers which threads read from it, and reads a little slowly (as a
/// disk or an object database would), so that a helper thread always finds chunks left
/// to take however late it is scheduled.
struct Recording {
    tree: MemTree,
    readers: Mutex<HashSet<ThreadId>>,
}

impl Recording {
    fn new(tree: MemTree) -> Recording {
        Recording {
            tree,
            readers: Mutex::new(HashSet::new()),
        }
    }

    fn note(&self) {
        self.readers
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
    }

    fn readers(&self) -> HashSet<ThreadId> {
        self.readers.lock().unwrap().clone()
    }
}

impl ConfigTree for Recording {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        self.note();
        std::thread::sleep(Duration::from_micros(200));
        self.tree.read_file(path)
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        self.note();
        self.tree.list_dir(path)
    }
}

fn load_with(tree: &Recording, budget: &ThreadBudget) -> Tenant {
    let options = LoadOptions {
        budget: budget.clone(),
        ..LoadOptions::default()
    };
    load(tree, &options).unwrap_or_else(|e| panic!("the generated tenant loads: {e:?}"))
}

fn app_names(tenant: &Tenant) -> Vec<String> {
    tenant.apps.iter().map(|a| a.name.clone()).collect()
}

#[test]
fn a_budget_of_one_loads_on_the_calling_thread_only() {
    let tree = Recording::new(generated_tenant());
    let budget = ThreadBudget::new(1);
    let tenant = load_with(&tree, &budget);
    assert_eq!(tenant.apps.len(), APPS);

    let stats = budget.stats();
    assert!(stats.peak_workers <= 1, "{stats:?}");
    assert_eq!(stats.helpers_spawned, 0, "{stats:?}");
    assert_eq!(stats.overdrafts, 0, "{stats:?}");
    assert_eq!(
        tree.readers(),
        HashSet::from([std::thread::current().id()]),
        "every read happened on the test's thread"
    );
}

#[test]
fn a_budget_of_two_loads_on_two_threads_in_folder_order() {
    let reference = app_names(&load_with(
        &Recording::new(generated_tenant()),
        &ThreadBudget::new(1),
    ));
    let mut sorted = reference.clone();
    sorted.sort();
    assert_eq!(reference, sorted, "apps come in folder order");

    let tree = Recording::new(generated_tenant());
    let budget = ThreadBudget::new(2);
    let tenant = load_with(&tree, &budget);
    assert_eq!(app_names(&tenant), reference);

    let stats = budget.stats();
    assert!(stats.fan_outs >= 1, "{stats:?}");
    assert!(stats.helpers_spawned >= 1, "{stats:?}");
    assert_eq!(stats.peak_workers, 2, "{stats:?}");
    assert_eq!(stats.overdrafts, 0, "{stats:?}");
    assert_eq!(stats.workers, 0, "{stats:?}");
    assert_eq!(tree.readers().len(), 2, "two threads read the tree");
}

#[test]
fn the_default_options_use_the_process_budget() {
    assert!(
        LoadOptions::default()
            .budget
            .same_as(&ThreadBudget::process_default())
    );
}

//! History queries: when did a YAML value last change, which commits touched a file.
//!
//! Both walk first parents, the way a branch's own history reads when feature work is
//! merged into it. The expensive part of a walk is diffing each commit's tree with its
//! parent's, so that result is computed once per commit and kept in a per-branch index
//! (`path -> commits that changed its blob`), extended lazily towards the root as
//! queries need older history and forward when the branch moves. Parsed YAML values
//! are cached per blob id: an unchanged blob is never parsed twice.
//!
//! Memory is bounded ([`HistoryLimits`]): the indexes of all branches together, the
//! value, commit and tree caches each have a budget in estimated bytes, and the least
//! recently used part goes first (whole branches, then the oldest commits of an index;
//! a query that needs older history than its index may keep diffs those commits again
//! and drops them). Every cache has its own lock, held for one lookup or one insert;
//! an index is locked by the query on its branch, so queries on different branches run
//! at once.

mod lru;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::yamlpath::Value;
use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};
use ladder_threads::{Split, ThreadBudget};

use crate::error::{Error, Result};
use crate::read::split_path;
use crate::repo::Repo;
use crate::yamlpath::{self, YamlPath};
use lru::{ENTRY_OVERHEAD, Lru};

/// How many commits the first extension of an index towards the root diffs; each
/// further extension doubles it, so deep queries pay few batch overheads.
const EXTEND_CHUNK: usize = 256;
/// The most commits diffed in one batch: bounds the memory of a batch that is not kept.
const MAX_BATCH: usize = 1 << 14;
/// Below this many commits per thread, a batch is diffed on the calling thread.
const PARALLEL_MIN_JOBS: usize = 128;
/// Diffing stops scaling beyond this many threads (object reads contend).
const MAX_DIFF_THREADS: usize = 4;
/// The tree cache of one diffing thread: a diff reads each tree once as the new side and
/// once as the old side of the next commit, so a few commits' trees are enough.
const WORKER_TREE_BYTES: usize = 4 << 20;

/// Summary of a commit for PR bodies and soak gates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: ObjectId,
    /// Committer time, seconds since the Unix epoch.
    pub time: i64,
    pub author_name: String,
    pub author_email: String,
    pub subject: String,
}

/// How much the history caches of one [`Repo`] may hold, in estimated bytes (what the
/// entries hold plus a fixed overhead each; allocator slack is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The per-branch indexes, all branches together. An index covers the newest
    /// commits of its branch; a query that needs older ones diffs them again.
    pub index_bytes: usize,
    /// Parsed values by (blob, YAML path).
    pub value_bytes: usize,
    /// Each commit's tree and first parent.
    pub commit_bytes: usize,
    /// Raw tree objects read by queries (the trees at branch tips).
    pub tree_bytes: usize,
}

impl HistoryLimits {
    /// 96 MiB in all: the index of a branch of 10,000 commits over 3,000 files takes
    /// about 3 MB, so this keeps the history of busy repositories whole.
    pub const DEFAULT: HistoryLimits = HistoryLimits {
        index_bytes: 64 << 20,
        value_bytes: 8 << 20,
        commit_bytes: 8 << 20,
        tree_bytes: 16 << 20,
    };

    /// `bytes` in all, split like the default: 2/3 index, 1/6 trees, 1/12 values, 1/12
    /// commits.
    pub const fn total(bytes: usize) -> HistoryLimits {
        HistoryLimits {
            index_bytes: bytes / 3 * 2,
            value_bytes: bytes / 12,
            commit_bytes: bytes / 12,
            tree_bytes: bytes / 6,
        }
    }

    pub const fn total_bytes(&self) -> usize {
        self.index_bytes + self.value_bytes + self.commit_bytes + self.tree_bytes
    }
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits::DEFAULT
    }
}

/// What the history caches of one [`Repo`] hold now (estimated bytes as in
/// [`HistoryLimits`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryCacheStats {
    pub branches: usize,
    pub indexed_commits: usize,
    pub index_bytes: usize,
    pub values: usize,
    pub value_bytes: usize,
    pub commits: usize,
    pub commit_bytes: usize,
    pub trees: usize,
    pub tree_bytes: usize,
}

impl HistoryCacheStats {
    pub const fn total_bytes(&self) -> usize {
        self.index_bytes + self.value_bytes + self.commit_bytes + self.tree_bytes
    }
}

/// The history caches of one repository. `Repo` keeps it behind a mutex, which queries
/// hold only to clone the handle: every part has its own lock inside.
#[derive(Default)]
pub struct HistoryCache {
    shared: Arc<Shared>,
}

type ValueKey = (ObjectId, Arc<str>);
type CommitEntry = (ObjectId, Option<ObjectId>);

struct Shared {
    limits: Mutex<HistoryLimits>,
    /// `None`: [`ThreadBudget::current`] of the querying thread.
    budget: Mutex<Option<ThreadBudget>>,
    branches: Mutex<Branches>,
    values: Mutex<Lru<ValueKey, Option<Value>>>,
    commits: Mutex<Lru<ObjectId, CommitEntry>>,
    trees: Mutex<Lru<ObjectId, Arc<Vec<u8>>>>,
}

impl Default for Shared {
    fn default() -> Self {
        let limits = HistoryLimits::DEFAULT;
        Shared {
            limits: Mutex::new(limits),
            budget: Mutex::new(None),
            branches: Mutex::default(),
            values: Mutex::new(Lru::new(limits.value_bytes)),
            commits: Mutex::new(Lru::new(limits.commit_bytes)),
            trees: Mutex::new(Lru::new(limits.tree_bytes)),
        }
    }
}

/// A lock that a panicking query cannot poison for the others: every structure behind
/// one is consistent between statements that take it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Estimated bytes of one commit cache entry: id, tree, parent.
const COMMIT_ENTRY_BYTES: usize = ENTRY_OVERHEAD + 3 * 21;

fn value_bytes(key: &ValueKey, value: &Option<Value>) -> usize {
    let text = match value {
        Some(Value::String(s)) => s.len(),
        _ => 0,
    };
    ENTRY_OVERHEAD + 20 + key.1.len() + std::mem::size_of::<Option<Value>>() + text
}

#[derive(Default)]
struct Branches {
    map: HashMap<String, Arc<BranchSlot>>,
    clock: u64,
}

/// One branch's index and what the others need to know about it without its lock.
struct BranchSlot {
    index: Mutex<BranchIndex>,
    /// Last use, on the `Branches` clock.
    used: AtomicU64,
    /// The index's size, updated whenever it changes.
    bytes: AtomicUsize,
    commits: AtomicUsize,
}

impl BranchSlot {
    fn publish(&self, index: &BranchIndex) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bytes.store(index.bytes, Relaxed);
        self.commits.store(index.nodes.len(), Relaxed);
    }
}

impl Shared {
    fn limits(&self) -> HistoryLimits {
        *lock(&self.limits)
    }

    fn budget(&self) -> ThreadBudget {
        lock(&self.budget)
            .clone()
            .unwrap_or_else(ThreadBudget::current)
    }

    /// The slot of `branch`, created empty at `tip` if there is none, marked as used now.
    fn branch(&self, branch: &str, tip: ObjectId) -> Arc<BranchSlot> {
        let mut b = lock(&self.branches);
        b.clock += 1;
        let now = b.clock;
        let slot = b.map.entry(branch.to_string()).or_insert_with(|| {
            Arc::new(BranchSlot {
                index: Mutex::new(BranchIndex::empty(tip)),
                used: AtomicU64::new(now),
                bytes: AtomicUsize::new(0),
                commits: AtomicUsize::new(0),
            })
        });
        slot.used.store(now, std::sync::atomic::Ordering::Relaxed);
        slot.clone()
    }

    /// How large `me`'s index may grow: the index limit less the other branches. When
    /// `me` has no room left, branches used before it are dropped, oldest first, until
    /// it has some or none is left.
    fn room(&self, me: &Arc<BranchSlot>, mine: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let cap = self.limits().index_bytes;
        let mut b = lock(&self.branches);
        loop {
            let others: usize = b
                .map
                .values()
                .filter(|s| !Arc::ptr_eq(s, me))
                .map(|s| s.bytes.load(Relaxed))
                .sum();
            let limit = cap.saturating_sub(others);
            if limit > mine {
                return limit;
            }
            let my_use = me.used.load(Relaxed);
            let oldest = b
                .map
                .iter()
                .filter(|(_, s)| !Arc::ptr_eq(s, me) && s.used.load(Relaxed) < my_use)
                .min_by_key(|(_, s)| s.used.load(Relaxed))
                .map(|(name, _)| name.clone());
            match oldest {
                // A query still running on it keeps its own handle; its work is lost.
                Some(name) => drop(b.map.remove(&name)),
                None => return limit,
            }
        }
    }

    /// Drops whole branches, least recently used first, until the indexes fit the limit.
    fn evict_branches(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let cap = self.limits().index_bytes;
        let mut b = lock(&self.branches);
        while b.map.values().map(|s| s.bytes.load(Relaxed)).sum::<usize>() > cap {
            let oldest = b
                .map
                .iter()
                .min_by_key(|(_, s)| s.used.load(Relaxed))
                .map(|(name, _)| name.clone());
            match oldest {
                Some(name) => drop(b.map.remove(&name)),
                None => break,
            }
        }
    }

    fn set_limits(&self, limits: HistoryLimits) {
        *lock(&self.limits) = limits;
        lock(&self.values).set_capacity(limits.value_bytes);
        lock(&self.commits).set_capacity(limits.commit_bytes);
        lock(&self.trees).set_capacity(limits.tree_bytes);
        self.evict_branches();
    }

    fn stats(&self) -> HistoryCacheStats {
        use std::sync::atomic::Ordering::Relaxed;
        let mut stats = HistoryCacheStats::default();
        {
            let b = lock(&self.branches);
            stats.branches = b.map.len();
            for slot in b.map.values() {
                stats.index_bytes += slot.bytes.load(Relaxed);
                stats.indexed_commits += slot.commits.load(Relaxed);
            }
        }
        {
            let v = lock(&self.values);
            (stats.values, stats.value_bytes) = (v.len(), v.bytes());
        }
        {
            let c = lock(&self.commits);
            (stats.commits, stats.commit_bytes) = (c.len(), c.bytes());
        }
        let t = lock(&self.trees);
        (stats.trees, stats.tree_bytes) = (t.len(), t.bytes());
        stats
    }

    /// The tree object `id`, through the shared cache.
    fn tree(&self, repo: &gix::Repository, id: ObjectId) -> Result<Arc<Vec<u8>>> {
        if let Some(data) = lock(&self.trees).get(&id) {
            return Ok(data.clone());
        }
        let data = read_tree(repo, id)?;
        lock(&self.trees).insert(id, data.clone(), ENTRY_OVERHEAD + data.len());
        Ok(data)
    }
}

fn read_tree(repo: &gix::Repository, id: ObjectId) -> Result<Arc<Vec<u8>>> {
    Ok(Arc::new(
        repo.find_object(id)
            .map_err(|e| Error::gix(format!("cannot read tree {id}"), e))?
            .detach()
            .data,
    ))
}

/// Raw tree objects by id for one diffing thread, kept outside gix's object cache: a
/// walk re-reads each tree once as the new side of a diff and once as the old side of
/// the next, and gix's cache would copy the (35 kB for 1,000 apps) object on every hit.
/// FIFO, bounded in bytes; dropped with its thread's batch.
struct TreeCache {
    map: HashMap<ObjectId, Arc<Vec<u8>>>,
    order: VecDeque<ObjectId>,
    bytes: usize,
}

impl TreeCache {
    fn new() -> Self {
        TreeCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }

    fn get(&mut self, repo: &gix::Repository, id: ObjectId) -> Result<Arc<Vec<u8>>> {
        if let Some(data) = self.map.get(&id) {
            return Ok(data.clone());
        }
        let data = read_tree(repo, id)?;
        while self.bytes + data.len() > WORKER_TREE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(old) = self.map.remove(&old) {
                self.bytes -= old.len();
            }
        }
        self.order.push_back(id);
        self.bytes += data.len();
        self.map.insert(id, data.clone());
        Ok(data)
    }
}

/// One blob change in one commit: the blob the path had in the first parent (`None`:
/// absent). The new side is not kept; queries read it from the next change up.
#[derive(Debug, Clone, Copy)]
struct Change {
    old: Option<ObjectId>,
}

struct Node {
    commit: ObjectId,
    changes: Vec<(BString, Change)>,
}

impl Node {
    /// Estimated bytes in an index: the node, and per change its path (kept twice: in
    /// the node and as a key of `by_path`), the change and its entry in `by_path`.
    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD
            + 20
            + self
                .changes
                .iter()
                .map(|(p, _)| 2 * p.len() + 96)
                .sum::<usize>()
    }

    fn change(&self, path: &BString) -> Option<Change> {
        self.changes
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| *c)
    }
}

/// First-parent chain from `tip` down to `bottom`, with sequence numbers growing towards
/// the tip so both ends can grow without renumbering.
struct BranchIndex {
    tip: ObjectId,
    top: i64,
    bottom: i64,
    nodes: BTreeMap<i64, Node>,
    /// First parent of the bottom node; `None` once the root is indexed.
    next_older: Option<ObjectId>,
    by_path: HashMap<BString, BTreeSet<i64>>,
    /// Estimated size ([`Node::bytes`] of every node).
    bytes: usize,
    /// Changes when the index starts over (the branch was rewritten): sequence numbers
    /// a query remembered from before mean nothing after.
    generation: u64,
}

impl BranchIndex {
    fn empty(tip: ObjectId) -> Self {
        BranchIndex {
            tip,
            top: 0,
            bottom: 1,
            nodes: BTreeMap::new(),
            next_older: Some(tip),
            by_path: HashMap::new(),
            bytes: 0,
            generation: 0,
        }
    }

    fn insert(&mut self, seq: i64, node: Node) {
        for (path, _) in &node.changes {
            self.by_path.entry(path.clone()).or_default().insert(seq);
        }
        self.bytes += node.bytes();
        self.nodes.insert(seq, node);
    }

    /// Appends `nodes` (the next commits below the bottom, newest first, followed in
    /// history by `after`) while the index stays within `limit` bytes. Returns the nodes
    /// that did not fit, for the caller to use and drop.
    fn extend_older(
        &mut self,
        nodes: Vec<Node>,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<Node> {
        let mut nodes = nodes.into_iter();
        for node in nodes.by_ref() {
            if self.bytes + node.bytes() > limit {
                self.next_older = Some(node.commit);
                let mut rest = vec![node];
                rest.extend(nodes);
                return rest;
            }
            self.bottom -= 1;
            let seq = self.bottom;
            self.insert(seq, node);
        }
        self.next_older = after;
        Vec::new()
    }

    /// Drops the oldest commits until the index fits `limit` bytes; a later query that
    /// needs them diffs them again.
    fn trim(&mut self, limit: usize) {
        while self.bytes > limit {
            let Some((seq, node)) = self.nodes.pop_first() else {
                break;
            };
            for (path, _) in &node.changes {
                if let Some(seqs) = self.by_path.get_mut(path) {
                    seqs.remove(&seq);
                    if seqs.is_empty() {
                        self.by_path.remove(path);
                    }
                }
            }
            self.bytes -= node.bytes();
            self.bottom = seq + 1;
            self.next_older = Some(node.commit);
        }
    }

    /// Moves the index to `new_tip`. When the old tip is a first-parent ancestor only the
    /// new commits are diffed; otherwise (force push, reset) the index starts over.
    fn advance(&mut self, walker: &mut Walker<'_>, new_tip: ObjectId) -> Result<()> {
        if new_tip == self.tip {
            return Ok(());
        }
        let mut fresh = Vec::new();
        let mut cur = Some(new_tip);
        while let Some(commit) = cur {
            if commit == self.tip {
                break;
            }
            let (node, parent) = walker.node(commit)?;
            fresh.push(node);
            cur = parent;
            // Never walk further than the index covers plus a margin without finding
            // the old tip: the branch was rewritten, and a fresh index is cheaper.
            if fresh.len() > self.nodes.len() + EXTEND_CHUNK {
                break;
            }
        }
        if cur != Some(self.tip) {
            let generation = self.generation + 1;
            *self = BranchIndex::empty(new_tip);
            self.generation = generation;
            return Ok(());
        }
        for node in fresh.into_iter().rev() {
            self.top += 1;
            let seq = self.top;
            self.insert(seq, node);
        }
        self.tip = new_tip;
        Ok(())
    }
}

/// Where a query starts searching a branch index.
struct SearchStart {
    /// One above the sequence number of the query's tip in the index.
    upper: i64,
    /// The index's generation when the query's tip was its tip.
    generation: u64,
    tip: ObjectId,
}

/// Reads commits and trees for one query through the repository's caches.
struct Walker<'r> {
    repo: &'r gix::Repository,
    shared: &'r Shared,
    /// Trees read while diffing, or walking a range: this query's own.
    trees: TreeCache,
}

impl<'r> Walker<'r> {
    fn new(repo: &'r gix::Repository, shared: &'r Shared) -> Self {
        Walker {
            repo,
            shared,
            trees: TreeCache::new(),
        }
    }

    /// Tree and first parent of `commit`. Each commit is read as a parent and again as
    /// the next commit of a walk, and by every walk over it.
    fn commit(&mut self, commit: ObjectId) -> Result<(ObjectId, Option<ObjectId>)> {
        if let Some(known) = lock(&self.shared.commits).get(&commit) {
            return Ok(*known);
        }
        let object = self
            .repo
            .find_object(commit)
            .map_err(|e| Error::gix(format!("cannot read commit {commit}"), e))?;
        let mut iter = gix::objs::CommitRefIter::from_bytes(&object.data, self.repo.object_hash());
        let tree = iter
            .tree_id()
            .map_err(|e| Error::gix(format!("cannot decode commit {commit}"), e))?;
        let parent = iter.parent_ids().next();
        lock(&self.shared.commits).insert(commit, (tree, parent), COMMIT_ENTRY_BYTES);
        Ok((tree, parent))
    }

    fn tree_of(&mut self, commit: ObjectId) -> Result<ObjectId> {
        Ok(self.commit(commit)?.0)
    }

    /// The diff of `commit` against its first parent (or the empty tree for a root).
    fn node(&mut self, commit: ObjectId) -> Result<(Node, Option<ObjectId>)> {
        let (tree, parent) = self.commit(commit)?;
        let parent_tree = match parent {
            Some(p) => Some(self.tree_of(p)?),
            None => None,
        };
        Ok((
            diff_commit(self.repo, &mut self.trees, commit, parent_tree, tree)?,
            parent,
        ))
    }

    /// Up to `limit` commits from `start` down the first-parent chain, diffed (on the
    /// threads `budget` allows, each with its own repository handle and tree cache),
    /// newest first, and the commit after them.
    fn older_batch(
        &mut self,
        shared_repo: &gix::ThreadSafeRepository,
        budget: &ThreadBudget,
        start: ObjectId,
        limit: usize,
    ) -> Result<(Vec<Node>, Option<ObjectId>)> {
        // Walking the chain is cheap (commit objects); diffing is not, and each commit's
        // diff is independent.
        let mut jobs = Vec::with_capacity(limit);
        let mut next = Some(start);
        while jobs.len() < limit {
            let Some(commit) = next else { break };
            let (tree, parent) = self.commit(commit)?;
            let parent_tree = match parent {
                Some(p) => Some(self.tree_of(p)?),
                None => None,
            };
            jobs.push((commit, parent_tree, tree));
            next = parent;
        }
        let parts = budget.map_chunks_with(
            &jobs,
            Split::new(PARALLEL_MIN_JOBS).max_workers(MAX_DIFF_THREADS),
            || {
                let mut repo = shared_repo.to_thread_local();
                walk_caches(&mut repo);
                (repo, TreeCache::new())
            },
            |(repo, trees), part| {
                part.iter()
                    .map(|&(commit, old, new)| diff_commit(repo, trees, commit, old, new))
                    .collect::<Result<Vec<_>>>()
            },
        );
        let mut nodes = Vec::with_capacity(jobs.len());
        for part in parts {
            nodes.extend(part?);
        }
        Ok((nodes, next))
    }

    /// Blob id at `path` in `commit`, `None` if absent or not a file. Trees come from
    /// the repository's shared cache when `shared` (the trees at a branch tip, which
    /// the next query reads again), else from this walk's.
    fn blob_at(
        &mut self,
        commit: ObjectId,
        components: &[&str],
        shared: bool,
    ) -> Result<Option<ObjectId>> {
        let mut tree = self.tree_of(commit)?;
        let hash_len = self.repo.object_hash().len_in_bytes();
        for (i, component) in components.iter().enumerate() {
            let data = if shared {
                self.shared.tree(self.repo, tree)?
            } else {
                self.trees.get(self.repo, tree)?
            };
            let mut entries = RawEntries::new(&data, hash_len, Some(tree));
            let mut found = None;
            while let Some(e) = entries.next_entry()? {
                if e.name == component.as_bytes() {
                    found = Some((e.is_tree, e.id));
                    break;
                }
            }
            match found {
                Some((true, id)) if i + 1 < components.len() => tree = id,
                Some((false, id)) if i + 1 == components.len() => return Ok(Some(id)),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// Cache setup for history walks: trees go through our own [`TreeCache`]; gix's object
/// cache would only add copies. (A larger delta cache than gix's default was measured
/// and made no difference.)
fn walk_caches(repo: &mut gix::Repository) {
    repo.object_cache_size(0);
}

fn diff_commit(
    repo: &gix::Repository,
    trees: &mut TreeCache,
    commit: ObjectId,
    parent_tree: Option<ObjectId>,
    tree: ObjectId,
) -> Result<Node> {
    let mut changes = Vec::new();
    let mut prefix = BString::default();
    diff_trees(
        repo,
        trees,
        parent_tree,
        Some(tree),
        &mut prefix,
        &mut changes,
    )?;
    Ok(Node { commit, changes })
}

/// Records every blob that differs between two trees, recursing only into subtrees whose
/// ids differ: a commit that changes one file costs one path's worth of tree reads.
/// Wide folders (1,000 apps) dominate, so entries are compared as raw bytes while
/// walking both trees in lockstep: identical entries are skipped without decoding.
fn diff_trees(
    repo: &gix::Repository,
    trees: &mut TreeCache,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &mut BString,
    out: &mut Vec<(BString, Change)>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let mut load = |id: Option<ObjectId>| -> Result<Arc<Vec<u8>>> {
        match id {
            None => Ok(Arc::default()),
            Some(id) => trees.get(repo, id),
        }
    };
    let (old_data, new_data) = (load(old)?, load(new)?);
    let hash_len = repo.object_hash().len_in_bytes();
    let mut a = RawEntries::new(&old_data, hash_len, old);
    let mut b = RawEntries::new(&new_data, hash_len, new);
    let (mut x, mut y) = (a.next_entry()?, b.next_entry()?);
    loop {
        let ord = match (&x, &y) {
            (None, None) => break,
            (Some(e), Some(f)) if e.raw == f.raw => {
                x = a.next_entry()?;
                y = b.next_entry()?;
                continue;
            }
            (Some(e), Some(f)) => git_order(e.name, e.is_tree, f.name, f.is_tree),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                visit(repo, trees, x.as_ref(), None, prefix, out)?;
                x = a.next_entry()?;
            }
            Ordering::Greater => {
                visit(repo, trees, None, y.as_ref(), prefix, out)?;
                y = b.next_entry()?;
            }
            Ordering::Equal => {
                visit(repo, trees, x.as_ref(), y.as_ref(), prefix, out)?;
                x = a.next_entry()?;
                y = b.next_entry()?;
            }
        }
    }
    Ok(())
}

/// One tree entry, borrowed from the tree object's bytes.
struct Entry<'a> {
    /// The whole serialised entry: equal bytes mean equal name, mode and id.
    raw: &'a [u8],
    name: &'a [u8],
    is_tree: bool,
    id: ObjectId,
}

/// Minimal tree parser (`<mode> SP <name> NUL <hash>` repeated) that skips submodules.
struct RawEntries<'a> {
    data: &'a [u8],
    pos: usize,
    hash_len: usize,
    id: Option<ObjectId>,
}

impl<'a> RawEntries<'a> {
    fn new(data: &'a [u8], hash_len: usize, id: Option<ObjectId>) -> Self {
        RawEntries {
            data,
            pos: 0,
            hash_len,
            id,
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>> {
        loop {
            let rest = &self.data[self.pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            let corrupt = || Error::Gix {
                context: format!("cannot decode tree {:?}", self.id),
                detail: "malformed tree entry".into(),
            };
            let space = rest.iter().position(|&c| c == b' ').ok_or_else(corrupt)?;
            let nul = space
                + 1
                + rest[space + 1..]
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or_else(corrupt)?;
            let end = nul + 1 + self.hash_len;
            if end > rest.len() {
                return Err(corrupt());
            }
            self.pos += end;
            let mode = &rest[..space];
            // Modes as git writes them: 40000 tree, 160000 submodule, 1006xx/120000 files.
            if mode == b"160000" {
                continue;
            }
            let id = ObjectId::from_bytes_or_panic(&rest[nul + 1..end]);
            return Ok(Some(Entry {
                raw: &rest[..end],
                name: &rest[space + 1..nul],
                is_tree: mode == b"40000" || mode == b"040000",
                id,
            }));
        }
    }
}

fn visit(
    repo: &gix::Repository,
    trees: &mut TreeCache,
    old: Option<&Entry<'_>>,
    new: Option<&Entry<'_>>,
    prefix: &mut BString,
    out: &mut Vec<(BString, Change)>,
) -> Result<()> {
    let name = old.or(new).map(|e| e.name).expect("one side is present");
    let len = prefix.len();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    prefix.extend_from_slice(name);
    let old_tree = old.filter(|e| e.is_tree).map(|e| e.id);
    let new_tree = new.filter(|e| e.is_tree).map(|e| e.id);
    let old_blob = old.filter(|e| !e.is_tree).map(|e| e.id);
    let new_blob = new.filter(|e| !e.is_tree).map(|e| e.id);
    if old_blob != new_blob {
        out.push((prefix.clone(), Change { old: old_blob }));
    }
    if old_tree.is_some() || new_tree.is_some() {
        diff_trees(repo, trees, old_tree, new_tree, prefix, out)?;
    }
    prefix.truncate(len);
    Ok(())
}

/// Git sorts tree entries by name, comparing a folder as if its name ended in '/'.
fn git_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> Ordering {
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        Ordering::Equal => {}
        other => return other,
    }
    let next = |s: &[u8], tree: bool| {
        s.get(common)
            .copied()
            .or(if tree { Some(b'/') } else { None })
    };
    next(a, a_tree).cmp(&next(b, b_tree))
}

/// One `last_change` query: the file, the path, the value at the tip, and the values
/// of the blobs it meets.
struct ValueQuery<'q> {
    repo: &'q gix::Repository,
    shared: &'q Shared,
    file: BString,
    path: YamlPath,
    path_key: Arc<str>,
    current: Option<Value>,
}

impl ValueQuery<'_> {
    fn value_of(&self, blob: Option<ObjectId>) -> Result<Option<Value>> {
        let Some(blob) = blob else { return Ok(None) };
        let key = (blob, self.path_key.clone());
        if let Some(v) = lock(&self.shared.values).get(&key) {
            return Ok(v.clone());
        }
        // Read and parse outside the lock: other queries keep using the cache.
        let data = self
            .repo
            .find_blob(blob)
            .map_err(|e| Error::gix(format!("cannot read blob {blob}"), e))?;
        let v = yamlpath::lookup(&data.data, &self.path);
        let cost = value_bytes(&key, &v);
        lock(&self.shared.values).insert(key, v.clone(), cost);
        Ok(v)
    }

    /// The newest of `node`'s changes to the file that gives another value than the tip.
    fn changed_in(&self, node: &Node) -> Result<Option<ObjectId>> {
        match node.change(&self.file) {
            Some(change) if self.value_of(change.old)? != self.current => Ok(Some(node.commit)),
            _ => Ok(None),
        }
    }

    /// Walks the index's changes to the file below `upper`, newest first; `upper` ends at
    /// the lowest sequence number checked.
    fn in_index(&self, index: &BranchIndex, upper: &mut i64) -> Result<Option<ObjectId>> {
        let candidates: Vec<i64> = index
            .by_path
            .get(&self.file)
            .map(|s| s.range(..*upper).rev().copied().collect())
            .unwrap_or_default();
        for seq in candidates {
            *upper = seq;
            if let Some(node) = index.nodes.get(&seq)
                && let Some(commit) = self.changed_in(node)?
            {
                return Ok(Some(commit));
            }
        }
        Ok(None)
    }

    fn in_nodes(&self, nodes: &[Node]) -> Result<Option<ObjectId>> {
        for node in nodes {
            if let Some(commit) = self.changed_in(node)? {
                return Ok(Some(commit));
            }
        }
        Ok(None)
    }
}

impl Repo {
    /// The shared history caches; the `Repo`'s mutex is held just long enough to clone
    /// the handle.
    fn history_shared(&self) -> Arc<Shared> {
        lock(&self.history).shared.clone()
    }

    /// Bounds the history caches of this repository; applies at once (entries beyond the
    /// new limits are dropped, least recently used first).
    pub fn set_history_limits(&self, limits: HistoryLimits) {
        self.history_shared().set_limits(limits);
    }

    /// [`Repo::set_history_limits`] with `bytes` in all, split by [`HistoryLimits::total`].
    pub fn set_history_cache_limit(&self, bytes: usize) {
        self.set_history_limits(HistoryLimits::total(bytes));
    }

    pub fn history_limits(&self) -> HistoryLimits {
        self.history_shared().limits()
    }

    /// The thread budget history queries diff commits within. Without one, a query uses
    /// [`ThreadBudget::current`] of the thread that runs it.
    pub fn set_history_thread_budget(&self, budget: ThreadBudget) {
        *lock(&self.history_shared().budget) = Some(budget);
    }

    /// What the history caches hold now: cheap (no walk), for tests and metrics.
    pub fn history_cache_stats(&self) -> HistoryCacheStats {
        self.history_shared().stats()
    }

    /// The commit on `branch` (a branch name or any revision) where the value at
    /// `yaml_path` in `file` last changed, walking first parents from its tip. A file
    /// that does not parse, or lacks the path, counts as "no value". `None` when the
    /// value never changed, i.e. it is absent and always was.
    pub fn last_change(
        &self,
        branch: &str,
        file: &str,
        yaml_path: &str,
    ) -> Result<Option<CommitInfo>> {
        let yaml_path = YamlPath::parse(yaml_path)?;
        let components = split_path(file)?;
        let tip = self.resolve(branch)?;
        let shared = self.history_shared();
        let budget = shared.budget();
        let mut repo = self.local();
        walk_caches(&mut repo);
        let mut walker = Walker::new(&repo, &shared);
        let mut query = ValueQuery {
            repo: &repo,
            shared: &shared,
            file: components.join("/").into(),
            path_key: Arc::from(yaml_path.as_str()),
            path: yaml_path,
            current: None,
        };
        query.current = query.value_of(walker.blob_at(tip, &components, true)?)?;

        let slot = shared.branch(branch, tip);
        // The branch's index is locked only to read or change it, never while commits
        // are diffed: queries on one branch share the work without queueing behind a
        // whole walk, and queries on other branches never wait.
        let mut index = lock(&slot.index);
        index.advance(&mut walker, tip)?;
        let limit = shared.room(&slot, index.bytes);
        index.trim(limit);
        slot.publish(&index);
        // Where this query's history starts in the index: another query may move the
        // index to a newer tip once the lock is released, and nodes above ours are not
        // our history.
        let start = SearchStart {
            upper: index.top + 1,
            generation: index.generation,
            tip,
        };
        drop(index);
        let found = self.search(&mut walker, &query, &shared, &slot, &budget, start);
        shared.evict_branches();
        match found? {
            Some(commit) => commit_info(&repo, commit).map(Some),
            None => Ok(None),
        }
    }

    /// The newest commit of the index's branch, from its tip, where the query's value
    /// changed: first through the index, extending it towards the root while it has
    /// room, then through older commits diffed in batches and dropped. The index lock
    /// is held to search or extend it, and released while a batch is diffed; a query
    /// that finds the index extended by another meanwhile searches the new part.
    fn search(
        &self,
        walker: &mut Walker<'_>,
        query: &ValueQuery<'_>,
        shared: &Shared,
        slot: &Arc<BranchSlot>,
        budget: &ThreadBudget,
        start: SearchStart,
    ) -> Result<Option<ObjectId>> {
        let SearchStart {
            mut upper,
            generation,
            tip,
        } = start;
        // The newest commit of our history not searched yet.
        let mut unsearched = Some(tip);
        let mut chunk = EXTEND_CHUNK / 2;
        let mut beyond = loop {
            let index = lock(&slot.index);
            if index.generation != generation {
                // Rewritten under us by a query for another tip: `upper` means nothing
                // in the new index. Our own history is unchanged; walk it unindexed
                // from where we had got to.
                break unsearched;
            }
            if let Some(found) = query.in_index(&index, &mut upper)? {
                return Ok(Some(found));
            }
            upper = upper.min(index.bottom);
            unsearched = index.next_older;
            let Some(next) = index.next_older else {
                return Ok(None);
            };
            if index.bytes >= shared.room(slot, index.bytes) {
                break Some(next);
            }
            drop(index);
            chunk = (chunk * 2).min(MAX_BATCH);
            let (nodes, after) = walker.older_batch(&self.repo, budget, next, chunk)?;
            let mut index = lock(&slot.index);
            if index.generation != generation {
                if let Some(found) = query.in_nodes(&nodes)? {
                    return Ok(Some(found));
                }
                break after;
            }
            if index.next_older != Some(next) {
                // Another query extended (or trimmed, or restarted) the index while we
                // diffed: our batch may overlap it. Search what is there now.
                if let Some(found) = query.in_nodes(&nodes)? {
                    return Ok(Some(found));
                }
                continue;
            }
            // Another query may have taken room meanwhile.
            let limit = shared.room(slot, index.bytes);
            let rest = index.extend_older(nodes, after, limit);
            slot.publish(&index);
            if !rest.is_empty() {
                if let Some(found) = query.in_index(&index, &mut upper)? {
                    return Ok(Some(found));
                }
                if let Some(found) = query.in_nodes(&rest)? {
                    return Ok(Some(found));
                }
                break after;
            }
        };
        // Older than the index may hold: diff, check and drop.
        while let Some(next) = beyond {
            chunk = (chunk * 2).min(MAX_BATCH);
            let (nodes, after) = walker.older_batch(&self.repo, budget, next, chunk)?;
            if let Some(found) = query.in_nodes(&nodes)? {
                return Ok(Some(found));
            }
            beyond = after;
        }
        Ok(None)
    }

    /// Commits on the first-parent chain from `to` (inclusive) back to `from` (exclusive;
    /// `None` = to the root) that changed `file`, newest first. If `from` is not on that
    /// chain the walk goes to the root.
    pub fn commits_touching(
        &self,
        file: &str,
        from: Option<ObjectId>,
        to: ObjectId,
    ) -> Result<Vec<CommitInfo>> {
        let components = split_path(file)?;
        let mut repo = self.local();
        walk_caches(&mut repo);
        let shared = self.history_shared();
        let mut walker = Walker::new(&repo, &shared);
        let mut out = Vec::new();
        let mut cur = Some(to);
        let mut blob = walker.blob_at(to, &components, false)?;
        while let Some(commit) = cur {
            if Some(commit) == from {
                break;
            }
            let (_, parent) = walker.commit(commit)?;
            let parent_blob = match parent {
                Some(p) => walker.blob_at(p, &components, false)?,
                None => None,
            };
            if parent_blob != blob {
                out.push(commit_info(&repo, commit)?);
            }
            blob = parent_blob;
            cur = parent;
        }
        Ok(out)
    }
}

fn commit_info(repo: &gix::Repository, id: ObjectId) -> Result<CommitInfo> {
    let commit = repo
        .find_commit(id)
        .map_err(|e| Error::gix(format!("cannot read commit {id}"), e))?;
    let decoded = commit
        .decode()
        .map_err(|e| Error::gix(format!("cannot decode commit {id}"), e))?;
    let author = decoded
        .author()
        .map_err(|e| Error::gix(format!("cannot decode the author of {id}"), e))?;
    let committer = decoded
        .committer()
        .map_err(|e| Error::gix(format!("cannot decode the committer of {id}"), e))?;
    let time = committer.time().map(|t| t.seconds).unwrap_or(0);
    Ok(CommitInfo {
        id,
        time,
        author_name: author.name.to_str_lossy().into_owned(),
        author_email: author.email.to_str_lossy().into_owned(),
        subject: decoded.message_summary().to_str_lossy().into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_sort_as_if_slash_terminated() {
        // "a.b" < "a/" < "a0" in git order, while "a" < "a.b" by plain bytes.
        assert_eq!(git_order(b"a", true, b"a.b", false), Ordering::Greater);
        assert_eq!(git_order(b"a", true, b"a0", false), Ordering::Less);
        assert_eq!(git_order(b"a", false, b"a.b", false), Ordering::Less);
        assert_eq!(git_order(b"same", true, b"same", true), Ordering::Equal);
    }
}

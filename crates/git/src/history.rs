//! History queries: when did a YAML value last change, which commits touched a file.
//!
//! Both walk first parents, the way a branch's own history reads when feature work is
//! merged into it. The expensive part of a walk is diffing each commit's tree with its
//! parent's, so that result is computed once per commit and kept in a per-branch index
//! (`path -> commits that changed its blob`), extended lazily towards the root as
//! queries need older history and forward when the branch moves. Parsed YAML values
//! are cached per blob id: an unchanged blob is never parsed twice.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use crate::yamlpath::Value;
use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};

use crate::error::{Error, Result};
use crate::read::split_path;
use crate::repo::Repo;
use crate::yamlpath::{self, YamlPath};

/// How many commits the first extension of an index towards the root diffs; each
/// further extension doubles it, so deep queries pay few batch overheads.
const EXTEND_CHUNK: usize = 256;
/// Below this many commits per thread, a batch is diffed on the calling thread.
const PARALLEL_MIN_JOBS: usize = 128;

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

/// Caches shared by all history queries on one repository.
#[derive(Default)]
pub struct HistoryCache {
    branches: HashMap<String, BranchIndex>,
    values: HashMap<(ObjectId, String), Option<Value>>,
    commits: HashMap<ObjectId, (ObjectId, Option<ObjectId>)>,
    trees: TreeCache,
}

/// Raw tree objects by id, kept outside gix's object cache: a walk re-reads each tree
/// once as the new side of a diff and once as the old side of the next, and gix's cache
/// would copy the (35 kB for 1,000 apps) object on every hit. Bounded FIFO.
#[derive(Default)]
struct TreeCache {
    map: HashMap<ObjectId, Arc<Vec<u8>>>,
    order: VecDeque<ObjectId>,
}

impl TreeCache {
    const CAPACITY: usize = 1024;

    fn get(&mut self, repo: &gix::Repository, id: ObjectId) -> Result<Arc<Vec<u8>>> {
        if let Some(data) = self.map.get(&id) {
            return Ok(data.clone());
        }
        let data = Arc::new(
            repo.find_object(id)
                .map_err(|e| Error::gix(format!("cannot read tree {id}"), e))?
                .detach()
                .data,
        );
        if self.order.len() >= Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(id);
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
        }
    }

    fn insert(&mut self, seq: i64, node: Node) {
        for (path, _) in &node.changes {
            self.by_path.entry(path.clone()).or_default().insert(seq);
        }
        self.nodes.insert(seq, node);
    }

    /// Diffs up to `limit` more commits below the bottom. Returns false at the root.
    ///
    /// Walking the first-parent chain is cheap (commit objects); diffing is not, and each
    /// commit's diff is independent, so large batches are split across threads, each with
    /// its own repository handle and tree cache.
    fn extend_older(
        &mut self,
        walker: &mut Walker<'_>,
        shared: &gix::ThreadSafeRepository,
        limit: usize,
    ) -> Result<bool> {
        let mut jobs = Vec::with_capacity(limit);
        while jobs.len() < limit {
            let Some(commit) = self.next_older else { break };
            let (tree, parent) = walker.commit(commit)?;
            let parent_tree = match parent {
                Some(p) => Some(walker.tree_of(p)?),
                None => None,
            };
            jobs.push((commit, parent_tree, tree));
            self.next_older = parent;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let nodes: Vec<Node> = if threads < 2 || jobs.len() < 2 * PARALLEL_MIN_JOBS {
            jobs.iter()
                .map(|&(commit, old, new)| diff_commit(walker.repo, walker.trees, commit, old, new))
                .collect::<Result<_>>()?
        } else {
            let per_thread = jobs.len().div_ceil(threads);
            let parts: Vec<Result<Vec<Node>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = jobs
                    .chunks(per_thread)
                    .map(|part| {
                        scope.spawn(move || {
                            let mut repo = shared.to_thread_local();
                            walk_caches(&mut repo);
                            let mut trees = TreeCache::default();
                            part.iter()
                                .map(|&(commit, old, new)| {
                                    diff_commit(&repo, &mut trees, commit, old, new)
                                })
                                .collect::<Result<Vec<_>>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            let mut nodes = Vec::with_capacity(jobs.len());
            for part in parts {
                nodes.extend(part?);
            }
            nodes
        };
        for node in nodes {
            self.bottom -= 1;
            let seq = self.bottom;
            self.insert(seq, node);
        }
        Ok(self.next_older.is_some())
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
            *self = BranchIndex::empty(new_tip);
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

/// Reads commits and trees for one query through the repository's caches.
struct Walker<'r> {
    repo: &'r gix::Repository,
    /// Commit -> (tree, first parent): each commit is read as a parent and again as the
    /// next commit of the walk.
    commits: &'r mut HashMap<ObjectId, (ObjectId, Option<ObjectId>)>,
    trees: &'r mut TreeCache,
}

impl<'r> Walker<'r> {
    fn new(
        repo: &'r gix::Repository,
        commits: &'r mut HashMap<ObjectId, (ObjectId, Option<ObjectId>)>,
        trees: &'r mut TreeCache,
    ) -> Self {
        Walker {
            repo,
            commits,
            trees,
        }
    }

    /// Tree and first parent of `commit`.
    fn commit(&mut self, commit: ObjectId) -> Result<(ObjectId, Option<ObjectId>)> {
        if let Some(known) = self.commits.get(&commit) {
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
        self.commits.insert(commit, (tree, parent));
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
            diff_commit(self.repo, self.trees, commit, parent_tree, tree)?,
            parent,
        ))
    }

    /// Blob id at `path` in `commit`, `None` if absent or not a file.
    fn blob_at(&mut self, commit: ObjectId, components: &[&str]) -> Result<Option<ObjectId>> {
        let mut tree = self.tree_of(commit)?;
        let hash_len = self.repo.object_hash().len_in_bytes();
        for (i, component) in components.iter().enumerate() {
            let data = self.trees.get(self.repo, tree)?;
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

impl Repo {
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
        let file_key: BString = components.join("/").into();
        let tip = self.resolve(branch)?;
        let mut repo = self.local();
        walk_caches(&mut repo);
        let mut cache = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let HistoryCache {
            branches,
            values,
            commits,
            trees,
        } = &mut *cache;
        let mut walker = Walker::new(&repo, commits, trees);
        let index = branches
            .entry(branch.to_string())
            .or_insert_with(|| BranchIndex::empty(tip));
        index.advance(&mut walker, tip)?;

        let mut value_of = |blob: Option<ObjectId>| -> Result<Option<Value>> {
            let Some(blob) = blob else { return Ok(None) };
            let key = (blob, yaml_path.as_str().to_string());
            if let Some(v) = values.get(&key) {
                return Ok(v.clone());
            }
            let data = repo
                .find_blob(blob)
                .map_err(|e| Error::gix(format!("cannot read blob {blob}"), e))?;
            let v = yamlpath::lookup(&data.data, &yaml_path);
            values.insert(key, v.clone());
            Ok(v)
        };
        let current = value_of(walker.blob_at(tip, &components)?)?;
        // Walk this file's changes from newest to oldest, extending the index as needed.
        let mut upper = i64::MAX;
        let mut chunk = EXTEND_CHUNK / 2;
        loop {
            let candidates: Vec<i64> = index
                .by_path
                .get(&file_key)
                .map(|s| s.range(..upper).rev().copied().collect())
                .unwrap_or_default();
            for seq in candidates {
                upper = seq;
                let node = &index.nodes[&seq];
                let change = node
                    .changes
                    .iter()
                    .find(|(p, _)| *p == file_key)
                    .map(|(_, c)| *c)
                    .expect("by_path only lists commits that changed the path");
                if value_of(change.old)? != current {
                    let commit = node.commit;
                    drop(cache);
                    return commit_info(&repo, commit).map(Some);
                }
            }
            upper = upper.min(index.bottom);
            chunk = (chunk * 2).min(1 << 16);
            if !index.extend_older(&mut walker, &self.repo, chunk)?
                && index
                    .by_path
                    .get(&file_key)
                    .is_none_or(|s| s.range(..upper).next().is_none())
            {
                return Ok(None);
            }
        }
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
        let mut cache = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let HistoryCache { commits, trees, .. } = &mut *cache;
        let mut walker = Walker::new(&repo, commits, trees);
        let mut out = Vec::new();
        let mut cur = Some(to);
        let mut blob = walker.blob_at(to, &components)?;
        while let Some(commit) = cur {
            if Some(commit) == from {
                break;
            }
            let (_, parent) = walker.commit(commit)?;
            let parent_blob = match parent {
                Some(p) => walker.blob_at(p, &components)?,
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

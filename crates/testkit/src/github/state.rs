//! The fake's memory: repositories and their pull requests, labels, statuses and check
//! runs, tokens and Apps, the rate limit, faults, and the record of requests. Git content
//! (branches, commits) is not here: it lives in each repository's bare repo.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::git::Bare;
use super::{ApiRequest, Fault};

/// GitHub's core rate limit for a token.
pub(crate) const RATE_LIMIT: u64 = 5000;

pub(crate) struct State {
    /// `http://127.0.0.1:PORT`: web and git URLs; the API is under `/api/v3`.
    pub base: String,
    /// By lower-case full name: GitHub's names are case-insensitive.
    pub repos: BTreeMap<String, Repo>,
    pub tokens: HashMap<String, Token>,
    pub apps: HashMap<u64, App>,
    pub installations: BTreeMap<u64, Installation>,
    pub installation_ttl: Duration,
    pub mergeable_delay: u32,
    /// Every how many requests, which fault, and `api_count` when it was set.
    pub fault: Option<(u32, Fault, u64)>,
    /// One-shot faults, in order: (method, a part of the path, the fault) for the next
    /// request that matches.
    pub next_faults: Vec<(String, String, Fault)>,
    /// API requests received, faulted ones included: what `fail_every` counts.
    pub api_count: u64,
    pub rate_used: u64,
    pub rate_reset: u64,
    pub requests: Vec<ApiRequest>,
    /// Ref advertisements (`GET .../info/refs`) served to an accepted token: every
    /// fetch, push and remote check begins with one.
    pub ref_advertisements: u64,
    pub violations: Vec<String>,
    users: BTreeMap<String, u64>,
    next_id: u64,
}

pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub bare: Bare,
    pub default_branch: String,
    pub created: u64,
    pub collaborators: BTreeSet<String>,
    pub pulls: Vec<Pull>,
    pub labels: Vec<Label>,
    pub statuses: Vec<Status>,
    pub check_runs: Vec<CheckRun>,
    /// Commits the API made for an App without an explicit author: GitHub signs those.
    pub verified: HashSet<String>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

pub(crate) struct Pull {
    pub number: u64,
    pub id: u64,
    pub user: String,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub merged: bool,
    pub merged_at: Option<u64>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub head_ref: String,
    /// The head and base tips last seen: the head's stays as it was once closed.
    pub head_sha: String,
    pub base_ref: String,
    pub base_sha: String,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub comments: Vec<Comment>,
    pub created: u64,
    pub updated: u64,
    pub closed_at: Option<u64>,
    /// `GET /pulls/{n}` answers left with `mergeable: null` before it is computed.
    pub mergeable_wait: u32,
    pub mergeable: Option<bool>,
    pub draft: bool,
    /// What `mergeable_state` says once mergeability is computed, when a test set it
    /// (`blocked`, `behind`, `unstable`, ...); otherwise `clean` or `dirty`.
    pub mergeable_state: Option<String>,
}

pub(crate) struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created: u64,
}

pub(crate) struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

pub(crate) struct Status {
    pub id: u64,
    pub sha: String,
    pub context: String,
    pub state: String,
    pub created: u64,
}

pub(crate) struct CheckRun {
    pub id: u64,
    pub sha: String,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created: u64,
}

pub(crate) struct Token {
    pub login: String,
    /// Lower-case full names the token can read and write.
    pub repos: BTreeSet<String>,
    /// For installation tokens: which installation, and until when (epoch seconds).
    pub installation: Option<(u64, u64)>,
}

pub(crate) struct App {
    pub public_key_pem: String,
    pub slug: String,
}

pub(crate) struct Installation {
    pub id: u64,
    pub app_id: u64,
    pub repos: BTreeSet<String>,
    pub created: u64,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Epoch seconds as GitHub writes times: `2011-01-26T19:01:12Z`.
pub(crate) fn iso(secs: u64) -> String {
    jiff::Timestamp::from_second(secs as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl State {
    pub fn new(base: String) -> State {
        State {
            base,
            repos: BTreeMap::new(),
            tokens: HashMap::new(),
            apps: HashMap::new(),
            installations: BTreeMap::new(),
            installation_ttl: Duration::from_secs(3600),
            mergeable_delay: 1,
            fault: None,
            next_faults: Vec::new(),
            api_count: 0,
            rate_used: 0,
            rate_reset: now() + 3600,
            requests: Vec::new(),
            ref_advertisements: 0,
            violations: Vec::new(),
            users: BTreeMap::new(),
            next_id: 1000,
        }
    }

    pub fn api(&self) -> String {
        format!("{}/api/v3", self.base)
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A stable id for a login, made up on first sight.
    pub fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.next_id();
        self.users.insert(login.to_string(), id);
        id
    }

    pub fn repo(&self, full_name: &str) -> &Repo {
        self.repos
            .get(&full_name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("FakeGitHub: no repo {full_name} (add_repo first)"))
    }

    pub fn repo_mut(&mut self, full_name: &str) -> &mut Repo {
        self.repos
            .get_mut(&full_name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("FakeGitHub: no repo {full_name} (add_repo first)"))
    }

    /// The rate-limit window: GitHub's resets an hour after it started.
    pub fn roll_rate_window(&mut self) {
        let now = now();
        if now >= self.rate_reset {
            self.rate_used = 0;
            self.rate_reset = now + 3600;
        }
    }

    /// The fault due for the request numbered `n`, if any.
    pub fn fault_for(&self, n: u64) -> Option<Fault> {
        match &self.fault {
            Some((every, fault, since))
                if *every > 0 && n > *since && (n - since).is_multiple_of(u64::from(*every)) =>
            {
                Some(fault.clone())
            }
            _ => None,
        }
    }

    /// The one-shot fault for a `method` request to `path`, if one matches: used up.
    pub fn take_next_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let i = self
            .next_faults
            .iter()
            .position(|(m, part, _)| m.eq_ignore_ascii_case(method) && path.contains(part))?;
        Some(self.next_faults.remove(i).2)
    }

    /// Brings an open pull request up to date with its branches: tips that moved reset
    /// its mergeability; a deleted head branch closes it, as on GitHub.
    pub fn refresh_pull(&mut self, full_name: &str, number: u64) {
        let open = self
            .repo(full_name)
            .pulls
            .iter()
            .any(|p| p.number == number && p.open);
        if open {
            let tips = self.repo(full_name).bare.branches();
            self.refresh_pull_with(full_name, number, &tips);
        }
    }

    /// [`refresh_pull`](Self::refresh_pull) with every branch tip already read.
    fn refresh_pull_with(&mut self, full_name: &str, number: u64, tips: &HashMap<String, String>) {
        let delay = self.mergeable_delay;
        let repo = self.repo_mut(full_name);
        let Some(pull) = repo.pulls.iter_mut().find(|p| p.number == number) else {
            return;
        };
        if !pull.open {
            return;
        }
        let (head, base) = (tips.get(&pull.head_ref), tips.get(&pull.base_ref));
        let Some(head) = head else {
            pull.open = false;
            pull.closed_at = Some(now());
            pull.updated = now();
            return;
        };
        let base = base.cloned().unwrap_or_default();
        if *head != pull.head_sha || base != pull.base_sha {
            pull.head_sha = head.clone();
            pull.base_sha = base;
            pull.mergeable_wait = delay;
            pull.mergeable = None;
            pull.updated = now();
        }
    }

    /// Every open pull request brought up to date, with one read of the branch tips.
    pub fn refresh_pulls(&mut self, full_name: &str) {
        let numbers: Vec<u64> = self
            .repo(full_name)
            .pulls
            .iter()
            .filter(|p| p.open)
            .map(|p| p.number)
            .collect();
        if numbers.is_empty() {
            return;
        }
        let tips = self.repo(full_name).bare.branches();
        for n in numbers {
            self.refresh_pull_with(full_name, n, &tips);
        }
    }
}

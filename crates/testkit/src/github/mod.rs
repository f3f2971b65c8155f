//! A fake GitHub REST API on loopback, for tests of the GitHub forge and the daemon.
//!
//! Written from GitHub's REST documentation and checked, exchange by exchange, against
//! its OpenAPI description (`make reference` fetches it; see [`FakeGitHub::openapi_violations`]).
//! State is in memory; behind each repository is a real bare git repo, served over smart
//! HTTP at [`FakeGitHub::git_url`]: pull request heads are its branches, merges and Git
//! Data writes are real objects and compare-and-swap ref updates in it.
//!
//! The API lives under `/api/v3`, GitHub Enterprise style, so clients exercise a path
//! prefix. The fake reads no environment variable; the `git` it runs ignores the user's
//! configuration.

mod auth;
mod git;
mod gitdata;
mod issues;
mod json;
mod openapi;
mod pulls;
mod routes;
mod server;
mod state;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use server::{Server, Shared};
use state::{App, CheckRun, Installation, Label, Repo, State, Status, Token, now};

/// A fake GitHub: an HTTP server on 127.0.0.1, ready when [`FakeGitHub::start`]
/// returns, stopped when dropped.
pub struct FakeGitHub {
    shared: Shared,
    server: Server,
}

/// A fault injected in place of an API answer: the request then has no effect, except
/// with [`Fault::LostReply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The request takes effect, then its answer is lost: a 502 (as from a proxy)
    /// instead of it.
    LostReply,
    /// 403 with `retry-after` and GitHub's "secondary rate limit" message.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 403 with `x-ratelimit-remaining: 0`, `x-ratelimit-reset` that many seconds ahead,
    /// and GitHub's "API rate limit exceeded" message.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// That status (e.g. 502) with a basic error body.
    ServerError(u16),
}

/// A pull request as the fake holds it, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullSnapshot {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub head_ref: String,
    /// The head's tip, as last seen (kept once closed).
    pub head_sha: String,
    pub base_ref: String,
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    /// The bodies of its comments, oldest first.
    pub comments: Vec<String>,
}

/// One API request the fake answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: String,
    /// Without the `/api/v3` prefix, e.g. `/repos/acme/config/pulls`.
    pub path: String,
    /// The raw query string, empty when there was none.
    pub query: String,
    /// The status answered (304 for a matched `If-None-Match`).
    pub status: u16,
    /// POST, PATCH, PUT or DELETE.
    pub write: bool,
    /// Whether `If-None-Match` was sent.
    pub conditional: bool,
    /// `token` (a personal access token), `jwt` (an App), `installation` (an
    /// installation token) or `none`; refused credentials count as what they looked like.
    pub auth: String,
}

/// The login that `merge_as_person` and `close_as_person` act as.
pub const PERSON: &str = "a-person";

impl FakeGitHub {
    /// Starts the server on a free loopback port.
    pub fn start() -> FakeGitHub {
        let (server, shared) = Server::start(|port| State::new(format!("http://127.0.0.1:{port}")));
        FakeGitHub { shared, server }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.lock().unwrap()
    }

    /// The API root, GitHub Enterprise style: `http://127.0.0.1:PORT/api/v3`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v3", self.server.app.port)
    }

    /// Registers `owner/name`, backed by the bare repo at `bare` (created by the caller),
    /// whose default branch is `default_branch`. Its owner is a collaborator.
    pub fn add_repo(&self, full_name: &str, bare: &Path, default_branch: &str) {
        let (owner, name) = full_name
            .split_once('/')
            .unwrap_or_else(|| panic!("FakeGitHub: {full_name:?} is not owner/name"));
        let mut st = self.state();
        let id = st.next_id();
        st.repos.insert(
            full_name.to_ascii_lowercase(),
            Repo {
                id,
                owner: owner.into(),
                name: name.into(),
                bare: git::Bare::new(bare),
                default_branch: default_branch.into(),
                created: now(),
                collaborators: BTreeSet::from([owner.to_ascii_lowercase()]),
                pulls: Vec::new(),
                labels: Vec::new(),
                statuses: Vec::new(),
                check_runs: Vec::new(),
                verified: Default::default(),
            },
        );
    }

    /// The smart-HTTP clone URL of a registered repo, without credentials: give a token
    /// as the password (user `x-access-token`).
    pub fn git_url(&self, full_name: &str) -> String {
        let st = self.state();
        let repo = st.repo(full_name);
        format!("{}/{}.git", st.base, repo.full_name())
    }

    /// A personal access token (of user `token-user`) that can read and write these
    /// repos; other repos answer it 404, and unknown tokens get 401.
    pub fn add_token(&self, token: &str, repos: &[&str]) {
        self.add_user_token("token-user", token, repos);
    }

    /// [`add_token`](Self::add_token) for a named user.
    pub fn add_user_token(&self, login: &str, token: &str, repos: &[&str]) {
        self.state().tokens.insert(
            token.to_string(),
            Token {
                login: login.to_string(),
                repos: repos.iter().map(|r| r.to_ascii_lowercase()).collect(),
                installation: None,
            },
        );
    }

    /// A GitHub App: its id, its public key (PEM, PKCS#1 `BEGIN RSA PUBLIC KEY` or SPKI
    /// `BEGIN PUBLIC KEY`), and one installation covering `repos`. Its bot is
    /// `app-<id>[bot]`.
    pub fn add_app(&self, app_id: u64, public_key_pem: &str, installation_id: u64, repos: &[&str]) {
        jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("FakeGitHub: the App's public key is not an RSA PEM: {e}"));
        let mut st = self.state();
        st.apps.insert(
            app_id,
            App {
                public_key_pem: public_key_pem.to_string(),
                slug: format!("app-{app_id}"),
            },
        );
        st.installations.insert(
            installation_id,
            Installation {
                id: installation_id,
                app_id,
                repos: repos.iter().map(|r| r.to_ascii_lowercase()).collect(),
                created: now(),
            },
        );
    }

    /// How long installation tokens live (default an hour); tests use seconds to
    /// exercise refreshing them.
    /// Revokes every installation token handed out so far, as `DELETE
    /// /installation/token` or reinstalling the App would: the API and git then refuse
    /// them (401).
    pub fn revoke_installation_tokens(&self) {
        self.state().tokens.retain(|_, t| t.installation.is_none());
    }

    pub fn set_installation_token_ttl(&self, ttl: Duration) {
        self.state().installation_ttl = ttl;
    }

    /// A user that exists and collaborates on the repo: only collaborators can be asked
    /// for reviews (others get 422).
    pub fn add_collaborator(&self, full_name: &str, login: &str) {
        self.state()
            .repo_mut(full_name)
            .collaborators
            .insert(login.to_ascii_lowercase());
    }

    /// A person merges the pull request in the web UI: a merge commit on the base
    /// branch. Panics if GitHub would refuse (closed, conflicting).
    pub fn merge_as_person(&self, full_name: &str, number: u64) {
        let mut st = self.state();
        let key = full_name.to_ascii_lowercase();
        let options = pulls::MergeOptions {
            method: "merge",
            sha: None,
            title: None,
            message: None,
        };
        if let Err(reply) = pulls::merge_pull(&mut st, &key, number, PERSON, &options) {
            panic!(
                "FakeGitHub: cannot merge {full_name}#{number}: {}",
                reply.body.unwrap_or_default()
            );
        }
    }

    /// A person closes the pull request without merging it.
    pub fn close_as_person(&self, full_name: &str, number: u64) {
        let mut st = self.state();
        st.refresh_pull(full_name, number);
        let pr = st
            .repo_mut(full_name)
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .unwrap_or_else(|| panic!("FakeGitHub: no pull request {full_name}#{number}"));
        if pr.open {
            pr.open = false;
            pr.closed_at = Some(now());
            pr.updated = now();
        }
    }

    /// CI reports a commit status (`success`, `pending`, `failure` or `error`) for
    /// `context` on commit `sha`; a later report of the same context replaces it.
    pub fn set_commit_status(&self, full_name: &str, sha: &str, context: &str, state: &str) {
        assert!(
            ["success", "pending", "failure", "error"].contains(&state),
            "FakeGitHub: commit status {state:?}"
        );
        let mut st = self.state();
        let id = st.next_id();
        st.repo_mut(full_name).statuses.push(Status {
            id,
            sha: sha.to_string(),
            context: context.to_string(),
            state: state.to_string(),
            created: now(),
        });
    }

    /// CI reports a check run `name` on commit `sha`: `status` `queued`, `in_progress`
    /// or `completed`, with a conclusion (`success`, `failure`, ...) once completed.
    pub fn add_check_run(
        &self,
        full_name: &str,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
    ) {
        let mut st = self.state();
        let id = st.next_id();
        st.repo_mut(full_name).check_runs.push(CheckRun {
            id,
            sha: sha.to_string(),
            name: name.to_string(),
            status: status.to_string(),
            conclusion: conclusion.map(str::to_string),
            created: now(),
        });
    }

    /// What GitHub's `mergeable_state` says for pull request `number` once it has
    /// computed mergeability (until then, and while `mergeable` is null, `unknown`):
    /// `blocked` (branch protection), `behind`, `unstable` (a check that is not required
    /// failed), `has_hooks`, `draft`, `clean` or `dirty`. `mergeable` is true for all
    /// but `dirty`; an API merge of a `blocked`, `dirty` or `draft` one is refused (405).
    /// It stays, whatever the branches do, until set again.
    pub fn set_mergeable_state(&self, full_name: &str, number: u64, state: &str) {
        assert!(
            [
                "behind",
                "blocked",
                "clean",
                "dirty",
                "draft",
                "has_hooks",
                "unknown",
                "unstable"
            ]
            .contains(&state),
            "FakeGitHub: mergeable_state {state:?}"
        );
        let mut st = self.state();
        let pr = st
            .repo_mut(full_name)
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .unwrap_or_else(|| panic!("FakeGitHub: no pull request {full_name}#{number}"));
        pr.mergeable_state = Some(state.to_string());
    }

    /// After every change of a pull request's head or base, `GET /pulls/{n}` answers
    /// `mergeable: null` this many times before computing it (default 1), as GitHub
    /// computes mergeability in the background.
    pub fn set_mergeable_delay(&self, gets: u32) {
        self.state().mergeable_delay = gets;
    }

    /// Every `n`-th API request from now on (counting all of them, whatever their
    /// endpoint) gets `fault` instead of its answer: with 1 every request fails, with 3
    /// the third, sixth, ... after this call.
    pub fn fail_every(&self, n: u32, fault: Fault) {
        let mut st = self.state();
        let since = st.api_count;
        st.fault = Some((n, fault, since));
    }

    /// The next API request with `method` (`POST`, ...) whose path (without `/api/v3`)
    /// contains `path_part` gets `fault`, once. Several wait in the order given; they
    /// do not count toward [`fail_every`](Self::fail_every), which wins when both apply.
    pub fn fail_next(&self, method: &str, path_part: &str, fault: Fault) {
        self.state()
            .next_faults
            .push((method.to_string(), path_part.to_string(), fault));
    }

    /// No more faults (periodic and one-shot alike).
    pub fn clear_faults(&self) {
        let mut st = self.state();
        st.fault = None;
        st.next_faults.clear();
    }

    /// One-shot faults not used yet, as (method, path part).
    pub fn pending_faults(&self) -> Vec<(String, String)> {
        self.state()
            .next_faults
            .iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    }

    /// Creates a label in the repo, as its maintainers would have.
    pub fn add_label(&self, full_name: &str, name: &str) {
        let mut st = self.state();
        let id = st.next_id();
        st.repo_mut(full_name).labels.push(Label {
            id,
            name: name.to_string(),
            color: "ededed".into(),
            description: None,
        });
    }

    /// The repo's pull requests, oldest first, brought up to date with its branches.
    pub fn pulls(&self, full_name: &str) -> Vec<PullSnapshot> {
        let mut st = self.state();
        st.refresh_pulls(full_name);
        st.repo(full_name)
            .pulls
            .iter()
            .map(|p| PullSnapshot {
                number: p.number,
                state: if p.open { "open" } else { "closed" }.into(),
                merged: p.merged,
                head_ref: p.head_ref.clone(),
                head_sha: p.head_sha.clone(),
                base_ref: p.base_ref.clone(),
                title: p.title.clone(),
                body: p.body.clone(),
                labels: p.labels.clone(),
                requested_reviewers: p.requested_reviewers.clone(),
                comments: p.comments.iter().map(|c| c.body.clone()).collect(),
            })
            .collect()
    }

    /// Every API request so far (since [`clear_requests`](Self::clear_requests)).
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state().requests.clone()
    }

    /// How many ref advertisements (the start of every fetch, push and remote check
    /// over smart HTTP) were served to an accepted token.
    pub fn ref_advertisements(&self) -> u64 {
        self.state().ref_advertisements
    }

    /// Forgets the recorded requests (the fault count and the rate limit go on).
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// Every mismatch between what was exchanged and GitHub's OpenAPI description: an
    /// undocumented method and path, a request or response body off its schema, a
    /// status the operation does not document (generic answers excepted; see
    /// `openapi.rs`). Empty when all conformed. Also reports a missing description.
    pub fn openapi_violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Loads GitHub's OpenAPI description now (once per process) and how long that
    /// took; a test can call it up front to keep the cost out of timed sections.
    pub fn load_openapi() -> Result<Duration, String> {
        let started = Instant::now();
        openapi::spec().map(|s| s.load_time.max(started.elapsed()))
    }
}

/// A new GitHub App key pair in `dir`: the private key's file (PEM, as GitHub hands it
/// out) and the public key in PEM, for [`FakeGitHub::add_app`]. Made by `ssh-keygen`
/// (openssh-client).
pub fn app_key_pair(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("app.pem");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    let public = std::process::Command::new("ssh-keygen")
        .args(["-e", "-m", "PEM", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(
        public.status.success(),
        "{}",
        String::from_utf8_lossy(&public.stderr)
    );
    (key, String::from_utf8(public.stdout).expect("PEM is text"))
}

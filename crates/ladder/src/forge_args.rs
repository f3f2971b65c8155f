//! Which forge `plan`, `promote` and `rollback` work with, and the operator's settings
//! for it. The tenant chooses the forge in `ladder.yaml` (`forge:`); where its API is
//! and who ladder is there come from the command line and the environment, never from
//! the tenant's repo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ladder_engine::ConfigBranch;
use ladder_github::{
    Auth, GitHubForge, GitHubOptions, InstallationTokens, RepoName, ResponseCache, Secret,
};
use ladder_model::{CommitMode, ForgeKind};
use ladder_promote::{Forge, GitForge};

use crate::report::{Exit, Failure};

/// A GitHub token (a personal access token, or any bearer token the API takes).
pub const ENV_GITHUB_TOKEN: &str = "LADDER_GITHUB_TOKEN";
/// A file holding the token.
pub const ENV_GITHUB_TOKEN_FILE: &str = "LADDER_GITHUB_TOKEN_FILE";
/// A GitHub App's id, with its private key in the file named by `LADDER_GITHUB_APP_KEY_FILE`.
pub const ENV_GITHUB_APP_ID: &str = "LADDER_GITHUB_APP_ID";
pub const ENV_GITHUB_APP_KEY_FILE: &str = "LADDER_GITHUB_APP_KEY_FILE";

#[derive(Args, Debug, Default)]
pub struct ForgeArgs {
    /// Where proposals live: `git` (branches of --repo) or `github` (pull requests)
    /// [default: `forge.type` in ladder.yaml, else git]. The github forge
    /// authenticates with LADDER_GITHUB_TOKEN (or LADDER_GITHUB_TOKEN_FILE), or as a
    /// GitHub App with LADDER_GITHUB_APP_ID and LADDER_GITHUB_APP_KEY_FILE.
    #[arg(long, value_enum, value_name = "FORGE")]
    pub forge: Option<ForgeChoice>,

    /// The GitHub API root [default: https://api.github.com]; GitHub Enterprise:
    /// https://HOST/api/v3. The token is sent there and nowhere else (and, for pushes,
    /// to --repo unless LADDER_GIT_* credentials are set).
    #[arg(long, value_name = "URL", env = "LADDER_GITHUB_API_URL")]
    pub forge_api_url: Option<String>,

    /// How proposal commits reach GitHub: `push` them, or create them through the `api`
    /// (GitHub signs them; no push rights needed) [default: `forge.commitMode` in
    /// ladder.yaml, else push].
    #[arg(long, value_enum, value_name = "MODE")]
    pub commit_mode: Option<CommitModeChoice>,

    /// A GitHub App's installation token, shared by the fetch and the forge of one run.
    #[arg(skip)]
    app_tokens: InstallationTokens,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ForgeChoice {
    Git,
    #[value(name = "github")]
    GitHub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CommitModeChoice {
    Push,
    Api,
}

/// The forge a command works with.
pub struct OpenedForge<'a> {
    kind: OpenedKind<'a>,
    /// The GitHub forge's remembered answers and where they are kept between runs, so an
    /// idle run's reads are conditional (304s, free of the rate limit).
    etags: Option<(ResponseCache, PathBuf)>,
}

enum OpenedKind<'a> {
    Git(GitForge<'a>),
    GitHub(Box<GitHubForge>),
}

impl<'a> OpenedForge<'a> {
    pub fn forge(&self) -> &(dyn Forge + 'a) {
        match &self.kind {
            OpenedKind::Git(git) => git,
            OpenedKind::GitHub(github) => github.as_ref(),
        }
    }

    /// The git forge, when that is the one: it shows compare URLs in `plan`.
    pub fn git(&self) -> Option<&GitForge<'a>> {
        match &self.kind {
            OpenedKind::Git(git) => Some(git),
            OpenedKind::GitHub(_) => None,
        }
    }
}

impl Drop for OpenedForge<'_> {
    fn drop(&mut self) {
        if let Some((cache, file)) = &self.etags
            && let Err(e) = cache.save(file)
        {
            tracing::debug!(file = %file.display(), error = %e, "cannot save the GitHub answer cache");
        }
    }
}

impl ForgeArgs {
    /// The GitHub credentials as git credentials for fetching `--repo`, when the repo is
    /// on the API's own host (`github.com` for `api.github.com`; the same host for GitHub
    /// Enterprise; the rule is `ladder_github::token_may_go_to`, which the forge's pushes
    /// follow too): GitHub takes a token for git as the password of `x-access-token`. A
    /// GitHub App's installation token for the repository is obtained for it. Never for
    /// another host, so `--forge git` on another server does not receive it.
    pub fn fetch_credentials(&self, repo: &str) -> anyhow::Result<Option<ladder_git::Credentials>> {
        if self.forge == Some(ForgeChoice::Git) {
            return Ok(None);
        }
        let Ok(auth) = github_auth() else {
            return Ok(None);
        };
        let api = self
            .forge_api_url
            .as_deref()
            .unwrap_or(ladder_github::DEFAULT_API_URL);
        if !ladder_github::token_may_go_to(api, repo) {
            return Ok(None);
        }
        if let Auth::Token(token) = &auth {
            return Ok(Some(ladder_git::Credentials::new(
                ladder_git::url::TOKEN_USERNAME,
                token.expose(),
            )));
        }
        // An App: its installation token, for the repository `--repo` names (the
        // tenant's `forge.repository` is not read yet; a tenant naming another one
        // gives git its credentials with LADDER_GIT_*).
        let Some(repository) = RepoName::from_url(repo) else {
            return Ok(None);
        };
        let mut options = GitHubOptions::new(repository, auth);
        options.api_url = api.to_string();
        options.tokens = self.app_tokens.clone();
        ladder_github::git_credentials(&options, repo).map_err(|e| {
            Failure::new(
                Exit::Environment,
                format!("obtaining the GitHub App's token for {repo}: {e}"),
            )
            .into()
        })
    }

    /// Opens the forge for `config`: `--forge`, else the tenant's `forge.type`.
    pub fn open<'a>(
        &self,
        config: &'a ConfigBranch,
        repo_arg: &str,
    ) -> anyhow::Result<OpenedForge<'a>> {
        let settings = &config.tenant.settings.forge;
        let kind = match self.forge {
            Some(ForgeChoice::Git) => ForgeKind::Git,
            Some(ForgeChoice::GitHub) => ForgeKind::GitHub,
            None => settings.kind,
        };
        if kind == ForgeKind::Git {
            return Ok(OpenedForge {
                kind: OpenedKind::Git(GitForge::new(config.repo())),
                etags: None,
            });
        }
        let repo = config.repo();
        let Some(url) = repo.remote_url() else {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "the github forge needs --repo to be the repository's URL (https://github.com/OWNER/NAME.git), not the folder `{repo_arg}`; or use --forge git"
                ),
            )
            .into());
        };
        let repository = match &settings.repository {
            Some(name) => RepoName::parse(name)
                .map_err(|e| Failure::new(Exit::Input, format!("ladder.yaml: forge.repository: {e}")))?,
            None => RepoName::from_url(url.as_str()).ok_or_else(|| {
                Failure::new(
                    Exit::Input,
                    format!(
                        "cannot tell the GitHub repository from {url}: set `forge.repository: OWNER/NAME` in ladder.yaml"
                    ),
                )
            })?,
        };
        let mut options = GitHubOptions::new(repository, github_auth()?);
        // Beside the mirror: the answers belong to this repository's API.
        let etags = repo.git_dir().join("ladder-github-answers.json");
        options.cache = ResponseCache::load(&etags);
        options.tokens = self.app_tokens.clone();
        options.api_url = self
            .forge_api_url
            .clone()
            .unwrap_or_else(|| ladder_github::DEFAULT_API_URL.to_string());
        options.merge_method = settings.merge_method;
        options.commit_mode = match self.commit_mode {
            Some(CommitModeChoice::Push) => CommitMode::Push,
            Some(CommitModeChoice::Api) => CommitMode::Api,
            None => settings.commit_mode,
        };
        let options_cache = options.cache.clone();
        let forge = GitHubForge::new(options, repo).map_err(|e| {
            // Settings that contradict each other (`forge.repository` naming another
            // repository than --repo) are the input's problem, not the environment's.
            let exit = if e.is_config() {
                Exit::Input
            } else {
                Exit::Environment
            };
            Failure::new(exit, format!("opening the github forge: {e}"))
        })?;
        Ok(OpenedForge {
            kind: OpenedKind::GitHub(Box::new(forge)),
            etags: Some((options_cache, etags)),
        })
    }
}

/// The GitHub credentials of the environment: a token, else a GitHub App.
fn github_auth() -> anyhow::Result<Auth> {
    github_auth_from(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

fn github_auth_from(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Auth> {
    if let Some(token) = get(ENV_GITHUB_TOKEN) {
        return Ok(Auth::Token(Secret::new(token)));
    }
    if let Some(path) = get(ENV_GITHUB_TOKEN_FILE) {
        let text = read_secret_file(&path, ENV_GITHUB_TOKEN_FILE)?;
        return Ok(Auth::Token(Secret::new(text.trim().to_string())));
    }
    match (get(ENV_GITHUB_APP_ID), get(ENV_GITHUB_APP_KEY_FILE)) {
        (Some(id), Some(key_file)) => {
            let app_id = id.trim().parse::<u64>().map_err(|_| {
                Failure::new(
                    Exit::Usage,
                    format!("{ENV_GITHUB_APP_ID} must be the App's numeric id"),
                )
            })?;
            let key = read_secret_file(&key_file, ENV_GITHUB_APP_KEY_FILE)?;
            Ok(Auth::App {
                app_id,
                private_key_pem: Secret::new(key),
            })
        }
        (Some(_), None) | (None, Some(_)) => Err(Failure::new(
            Exit::Usage,
            format!("a GitHub App needs both {ENV_GITHUB_APP_ID} and {ENV_GITHUB_APP_KEY_FILE}"),
        )
        .into()),
        (None, None) => Err(Failure::new(
            Exit::Usage,
            format!(
                "the github forge needs credentials: set {ENV_GITHUB_TOKEN} (or {ENV_GITHUB_TOKEN_FILE}), or {ENV_GITHUB_APP_ID} and {ENV_GITHUB_APP_KEY_FILE} for a GitHub App"
            ),
        )
        .into()),
    }
}

fn read_secret_file(path: &str, variable: &str) -> anyhow::Result<String> {
    let path = PathBuf::from(path);
    std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} named by {variable}", path.display()))
        .map_err(|e| Failure::new(Exit::Environment, format!("{e:#}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_token_wins_over_an_app_and_neither_is_a_usage_error() {
        assert!(matches!(
            github_auth_from(vars(&[(ENV_GITHUB_TOKEN, "t"), (ENV_GITHUB_APP_ID, "1")])).unwrap(),
            Auth::Token(t) if t.expose() == "t"
        ));
        let none = github_auth_from(vars(&[])).unwrap_err();
        assert!(none.to_string().contains(ENV_GITHUB_TOKEN), "{none}");
        let half = github_auth_from(vars(&[(ENV_GITHUB_APP_ID, "1")])).unwrap_err();
        assert!(half.to_string().contains(ENV_GITHUB_APP_KEY_FILE), "{half}");
        let bad = github_auth_from(vars(&[
            (ENV_GITHUB_APP_ID, "one"),
            (ENV_GITHUB_APP_KEY_FILE, "/nonexistent"),
        ]))
        .unwrap_err();
        assert!(bad.to_string().contains("numeric"), "{bad}");
    }

    #[test]
    fn a_token_file_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "secret-token\n").unwrap();
        let path = file.to_str().unwrap();
        assert!(matches!(
            github_auth_from(vars(&[(ENV_GITHUB_TOKEN_FILE, path)])).unwrap(),
            Auth::Token(t) if t.expose() == "secret-token"
        ));
    }
}

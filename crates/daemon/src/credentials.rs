//! A tenant's forge credentials, read from the files its configuration names each time
//! they are used (a rotated Kubernetes Secret is picked up without a restart), and where
//! they may go: the forge's API, and the tenant's own repo when it is on the API's host.

use std::path::Path;

use ladder_engine::ConfigBranch;
use ladder_git::Credentials;
use ladder_github::{Auth, GitHubForge, GitHubOptions, InstallationTokens, RepoName, Secret};

use crate::config::ForgeConfig;
use crate::sync::TenantRuntime;

/// What the tenant's forge authenticates with.
#[derive(Clone, Debug)]
pub struct ForgeCredentials(pub Auth);

fn read_secret(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

/// The forge credentials the configuration names, read now; `None` without any.
pub fn forge_credentials(forge: &ForgeConfig) -> Result<Option<ForgeCredentials>, String> {
    if let Some(file) = &forge.token_file {
        let token = read_secret(file, "token")?;
        return Ok(Some(ForgeCredentials(Auth::Token(Secret::new(
            token.trim(),
        )))));
    }
    match (forge.app_id, &forge.app_key_file) {
        (Some(app_id), Some(key_file)) => Ok(Some(ForgeCredentials(Auth::App {
            app_id,
            private_key_pem: Secret::new(read_secret(key_file, "GitHub App key")?),
        }))),
        _ => Ok(None),
    }
}

/// The credentials git gets for the tenant's repo: the forge's token (or its GitHub
/// App's installation token), when the repo is on the API's own host, by the forge's one
/// rule (`ladder_github::token_may_go_to`). Never for another host, so a repo elsewhere
/// never receives a GitHub token. An App's token comes from `tokens` while it is fresh.
pub fn git_credentials(
    repo_url: &str,
    forge: &ForgeConfig,
    credentials: Option<&ForgeCredentials>,
    tokens: &InstallationTokens,
) -> Result<Option<Credentials>, String> {
    let Some(ForgeCredentials(auth)) = credentials else {
        return Ok(None);
    };
    let api = forge
        .api_url
        .as_deref()
        .unwrap_or(ladder_github::DEFAULT_API_URL);
    if !ladder_github::token_may_go_to(api, repo_url) {
        return Ok(None);
    }
    let Some(repository) = RepoName::from_url(repo_url) else {
        return Ok(None);
    };
    let mut options = GitHubOptions::new(repository, auth.clone());
    options.api_url = api.to_string();
    options.tokens = tokens.clone();
    ladder_github::git_credentials(&options, repo_url)
        .map_err(|e| format!("obtaining git credentials for {repo_url} from the forge: {e}"))
}

/// The GitHub forge of a tenant: its repository from its `ladder.yaml` (or the repo
/// URL), the API and credentials from the platform's configuration.
pub fn github_forge(
    rt: &TenantRuntime,
    branch: &ConfigBranch,
    credentials: Option<ForgeCredentials>,
) -> Result<GitHubForge, String> {
    let config = &rt.config;
    let settings = &branch.tenant.settings.forge;
    let Some(ForgeCredentials(auth)) = credentials else {
        return Err(format!(
            "tenant `{}` uses the github forge but its `forge` configuration names no `tokenFile` or `appId` with `appKeyFile`",
            config.name
        ));
    };
    let repository = match (&settings.repository, &config.repo) {
        (Some(name), _) => RepoName::parse(name).map_err(|e| e.to_string())?,
        (None, Some(url)) => RepoName::from_url(url)
            .ok_or_else(|| format!("cannot tell the GitHub repository from {url}: set `forge.repository` in its ladder.yaml"))?,
        (None, None) => {
            return Err("the github forge needs the tenant's `repo` URL (a checkout has none)".into());
        }
    };
    let mut options = GitHubOptions::new(repository, auth);
    options.api_url = config
        .forge
        .api_url
        .clone()
        .unwrap_or_else(|| ladder_github::DEFAULT_API_URL.to_string());
    options.merge_method = settings.merge_method;
    options.commit_mode = settings.commit_mode;
    options.cache = rt.github_answers.clone();
    options.tokens = rt.github_tokens.clone();
    GitHubForge::new(options, branch.repo()).map_err(|e| e.to_string())
}

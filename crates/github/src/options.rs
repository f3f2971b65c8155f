//! What a [`GitHubForge`](crate::GitHubForge) is configured with.

use std::fmt;
use std::time::Duration;

/// A secret (a token, a private key). Printing it never shows it, so an options struct
/// can be logged with `{:?}` safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the forge authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// A personal access token (classic or fine-grained) or any other bearer token.
    Token(Secret),
    /// A GitHub App: the forge signs JWTs with the key, finds the App's installation on
    /// the repository, and keeps an installation token fresh.
    App {
        app_id: u64,
        private_key_pem: Secret,
    },
}

/// How pull requests are merged and proposal branches written: the tenant's choices
/// in `ladder.yaml` (`forge.mergeMethod`, `forge.commitMode`), one definition each.
pub use ladder_model::{CommitMode, MergeMethod};

/// GitHub's name of a merge method (`merge_method` of the merge endpoint).
pub(crate) fn merge_method_name(method: MergeMethod) -> &'static str {
    match method {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    }
}

/// The API root of github.com (GitHub Enterprise: `https://HOST/api/v3`).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `owner/name` of a repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoName {
    owner: String,
    name: String,
}

/// A repository name that is not `owner/name`.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a repository name of the form owner/name")]
pub struct RepoNameError {
    input: String,
}

impl RepoName {
    pub fn parse(s: &str) -> Result<RepoName, RepoNameError> {
        let error = || RepoNameError {
            input: s.to_string(),
        };
        let (owner, name) = s.split_once('/').ok_or_else(error)?;
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(owner) || !valid(name) {
            return Err(error());
        }
        Ok(RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// The repository a Git URL points to: its last two path segments, without `.git`.
    /// Works for `https://`, `ssh://` and scp-like `git@host:owner/name.git`.
    pub fn from_url(url: &str) -> Option<RepoName> {
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.split_once('/')?.1,
            // scp-like: `[user@]host:path`.
            None => url.split_once(':')?.1,
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
        let name = segments.next()?;
        let owner = segments.next()?;
        let name = name.strip_suffix(".git").unwrap_or(name);
        RepoName::parse(&format!("{owner}/{name}")).ok()
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// GitHub compares names without regard to case.
    pub(crate) fn same_as(&self, other: &str) -> bool {
        other.eq_ignore_ascii_case(&self.to_string())
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Everything the GitHub forge needs besides the mirror.
#[derive(Clone, Debug)]
pub struct GitHubOptions {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    pub repository: RepoName,
    pub auth: Auth,
    pub merge_method: MergeMethod,
    pub commit_mode: CommitMode,
    /// How long one call may keep retrying (rate limits, server errors, connection
    /// failures) before it fails with a transient error.
    pub retry_budget: Duration,
    /// Remembered GET answers for conditional requests; keep one across forges (and
    /// runs, with [`ResponseCache::save`]) so unchanged answers are 304s.
    pub cache: crate::ResponseCache,
    /// A GitHub App's installation token, kept across forges: keep one per repository
    /// (for the daemon, per tenant) so forges made one after another share the token.
    pub tokens: crate::InstallationTokens,
}

impl GitHubOptions {
    /// The defaults for `repository` on github.com with `auth`.
    pub fn new(repository: RepoName, auth: Auth) -> GitHubOptions {
        GitHubOptions {
            api_url: DEFAULT_API_URL.to_string(),
            repository,
            auth,
            merge_method: MergeMethod::default(),
            commit_mode: CommitMode::default(),
            retry_budget: Duration::from_secs(60),
            cache: crate::ResponseCache::new(),
            tokens: crate::InstallationTokens::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        let r = RepoName::parse("acme/config").unwrap();
        assert_eq!((r.owner(), r.name()), ("acme", "config"));
        assert_eq!(r.to_string(), "acme/config");
        for bad in [
            "acme", "acme/", "/config", "a/b/c", "a b/c", "../x", "acme/..",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repo_names_from_urls() {
        for url in [
            "https://github.com/acme/config.git",
            "https://github.com/acme/config",
            "https://ghe.example.com/acme/config/",
            "http://127.0.0.1:8080/git/acme/config.git",
            "ssh://git@github.com/acme/config.git",
            "ssh://git@ghe.example.com:2222/acme/config",
            "git@github.com:acme/config.git",
            "github.com:acme/config",
        ] {
            assert_eq!(
                RepoName::from_url(url),
                Some(RepoName::parse("acme/config").unwrap()),
                "{url}"
            );
        }
        assert_eq!(RepoName::from_url("https://github.com/config"), None);
        assert_eq!(RepoName::from_url("/srv/config"), None);
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Secret::new("ghp_supersecret");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let auth = Auth::App {
            app_id: 7,
            private_key_pem: Secret::new("-----BEGIN RSA PRIVATE KEY-----"),
        };
        let text = format!("{auth:?}");
        assert!(!text.contains("BEGIN"), "{text}");
        let opts = GitHubOptions::new(RepoName::parse("a/b").unwrap(), Auth::Token(s));
        assert!(!format!("{opts:?}").contains("supersecret"));
    }
}

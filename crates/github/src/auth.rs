//! Credentials: a fixed token, or a GitHub App's installation token kept fresh.
//!
//! For an App, octocrab signs the JWT (RS256, `iss` = the App id, issued 60 s in the
//! past, expiring within 10 minutes) for the two App calls: finding the installation
//! from the repository and creating an installation token. The token is then used like
//! a fixed one (`Octocrab::user_access_token`, sharing the same connection pool). Both
//! App calls go through the forge's own client, so they are counted and retried like
//! every other. octocrab's own installation mode is not used: it refreshes 30 s before
//! expiry whatever the token's lifetime, fetches tokens outside the retry policy, and
//! does not tell when the token expires, which a push needs to know too.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::Method;
use octocrab::Octocrab;

use crate::client::Client;
use crate::error::GitHubError;
use crate::options::{Auth, GitHubOptions, Secret};
use crate::tokens::{InstallationTokens, Owner};

/// Refresh at most this long before expiry: a token handed to git (the mirror keeps it
/// for the reconcile's pushes) must outlive a whole reconcile, which may take 10 minutes...
const MAX_MARGIN: Duration = Duration::from_secs(15 * 60);
/// ...and, for short-lived tokens, once a third of the lifetime is left.
const MARGIN_DIVISOR: u32 = 3;
/// Tokens that were replaced, still masked in messages for a while.
const OLD_TOKENS: usize = 4;

pub(crate) struct Authenticator {
    kind: Kind,
    state: Mutex<State>,
}

enum Kind {
    Token {
        crab: Octocrab,
        token: Secret,
    },
    App {
        owner: Owner,
        /// Authenticated as the App (a fresh JWT per request).
        crab: Octocrab,
        /// The installation and its token, kept by the caller across forges.
        tokens: InstallationTokens,
    },
}

#[derive(Default)]
struct State {
    /// The client for the installation token in use, built once per token.
    current: Option<Installed>,
    /// Every installation token handed out recently, for masking.
    seen: Vec<String>,
}

#[derive(Clone)]
struct Installed {
    token: Secret,
    crab: Octocrab,
}

/// When to replace a token that lives `lifetime` from now.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let margin = MAX_MARGIN.min(lifetime / MARGIN_DIVISOR);
    lifetime.saturating_sub(margin)
}

/// A token must fit in an HTTP header as is (a stray newline from a file would not).
fn check_token(token: &str) -> Result<(), GitHubError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(GitHubError::Options(
            "the token is empty or has characters a token cannot have (spaces, newlines)".into(),
        ));
    }
    Ok(())
}

impl Authenticator {
    /// Builds the HTTP client; must run inside the forge's runtime (octocrab starts its
    /// request buffer's worker on it).
    pub fn new(options: &GitHubOptions) -> Result<Authenticator, GitHubError> {
        let api_url = options.api_url.as_str();
        let builder = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| GitHubError::Options(format!("{api_url:?} is not an API URL: {e}")))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .set_write_timeout(Some(Duration::from_secs(60)));
        let build_error = |e: octocrab::Error| {
            GitHubError::Options(format!(
                "cannot set up the HTTP client: {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
        };
        let kind = match &options.auth {
            Auth::Token(token) => {
                check_token(token.expose())?;
                let base = builder.build().map_err(build_error)?;
                let crab = base
                    .user_access_token(token.expose().to_string())
                    .map_err(build_error)?;
                Kind::Token {
                    crab,
                    token: token.clone(),
                }
            }
            Auth::App {
                app_id,
                private_key_pem,
            } => {
                let builder = builder
                    .app_from_rsa_pem(
                        octocrab::models::AppId(*app_id),
                        private_key_pem.expose().as_bytes(),
                    )
                    .map_err(|_| GitHubError::App {
                        app_id: *app_id,
                        message: "the private key is not an RSA key in PEM form".into(),
                    })?;
                Kind::App {
                    owner: Owner {
                        api_url: api_url.to_string(),
                        app_id: *app_id,
                        // GitHub's names ignore case; so does the mirror check.
                        repository: options.repository.to_string().to_ascii_lowercase(),
                    },
                    crab: builder.build().map_err(build_error)?,
                    tokens: options.tokens.clone(),
                }
            }
        };
        Ok(Authenticator {
            kind,
            state: Mutex::new(State::default()),
        })
    }

    pub fn is_app(&self) -> bool {
        matches!(self.kind, Kind::App { .. })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the installation token (GitHub refused it: revoked, or expired early).
    pub fn invalidate(&self) {
        if let Kind::App { tokens, .. } = &self.kind {
            tokens.forget();
        }
        self.state().current = None;
    }

    /// Every secret this forge holds, for masking messages.
    pub fn secrets(&self) -> Vec<String> {
        match &self.kind {
            Kind::Token { token, .. } => vec![token.expose().to_string()],
            Kind::App { .. } => self.state().seen.clone(),
        }
    }

    /// The client carrying the repository's credentials now.
    pub async fn repo_client(&self, client: &Client) -> Result<Octocrab, GitHubError> {
        Ok(match &self.kind {
            Kind::Token { crab, .. } => crab.clone(),
            Kind::App { .. } => self.installed(client).await?.crab,
        })
    }

    /// The token a push sends (as `x-access-token`).
    pub async fn token(&self, client: &Client) -> Result<Secret, GitHubError> {
        Ok(match &self.kind {
            Kind::Token { token, .. } => token.clone(),
            Kind::App { .. } => self.installed(client).await?.token,
        })
    }

    async fn installed(&self, client: &Client) -> Result<Installed, GitHubError> {
        let Kind::App {
            owner,
            crab,
            tokens,
        } = &self.kind
        else {
            unreachable!("only Apps have installations");
        };
        let app_id = owner.app_id;
        if let Some(token) = tokens.fresh_token(owner) {
            return self.use_token(crab, token.expose());
        }
        let installation = tokens.installation(owner);
        let app_error = |message: String| GitHubError::App { app_id, message };
        let repo = client.repo.to_string();
        let refused = |reply: &crate::client::Reply, what: &str| match reply.status.as_u16() {
            401 => app_error(format!(
                "GitHub refused the App's signed token when {what} ({})",
                reply.message()
            )),
            404 => app_error(format!(
                "the App is not installed on {repo}, or cannot see it"
            )),
            code => app_error(format!(
                "{what}: GitHub answered {code}: {}",
                reply.message()
            )),
        };
        let installation = match installation {
            Some(id) => id,
            None => {
                let path = client.repo_path("/installation");
                let reply = client
                    .send_as(crab, Method::GET, &path, None, false)
                    .await?;
                if !reply.is_success() {
                    return Err(refused(&reply, "finding its installation"));
                }
                #[derive(serde::Deserialize)]
                struct Installation {
                    id: u64,
                }
                let id = reply.json::<Installation>("the installation")?.id;
                tokens.set_installation(owner, Some(id));
                id
            }
        };
        let path = format!("/app/installations/{installation}/access_tokens");
        // Scoped to the one repository: the token can do nothing elsewhere.
        let body = serde_json::json!({ "repositories": [client.repo.name()] });
        let reply = client
            .send_as(crab, Method::POST, &path, Some(&body), false)
            .await?;
        if reply.status.as_u16() == 404 {
            // The App was reinstalled: find the installation again next time.
            tokens.set_installation(owner, None);
        }
        if !reply.is_success() {
            return Err(refused(&reply, "creating an installation token"));
        }
        #[derive(serde::Deserialize)]
        struct AccessToken {
            token: String,
            expires_at: Option<String>,
        }
        let access: AccessToken = reply.json("the installation token")?;
        check_token(&access.token)
            .map_err(|_| app_error("GitHub sent an unusable token".into()))?;
        let lifetime = access
            .expires_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|expires| {
                let secs = expires.as_second() - jiff::Timestamp::now().as_second();
                Duration::from_secs(secs.max(0) as u64)
            })
            // GitHub's tokens live an hour.
            .unwrap_or(Duration::from_secs(3600));
        tracing::debug!(
            installation,
            lifetime_s = lifetime.as_secs(),
            "obtained a GitHub App installation token"
        );
        let refresh_at = Instant::now() + refresh_after(lifetime);
        tokens.keep_token(owner, Secret::new(access.token.clone()), refresh_at);
        self.use_token(crab, &access.token)
    }

    /// The client for installation token `token` (built on the App's client, sharing
    /// its connection pool), remembered for masking.
    fn use_token(&self, app_crab: &Octocrab, token: &str) -> Result<Installed, GitHubError> {
        let mut state = self.state();
        if let Some(current) = &state.current
            && current.token.expose() == token
        {
            return Ok(current.clone());
        }
        let crab = app_crab.user_access_token(token.to_string()).map_err(|e| {
            GitHubError::Options(format!(
                "cannot set up the HTTP client: {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
        })?;
        let installed = Installed {
            token: Secret::new(token),
            crab,
        };
        state.current = Some(installed.clone());
        if !state.seen.iter().any(|t| t == token) {
            state.seen.push(token.to_string());
            if state.seen.len() > OLD_TOKENS {
                state.seen.remove(0);
            }
        }
        Ok(installed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margins() {
        // An hour-long token: fifteen minutes before it expires.
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(2700)
        );
        // A short one: with a third of its lifetime left.
        assert_eq!(
            refresh_after(Duration::from_secs(6)),
            Duration::from_secs(4)
        );
        assert_eq!(refresh_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn tokens_must_fit_a_header() {
        assert!(check_token("ghp_abc123").is_ok());
        assert!(check_token("ghp_abc123\n").is_err());
        assert!(check_token("").is_err());
        assert!(check_token("a b").is_err());
    }
}

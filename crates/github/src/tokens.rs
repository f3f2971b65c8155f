//! GitHub App installation tokens kept between forges.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::options::Secret;

/// A GitHub App's installation (its id) and installation token for one repository,
/// kept by the caller between forges, like the [`ResponseCache`](crate::ResponseCache):
/// the daemon keeps one per tenant, so that its polls and reconciles within a token's
/// hour ask GitHub for no new one; the CLI keeps one per run, shared by the fetch and
/// the forge. Clones share it.
///
/// Each entry belongs to one API, App and repository, and is handed out only for the
/// same three: a changed configuration finds nothing.
#[derive(Clone, Default)]
pub struct InstallationTokens {
    kept: Arc<Mutex<Option<Kept>>>,
}

/// Whose token an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pub api_url: String,
    pub app_id: u64,
    pub repository: String,
}

struct Kept {
    owner: Owner,
    installation: Option<u64>,
    token: Option<(Secret, Instant)>,
}

impl fmt::Debug for InstallationTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.lock().as_ref().is_some_and(|k| k.token.is_some());
        f.debug_struct("InstallationTokens")
            .field("holds_a_token", &held)
            .finish()
    }
}

impl InstallationTokens {
    pub fn new() -> InstallationTokens {
        InstallationTokens::default()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `owner`, replacing another's.
    fn entry<'a>(kept: &'a mut Option<Kept>, owner: &Owner) -> &'a mut Kept {
        if kept.as_ref().is_none_or(|k| k.owner != *owner) {
            *kept = Some(Kept {
                owner: owner.clone(),
                installation: None,
                token: None,
            });
        }
        kept.as_mut().expect("just set")
    }

    pub(crate) fn installation(&self, owner: &Owner) -> Option<u64> {
        self.lock()
            .as_ref()
            .filter(|k| k.owner == *owner)
            .and_then(|k| k.installation)
    }

    /// Remembers the installation; `None` forgets it (the App was reinstalled).
    pub(crate) fn set_installation(&self, owner: &Owner, installation: Option<u64>) {
        Self::entry(&mut self.lock(), owner).installation = installation;
    }

    /// The token of `owner`, unless it is due for replacement.
    pub(crate) fn fresh_token(&self, owner: &Owner) -> Option<Secret> {
        self.lock()
            .as_ref()
            .filter(|k| k.owner == *owner)
            .and_then(|k| k.token.clone())
            .filter(|(_, refresh_at)| Instant::now() < *refresh_at)
            .map(|(token, _)| token)
    }

    pub(crate) fn keep_token(&self, owner: &Owner, token: Secret, refresh_at: Instant) {
        Self::entry(&mut self.lock(), owner).token = Some((token, refresh_at));
    }

    /// Forgets the token, so that the next use asks GitHub for a new one: GitHub
    /// refused it, or a git call with it failed (the token may have been revoked, or the
    /// App reinstalled).
    pub fn forget(&self) {
        if let Some(kept) = self.lock().as_mut() {
            kept.token = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn owner(repository: &str) -> Owner {
        Owner {
            api_url: "https://api.github.com".into(),
            app_id: 7,
            repository: repository.into(),
        }
    }

    #[test]
    fn a_token_is_handed_out_only_to_its_owner_and_only_while_fresh() {
        let tokens = InstallationTokens::new();
        let acme = owner("acme/config");
        let later = Instant::now() + Duration::from_secs(60);
        tokens.set_installation(&acme, Some(42));
        tokens.keep_token(&acme, Secret::new("ghs_a"), later);
        let shared = tokens.clone();
        assert_eq!(shared.fresh_token(&acme).unwrap().expose(), "ghs_a");
        assert_eq!(shared.installation(&acme), Some(42));
        assert!(shared.fresh_token(&owner("other/config")).is_none());
        assert_eq!(shared.installation(&owner("other/config")), None);
        assert!(!format!("{tokens:?}").contains("ghs_a"));

        tokens.forget();
        assert!(tokens.fresh_token(&acme).is_none());
        assert_eq!(tokens.installation(&acme), Some(42));

        tokens.keep_token(&acme, Secret::new("ghs_b"), Instant::now());
        assert!(tokens.fresh_token(&acme).is_none(), "due for replacement");

        // Another owner's entry replaces the first.
        tokens.keep_token(&owner("other/config"), Secret::new("ghs_c"), later);
        assert_eq!(tokens.installation(&acme), None);
    }
}

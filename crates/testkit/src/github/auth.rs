//! Who a request is from: a personal access token, a GitHub App (a JWT it signed), or one
//! of its installations (a token the App obtained), checked as GitHub checks them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::state::{State, now};

/// An authenticated caller.
#[derive(Clone, Debug)]
pub(crate) enum Actor {
    /// A personal access token's user.
    User { login: String, token: String },
    /// An App, by a JWT: may only manage its installations.
    App { app_id: u64 },
    /// An installation token: acts as the App's bot on the installation's repos.
    Installation { installation_id: u64, app_id: u64 },
}

/// Why a request is refused before it reaches an endpoint (a 401).
pub(crate) struct Refused(pub &'static str);

/// The caller of a request with this `Authorization` header: `Ok(None)` without one.
pub(crate) fn authenticate(st: &State, header: Option<&str>) -> Result<Option<Actor>, Refused> {
    let Some(header) = header else {
        return Ok(None);
    };
    let (scheme, credential) = header
        .trim()
        .split_once(' ')
        .ok_or(Refused("Bad credentials"))?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return Err(Refused("Bad credentials"));
    }
    let credential = credential.trim();
    if credential.matches('.').count() == 2 {
        return jwt(st, credential).map(|app_id| Some(Actor::App { app_id }));
    }
    let token = st
        .tokens
        .get(credential)
        .ok_or(Refused("Bad credentials"))?;
    match token.installation {
        Some((_, expires)) if expires <= now() => Err(Refused("Bad credentials")),
        Some((installation_id, _)) => Ok(Some(Actor::Installation {
            installation_id,
            app_id: st.installations[&installation_id].app_id,
        })),
        None => Ok(Some(Actor::User {
            login: token.login.clone(),
            token: credential.to_string(),
        })),
    }
}

/// The App that signed `jwt`, checked as GitHub does: RS256, signed with the App's key,
/// `iss` the App's id (a number or a string), issued no later than now (a minute of clock
/// drift allowed), expiring in the future and at most 10 minutes after it was issued.
fn jwt(st: &State, token: &str) -> Result<u64, Refused> {
    const UNDECODABLE: Refused = Refused("A JSON web token could not be decoded");
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(UNDECODABLE);
    };
    let decode = |part: &str| -> Result<Value, Refused> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| UNDECODABLE)?;
        serde_json::from_slice(&bytes).map_err(|_| UNDECODABLE)
    };
    if decode(header)?["alg"] != "RS256" {
        return Err(UNDECODABLE);
    }
    let claims = decode(claims)?;
    let app_id = match &claims["iss"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or(Refused("'Issuer' claim ('iss') must be an Integer"))?;
    let app = st
        .apps
        .get(&app_id)
        .ok_or(Refused("Integration not found"))?;
    let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes()).map_err(|_| UNDECODABLE)?;
    // The pure-Rust provider directly, not the process default: another crate enabling
    // jsonwebtoken's other backend must not change (or break) what the fake accepts.
    let verifier = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(
        &Algorithm::RS256,
        &key,
    )
    .map_err(|_| UNDECODABLE)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| UNDECODABLE)?;
    let message = format!("{header}.{}", token.split('.').nth(1).unwrap_or(""));
    verifier
        .verify(message.as_bytes(), &signature)
        .map_err(|_| UNDECODABLE)?;
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err(UNDECODABLE);
    };
    let now = now();
    if iat > now + 60 {
        return Err(Refused(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
        ));
    }
    if exp <= now {
        return Err(Refused(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    if exp > iat + 600 {
        return Err(Refused(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(app_id)
}

/// Whether `actor` can see (and write) the repo, by lower-case full name.
pub(crate) fn can_see(st: &State, actor: &Actor, repo_key: &str) -> bool {
    match actor {
        Actor::User { token, .. } => st
            .tokens
            .get(token)
            .is_some_and(|t| t.repos.contains(repo_key)),
        Actor::App { .. } => false,
        Actor::Installation {
            installation_id, ..
        } => st
            .installations
            .get(installation_id)
            .is_some_and(|i| i.repos.contains(repo_key)),
    }
}

/// Whether the bearer token `token` (a PAT or a live installation token) can see a repo.
pub(crate) fn token_sees(st: &State, token: &str, repo_key: &str) -> Option<bool> {
    let t = st.tokens.get(token)?;
    if let Some((_, expires)) = t.installation
        && expires <= now()
    {
        return None;
    }
    Some(t.repos.contains(repo_key))
}

/// The login an actor writes as: a user, or an App's bot.
pub(crate) fn login(st: &State, actor: &Actor) -> String {
    match actor {
        Actor::User { login, .. } => login.clone(),
        Actor::App { app_id } | Actor::Installation { app_id, .. } => st
            .apps
            .get(app_id)
            .map(|a| format!("{}[bot]", a.slug))
            .unwrap_or_default(),
    }
}

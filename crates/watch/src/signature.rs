//! Webhook signatures.
//!
//! A webhook endpoint is reachable by anyone who can reach the daemon, so a delivery is
//! trusted only when it proves it knows the tenant's shared secret. Every comparison
//! here runs in constant time: a comparison that stops at the first differing byte lets
//! an attacker find a valid signature byte by byte from response times.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a delivery's signature was refused. The daemon answers 401 to each alike; the
/// variants exist for logs and metrics, never for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The delivery carries no signature (or token) header, or an empty one: the forge
    /// was configured without a secret, or the request did not come from the forge.
    #[error("the webhook delivery is not signed")]
    Missing,
    /// The header is there but is not a signature of the expected form (prefix, hex, or
    /// length), which points at a forge of another kind or a mangled header.
    #[error("the webhook signature header is malformed")]
    Malformed,
    /// A well-formed signature that does not match: a wrong secret or a forged request.
    #[error("the webhook signature does not match")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes; anything else cannot be one of ours.
const TAG_LEN: usize = 32;

/// Checks GitHub's `X-Hub-Signature-256` header: `sha256=` followed by the hex
/// HMAC-SHA256 of the raw body under the webhook secret.
///
/// The body must be the bytes as received: re-serialising parsed JSON changes them and
/// the signature no longer matches.
pub fn verify_github(
    secret: &[u8],
    body: &[u8],
    x_hub_signature_256: Option<&str>,
) -> Result<(), SignatureError> {
    let header = present(x_hub_signature_256)?;
    // GitHub documents the prefix in lower case; the older SHA-1 header (`sha1=`) is
    // refused on purpose, SHA-1 HMACs being what this header replaced.
    let hex_tag = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    verify_hmac(secret, body, hex_tag)
}

/// Checks Gitea's (and Forgejo's) `X-Gitea-Signature` header: the bare hex HMAC-SHA256
/// of the raw body under the webhook secret.
pub fn verify_gitea(
    secret: &[u8],
    body: &[u8],
    x_gitea_signature: Option<&str>,
) -> Result<(), SignatureError> {
    verify_hmac(secret, body, present(x_gitea_signature)?)
}

/// Checks GitLab's `X-Gitlab-Token` header, which is the shared secret itself (GitLab
/// signs nothing: the token only proves the sender knows it, and TLS protects the body).
pub fn verify_gitlab(secret: &[u8], x_gitlab_token: Option<&str>) -> Result<(), SignatureError> {
    let token = present(x_gitlab_token)?;
    if secret.is_empty() {
        // An empty secret would accept an empty token from anyone: fail closed.
        return Err(SignatureError::Mismatch);
    }
    // Comparing digests instead of the strings keeps the comparison constant-time in the
    // length too: slices of different lengths would otherwise be refused at once, telling
    // an attacker how long the secret is.
    let expected = Sha256::digest(secret);
    let given = Sha256::digest(token.as_bytes());
    if bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header's value without surrounding whitespace, or `Missing` when there is none
/// (proxies sometimes forward an empty header rather than dropping it).
fn present(header: Option<&str>) -> Result<&str, SignatureError> {
    match header.map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(SignatureError::Missing),
    }
}

fn verify_hmac(secret: &[u8], body: &[u8], hex_tag: &str) -> Result<(), SignatureError> {
    // Decoding first separates "not a signature" from "wrong signature"; the length
    // check keeps the error precise (verify_slice would also refuse it, as a mismatch).
    let tag = hex::decode(hex_tag).map_err(|_| SignatureError::Malformed)?;
    if tag.len() != TAG_LEN {
        return Err(SignatureError::Malformed);
    }
    if secret.is_empty() {
        // Anyone can compute an HMAC under an empty key: fail closed rather than accept
        // every delivery when a secret file turns out empty.
        return Err(SignatureError::Mismatch);
    }
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_secret_never_verifies() {
        let tag = {
            let mut mac = HmacSha256::new_from_slice(b"").unwrap();
            mac.update(b"body");
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(
            verify_gitea(b"", b"body", Some(&tag)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_gitlab(b"", Some("x")), Err(SignatureError::Mismatch));
    }

    #[test]
    fn blank_header_is_missing() {
        assert_eq!(
            verify_gitlab(b"s", Some("  ")),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_github(b"s", b"", Some("")),
            Err(SignatureError::Missing)
        );
    }
}

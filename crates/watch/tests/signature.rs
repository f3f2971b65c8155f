//! Webhook signatures against published vectors, and every way a header can be wrong.

use ladder_watch::{SignatureError, verify_gitea, verify_github, verify_gitlab};

/// RFC 4231, test case 2: HMAC-SHA256 with the key "Jefe".
const RFC4231_KEY: &[u8] = b"Jefe";
const RFC4231_DATA: &[u8] = b"what do ya want for nothing?";
const RFC4231_MAC: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

/// GitHub's documented example ("Validating webhook deliveries").
const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
const GITHUB_BODY: &[u8] = b"Hello, World!";
const GITHUB_HEADER: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_documented_example_verifies() {
    assert_eq!(
        verify_github(GITHUB_SECRET, GITHUB_BODY, Some(GITHUB_HEADER)),
        Ok(())
    );
}

#[test]
fn rfc4231_vector_verifies_for_github_and_gitea() {
    let header = format!("sha256={RFC4231_MAC}");
    assert_eq!(
        verify_github(RFC4231_KEY, RFC4231_DATA, Some(&header)),
        Ok(())
    );
    assert_eq!(
        verify_gitea(RFC4231_KEY, RFC4231_DATA, Some(RFC4231_MAC)),
        Ok(())
    );
    // Hex case does not matter, and a proxy's surrounding whitespace is tolerated.
    let upper = RFC4231_MAC.to_ascii_uppercase();
    assert_eq!(
        verify_gitea(RFC4231_KEY, RFC4231_DATA, Some(&format!(" {upper} "))),
        Ok(())
    );
}

#[test]
fn missing_header() {
    assert_eq!(
        verify_github(GITHUB_SECRET, GITHUB_BODY, None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_gitea(GITHUB_SECRET, GITHUB_BODY, Some("")),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_gitlab(GITHUB_SECRET, None),
        Err(SignatureError::Missing)
    );
}

#[test]
fn malformed_headers_never_panic() {
    let too_long = format!("sha256={RFC4231_MAC}{RFC4231_MAC}");
    let cases = [
        // No prefix, or the old SHA-1 prefix.
        RFC4231_MAC.to_string(),
        "sha1=0123456789abcdef0123456789abcdef01234567".to_string(),
        "sha256=".to_string(),
        // Odd length, not hex, too short, too long.
        "sha256=abc".to_string(),
        "sha256=zz".to_string(),
        "sha256=abcd".to_string(),
        too_long,
        format!("sha256={}", &RFC4231_MAC[..62]),
    ];
    for header in &cases {
        assert_eq!(
            verify_github(RFC4231_KEY, RFC4231_DATA, Some(header)),
            Err(SignatureError::Malformed),
            "{header}"
        );
    }
    assert_eq!(
        verify_gitea(RFC4231_KEY, RFC4231_DATA, Some("sha256=00")),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        verify_gitea(RFC4231_KEY, RFC4231_DATA, Some(&RFC4231_MAC[..10])),
        Err(SignatureError::Malformed)
    );
}

#[test]
fn wrong_secret_or_body_is_a_mismatch() {
    assert_eq!(
        verify_github(b"another secret", GITHUB_BODY, Some(GITHUB_HEADER)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_github(GITHUB_SECRET, b"Hello, World?", Some(GITHUB_HEADER)),
        Err(SignatureError::Mismatch)
    );
    // One flipped hex digit.
    let mut flipped = RFC4231_MAC.to_string();
    flipped.replace_range(63..64, "2");
    assert_eq!(
        verify_gitea(RFC4231_KEY, RFC4231_DATA, Some(&flipped)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn gitlab_token_is_compared_whole() {
    let secret = b"s3cret-token";
    assert_eq!(verify_gitlab(secret, Some("s3cret-token")), Ok(()));
    for wrong in ["s3cret-toke", "s3cret-token!", "S3CRET-TOKEN", "x"] {
        assert_eq!(
            verify_gitlab(secret, Some(wrong)),
            Err(SignatureError::Mismatch),
            "{wrong}"
        );
    }
}

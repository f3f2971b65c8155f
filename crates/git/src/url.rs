//! Remote URLs and credentials.
//!
//! A URL may carry a secret (`https://user:token@host/repo`). We split it once, at the
//! edge: [`RemoteUrl`] keeps only the credential-free form, which is what gets printed,
//! hashed into cache folder names, passed to gix and to `git` on the command line, and
//! the secret goes into [`Credentials`], whose `Debug` and `Display` never show it.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// Username used when only a token is known: forges accept any name with a token, and
/// this is the one GitHub documents.
pub const TOKEN_USERNAME: &str = "x-access-token";

/// Why a URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("unsupported git URL {url:?}: {reason}")]
    Unsupported { url: String, reason: &'static str },
    #[error(
        "refusing to send credentials in clear text to {url}; use https:// (plain http is only allowed to loopback addresses)"
    )]
    InsecureCredentials { url: String },
}

/// Transport of a remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    File,
    Git,
    Http,
    Https,
    Ssh,
}

/// A remote URL without any userinfo secret. `Display` prints exactly what is safe to log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RemoteUrl {
    scheme: Scheme,
    /// Credential-free URL; for ssh it keeps the login name (not a secret, and needed).
    clean: String,
    host: Option<String>,
    /// The port as written, if any.
    port: Option<u16>,
}

impl RemoteUrl {
    /// Splits `input` into a credential-free URL and the credentials it carried, if any.
    ///
    /// Accepts `file://`, `git://`, `http://`, `https://`, `ssh://`, scp-like `user@host:path`
    /// and plain local paths. A password inside an ssh URL is refused: use a key.
    pub fn parse(input: &str) -> Result<(RemoteUrl, Option<Credentials>), UrlError> {
        let input = input.trim();
        let unsupported = |reason| UrlError::Unsupported {
            url: strip_userinfo(input),
            reason,
        };
        if input.is_empty() {
            return Err(unsupported("empty URL"));
        }
        let Some((scheme_str, rest)) = input.split_once("://") else {
            return Self::parse_schemeless(input)
                .map(|url| (url, None))
                .ok_or_else(|| unsupported("not a URL, scp-like address or path"));
        };
        let scheme = match scheme_str.to_ascii_lowercase().as_str() {
            "file" => Scheme::File,
            "git" => Scheme::Git,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "ssh" | "git+ssh" | "ssh+git" => Scheme::Ssh,
            _ => return Err(unsupported("scheme must be file, git, http, https or ssh")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        if scheme != Scheme::File && hostport.is_empty() {
            return Err(unsupported("missing host"));
        }
        let host = (!hostport.is_empty()).then(|| host_of(hostport));
        let port = port_of(hostport);
        let mut credentials = None;
        let mut kept_user = String::new();
        if let Some(info) = userinfo {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
                None => (percent_decode(info), None),
            };
            match scheme {
                Scheme::Ssh => {
                    if password.is_some() {
                        return Err(unsupported(
                            "passwords in ssh URLs are not supported; use an ssh key",
                        ));
                    }
                    kept_user = format!("{}@", &info);
                }
                Scheme::Http | Scheme::Https => {
                    credentials = Some(Credentials::new(user, password.unwrap_or_default()));
                }
                Scheme::File | Scheme::Git => {
                    return Err(unsupported(
                        "credentials are only meaningful for http(s) and ssh",
                    ));
                }
            }
        }
        let clean = format!("{}://{kept_user}{hostport}{path}", scheme_name(scheme));
        Ok((
            RemoteUrl {
                scheme,
                clean,
                host,
                port,
            },
            credentials,
        ))
    }

    fn parse_schemeless(input: &str) -> Option<RemoteUrl> {
        let path = Path::new(input);
        if path.is_absolute() || input.starts_with("./") || input.starts_with("../") {
            let abs = std::path::absolute(path).ok()?;
            return Some(RemoteUrl {
                scheme: Scheme::File,
                clean: format!("file://{}", abs.display()),
                host: None,
                port: None,
            });
        }
        // scp-like `user@host:path`: the colon must come before any slash.
        let colon = input.find(':')?;
        if input[..colon].contains('/') || colon == 0 {
            return None;
        }
        let hostpart = &input[..colon];
        let host = hostpart.rsplit('@').next().unwrap_or(hostpart).to_string();
        let path = &input[colon + 1..];
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let user = hostpart
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        Some(RemoteUrl {
            scheme: Scheme::Ssh,
            clean: format!("ssh://{user}{host}{path}"),
            host: Some(host),
            port: None,
        })
    }

    /// A URL for a local repository folder.
    pub fn from_path(path: &Path) -> Result<RemoteUrl, UrlError> {
        let abs = std::path::absolute(path).map_err(|_| UrlError::Unsupported {
            url: path.display().to_string(),
            reason: "cannot make the path absolute",
        })?;
        Ok(RemoteUrl {
            scheme: Scheme::File,
            clean: format!("file://{}", abs.display()),
            host: None,
            port: None,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The credential-free URL, safe for logs, errors and process arguments.
    pub fn as_str(&self) -> &str {
        &self.clean
    }

    /// The host, without port or brackets (`None` for local paths).
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port the scheme uses when the URL names none.
    fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme {
            Scheme::File => None,
            Scheme::Git => Some(9418),
            Scheme::Http => Some(80),
            Scheme::Https => Some(443),
            Scheme::Ssh => Some(22),
        })
    }

    /// True when `other` (any URL text) names the same scheme, host and port: the only
    /// place credentials configured for this remote may go.
    pub fn same_origin(&self, other: &str) -> bool {
        match RemoteUrl::parse(other) {
            Ok((other, _)) => {
                other.scheme == self.scheme
                    && other
                        .host
                        .as_deref()
                        .zip(self.host.as_deref())
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    && other.effective_port() == self.effective_port()
            }
            Err(_) => false,
        }
    }

    /// True when the host is a loopback address, where clear-text http is acceptable.
    pub fn is_loopback(&self) -> bool {
        match self.host.as_deref() {
            None => true,
            Some(h) => {
                h.eq_ignore_ascii_case("localhost")
                    || h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }

    /// Refuses to hand `credentials` to a transport that would send them in clear text.
    pub fn check_credentials_allowed(
        &self,
        credentials: Option<&Credentials>,
    ) -> Result<(), UrlError> {
        if credentials.is_some() && self.scheme == Scheme::Http && !self.is_loopback() {
            return Err(UrlError::InsecureCredentials {
                url: self.clean.clone(),
            });
        }
        Ok(())
    }

    /// Folder name for this remote's mirror inside a cache folder: readable, and unique
    /// because of a stable hash of the full credential-free URL. Credentials never take
    /// part, so changing a token keeps the same mirror.
    pub fn cache_key(&self) -> String {
        let tail = self
            .clean
            .split("://")
            .nth(1)
            .unwrap_or(&self.clean)
            .trim_end_matches('/')
            .trim_end_matches(".git");
        let mut slug: String = tail
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if slug.len() > 48 {
            slug = slug[slug.len() - 48..].to_string();
        }
        format!(
            "{}-{:016x}",
            slug.trim_matches('_'),
            fnv1a64(self.clean.as_bytes())
        )
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.clean)
    }
}

impl fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteUrl({})", self.clean)
    }
}

/// A user name and password or token for http(s) remotes. Printing never reveals either
/// part: tokens are often passed as the user name, so both count as secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The secret itself; callers must not log it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Text that must never appear in output, longest first so redaction is greedy.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut v: Vec<&str> = [self.password.as_str(), self.username.as_str()]
            .into_iter()
            .filter(|s| s.len() >= 4 && *s != TOKEN_USERNAME)
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted credentials>")
    }
}

/// Removes `user:password@` from every URL in `text`, then masks every known secret.
/// Applied to all text we did not write ourselves (git's stderr, gix messages).
pub fn redact(text: &str, credentials: Option<&Credentials>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    if let Some(c) = credentials {
        for s in c.secrets() {
            out = out.replace(s, "***");
        }
    }
    out
}

fn strip_userinfo(input: &str) -> String {
    redact(input, None)
}

fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::File => "file",
        Scheme::Git => "git",
        Scheme::Http => "http",
        Scheme::Https => "https",
        Scheme::Ssh => "ssh",
    }
}

fn host_of(hostport: &str) -> String {
    if let Some(stripped) = hostport.strip_prefix('[') {
        return stripped.split(']').next().unwrap_or(stripped).to_string();
    }
    hostport.split(':').next().unwrap_or(hostport).to_string()
}

fn port_of(hostport: &str) -> Option<u16> {
    let after_host = match hostport.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(_, tail)| tail).unwrap_or(""),
        None => hostport,
    };
    after_host
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// FNV-1a: tiny, and stable across Rust releases unlike `DefaultHasher`, which matters
/// because the value names folders on disk.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_split_off_and_never_printed() {
        let (url, creds) =
            RemoteUrl::parse("https://bob:s3cr%40t@example.com/acme/repo.git").unwrap();
        assert_eq!(url.to_string(), "https://example.com/acme/repo.git");
        let creds = creds.unwrap();
        assert_eq!(creds.username(), "bob");
        assert_eq!(creds.password(), "s3cr@t");
        assert!(!format!("{creds:?} {creds}").contains("s3cr"));
        assert!(!format!("{url:?}").contains("bob"));
    }

    #[test]
    fn cache_key_ignores_credentials_and_differs_per_repo() {
        let (a, _) = RemoteUrl::parse("https://u:one@example.com/acme/repo.git").unwrap();
        let (b, _) = RemoteUrl::parse("https://example.com/acme/repo.git").unwrap();
        let (c, _) = RemoteUrl::parse("https://example.com/acme/other.git").unwrap();
        assert_eq!(a.cache_key(), b.cache_key());
        assert_ne!(a.cache_key(), c.cache_key());
        assert!(a.cache_key().starts_with("example.com_acme_repo-"));
    }

    #[test]
    fn ssh_keeps_login_and_refuses_passwords() {
        let (url, creds) = RemoteUrl::parse("git@example.com:acme/repo.git").unwrap();
        assert_eq!(url.as_str(), "ssh://git@example.com/acme/repo.git");
        assert!(creds.is_none());
        assert!(RemoteUrl::parse("ssh://git:pw@example.com/x").is_err());
    }

    #[test]
    fn clear_text_credentials_only_to_loopback() {
        let creds = Credentials::new("u", "p");
        let (remote, _) = RemoteUrl::parse("http://example.com/r").unwrap();
        assert!(remote.check_credentials_allowed(Some(&creds)).is_err());
        let (local, _) = RemoteUrl::parse("http://127.0.0.1:8080/r").unwrap();
        assert!(local.check_credentials_allowed(Some(&creds)).is_ok());
        let (tls, _) = RemoteUrl::parse("https://example.com/r").unwrap();
        assert!(tls.check_credentials_allowed(Some(&creds)).is_ok());
    }

    #[test]
    fn redact_strips_userinfo_and_secrets() {
        let creds = Credentials::new("alice", "tok-123456");
        let text = "fatal: unable to access 'https://alice:tok-123456@h/r/': tok-123456 denied";
        let out = redact(text, Some(&creds));
        assert!(!out.contains("tok-123456"), "{out}");
        assert!(!out.contains("alice"), "{out}");
        assert!(out.contains("https://h/r/"), "{out}");
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let (url, _) = RemoteUrl::parse("https://Git.Example.com/acme/repo.git").unwrap();
        assert!(url.same_origin("https://git.example.com:443/other.git"));
        assert!(!url.same_origin("https://git.example.com:8443/acme/repo.git"));
        assert!(!url.same_origin("http://git.example.com/acme/repo.git"));
        assert!(!url.same_origin("https://evil.example.com/acme/repo.git"));
        let (local, _) = RemoteUrl::parse("http://127.0.0.1:8080/r").unwrap();
        assert!(local.same_origin("http://127.0.0.1:8080/elsewhere"));
        assert!(!local.same_origin("http://127.0.0.1:8081/r"));
        assert!(!local.same_origin("not a url"));
    }
}

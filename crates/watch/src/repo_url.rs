//! Matching a configured repo URL against the URLs a webhook payload names.
//!
//! Platform config says `https://github.com/acme/config.git`; a delivery may name the
//! same repository as `git@github.com:acme/config.git`, `ssh://git@github.com/acme/config`
//! or `https://GitHub.com/acme/config`. A delivery is routed to a tenant only when they
//! name the same repository, so the comparison must see through those spellings without
//! ever matching another owner's repository.

/// Whether a configured repo URL and a URL from a webhook payload name the same
/// repository.
///
/// Both sides may be https/http, `ssh://`, `git://`, scp-like (`git@host:owner/repo.git`),
/// with or without `.git`, with any user name or port, and any case. The scheme, user
/// and port are ignored because one repository is reachable through several of them (ssh
/// on 22 or 2222, https on 443). Host and path compare without case: GitHub, GitLab and
/// Gitea all resolve owner and repository names case-insensitively. A repository served
/// under a path prefix on one side only (GitLab's relative URL root) does not match.
pub fn same_repo(configured: &str, payload_url: &str) -> bool {
    match (normalize(configured), normalize(payload_url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `host/owner/.../repo` in lower case, or None when the text names no repository.
fn normalize(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = split_host_path(url)?;
    let host = strip_port(strip_user(host));
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        // A bare host would otherwise match every repository on it.
        return None;
    }
    Some(format!("{host}/{path}").to_ascii_lowercase())
}

/// The authority (possibly with user and port) and the path of a URL or scp-like
/// address.
fn split_host_path(url: &str) -> Option<(&str, &str)> {
    if let Some((_scheme, rest)) = url.split_once("://") {
        // `file:///srv/repo` has an empty host; a local path still names a repository.
        return Some(rest.split_once('/').unwrap_or((rest, "")));
    }
    // scp-like `[user@]host:path`: git reads it so only when the colon comes before any
    // slash (otherwise it is a local path).
    let colon = url.find(':')?;
    if url[..colon].contains('/') || colon == 0 {
        return None;
    }
    Some((&url[..colon], &url[colon + 1..]))
}

fn strip_user(authority: &str) -> &str {
    // rsplit: a password may itself contain '@' in a malformed URL; the host follows the
    // last one.
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: the port, if any, follows the closing bracket.
        return host.split_once("]:").map_or(host, |(h, _)| h);
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        assert_eq!(
            normalize("ssh://git@example.com:2222/o/r.git/").as_deref(),
            Some("example.com/o/r")
        );
        assert_eq!(
            normalize("git@Example.com:o/r.git").as_deref(),
            Some("example.com/o/r")
        );
        assert_eq!(normalize("https://example.com/"), None);
        assert_eq!(normalize("/srv/some:thing"), None);
    }
}

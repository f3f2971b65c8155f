//! Kubernetes name rules.

/// Checks a DNS-1123 label: at most 63 characters of `a-z`, `0-9` and `-`, starting and
/// ending with a letter or digit. Returns why not.
pub fn check_dns_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed; use lower-case letters, digits and `-`"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Matches Argo CD's glob subset used in AppProject fields: `*` (any run) and `?` (any
/// one character).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(check_dns_label("acme-web").is_ok());
        assert!(check_dns_label("a").is_ok());
        assert!(check_dns_label("Acme").is_err());
        assert!(check_dns_label("-a").is_err());
        assert!(check_dns_label("a_b").is_err());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_matches("*", "kube-system"));
        assert!(glob_matches("kube-*", "kube-system"));
        assert!(glob_matches("k?be-system", "kube-system"));
        assert!(!glob_matches("acme-*", "kube-system"));
        assert!(glob_matches("*-system", "kube-system"));
        assert!(!glob_matches("kube", "kube-system"));
    }
}

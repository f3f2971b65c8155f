//! `{tenant}`, `{env}`, `{cluster}` and `{app}` placeholders: plain substitution, so that
//! names in config files never go through a template engine.

/// The values placeholders expand to; `None` where a placeholder makes no sense (for
/// example `{app}` in the project name, which is shared by all apps).
#[derive(Clone, Copy, Debug, Default)]
pub struct Placeholders<'a> {
    pub tenant: Option<&'a str>,
    pub env: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub app: Option<&'a str>,
}

const NAMES: [&str; 4] = ["tenant", "env", "cluster", "app"];

impl Placeholders<'_> {
    fn lookup(&self, name: &str) -> Option<Option<&str>> {
        match name {
            "tenant" => Some(self.tenant),
            "env" => Some(self.env),
            "cluster" => Some(self.cluster),
            "app" => Some(self.app),
            _ => None,
        }
    }

    /// Expands every placeholder, or says which one cannot be expanded here.
    pub fn expand(&self, pattern: &str) -> Result<String, String> {
        let mut out = String::with_capacity(pattern.len() + 16);
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{{` without a closing `}}` in `{pattern}`"));
            };
            let name = &after[..close];
            match self.lookup(name) {
                Some(Some(value)) => out.push_str(value),
                Some(None) => {
                    return Err(format!("placeholder `{{{name}}}` cannot be used here"));
                }
                None => {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}`; known: {}",
                        NAMES.map(|n| format!("{{{n}}}")).join(", ")
                    ));
                }
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`}}` without an opening `{{` in `{pattern}`"));
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Checks a pattern's placeholders without values, for fields checked once per file.
    pub fn check(pattern: &str, allowed: &[&str]) -> Result<(), String> {
        let probe = Placeholders {
            tenant: allowed.contains(&"tenant").then_some("x"),
            env: allowed.contains(&"env").then_some("x"),
            cluster: allowed.contains(&"cluster").then_some("x"),
            app: allowed.contains(&"app").then_some("x"),
        };
        probe.expand(pattern).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_reports() {
        let p = Placeholders {
            tenant: Some("acme"),
            env: Some("dev"),
            cluster: None,
            app: Some("web"),
        };
        assert_eq!(p.expand("{tenant}-{env}").unwrap(), "acme-dev");
        assert_eq!(p.expand("plain").unwrap(), "plain");
        assert!(
            p.expand("{cluster}")
                .unwrap_err()
                .contains("cannot be used here")
        );
        assert!(
            p.expand("{nope}")
                .unwrap_err()
                .contains("unknown placeholder `{nope}`")
        );
        assert!(p.expand("{env").is_err());
        assert!(p.expand("env}").is_err());
    }
}

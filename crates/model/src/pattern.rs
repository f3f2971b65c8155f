//! `{tenant}`, `{env}`, `{cluster}` and `{app}` placeholders: plain substitution, so that
//! names in config files never go through a template engine.
//!
//! A pattern is checked once, when it is made ([`Pattern::parse`]), against the
//! placeholders its field may use; the check is kept in its type. Expanding it then
//! cannot fail, whoever built the values it expands with.

use std::fmt;

use serde::{Serialize, Serializer};

/// The placeholders a pattern about one app may use: all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    Tenant,
    Env,
    Cluster,
    App,
}

/// The placeholders of a pattern shared by every app of an environment (the project
/// name): `{app}` makes no sense there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvPlaceholder {
    Tenant,
    Env,
    Cluster,
}

const NAMES: [&str; 4] = ["tenant", "env", "cluster", "app"];

/// A set of placeholders a kind of pattern may use.
pub trait PlaceholderSet: Copy + fmt::Debug + PartialEq + 'static {
    fn by_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
}

impl PlaceholderSet for Placeholder {
    fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "tenant" => Placeholder::Tenant,
            "env" => Placeholder::Env,
            "cluster" => Placeholder::Cluster,
            "app" => Placeholder::App,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Placeholder::Tenant => "tenant",
            Placeholder::Env => "env",
            Placeholder::Cluster => "cluster",
            Placeholder::App => "app",
        }
    }
}

impl PlaceholderSet for EnvPlaceholder {
    fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "tenant" => EnvPlaceholder::Tenant,
            "env" => EnvPlaceholder::Env,
            "cluster" => EnvPlaceholder::Cluster,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            EnvPlaceholder::Tenant => "tenant",
            EnvPlaceholder::Env => "env",
            EnvPlaceholder::Cluster => "cluster",
        }
    }
}

/// Why a text is not a pattern of its field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("`{{` without a closing `}}` in `{0}`")]
    Unclosed(String),
    #[error("`}}` without an opening `{{` in `{0}`")]
    Unopened(String),
    #[error("placeholder `{{{0}}}` cannot be used here")]
    NotHere(String),
    #[error("unknown placeholder `{{{0}}}`; known: {{tenant}}, {{env}}, {{cluster}}, {{app}}")]
    Unknown(String),
}

/// A text with placeholders of the set `P`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern<P = Placeholder> {
    text: String,
    parts: Vec<Part<P>>,
}

/// A pattern of the project name, which may not use `{app}`.
pub type EnvPattern = Pattern<EnvPlaceholder>;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part<P> {
    Text(String),
    Var(P),
}

impl<P: PlaceholderSet> Pattern<P> {
    /// Checks a pattern: every `{...}` must be a placeholder of the set `P`.
    pub fn parse(text: impl Into<String>) -> Result<Self, PatternError> {
        let text = text.into();
        let mut parts = Vec::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find('{') {
            let literal = &rest[..open];
            if literal.contains('}') {
                return Err(PatternError::Unopened(text));
            }
            if !literal.is_empty() {
                parts.push(Part::Text(literal.to_string()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(PatternError::Unclosed(text));
            };
            let name = &after[..close];
            match P::by_name(name) {
                Some(var) => parts.push(Part::Var(var)),
                None if NAMES.contains(&name) => return Err(PatternError::NotHere(name.into())),
                None => return Err(PatternError::Unknown(name.into())),
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(PatternError::Unopened(text));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Pattern { text, parts })
    }

    /// A pattern from parts known to be valid, for built-in defaults.
    fn from_parts(parts: Vec<Part<P>>) -> Self {
        let text = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Var(v) => format!("{{{}}}", v.name()),
            })
            .collect();
        Pattern { text, parts }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn expand_with<'v>(&self, value: impl Fn(P) -> &'v str) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) => out.push_str(value(*var)),
            }
        }
        out
    }
}

impl Pattern<Placeholder> {
    /// The default app namespace: `{app}`.
    pub fn app_name() -> Self {
        Pattern::from_parts(vec![Part::Var(Placeholder::App)])
    }

    pub fn expand(&self, vars: &AppVars) -> String {
        self.expand_with(|p| match p {
            Placeholder::Tenant => vars.tenant,
            Placeholder::Env => vars.env,
            Placeholder::Cluster => vars.cluster,
            Placeholder::App => vars.app,
        })
    }
}

impl Pattern<EnvPlaceholder> {
    /// The default project name: `{tenant}-{env}`.
    pub fn tenant_env() -> Self {
        Pattern::from_parts(vec![
            Part::Var(EnvPlaceholder::Tenant),
            Part::Text("-".into()),
            Part::Var(EnvPlaceholder::Env),
        ])
    }

    pub fn expand(&self, vars: &EnvVars) -> String {
        self.expand_with(|p| match p {
            EnvPlaceholder::Tenant => vars.tenant,
            EnvPlaceholder::Env => vars.env,
            EnvPlaceholder::Cluster => vars.cluster,
        })
    }
}

impl<P> fmt::Display for Pattern<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Patterns serialize as they were written.
impl<P> Serialize for Pattern<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// What the placeholders of an environment-wide pattern expand to.
#[derive(Clone, Copy, Debug)]
pub struct EnvVars<'a> {
    pub tenant: &'a str,
    pub env: &'a str,
    pub cluster: &'a str,
}

/// What the placeholders of a pattern about one app in one environment expand to.
#[derive(Clone, Copy, Debug)]
pub struct AppVars<'a> {
    pub tenant: &'a str,
    pub env: &'a str,
    pub cluster: &'a str,
    pub app: &'a str,
}

/// The depth of an app's folder, `apps/<app>`, which a relative file may climb out of.
const APP_FOLDER_DEPTH: usize = 2;

/// A file named relative to its app's folder (`values.yaml`, `env/{env}.yaml`,
/// `../common/values.yaml`): a value file or a promoted file.
///
/// `.` and `..` are resolved when it is made, and it is checked not to climb out of the
/// repo; placeholders always expand to one folder or file name, never to navigation. So
/// resolving it to a repo path cannot fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppFile {
    text: String,
    /// How many folders it climbs out of the app's folder (at most the folder's depth).
    up: usize,
    /// The names below that, each possibly with placeholders; never empty.
    names: Vec<Pattern>,
}

/// Why a text is not a file of an app.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppFileError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("climbs out of the repo")]
    ClimbsOut,
    #[error("names a folder; name a file")]
    Folder,
}

impl AppFile {
    pub fn parse(text: impl Into<String>) -> Result<Self, AppFileError> {
        let text = text.into();
        // Whole first, so that a `{` spanning a `/` is reported as written.
        Pattern::<Placeholder>::parse(text.as_str())?;
        let mut up = 0;
        let mut names: Vec<Pattern> = Vec::new();
        for name in text.split('/') {
            match name {
                "" | "." => {}
                ".." => {
                    if names.pop().is_none() {
                        up += 1;
                    }
                }
                other => names.push(Pattern::parse(other)?),
            }
        }
        if up > APP_FOLDER_DEPTH {
            return Err(AppFileError::ClimbsOut);
        }
        if names.is_empty() {
            return Err(AppFileError::Folder);
        }
        Ok(AppFile { text, up, names })
    }

    /// The file as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The file's `/`-separated path from the repo root, for one app in one environment.
    pub fn resolve(&self, vars: &AppVars) -> String {
        let folder = ["apps", vars.app];
        let kept = &folder[..APP_FOLDER_DEPTH.saturating_sub(self.up)];
        let mut path: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
        path.extend(self.names.iter().map(|name| name.expand(vars)));
        path.join("/")
    }
}

impl fmt::Display for AppFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for AppFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: AppVars = AppVars {
        tenant: "acme",
        env: "dev",
        cluster: "eu1",
        app: "web",
    };

    #[test]
    fn expands_and_reports() {
        let p = |t: &str| Pattern::<Placeholder>::parse(t).map(|p| p.expand(&VARS));
        assert_eq!(p("{tenant}-{env}").unwrap(), "acme-dev");
        assert_eq!(p("plain").unwrap(), "plain");
        assert_eq!(p("{app}.{cluster}").unwrap(), "web.eu1");
        assert_eq!(p("{nope}"), Err(PatternError::Unknown("nope".into())));
        assert!(matches!(p("{env"), Err(PatternError::Unclosed(_))));
        assert!(matches!(p("env}"), Err(PatternError::Unopened(_))));
        assert!(matches!(p("a}{env}"), Err(PatternError::Unopened(_))));
        assert_eq!(
            PatternError::Unknown("nope".into()).to_string(),
            "unknown placeholder `{nope}`; known: {tenant}, {env}, {cluster}, {app}"
        );
    }

    #[test]
    fn env_patterns_refuse_app() {
        let err = EnvPattern::parse("{tenant}-{app}").unwrap_err();
        assert_eq!(err.to_string(), "placeholder `{app}` cannot be used here");
        let project = EnvPattern::parse("{tenant}-{cluster}").unwrap();
        let vars = EnvVars {
            tenant: "acme",
            env: "dev",
            cluster: "eu1",
        };
        assert_eq!(project.expand(&vars), "acme-eu1");
        assert_eq!(EnvPattern::tenant_env().as_str(), "{tenant}-{env}");
        assert_eq!(EnvPattern::tenant_env().expand(&vars), "acme-dev");
        assert_eq!(Pattern::app_name().expand(&VARS), "web");
        assert_eq!(
            serde_json::to_string(&EnvPattern::tenant_env()).unwrap(),
            "\"{tenant}-{env}\""
        );
    }

    #[test]
    fn app_files_resolve_inside_the_repo() {
        let resolve = |t: &str| AppFile::parse(t).map(|f| f.resolve(&VARS));
        assert_eq!(resolve("values.yaml").unwrap(), "apps/web/values.yaml");
        assert_eq!(
            resolve("./env/{env}.yaml").unwrap(),
            "apps/web/env/dev.yaml"
        );
        assert_eq!(resolve("../common/v.yaml").unwrap(), "apps/common/v.yaml");
        assert_eq!(resolve("../../shared.yaml").unwrap(), "shared.yaml");
        assert_eq!(resolve("x/../../y.yaml").unwrap(), "apps/y.yaml");
        assert_eq!(resolve("../../../x.yaml"), Err(AppFileError::ClimbsOut));
        assert_eq!(resolve("env/.."), Err(AppFileError::Folder));
        assert!(matches!(
            resolve("{env/x}.yaml"),
            Err(AppFileError::Pattern(PatternError::Unknown(_)))
        ));
        // A placeholder is one name, never navigation, whatever it expands to.
        let odd = AppVars { env: "..", ..VARS };
        let file = AppFile::parse("{env}/v.yaml").unwrap();
        assert_eq!(file.resolve(&odd), "apps/web/../v.yaml");
    }
}

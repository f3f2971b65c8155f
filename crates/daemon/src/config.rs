//! The daemon's configuration: a YAML file (`ladder run --config FILE`) whose every
//! scalar can be overridden by an environment variable `LADDER__KEY__SUB` (levels
//! separated by double underscores, list entries by their index:
//! `LADDER__TENANTS__0__POLLINTERVAL=30s`). Merged and typed by the `config` crate;
//! every problem is reported with the file, line and column it comes from (or the
//! variable that set it), all at once.
//!
//! Secrets are never written in the file: it names files (`tokenFile`, `appKeyFile`,
//! `webhookSecretFile`) that are read when used, so a rotated Kubernetes Secret is
//! picked up without a restart.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DaemonConfig {
    /// Where the HTTP server (health, metrics, status, webhooks) listens.
    #[serde(default = "default_listen", deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// Where mirrors of tenant repos are kept.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: PathBuf,
    /// How long SIGTERM waits for the reconciles in flight.
    #[serde(default = "default_shutdown", deserialize_with = "duration")]
    pub shutdown_timeout: Duration,
    /// How many reconciles may run at once, across tenants (default: four per core, at
    /// least eight). Each holds a mirror and a render in memory while it runs: size the
    /// memory limit for it.
    #[serde(default)]
    pub reconcile_slots: Option<std::num::NonZeroUsize>,
    pub tenants: Vec<TenantConfig>,
}

/// One tenant, as the platform configures it. Its identity is `name`, never what its
/// repo says: a repo whose `ladder.yaml` names another tenant is refused.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantConfig {
    pub name: String,
    /// A Git URL the daemon mirrors and polls...
    pub repo: Option<String>,
    /// ...or a local checkout whose commits (not its working tree) it reads and watches.
    pub path: Option<PathBuf>,
    /// The tenant's folder inside a monorepo.
    pub subfolder: Option<String>,
    /// The config branch (default: `configRepo.branch` of its `ladder.yaml`).
    pub branch: Option<String>,
    /// How often the remote is checked (jittered); `0` disables polling.
    #[serde(default = "default_poll", deserialize_with = "duration")]
    pub poll_interval: Duration,
    #[serde(default)]
    pub forge: ForgeConfig,
    /// The shared secret of the repo's webhooks.
    pub webhook_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub render: RenderConfig,
}

/// Where the tenant's forge API is and who ladder is there: operator settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForgeConfig {
    /// `git` or `github`; default: what the tenant's `ladder.yaml` says.
    #[serde(rename = "type")]
    pub kind: Option<ForgeType>,
    pub api_url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub app_id: Option<u64>,
    pub app_key_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeType {
    Git,
    #[serde(rename = "github")]
    GitHub,
}

/// Where the rendered manifests go.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderConfig {
    /// A branch only ladder writes: one commit per source commit.
    pub branch: Option<String>,
    /// A folder on the config branch, changed through a proposal.
    pub path: Option<String>,
    /// Render to check only; publish nothing.
    #[serde(default)]
    pub none: bool,
}

/// Where a tenant's render is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderTarget {
    Branch(String),
    Path(String),
    None,
}

impl RenderConfig {
    pub fn target(&self) -> RenderTarget {
        match (&self.branch, &self.path) {
            (Some(branch), _) if !self.none => RenderTarget::Branch(branch.clone()),
            (None, Some(path)) if !self.none => RenderTarget::Path(path.clone()),
            _ => RenderTarget::None,
        }
    }
}

impl TenantConfig {
    /// The repo as the engine opens it: the URL, or the checkout's path.
    pub fn repo_text(&self) -> String {
        match (&self.repo, &self.path) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => String::new(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_cache_dir() -> PathBuf {
    PathBuf::from("/var/cache/ladder")
}

fn default_shutdown() -> Duration {
    Duration::from_secs(30)
}

fn default_poll() -> Duration {
    Duration::from_secs(60)
}

/// `30s`, `5m`, `0`, or a number of seconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as 30s, 5m or 1h")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom("a duration cannot be negative"))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            ladder_model::parse_duration(v)
                .map_err(|e| E::custom(format!("{e}; write a duration such as 30s, 5m or 1h")))
        }
    }
    d.deserialize_any(Visitor)
}

fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address and port such as 127.0.0.1:8080 or 0.0.0.0:8080"
        ))
    })
}

/// A problem with the configuration, where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// `file:line:col`, `LADDER__...` for a value from the environment, or the file.
    pub at: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in the configuration:\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
}

/// Every key the file may hold, by level, in the spelling the file uses: environment
/// variables (upper case) are matched against them.
const TOP_KEYS: [&str; 5] = [
    "listen",
    "cacheDir",
    "shutdownTimeout",
    "reconcileSlots",
    "tenants",
];
const TENANT_KEYS: [&str; 9] = [
    "name",
    "repo",
    "path",
    "subfolder",
    "branch",
    "pollInterval",
    "forge",
    "webhookSecretFile",
    "render",
];
const FORGE_KEYS: [&str; 5] = ["type", "apiUrl", "tokenFile", "appId", "appKeyFile"];
const RENDER_KEYS: [&str; 3] = ["branch", "path", "none"];

/// The configuration path (`tenants[0].pollInterval`) a variable `LADDER__TENANTS__0__POLLINTERVAL`
/// overrides, in the file's spelling; `None` for a variable that names no key.
fn env_path(variable: &str) -> Option<String> {
    let rest = variable.strip_prefix("LADDER__")?;
    let parts: Vec<&str> = rest.split("__").collect();
    let find = |known: &[&str], part: &str| {
        known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(part))
            .map(|k| k.to_string())
    };
    match parts.as_slice() {
        [key] => find(&TOP_KEYS, key).filter(|k| k != "tenants"),
        ["TENANTS" | "tenants", index, key] => {
            let index: usize = index.parse().ok()?;
            let key = find(&TENANT_KEYS, key).filter(|k| k != "forge" && k != "render")?;
            Some(format!("tenants[{index}].{key}"))
        }
        ["TENANTS" | "tenants", index, group, key] => {
            let index: usize = index.parse().ok()?;
            let (group, known): (&str, &[&str]) = if group.eq_ignore_ascii_case("forge") {
                ("forge", &FORGE_KEYS)
            } else if group.eq_ignore_ascii_case("render") {
                ("render", &RENDER_KEYS)
            } else {
                return None;
            };
            let key = find(known, key)?;
            Some(format!("tenants[{index}].{group}.{key}"))
        }
        _ => None,
    }
}

/// Loads `path`, with the `LADDER__*` variables of `env` (the caller's environment:
/// the library reads none itself) overriding its scalars.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<DaemonConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&path.display().to_string(), &text, env)
}

/// [`load`] from text; `file` names it in messages.
pub fn parse(
    file: &str,
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<DaemonConfig, ConfigError> {
    let positions = Positions::of(text);
    let mut problems = Vec::new();
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Yaml));
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for (variable, value) in env {
        if !variable.starts_with("LADDER__") {
            continue;
        }
        match env_path(&variable) {
            Some(key) => {
                builder = match builder.set_override(key.as_str(), value) {
                    Ok(b) => b,
                    Err(e) => {
                        problems.push(ConfigProblem {
                            at: variable.clone(),
                            message: e.to_string(),
                        });
                        return Err(ConfigError::Invalid(problems));
                    }
                };
                overrides.insert(key, variable);
            }
            None => problems.push(ConfigProblem {
                at: variable,
                message: "names no configuration key; use LADDER__KEY or LADDER__TENANTS__<index>__KEY (…__FORGE__KEY, …__RENDER__KEY)".into(),
            }),
        }
    }
    let locate = |key: &str| -> String {
        let key = normalise_key(key);
        if let Some(variable) = overrides.get(&key) {
            return variable.clone();
        }
        match positions.find(&key) {
            Some((line, col)) => format!("{file}:{line}:{col}"),
            None => file.to_string(),
        }
    };
    let built = match builder.build() {
        Ok(built) => built,
        Err(e) => {
            problems.push(problem_of(&e, &locate, file));
            return Err(ConfigError::Invalid(problems));
        }
    };
    let config: DaemonConfig = match built.try_deserialize() {
        Ok(config) => config,
        Err(e) => {
            problems.push(problem_of(&e, &locate, file));
            return Err(ConfigError::Invalid(problems));
        }
    };
    check(&config, &locate, &mut problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The `config` crate names keys `tenants[1]pollInterval`; the positions use
/// `tenants[1].pollInterval`.
fn normalise_key(key: &str) -> String {
    key.replace(']', "].")
        .replace("]..", "].")
        .trim_end_matches('.')
        .to_string()
}

fn problem_of(
    e: &config::ConfigError,
    locate: &dyn Fn(&str) -> String,
    file: &str,
) -> ConfigProblem {
    let text = e.to_string();
    // "… for key `tenants[0]pollInterval`", "… for key `tenants[0]`".
    let key = text
        .rsplit_once("for key `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(key, _)| key.to_string());
    let message = text
        .rsplit_once(" for key `")
        .map(|(m, _)| m.to_string())
        .unwrap_or(text.clone());
    // An unknown field is reported where it is written, not at its mapping.
    let key = key.map(|key| {
        match message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((field, _)) => format!("{}.{field}", normalise_key(&key)),
            None => key,
        }
    });
    match key {
        Some(key) => ConfigProblem {
            at: locate(&key),
            message: format!("`{}`: {message}", normalise_key(&key)),
        },
        None => ConfigProblem {
            at: file.to_string(),
            message,
        },
    }
}

/// What the types cannot say: names, one repo per tenant, where the render goes.
fn check(
    config: &DaemonConfig,
    locate: &dyn Fn(&str) -> String,
    problems: &mut Vec<ConfigProblem>,
) {
    let mut names: Vec<&str> = Vec::new();
    for (i, tenant) in config.tenants.iter().enumerate() {
        let at = |key: &str| locate(&format!("tenants[{i}].{key}"));
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                at: at(key),
                message,
            })
        };
        if let Err(why) = ladder_model::names::check_dns_label(&tenant.name) {
            problem("name", format!("tenant name `{}`: {why}", tenant.name));
        }
        if names.contains(&tenant.name.as_str()) {
            problem(
                "name",
                format!("tenant `{}` is configured twice", tenant.name),
            );
        }
        names.push(&tenant.name);
        match (&tenant.repo, &tenant.path) {
            (Some(_), Some(_)) => problem(
                "path",
                format!(
                    "tenant `{}`: give `repo` (a URL) or `path` (a checkout), not both",
                    tenant.name
                ),
            ),
            (None, None) => problem(
                "name",
                format!(
                    "tenant `{}` needs `repo` (a URL) or `path` (a checkout)",
                    tenant.name
                ),
            ),
            _ => {}
        }
        // Credentials in the URL would be served by the status API and written into
        // messages; ladder takes them from files (`forge.tokenFile`) or LADDER_GIT_*.
        if let Some(url) = &tenant.repo
            && matches!(ladder_git::url::RemoteUrl::parse(url), Ok((_, Some(_))))
        {
            problem(
                "repo",
                format!(
                    "tenant `{}`: the repo URL must not hold credentials; give a token in a file with `forge.tokenFile`",
                    tenant.name
                ),
            );
        }
        let render = &tenant.render;
        let targets = usize::from(render.branch.is_some())
            + usize::from(render.path.is_some())
            + usize::from(render.none);
        if targets > 1 {
            problem(
                "render",
                "`render` takes one of `branch`, `path` or `none: true`".into(),
            );
        }
        if let (Some(render_branch), Some(branch)) = (&render.branch, &tenant.branch)
            && render_branch == branch
        {
            problem(
                "render.branch",
                format!(
                    "the render branch `{render_branch}` is the config branch; ladder writes the render branch alone"
                ),
            );
        }
        let forge = &tenant.forge;
        if forge.token_file.is_some() && (forge.app_id.is_some() || forge.app_key_file.is_some()) {
            problem(
                "forge",
                "`forge` takes `tokenFile` or `appId` with `appKeyFile`, not both".into(),
            );
        }
        if forge.app_id.is_some() != forge.app_key_file.is_some() {
            problem(
                "forge",
                "a GitHub App needs both `appId` and `appKeyFile`".into(),
            );
        }
    }
}

/// Where each key of a YAML text is, as `tenants[0].forge.apiUrl` → (line, column),
/// 1-based.
struct Positions {
    keys: BTreeMap<String, (usize, usize)>,
}

impl Positions {
    fn of(text: &str) -> Positions {
        let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
        let mut collector = Collector::default();
        // A syntax error is the config crate's to report; the keys before it are kept.
        let _ = parser.load(&mut collector, false);
        Positions {
            keys: collector.keys,
        }
    }

    fn find(&self, key: &str) -> Option<(usize, usize)> {
        // A key without a mark of its own (a missing one) is reported at its parent.
        let mut key = key.to_string();
        loop {
            if let Some(at) = self.keys.get(&key) {
                return Some(*at);
            }
            let cut = key.rfind(['.', '['])?;
            key.truncate(cut);
        }
    }
}

/// Builds key paths from YAML events: a stack of the containers being read.
#[derive(Default)]
struct Collector {
    keys: BTreeMap<String, (usize, usize)>,
    stack: Vec<Frame>,
}

enum Frame {
    /// A mapping at `path`; `key` is the key whose value comes next, if any.
    Map { path: String, key: Option<String> },
    /// A sequence at `path`, with the index of the next item.
    Seq { path: String, next: usize },
}

impl Collector {
    /// The path of the value that starts now, advancing the parent's state.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl yaml_rust2::parser::MarkedEventReceiver for Collector {
    fn on_event(&mut self, event: yaml_rust2::Event, mark: yaml_rust2::scanner::Marker) {
        use yaml_rust2::Event;
        let at = (mark.line(), mark.col() + 1);
        match event {
            Event::MappingStart(..) => {
                // Placed at its first key (below): a block mapping's start mark is not
                // where a person sees it begin.
                let path = self.value_path().unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path().unwrap_or_default();
                if !path.is_empty() {
                    self.keys.entry(path.clone()).or_insert(at);
                }
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Scalar(text, ..) => {
                // A scalar in a mapping is a key when no key is pending.
                if let Some(Frame::Map { path, key }) = self.stack.last_mut()
                    && key.is_none()
                {
                    if !path.is_empty() {
                        self.keys.entry(path.clone()).or_insert(at);
                    }
                    let full = join(path, &text);
                    self.keys.insert(full, at);
                    *key = Some(text);
                    return;
                }
                let _ = self.value_path();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
listen: 127.0.0.1:8080
cacheDir: /var/cache/ladder
shutdownTimeout: 30s
tenants:
  - name: acme
    repo: https://github.com/acme/platform-config.git
    subfolder: tenants/acme
    branch: main
    pollInterval: 60s
    forge: {type: github, apiUrl: https://api.github.com, tokenFile: /etc/ladder/acme-token}
    webhookSecretFile: /etc/ladder/acme-webhook
    render: {branch: rendered}
  - name: beta
    path: /srv/beta
    pollInterval: 0
";

    fn problems(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        match parse("ladder.yaml", text, vars(env)) {
            Ok(_) => panic!("loaded, but problems were expected"),
            Err(ConfigError::Invalid(problems)) => problems.iter().map(|p| p.to_string()).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn vars(env: &[(&str, &str)]) -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reconcile_slots_are_a_positive_count_from_the_file_or_the_environment() {
        let config = parse("ladder.yaml", EXAMPLE, vars(&[])).unwrap();
        assert_eq!(config.reconcile_slots, None);
        let text = EXAMPLE.replace("tenants:\n", "reconcileSlots: 3\ntenants:\n");
        let config = parse("ladder.yaml", &text, vars(&[])).unwrap();
        assert_eq!(config.reconcile_slots.map(|n| n.get()), Some(3));
        let config = parse(
            "ladder.yaml",
            &text,
            vars(&[("LADDER__RECONCILESLOTS", "5")]),
        )
        .unwrap();
        assert_eq!(config.reconcile_slots.map(|n| n.get()), Some(5));
        let zero = EXAMPLE.replace("tenants:\n", "reconcileSlots: 0\ntenants:\n");
        let found = problems(&zero, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("ladder.yaml:4:1: `reconcileSlots`"),
            "{found:?}"
        );
    }

    #[test]
    fn the_issue_example_loads() {
        let config = parse("ladder.yaml", EXAMPLE, vars(&[])).unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
        let acme = &config.tenants[0];
        assert_eq!(acme.poll_interval, Duration::from_secs(60));
        assert_eq!(acme.forge.kind, Some(ForgeType::GitHub));
        assert_eq!(
            acme.render.target(),
            RenderTarget::Branch("rendered".into())
        );
        let beta = &config.tenants[1];
        assert_eq!(beta.poll_interval, Duration::ZERO);
        assert_eq!(beta.repo_text(), "/srv/beta");
        assert_eq!(beta.render.target(), RenderTarget::None);
    }

    #[test]
    fn environment_variables_override_scalars_at_any_level_in_camel_case() {
        let config = parse(
            "ladder.yaml",
            EXAMPLE,
            vars(&[
                ("LADDER__LISTEN", "0.0.0.0:9090"),
                ("LADDER__TENANTS__0__POLLINTERVAL", "5m"),
                (
                    "LADDER__TENANTS__0__FORGE__APIURL",
                    "https://ghe.example/api/v3",
                ),
                ("LADDER__TENANTS__1__BRANCH", "release"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, SocketAddr::from(([0, 0, 0, 0], 9090)));
        assert_eq!(config.tenants[0].poll_interval, Duration::from_secs(300));
        assert_eq!(
            config.tenants[0].forge.api_url.as_deref(),
            Some("https://ghe.example/api/v3")
        );
        assert_eq!(config.tenants[1].branch.as_deref(), Some("release"));
    }

    #[test]
    fn problems_name_the_file_line_and_column_or_the_variable() {
        assert_eq!(
            problems(
                "tenants:\n  - name: acme\n    repo: https://h/a.git\n    pollIntervall: 60s\n",
                &[]
            ),
            [
                "ladder.yaml:4:5: `tenants[0].pollIntervall`: unknown field `pollIntervall`, expected one of `name`, `repo`, `path`, `subfolder`, `branch`, `pollInterval`, `forge`, `webhookSecretFile`, `render`"
            ]
        );
        assert_eq!(
            problems(
                "tenants:\n  - name: acme\n    repo: https://h/a.git\n    pollInterval: soon\n",
                &[]
            ),
            [
                "ladder.yaml:4:5: `tenants[0].pollInterval`: `soon` does not start with a number; write a duration such as 30s, 5m or 1h"
            ]
        );
        assert_eq!(
            problems(
                "tenants:\n  - name: acme\n    repo: https://h/a.git\n",
                &[("LADDER__TENANTS__0__POLLINTERVAL", "soon")]
            ),
            [
                "LADDER__TENANTS__0__POLLINTERVAL: `tenants[0].pollInterval`: `soon` does not start with a number; write a duration such as 30s, 5m or 1h"
            ]
        );
        assert_eq!(
            problems(
                "tenants:\n  - name: acme\n    repo: https://h/a.git\n",
                &[("LADDER__TENANTS__0__POLINTERVAL", "5m")]
            ),
            [
                "LADDER__TENANTS__0__POLINTERVAL: names no configuration key; use LADDER__KEY or LADDER__TENANTS__<index>__KEY (…__FORGE__KEY, …__RENDER__KEY)"
            ]
        );
    }

    #[test]
    fn what_types_cannot_say_is_checked_and_every_problem_listed() {
        let text = "\
tenants:
  - name: acme
    repo: https://h/a.git
    path: /srv/a
    branch: main
    render: {branch: main}
  - name: acme
  - name: Beta_1
    repo: https://h/b.git
    forge: {appId: 3}
";
        assert_eq!(
            problems(text, &[]),
            [
                "ladder.yaml:4:5: tenant `acme`: give `repo` (a URL) or `path` (a checkout), not both",
                "ladder.yaml:6:14: the render branch `main` is the config branch; ladder writes the render branch alone",
                "ladder.yaml:7:5: tenant `acme` is configured twice",
                "ladder.yaml:7:5: tenant `acme` needs `repo` (a URL) or `path` (a checkout)",
                "ladder.yaml:8:5: tenant name `Beta_1`: `B` is not allowed; use lower-case letters, digits and `-`",
                "ladder.yaml:10:5: a GitHub App needs both `appId` and `appKeyFile`",
            ]
        );
        assert_eq!(
            problems(
                "tenants:\n  - name: acme\n    repo: https://x:ghp_secret@github.com/acme/config.git\n",
                &[]
            ),
            [
                "ladder.yaml:3:5: tenant `acme`: the repo URL must not hold credentials; give a token in a file with `forge.tokenFile`"
            ]
        );
    }
}

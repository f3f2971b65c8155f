//! `ladder.yaml`: tenant-wide settings.

use crate::config::{ArgoSettings, ConfigRepo, Environment, ForgeSettings, Settings};
use crate::decode::Decoder;
use crate::diag::Problem;
use crate::load::SETTINGS_FILE;
use crate::names::check_dns_label;
use crate::pattern::EnvPattern;
use crate::yaml::{Node, Position, Scalar};

const KEYS: [&str; 5] = ["version", "tenant", "configRepo", "argocd", "forge"];
const FORGE_KEYS: [&str; 4] = ["type", "repository", "commitMode", "mergeMethod"];
const REPO_KEYS: [&str; 2] = ["url", "branch"];
const ARGOCD_KEYS: [&str; 4] = ["namespace", "project", "renderProjects", "sourceRepos"];

/// Settings plus where the project pattern was written, for per-environment checks.
pub(crate) struct LoadedSettings {
    pub settings: Settings,
    pub project_at: Position,
    /// Where `argocd.namespace` is written, if it is.
    pub namespace_at: Option<Position>,
}

impl std::ops::Deref for LoadedSettings {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

pub(crate) fn settings(node: &Node, d: &mut Decoder) -> Option<LoadedSettings> {
    let fields = d.fields(node, "ladder.yaml", &KEYS)?;
    if let Some(version) = fields.get("version")
        && version.scalar() != Some(&Scalar::Int(1))
    {
        let found = match version.scalar() {
            Some(Scalar::String(text)) if !version.plain => {
                format!("the quoted string \"{text}\"; write `version: 1`, unquoted")
            }
            _ => format!("`{}`", version.written_text()),
        };
        d.problem(
            version,
            format!("this ladder reads config format version 1, found {found}"),
        );
    }
    let tenant = d
        .required(&fields, node, "tenant", "ladder.yaml")
        .and_then(|n| d.dns_label(n, "tenant"));
    let config_repo = d
        .required(&fields, node, "configRepo", "ladder.yaml")
        .and_then(|n| config_repo(n, d));

    let mut argocd = ArgoSettings {
        namespace: "argocd".into(),
        project: EnvPattern::tenant_env(),
        render_projects: true,
        source_repos: Vec::new(),
    };
    let mut project_at = node.position;
    let mut namespace_at = None;
    if let Some(argocd_node) = fields.get("argocd")
        && let Some(f) = d.fields(argocd_node, "argocd", &ARGOCD_KEYS)
    {
        if let Some(n) = f.get("namespace") {
            namespace_at = Some(n.position);
            argocd.namespace = d.dns_label(n, "argocd.namespace").unwrap_or_default();
        }
        if let Some(n) = f.get("project") {
            project_at = n.position;
            if let Some(p) = d.pattern(n, "argocd.project") {
                argocd.project = p;
            }
        }
        if let Some(n) = f.get("renderProjects") {
            argocd.render_projects = d.bool(n, "argocd.renderProjects").unwrap_or(true);
        }
        if let Some(n) = f.get("sourceRepos") {
            argocd.source_repos = d
                .string_list(n, "argocd.sourceRepos")
                .into_iter()
                .map(|(s, _)| s)
                .collect();
        }
    }
    let forge = match fields.get("forge") {
        Some(n) => forge(n, d)?,
        None => ForgeSettings::default(),
    };
    Some(LoadedSettings {
        settings: Settings {
            tenant: tenant?,
            config_repo: config_repo?,
            argocd,
            forge,
        },
        project_at,
        namespace_at,
    })
}

/// Argo CD's namespace is checked like an app namespace: a tenant must not put its
/// Applications and AppProjects into a platform namespace such as `kube-system`. Argo
/// CD's default namespace, `argocd`, is on the apps' deny list precisely because it is
/// Argo CD's, so it stays allowed here.
pub(crate) fn check_argocd_namespace(
    settings: &LoadedSettings,
    options: &crate::load::LoadOptions,
    problems: &mut Vec<Problem>,
) {
    let namespace = &settings.argocd.namespace;
    if namespace.is_empty() || namespace == "argocd" || !options.is_denied(namespace) {
        return;
    }
    let message = format!(
        "`argocd.namespace` `{namespace}` is reserved for the platform; Applications and AppProjects live in the namespace Argo CD reads them from, usually `argocd`"
    );
    problems.push(match settings.namespace_at {
        Some(at) => Problem::at(SETTINGS_FILE, at, message),
        None => Problem::in_file(SETTINGS_FILE, message),
    });
}

fn forge(node: &Node, d: &mut Decoder) -> Option<ForgeSettings> {
    let fields = d.fields(node, "forge", &FORGE_KEYS)?;
    let mut forge = ForgeSettings::default();
    let mut ok = true;
    if let Some(n) = fields.get("type") {
        match d.keyword(n, "forge.type") {
            Some(kind) => forge.kind = kind,
            None => ok = false,
        }
    }
    if let Some(n) = fields.get("repository") {
        match d.string(n, "forge.repository") {
            Some(r) if is_owner_name(&r) => forge.repository = Some(r),
            Some(r) => {
                d.problem(
                    n,
                    format!("`forge.repository` `{r}` is not `owner/name`; write it like `acme/platform-config`, or leave it out to take it from the repo URL"),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(n) = fields.get("commitMode") {
        match d.keyword(n, "forge.commitMode") {
            Some(mode) => forge.commit_mode = mode,
            None => ok = false,
        }
    }
    if let Some(n) = fields.get("mergeMethod") {
        match d.keyword(n, "forge.mergeMethod") {
            Some(method) => forge.merge_method = method,
            None => ok = false,
        }
    }
    ok.then_some(forge)
}

/// `owner/name` as GitHub spells them: two non-empty segments of letters, digits, `-`,
/// `_` and `.`, and neither `.` nor `..` alone.
fn is_owner_name(text: &str) -> bool {
    let segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(text.split_once('/'), Some((owner, name)) if segment(owner) && segment(name))
}

fn config_repo(node: &Node, d: &mut Decoder) -> Option<ConfigRepo> {
    let fields = d.fields(node, "configRepo", &REPO_KEYS)?;
    let url = d
        .required(&fields, node, "url", "configRepo")
        .and_then(|n| repo_url(n, "configRepo.url", d));
    let branch = d
        .required(&fields, node, "branch", "configRepo")
        .and_then(|n| d.string(n, "configRepo.branch"));
    Some(ConfigRepo {
        url: url?,
        branch: branch?,
    })
}

/// A repo URL as Argo CD takes it. Credentials in it are refused: they would end up in
/// every rendered Application, in Git, in plain text.
pub(crate) fn repo_url(node: &Node, what: &str, d: &mut Decoder) -> Option<String> {
    let url = d.string(node, what)?;
    let has_scheme = ["https://", "http://", "ssh://", "git://", "file://"]
        .iter()
        .any(|s| url.starts_with(s));
    let scp_like = !has_scheme && url.contains('@') && url.contains(':');
    if !has_scheme && !scp_like {
        d.problem(
            node,
            format!("`{what}` `{url}` is not a repo URL; use https://host/org/repo.git or git@host:org/repo.git"),
        );
        return None;
    }
    if has_scheme {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            d.problem(
                    node,
                    format!("`{what}` must not hold a password or token; ladder takes credentials from its operator's settings, never from the repo"),
                );
            return None;
        }
    }
    Some(url)
}

/// Every environment's project must stay inside the tenant.
pub(crate) fn check_projects(
    settings: &LoadedSettings,
    environments: &[Environment],
    problems: &mut Vec<Problem>,
) {
    let tenant = &settings.tenant;
    let mut owners: Vec<(String, &str)> = Vec::new();
    for env in environments {
        let project = settings.project_name(env);
        if settings.argocd.render_projects {
            if let Some((_, first)) = owners.iter().find(|(p, _)| *p == project) {
                problems.push(Problem::at(SETTINGS_FILE, settings.project_at, format!(
                    "environments {first} and {} both get project `{project}`; each rendered AppProject needs its own name: add {{env}} to `argocd.project`, or set `argocd.renderProjects: false` if the platform provides the project",
                    env.name
                )));
            }
            owners.push((project.clone(), &env.name));
        }
        let message = if let Err(why) = check_dns_label(&project) {
            format!(
                "project `{project}` (environment {}) is not a DNS-1123 label: {why}",
                env.name
            )
        } else if project != *tenant && !project.starts_with(&format!("{tenant}-")) {
            format!(
                "project `{project}` (environment {}) is outside tenant `{tenant}`: it must be `{tenant}` or start with `{tenant}-`",
                env.name
            )
        } else {
            continue;
        };
        problems.push(Problem::at(SETTINGS_FILE, settings.project_at, message));
    }
}

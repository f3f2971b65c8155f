//! Renders a loaded tenant into Argo CD `AppProject` and `Application` documents.
//!
//! Templates only lay out values the model already resolved ([`context`]). Each rendered
//! document is then parsed, checked against Argo CD's run-time rules and the tenant's
//! boundaries ([`rules`]), and re-emitted in one canonical form ([`canonical`]), so the
//! same input always gives the same bytes.

pub mod canonical;
pub mod context;
pub mod output;
pub mod rules;
pub mod schema;
mod templates;

use std::collections::BTreeMap;

use ladder_model::{Environment, LoadOptions, Problem, Problems, Tenant};
use serde_json::Value;

pub use output::{Difference, OutputError, WriteSummary};
pub use schema::{SchemaError, Schemas};
pub use templates::Templates;

/// The rendered output: file path (`<env>/appproject.yaml`,
/// `<env>/applications/<app>.yaml`) to bytes, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendering {
    pub files: BTreeMap<String, Vec<u8>>,
    /// The environments rendered, in promotion order.
    pub environments: Vec<String>,
}

impl Rendering {
    pub fn documents(&self) -> usize {
        self.files.len()
    }
}

/// How to render.
#[derive(Default)]
pub struct RenderOptions<'a> {
    /// The environments to render; empty means all.
    pub only: &'a [String],
    /// The platform's policy, which output is checked against as well as input.
    pub policy: LoadOptions,
    /// Argo CD's JSON Schemas, when the caller wants documents checked against them too.
    pub schemas: Option<&'a Schemas>,
}

/// Renders a tenant's environments; on failure, returns every problem found.
pub fn render(tenant: &Tenant, options: &RenderOptions) -> Result<Rendering, Problems> {
    let templates = Templates::compile(&tenant.templates).map_err(Problems::sorted)?;
    let mut rendering = Rendering::default();
    let mut problems = Vec::new();
    for env in &tenant.environments {
        if !options.only.is_empty() && !options.only.contains(&env.name) {
            continue;
        }
        rendering.environments.push(env.name.clone());
        render_environment(
            tenant,
            env,
            &templates,
            options,
            &mut rendering,
            &mut problems,
        );
    }
    if problems.is_empty() {
        Ok(rendering)
    } else {
        Err(Problems::sorted(problems))
    }
}

fn render_environment(
    tenant: &Tenant,
    env: &Environment,
    templates: &Templates,
    options: &RenderOptions,
    rendering: &mut Rendering,
    problems: &mut Vec<Problem>,
) {
    let project = tenant.project_name(env);
    let argocd_namespace = &tenant.settings.argocd.namespace;
    let destination_name = tenant.destination_name(env);

    if tenant.settings.argocd.render_projects {
        let context = context::appproject(tenant, env);
        let expect = rules::ExpectedProject {
            name: &project,
            namespace: argocd_namespace,
            destination_name: &destination_name,
            policy: &options.policy,
        };
        let what = format!("AppProject {project} (environment {})", env.name);
        if let Some(bytes) = render_document(
            templates,
            templates::APPPROJECT,
            &context,
            &what,
            problems,
            |doc| with_schema(rules::check_appproject(doc, &expect), doc, options.schemas),
        ) {
            rendering
                .files
                .insert(format!("{}/appproject.yaml", env.name), bytes);
        }
    }

    for app in tenant.apps_in(env) {
        let context = context::application(tenant, env, app);
        let name = app.application_name(&env.name);
        let namespace = tenant.app_namespace(app, env);
        let expect = rules::ExpectedApplication {
            name: &name,
            namespace: argocd_namespace,
            project: &project,
            destination_name: &destination_name,
            destination_namespace: &namespace,
        };
        let what = format!(
            "Application {name} (app {}, environment {})",
            app.name, env.name
        );
        if let Some(bytes) = render_document(
            templates,
            templates::APPLICATION,
            &context,
            &what,
            problems,
            |doc| with_schema(rules::check_application(doc, &expect), doc, options.schemas),
        ) {
            rendering.files.insert(
                format!("{}/applications/{}.yaml", env.name, app.name),
                bytes,
            );
        }
    }
}

fn with_schema(mut problems: Vec<String>, doc: &Value, schemas: Option<&Schemas>) -> Vec<String> {
    if let Some(schemas) = schemas {
        problems.extend(
            schemas
                .check(doc)
                .into_iter()
                .map(|p| format!("schema: {p}")),
        );
    }
    problems
}

/// Renders, parses, checks and canonicalises one document.
fn render_document(
    templates: &Templates,
    template: &str,
    context: &Value,
    what: &str,
    problems: &mut Vec<Problem>,
    check: impl FnOnce(&Value) -> Vec<String>,
) -> Option<Vec<u8>> {
    let file = templates.file(template).to_string();
    let text = match templates.render(template, context) {
        Ok(text) => text,
        Err(mut problem) => {
            problem.message = format!("{what}: {}", problem.message);
            problems.push(problem);
            return None;
        }
    };
    let mut doc: Value = match serde_yaml::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => {
            let shown = e
                .location()
                .and_then(|l| text.lines().nth(l.line().saturating_sub(1)).map(|s| (l, s)));
            let message = match shown {
                Some((l, line)) => format!(
                    "{what}: the rendered document is not valid YAML at its line {}, column {}: {e}; that line reads `{}`",
                    l.line(),
                    l.column(),
                    line.trim_end()
                ),
                None => format!("{what}: the rendered document is not valid YAML: {e}"),
            };
            problems.push(Problem::in_file(&file, message));
            return None;
        }
    };
    if !doc.is_object() {
        problems.push(Problem::in_file(
            &file,
            format!("{what}: the rendered document is not a mapping"),
        ));
        return None;
    }
    if let Err(why) = canonical::strip_nulls(&mut doc, &mut Vec::new()) {
        problems.push(Problem::in_file(
            &file,
            format!("{what}: {why}; lists must not hold null"),
        ));
        return None;
    }
    let broken = check(&doc);
    if !broken.is_empty() {
        for message in broken {
            problems.push(Problem::in_file(&file, format!("{what}: {message}")));
        }
        return None;
    }
    Some(canonical::to_yaml(&doc).into_bytes())
}

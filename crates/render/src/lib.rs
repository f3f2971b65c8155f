//! Renders a loaded tenant into Argo CD `AppProject` and `Application` documents.
//!
//! Templates only lay out values the model already resolved ([`context`]). Each rendered
//! document is then parsed, checked against Argo CD's run-time rules and the tenant's
//! boundaries ([`rules`]), and re-emitted in one canonical form ([`canonical`]), so the
//! same input always gives the same bytes.

#[cfg(test)]
mod arbitrary;
pub mod canonical;
pub mod context;
pub mod output;
pub mod rules;
pub mod schema;
mod splice;
mod templates;

use std::collections::BTreeMap;

use ladder_model::{App, Environment, LoadOptions, Problem, Problems, Tenant};
use serde_json::Value;

pub use ladder_threads::ThreadBudget;
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

/// Documents below which a chunk is not worth a thread of its own.
const MIN_CHUNK: usize = 32;

/// How to render.
#[derive(Default)]
pub struct RenderOptions<'a> {
    /// The environments to render; empty means all.
    pub only: &'a [String],
    /// The platform's policy, which output is checked against as well as input.
    pub policy: LoadOptions,
    /// Argo CD's JSON Schemas, when the caller wants documents checked against them too.
    pub schemas: Option<&'a Schemas>,
    /// The thread budget the documents are rendered within (the calling thread counts
    /// as one worker); the default is the process's. A daemon rendering many tenants at
    /// once gives them one shared budget.
    pub budget: ThreadBudget,
    /// Where the tenant's folder is inside its Git repository (`""`: the root; a
    /// platform monorepo: e.g. `tenants/acme`). Paths in the tenant's files are relative
    /// to that folder; Argo CD reads the repository from its root, so every config-repo
    /// path in the output is prefixed with it.
    pub subfolder: &'a str,
}

/// Renders a tenant's environments; on failure, returns every problem found.
pub fn render(tenant: &Tenant, options: &RenderOptions) -> Result<Rendering, Problems> {
    let templates = Templates::compile(&tenant.templates).map_err(Problems::sorted)?;
    let mut rendering = Rendering::default();
    let mut jobs = Vec::new();
    for env in &tenant.environments {
        if !options.only.is_empty() && !options.only.contains(&env.name) {
            continue;
        }
        rendering.environments.push(env.name.clone());
        if tenant.settings.argocd.render_projects {
            jobs.push(Job::Project(env));
        }
        jobs.extend(tenant.apps_in(env).map(|app| Job::Application(env, app)));
    }

    // Documents are independent: render them on the workers the budget allows, in
    // contiguous chunks so that the merge below is cheap and the output order does not
    // depend on scheduling.
    let results: Vec<Vec<JobResult>> = options.budget.map_chunks(&jobs, MIN_CHUNK, |part| {
        part.iter()
            .map(|job| job.render(tenant, &templates, options))
            .collect()
    });

    let mut problems = Vec::new();
    for result in results.into_iter().flatten() {
        match result {
            Ok((path, bytes)) => {
                rendering.files.insert(path, bytes);
            }
            Err(broken) => problems.extend(broken),
        }
    }
    if problems.is_empty() {
        Ok(rendering)
    } else {
        // A template error hits every document the template renders: say it once.
        Err(Problems::sorted(templates.collapse(problems)))
    }
}

/// A rendered document's path and bytes, or everything wrong with it.
type JobResult = Result<(String, Vec<u8>), Vec<Problem>>;

/// One document to render.
enum Job<'a> {
    Project(&'a Environment),
    Application(&'a Environment, &'a App),
}

impl Job<'_> {
    /// Renders the document: its output path and bytes, or everything wrong with it.
    fn render(&self, tenant: &Tenant, templates: &Templates, options: &RenderOptions) -> JobResult {
        let argocd_namespace = &tenant.settings.argocd.namespace;
        match *self {
            Job::Project(env) => {
                let project = tenant.project_name(env);
                let destination_name = tenant.destination_name(env);
                let expect = rules::ExpectedProject {
                    name: &project,
                    namespace: argocd_namespace,
                    destination_name: &destination_name,
                    policy: &options.policy,
                };
                let what = format!("AppProject {project} (environment {})", env.name);
                let bytes = render_document(
                    templates,
                    templates::APPPROJECT,
                    context::appproject(tenant, env, &options.policy),
                    &what,
                    |doc| with_schema(rules::check_appproject(doc, &expect), doc, options.schemas),
                )?;
                Ok((format!("{}/appproject.yaml", env.name), bytes))
            }
            Job::Application(env, app) => {
                let project = tenant.project_name(env);
                let destination_name = tenant.destination_name(env);
                let name = app.application_name(&env.name);
                let namespace = tenant.app_namespace(app, env);
                let expect = rules::ExpectedApplication {
                    name: &name,
                    namespace: argocd_namespace,
                    project: &project,
                    destination_name: &destination_name,
                    destination_namespace: &namespace,
                    finalizer: env.finalizer.argo_finalizer(),
                };
                let what = format!(
                    "Application {name} (app {}, environment {})",
                    app.name, env.name
                );
                let bytes = render_document(
                    templates,
                    templates::APPLICATION,
                    context::application(tenant, env, app, options.subfolder),
                    &what,
                    |doc| with_schema(rules::check_application(doc, &expect), doc, options.schemas),
                )?;
                Ok((
                    format!("{}/applications/{}.yaml", env.name, app.name),
                    bytes,
                ))
            }
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
    context: Value,
    what: &str,
    check: impl FnOnce(&Value) -> Vec<String>,
) -> Result<Vec<u8>, Vec<Problem>> {
    let file = templates.file(template).to_string();
    let rendered = templates.render(template, context).map_err(|mut problem| {
        problem.message = format!("{what}: {}", problem.message);
        vec![problem]
    })?;
    let mut doc = templates.parse(&rendered).map_err(|e| {
        let text = rendered.text();
        let line = text.lines().nth(e.position.line.saturating_sub(1)).unwrap_or("");
        vec![Problem::in_file(
            &file,
            format!(
                "{what}: the rendered document is not valid YAML at its line {}, column {}: {}; that line reads `{}`",
                e.position.line,
                e.position.column,
                e.message,
                line.trim_end()
            ),
        )]
    })?;
    if !doc.is_object() {
        return Err(vec![Problem::in_file(
            &file,
            format!("{what}: the rendered document is not a mapping"),
        )]);
    }
    if let Err(why) = canonical::strip_nulls(&mut doc) {
        return Err(vec![Problem::in_file(
            &file,
            format!("{what}: {why} is null; lists must not hold null"),
        )]);
    }
    let broken = check(&doc);
    if !broken.is_empty() {
        return Err(broken
            .into_iter()
            .map(|message| Problem::in_file(&file, format!("{what}: {message}")))
            .collect());
    }
    Ok(canonical::to_yaml(&doc).into_bytes())
}

//! The Handlebars side: built-in templates, tenant overrides, and the helpers that keep
//! values from changing a document's structure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use ladder_model::yaml::{Position, SyntaxError};
use ladder_model::{Problem, TEMPLATE_NAMES, TemplateFile, did_you_mean};

use crate::splice::{self, Rendered, Skeletons};

pub const APPLICATION: &str = "application";
pub const APPPROJECT: &str = "appproject";

const BUILT_IN: [(&str, &str, &str); 2] = [
    (
        APPLICATION,
        "application.yaml.hbs",
        include_str!("../../../templates/application.yaml.hbs"),
    ),
    (
        APPPROJECT,
        "appproject.yaml.hbs",
        include_str!("../../../templates/appproject.yaml.hbs"),
    ),
];

/// A compiled set of templates and the file each came from, for messages.
pub struct Templates {
    registry: Handlebars<'static>,
    files: HashMap<String, String>,
    skeletons: Skeletons,
    /// Every distinct render failure so far, as [`Templates::render`] reported it, so that
    /// [`Templates::collapse`] can report each once however many documents it broke.
    failures: Mutex<BTreeSet<Problem>>,
}

impl Templates {
    /// Compiles the built-in templates with the tenant's overrides on top.
    pub fn compile(overrides: &[TemplateFile]) -> Result<Self, Vec<Problem>> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.set_prevent_indent(true);
        // `{{value}}` writes a quoted scalar, so plain interpolation cannot inject YAML.
        registry.register_escape_fn(|text| serde_json::to_string(text).expect("strings serialize"));
        registry.register_helper("yaml", Box::new(YamlHelper));

        let mut files = HashMap::new();
        let mut problems = Vec::new();
        for (name, file_name, text) in BUILT_IN {
            let overridden = overrides.iter().find(|t| t.name == file_name);
            let (file, text) = match overridden {
                Some(t) => (format!("templates/{}", t.name), t.text.as_str()),
                None => (format!("<built-in>/templates/{file_name}"), text),
            };
            if let Err(e) = registry.register_template_string(name, text) {
                problems.push(template_problem(&file, &e));
            }
            files.insert(name.to_string(), file);
        }
        for partial in overrides
            .iter()
            .filter(|t| !TEMPLATE_NAMES.contains(&t.name.as_str()))
        {
            let name = partial
                .name
                .trim_start_matches('_')
                .trim_end_matches(".hbs")
                .to_string();
            let file = format!("templates/{}", partial.name);
            if let Err(e) = registry.register_partial(&name, partial.text.as_str()) {
                problems.push(template_problem(&file, &e));
            }
            files.insert(name, file);
        }
        if problems.is_empty() {
            // What is wrong whatever the context (a helper or partial that does not
            // exist) is reported here, once, rather than by every document's render.
            problems.extend(check_references(&registry, &files));
        }
        if problems.is_empty() {
            Ok(Templates {
                registry,
                files,
                skeletons: Skeletons::default(),
                failures: Mutex::default(),
            })
        } else {
            Err(problems)
        }
    }

    /// The file a template was loaded from, e.g. `templates/application.yaml.hbs`.
    pub fn file<'a>(&'a self, name: &'a str) -> &'a str {
        self.files.get(name).map(String::as_str).unwrap_or(name)
    }

    /// Renders one template; errors name the template file, line and column. Takes the
    /// context by value: handlebars would otherwise copy it.
    pub fn render(&self, name: &str, context: serde_json::Value) -> Result<Rendered, Problem> {
        let context = Context::from(context);
        let (result, values) = splice::record(|| self.registry.render_with_context(name, &context));
        let skeleton = result.map_err(|e| {
            let template = e.template_name.clone().unwrap_or_else(|| name.to_string());
            let file = self.file(&template).to_string();
            let message = format!("cannot render: {}", reason_text(e.reason(), context.data()));
            let problem = match (e.line_no, e.column_no) {
                (Some(line), Some(column)) => {
                    Problem::at(&file, Position { line, column }, message)
                }
                _ => Problem::in_file(&file, message),
            };
            self.failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(problem.clone());
            problem
        })?;
        Ok(Rendered { skeleton, values })
    }

    /// Reports each distinct render failure once. A caller that prefixes a failure from
    /// [`Templates::render`] with the document it was rendering (`Application web-dev
    /// (app web, environment dev): cannot render: ...`) passes every problem of the run
    /// through here: the failures of one template position with one cause become one
    /// problem naming the first document and how many more it broke. Other problems pass
    /// through unchanged.
    pub fn collapse(&self, problems: Vec<Problem>) -> Vec<Problem> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if failures.is_empty() {
            return problems;
        }
        // Per failure: the documents it broke, in the order given; then the rest.
        let mut groups: BTreeMap<&Problem, Vec<String>> = BTreeMap::new();
        let mut order = Vec::new();
        let mut others = Vec::new();
        for problem in problems {
            let failure = failures.iter().find(|f| {
                f.file == problem.file
                    && f.position == problem.position
                    && (problem.message == f.message
                        || problem.message.ends_with(&format!(": {}", f.message)))
            });
            match failure {
                Some(failure) => {
                    let what = problem
                        .message
                        .strip_suffix(&failure.message)
                        .and_then(|w| w.strip_suffix(": "))
                        .unwrap_or("")
                        .to_string();
                    let documents = groups.entry(failure).or_default();
                    if documents.is_empty() {
                        order.push(failure);
                    }
                    documents.push(what);
                }
                None => others.push(problem),
            }
        }
        let mut collapsed: Vec<Problem> = order
            .into_iter()
            .map(|failure| {
                let mut documents = groups.remove(failure).unwrap_or_default();
                documents.sort();
                documents.dedup();
                let mut problem = failure.clone();
                problem.message = match documents.as_slice() {
                    [] => failure.message.clone(),
                    [one] if one.is_empty() => failure.message.clone(),
                    [one] => format!("{one}: {}", failure.message),
                    [first, rest @ ..] if first.is_empty() => {
                        format!("{} (in {} documents)", failure.message, rest.len() + 1)
                    }
                    [first, rest @ ..] => format!(
                        "{} (in {} documents: {first} and {} more)",
                        failure.message,
                        rest.len() + 1,
                        rest.len()
                    ),
                };
                problem
            })
            .collect();
        collapsed.extend(others);
        collapsed
    }

    /// Parses a rendered document (see [`splice`]).
    pub fn parse(&self, rendered: &Rendered) -> Result<serde_json::Value, SyntaxError> {
        self.skeletons.document(rendered)
    }
}

/// A render failure in the tenant's words: the names as written, no Rust internals.
fn reason_text(reason: &RenderErrorReason, context: &serde_json::Value) -> String {
    match reason {
        RenderErrorReason::MissingVariable(Some(path)) => {
            let root = path
                .trim_start_matches("@root.")
                .split(['.', '/', '['])
                .next()
                .unwrap_or("");
            let keys: Vec<&str> = context
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let hint = if keys.contains(&root) {
                String::new()
            } else {
                did_you_mean(root, &keys)
                    .map(|close| format!("; did you mean `{close}`?"))
                    .unwrap_or_default()
            };
            format!("`{path}` is not in the template's context{hint}")
        }
        RenderErrorReason::MissingVariable(None) => {
            "a value is not in the template's context".to_string()
        }
        RenderErrorReason::HelperNotFound(name) => format!("unknown helper `{name}`"),
        RenderErrorReason::PartialNotFound(name) => format!("unknown partial `{name}`"),
        RenderErrorReason::DecoratorNotFound(name) => format!("unknown decorator `{name}`"),
        RenderErrorReason::ParamNotFoundForIndex(helper, index) => {
            format!("`{helper}` needs parameter {}", index + 1)
        }
        RenderErrorReason::ParamNotFoundForName(helper, name) => {
            format!("`{helper}` needs `{name}=`")
        }
        other => other.to_string(),
    }
}

/// Handlebars' own helpers, which every template has besides [`YamlHelper`].
const BUILT_IN_HELPERS: [&str; 16] = [
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not",
];

/// Helm's helpers, which tenants coming from Helm charts reach for first.
const HELM_HELPERS: [&str; 6] = ["toYaml", "toJson", "quote", "indent", "nindent", "default"];

/// Checks what every template and partial refers to by name: helpers, partials and
/// decorators that do not exist fail every render whatever its context, so they are
/// reported here, once each, at the place they are used.
fn check_references(
    registry: &Handlebars<'static>,
    files: &HashMap<String, String>,
) -> Vec<Problem> {
    let templates = registry.get_templates();
    // Inline partials (`{{#*inline "name"}}`) may be used in any template that includes
    // the one defining them: any definition anywhere counts.
    let mut inline = BTreeSet::new();
    for template in templates.values() {
        walk(template, None, &mut |element, _| {
            if let TemplateElement::DecoratorExpression(d) | TemplateElement::DecoratorBlock(d) =
                element
                && d.name.as_name() == Some("inline")
                && let Some(name) = d.params.first().and_then(literal_name)
            {
                inline.insert(name);
            }
        });
    }

    let mut checker = References {
        registry,
        inline,
        helpers: HashMap::new(),
        problems: Vec::new(),
    };
    let mut names: Vec<&String> = templates.keys().collect();
    names.sort();
    for name in names {
        let file = files.get(name).map(String::as_str).unwrap_or(name);
        walk(&templates[name], None, &mut |element, position| {
            checker.element(file, element, position);
        });
    }
    checker.problems
}

/// A line and column in a template file, both from 1.
type LineColumn = (usize, usize);

/// Calls `visit` on every element of a template and of the blocks nested in it, with the
/// element's line and column in its file (a nested element without a position of its own
/// gets its parent's).
fn walk(
    template: &Template,
    parent: Option<LineColumn>,
    visit: &mut dyn FnMut(&TemplateElement, Option<LineColumn>),
) {
    for (i, element) in template.elements.iter().enumerate() {
        let position = template.mapping.get(i).map(|m| (m.0, m.1)).or(parent);
        visit(element, position);
        let nested: [Option<&Template>; 2] = match element {
            TemplateElement::HelperBlock(h)
            | TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h) => [h.template.as_ref(), h.inverse.as_ref()],
            TemplateElement::DecoratorBlock(d)
            | TemplateElement::DecoratorExpression(d)
            | TemplateElement::PartialBlock(d)
            | TemplateElement::PartialExpression(d) => [d.template.as_ref(), None],
            _ => [None, None],
        };
        for template in nested.into_iter().flatten() {
            walk(template, position, visit);
        }
    }
}

/// A name written as a string literal, as in `{{#*inline "name"}}` or `{{> "name"}}`.
fn literal_name(parameter: &Parameter) -> Option<String> {
    match parameter {
        Parameter::Literal(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

struct References<'a> {
    registry: &'a Handlebars<'static>,
    inline: BTreeSet<String>,
    /// Whether a helper exists, by name, as found out so far.
    helpers: HashMap<String, bool>,
    problems: Vec<Problem>,
}

impl References<'_> {
    fn element(&mut self, file: &str, element: &TemplateElement, at: Option<LineColumn>) {
        match element {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                // `{{name}}` alone is a value unless a helper has that name; with
                // parameters or a hash it is a helper call.
                let call = !h.params.is_empty() || !h.hash.is_empty();
                if call {
                    self.helper(file, &h.name, at);
                }
                self.parameters(file, h.params.iter().chain(h.hash.values()), at);
            }
            TemplateElement::HelperBlock(h) => {
                self.helper(file, &h.name, at);
                self.parameters(file, h.params.iter().chain(h.hash.values()), at);
            }
            TemplateElement::DecoratorExpression(d) | TemplateElement::DecoratorBlock(d) => {
                if let Some(name) = d.name.as_name()
                    && name != "inline"
                {
                    self.problem(
                        file,
                        at,
                        format!(
                            "template: unknown decorator `{name}`; the one decorator is `inline`"
                        ),
                    );
                }
                self.parameters(file, d.params.iter().chain(d.hash.values()), at);
            }
            TemplateElement::PartialExpression(d) => {
                let name = match &d.name {
                    Parameter::Name(_) | Parameter::Path(_) => d.name.as_name().map(String::from),
                    other => literal_name(other),
                };
                if let Some(name) = name
                    && !name.starts_with('@')
                    && !self.inline.contains(&name)
                    && !self.registry.has_template(&name)
                {
                    let mut known: Vec<&str> = self
                        .registry
                        .get_templates()
                        .keys()
                        .map(String::as_str)
                        .chain(self.inline.iter().map(String::as_str))
                        .collect();
                    known.sort();
                    let hint = match did_you_mean(&name, &known) {
                        Some(close) => format!("; did you mean `{close}`?"),
                        None => format!("; a partial `{name}` is the file `templates/_{name}.hbs`"),
                    };
                    self.problem(
                        file,
                        at,
                        format!("template: unknown partial `{name}`{hint}"),
                    );
                }
                self.parameters(file, d.params.iter().chain(d.hash.values()), at);
            }
            TemplateElement::PartialBlock(d) => {
                // A partial block renders its own content when the partial is missing.
                self.parameters(file, d.params.iter().chain(d.hash.values()), at);
            }
            _ => {}
        }
    }

    /// Subexpressions, `(helper ...)`, among parameters are always helper calls.
    fn parameters<'p>(
        &mut self,
        file: &str,
        parameters: impl Iterator<Item = &'p Parameter>,
        at: Option<LineColumn>,
    ) {
        for parameter in parameters {
            if let Parameter::Subexpression(sub) = parameter {
                self.element(file, sub.as_element(), at);
                if let TemplateElement::Expression(h) = sub.as_element()
                    && h.params.is_empty()
                    && h.hash.is_empty()
                {
                    // `(name)` calls a helper too, with no parameters.
                    self.helper(file, &h.name, at);
                }
            }
        }
    }

    fn helper(&mut self, file: &str, name: &Parameter, at: Option<LineColumn>) {
        // A computed name (a subexpression) is only known while rendering.
        let Some(name) = name.as_name() else {
            return;
        };
        if self.helper_exists(name) {
            return;
        }
        let mut known: Vec<&str> = BUILT_IN_HELPERS.to_vec();
        known.push("yaml");
        let hint = if HELM_HELPERS.contains(&name) {
            format!(
                "; `{name}` is Helm's: here `{{{{yaml x}}}}` writes any value as YAML and `{{{{x}}}}` a quoted string"
            )
        } else {
            match did_you_mean(name, &known) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!(
                    "; the helpers are `yaml` and Handlebars' built-ins ({})",
                    BUILT_IN_HELPERS.join(", ")
                ),
            }
        };
        self.problem(file, at, format!("template: unknown helper `{name}`{hint}"));
    }

    /// Whether the registry has a helper of this name: ladder's and Handlebars' are
    /// known; any other name is asked of the registry by rendering a call to it.
    fn helper_exists(&mut self, name: &str) -> bool {
        if name == "yaml" || name == "len" || BUILT_IN_HELPERS.contains(&name) {
            return true;
        }
        if let Some(&exists) = self.helpers.get(name) {
            return exists;
        }
        let exists = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && match self
                .registry
                .render_template(&format!("{{{{#if ({name})}}}}{{{{/if}}}}"), &())
            {
                Ok(_) => true,
                Err(e) => !matches!(e.reason(), RenderErrorReason::HelperNotFound(_)),
            };
        self.helpers.insert(name.to_string(), exists);
        exists
    }

    fn problem(&mut self, file: &str, at: Option<LineColumn>, message: String) {
        self.problems.push(match at {
            Some((line, column)) => Problem::at(file, Position { line, column }, message),
            None => Problem::in_file(file, message),
        });
    }
}

fn template_problem(file: &str, e: &handlebars::TemplateError) -> Problem {
    let message = format!("template syntax: {}", e.reason());
    match e.pos() {
        Some((line, column)) => Problem::at(file, Position { line, column }, message),
        None => Problem::in_file(file, message),
    }
}

/// `{{yaml value}}`: writes any value as a JSON flow scalar or collection, which YAML reads
/// back as exactly that value, whatever characters it holds.
struct YamlHelper;

impl HelperDef for YamlHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("yaml", 0))?;
        if param.is_value_missing() {
            let path = param.relative_path().cloned().unwrap_or_default();
            return Err(RenderError::from(RenderErrorReason::MissingVariable(Some(
                path,
            ))));
        }
        out.write(&splice::write_value(param.value().clone()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn overrides(files: &[(&str, &str)]) -> Vec<TemplateFile> {
        files
            .iter()
            .map(|(name, text)| TemplateFile {
                name: name.to_string(),
                text: text.to_string(),
            })
            .collect()
    }

    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        match Templates::compile(&overrides(files)) {
            Ok(_) => Vec::new(),
            Err(problems) => ladder_model::Problems::sorted(problems)
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    #[test]
    fn the_built_in_templates_refer_to_nothing_missing() {
        assert_eq!(problems(&[]), Vec::<String>::new());
    }

    #[test]
    fn unknown_helpers_are_found_before_rendering_once_each() {
        let found = problems(&[(
            "application.yaml.hbs",
            "kind: {{toYaml kind}}\nx: {{#iff a}}{{/iff}}\n{{#each labels}}\n  y: {{yam this}}\n{{/each}}\nz: {{yaml (lookp a b)}}\nw: {{yaml (lookup a \"b\")}} {{#if (eq a b)}}{{/if}}\n",
        )]);
        assert_eq!(
            found,
            [
                "templates/application.yaml.hbs:1:7: template: unknown helper `toYaml`; `toYaml` is Helm's: here `{{yaml x}}` writes any value as YAML and `{{x}}` a quoted string",
                "templates/application.yaml.hbs:2:4: template: unknown helper `iff`; did you mean `if`?",
                "templates/application.yaml.hbs:4:6: template: unknown helper `yam`; did you mean `yaml`?",
                "templates/application.yaml.hbs:6:4: template: unknown helper `lookp`; did you mean `lookup`?",
            ]
        );
    }

    #[test]
    fn values_alone_are_left_to_the_render() {
        // `{{name}}` is a value, which only the context can tell exists.
        assert_eq!(
            problems(&[("application.yaml.hbs", "a: {{nosuch}}\nb: {{yaml x.y}}\n")]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn unknown_partials_and_decorators_are_found_before_rendering() {
        let found = problems(&[
            (
                "appproject.yaml.hbs",
                "{{> labelz}}\n{{> labels}}\n{{#> missing}}fallback{{/missing}}\n{{#*inline \"row\"}}r{{/inline}}\n{{> row}}\n{{*nope}}\n",
            ),
            ("_labels.hbs", "a: {{> nothing}}\n"),
        ]);
        assert_eq!(
            found,
            [
                "templates/_labels.hbs:1:4: template: unknown partial `nothing`; a partial `nothing` is the file `templates/_nothing.hbs`",
                "templates/appproject.yaml.hbs:1:1: template: unknown partial `labelz`; did you mean `labels`?",
                "templates/appproject.yaml.hbs:6:1: template: unknown decorator `nope`; the one decorator is `inline`",
            ]
        );
    }

    #[test]
    fn a_missing_value_names_it_and_suggests_a_close_one() {
        let templates =
            Templates::compile(&overrides(&[("application.yaml.hbs", "a: {{yaml nme}}\n")]))
                .unwrap_or_else(|_| panic!("compiles"));
        let problem = templates
            .render(APPLICATION, json!({"name": "web-dev"}))
            .err()
            .expect("fails");
        assert_eq!(
            problem.to_string(),
            "templates/application.yaml.hbs:1:4: cannot render: `nme` is not in the template's context; did you mean `name`?"
        );
    }

    #[test]
    fn one_render_failure_is_reported_once_for_every_document_it_broke() {
        let templates = Templates::compile(&overrides(&[(
            "application.yaml.hbs",
            "a: {{yaml nosuch}}\n",
        )]))
        .unwrap_or_else(|_| panic!("compiles"));
        let mut problems = Vec::new();
        for app in ["web", "docs", "shop"] {
            let mut problem = templates
                .render(APPLICATION, json!({"name": app}))
                .err()
                .expect("fails");
            problem.message = format!("Application {app}-dev: {}", problem.message);
            problems.push(problem);
        }
        let unrelated = Problem::in_file("ladder.yaml", "Application web-dev: something else");
        problems.push(unrelated.clone());
        let collapsed: Vec<String> = templates
            .collapse(problems)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            collapsed,
            [
                "templates/application.yaml.hbs:1:4: cannot render: `nosuch` is not in the template's context (in 3 documents: Application docs-dev and 2 more)".to_string(),
                unrelated.to_string(),
            ]
        );

        // A failure of one document alone keeps its name in front.
        let mut one = templates
            .render(APPLICATION, json!({}))
            .err()
            .expect("fails");
        one.message = format!("Application web-dev: {}", one.message);
        assert_eq!(
            templates.collapse(vec![one.clone()]),
            vec![one],
            "a single failure is unchanged"
        );
    }
}

//! The Handlebars side: built-in templates, tenant overrides, and the helpers that keep
//! values from changing a document's structure.

use std::collections::HashMap;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use ladder_model::yaml::SyntaxError;
use ladder_model::{Problem, TEMPLATE_NAMES, TemplateFile};

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
            Ok(Templates {
                registry,
                files,
                skeletons: Skeletons::default(),
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
            let message = format!("cannot render: {}", e.reason());
            match (e.line_no, e.column_no) {
                (Some(line), Some(column)) => Problem::at(
                    &file,
                    ladder_model::yaml::Position { line, column },
                    message,
                ),
                _ => Problem::in_file(&file, message),
            }
        })?;
        Ok(Rendered { skeleton, values })
    }

    /// Parses a rendered document (see [`splice`]).
    pub fn parse(&self, rendered: &Rendered) -> Result<serde_json::Value, SyntaxError> {
        self.skeletons.document(rendered)
    }
}

fn template_problem(file: &str, e: &handlebars::TemplateError) -> Problem {
    let message = format!("template syntax: {}", e.reason());
    match e.pos() {
        Some((line, column)) => {
            Problem::at(file, ladder_model::yaml::Position { line, column }, message)
        }
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

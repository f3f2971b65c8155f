//! Optional validation of rendered documents against Argo CD's JSON Schemas (converted
//! from its CRDs), for platforms that pin the schema of the Argo CD version they run.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read schema `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("schema `{}` is not valid JSON Schema: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The Application and AppProject schemas from one folder.
pub struct Schemas {
    application: jsonschema::Validator,
    appproject: jsonschema::Validator,
}

/// File names looked for in a schema folder, strictest first.
const APPLICATION_FILES: [&str; 2] = ["application.strict.schema.json", "application.schema.json"];
const APPPROJECT_FILES: [&str; 2] = ["appproject.strict.schema.json", "appproject.schema.json"];

impl Schemas {
    /// Loads `application[.strict].schema.json` and `appproject[.strict].schema.json`.
    pub fn load(dir: &Path) -> Result<Self, SchemaError> {
        Ok(Schemas {
            application: validator(dir, &APPLICATION_FILES)?,
            appproject: validator(dir, &APPPROJECT_FILES)?,
        })
    }

    /// Every schema violation in a document, as `<json pointer>: <message>`.
    pub fn check(&self, doc: &Value) -> Vec<String> {
        let validator = match doc.get("kind").and_then(Value::as_str) {
            Some("AppProject") => &self.appproject,
            _ => &self.application,
        };
        validator
            .iter_errors(doc)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect()
    }
}

fn validator(dir: &Path, names: &[&str]) -> Result<jsonschema::Validator, SchemaError> {
    let path = names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| dir.join(names[0]));
    let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Read {
        path: path.clone(),
        source,
    })?;
    let schema: Value = serde_json::from_str(&text).map_err(|e| SchemaError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    jsonschema::validator_for(&schema).map_err(|e| SchemaError::Invalid {
        path,
        message: e.to_string(),
    })
}

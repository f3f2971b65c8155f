//! Typed errors. Every error that points into the document carries a 1-based line and
//! column (in characters) so that a caller can print `file:line:col: message`.

use thiserror::Error;

/// A position in the edited text: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    #[error("invalid YAML: {message}; fix the file first (nothing was changed)")]
    Syntax { at: Location, message: String },

    #[error("invalid path {path:?} at character {offset}: {message}")]
    PathSyntax {
        path: String,
        offset: usize,
        message: String,
    },

    #[error("no such path '{path}': {detail}")]
    NoSuchPath {
        path: String,
        /// The longest prefix of the path that exists (empty for the document root).
        deepest: String,
        detail: String,
        at: Location,
    },

    #[error("'{path}' is {found}, not {expected}")]
    WrongKind {
        path: String,
        found: &'static str,
        expected: &'static str,
        at: Location,
    },

    #[error(
        "'{path}' is reached through alias *{anchor}; editing it would change every place \
         that uses anchor &{anchor} (line {anchor_line}); edit the anchor itself or replace the alias"
    )]
    BehindAlias {
        path: String,
        anchor: String,
        anchor_line: usize,
        at: Location,
    },

    #[error("key '{key}' appears more than once in this mapping; YAML keys must be unique")]
    DuplicateKey { key: String, at: Location },

    #[error(
        "selector [{selector}] in '{path}' matches {count} items; make it unique or use an index"
    )]
    AmbiguousSelector {
        path: String,
        selector: String,
        count: usize,
        at: Location,
    },

    #[error("{message}")]
    Document { message: String },

    /// Several documents could be meant; the caller must pick one.
    #[error("the file holds {count} documents; choose one by its index (0-based) or by kind/name")]
    AmbiguousDocument { count: usize },

    /// Several documents have the kind and name asked for; only an index tells them apart.
    #[error("{count} documents are {kind}/{name}; choose one by its index (0-based)")]
    AmbiguousKindName {
        count: usize,
        kind: String,
        name: String,
    },

    #[error("'{path}' is edited twice in one batch; give each path once")]
    DuplicateEdit { path: String },

    #[error("invalid {kind} value {value:?}: {message}")]
    InvalidValue {
        kind: &'static str,
        value: String,
        message: String,
    },

    /// The new text cannot be a value of the type the old value has (an int replaced
    /// by `three`); the caller decides whether to change the type.
    #[error(
        "'{path}' holds {} ({old}) and {value:?} is not one; writing it would make the value {}",
        article(old_kind),
        article(suggested)
    )]
    TypeMismatch {
        path: String,
        /// `int`, `float` or `bool`.
        old_kind: &'static str,
        /// The old value as the file writes it.
        old: String,
        value: String,
        /// The type `value` has when read on its own: `string`, `int`, `float` or `bool`.
        suggested: &'static str,
        at: Location,
    },

    #[error("cannot edit '{path}': {message}")]
    Unsupported {
        path: String,
        message: String,
        at: Location,
    },

    /// The edited text did not re-parse to the expected tree. This is a bug in yamledit;
    /// the original text is left untouched.
    #[error("internal error, the edit was not applied (please report): {message}")]
    Verification { message: String },
}

impl Error {
    /// Where in the document the error points, if anywhere.
    pub fn location(&self) -> Option<Location> {
        match self {
            Error::Syntax { at, .. }
            | Error::NoSuchPath { at, .. }
            | Error::WrongKind { at, .. }
            | Error::BehindAlias { at, .. }
            | Error::DuplicateKey { at, .. }
            | Error::AmbiguousSelector { at, .. }
            | Error::TypeMismatch { at, .. }
            | Error::Unsupported { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// True when the error means "the path does not exist" (as opposed to a broken
    /// file or a refused edit); the CLI maps it to its own exit code.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NoSuchPath { .. })
    }
}

/// `an int`, `a string`...
fn article(kind: &str) -> String {
    match kind {
        "int" => "an int".into(),
        k => format!("a {k}"),
    }
}

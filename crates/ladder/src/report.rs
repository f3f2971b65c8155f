//! How every command ends: one exit-code scheme, and errors printed as text on stderr
//! or, with `--output json`, as one JSON object on stdout.
//!
//! Commands return `anyhow::Result<ExitCode>`: `Ok` for what they reported themselves
//! (success, problems, differences), `Err` for everything else, which `main` hands to
//! [`print_error`] with the command's `--output`. An error that knows its exit code or
//! its place in a file is a [`Failure`]; the others are classified by their causes
//! ([`exit_for`]).

use std::process::ExitCode;

use crate::OutputFormat;

/// The exit codes, shown by `--help` of every command.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success (information, such as a blocked promotion, is not an error)
  1  the input has a problem: a config error, a file or YAML path that does not exist,
     a refused edit or request, differences under --check
  2  usage error: an unknown flag, a missing or malformed argument
  3  the environment failed: the file system, the network, a remote, a timeout";

/// What kind of failure ended a command, and its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the config, a file or an argument's target has a problem; a request was
    /// refused.
    Input = 1,
    /// 2: the command line itself is wrong.
    Usage = 2,
    /// 3: the file system, the network, a remote or a timeout failed.
    Environment = 3,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// An error the binary words itself: what went wrong, where in which file, and how it
/// exits.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// The file the message is about, as the user named it.
    pub file: Option<String>,
    /// 1-based line and column in `file`.
    pub at: Option<(usize, usize)>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            file: None,
            at: None,
        }
    }

    pub fn in_file(mut self, file: impl Into<String>, at: Option<(usize, usize)>) -> Self {
        self.file = Some(file.into());
        self.at = at;
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.at) {
            (Some(file), Some((line, column))) => {
                write!(f, "{file}:{line}:{column}: {}", self.message)
            }
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}

/// The exit class of an error: a [`Failure`] says it; the engine's git and tree errors
/// and the output folder's I/O errors are the environment; an I/O error is bad input
/// when the named file or folder does not exist (or is of the wrong kind), the
/// environment otherwise (permissions, a full disk...); everything else is bad input.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    if let Some(f) = err.chain().find_map(|c| c.downcast_ref::<Failure>()) {
        return f.exit;
    }
    let environment = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ladder_render::OutputError>(),
            Some(ladder_render::OutputError::Io { .. })
        ) || cause
            .downcast_ref::<crate::tenant_args::Advised>()
            .map(|a| &a.err)
            .or_else(|| cause.downcast_ref::<ladder_engine::Error>())
            .is_some_and(|e| {
                matches!(
                    e,
                    ladder_engine::Error::Git { .. } | ladder_engine::Error::Tree(_)
                )
            })
    });
    if environment {
        return Exit::Environment;
    }
    if let Some(io) = err.chain().find_map(|c| c.downcast_ref::<std::io::Error>()) {
        use std::io::ErrorKind as K;
        return match io.kind() {
            K::NotFound | K::IsADirectory | K::NotADirectory | K::InvalidData => Exit::Input,
            _ => Exit::Environment,
        };
    }
    Exit::Input
}

/// The error's message: its causes joined by `: `, each cause once (errors that print
/// their source in their own message are common, and the OS error would appear twice).
pub fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = without_temp_paths(&cause.to_string());
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The OS's words for an I/O error (`Permission denied (os error 13)`), without the
/// paths some wrappers add to it: tempfile's errors end in `at path "/x/.tmp-Ab12"`, a
/// name the user never chose. Without an OS code, the error kind's words.
pub fn os_text(err: &std::io::Error) -> String {
    if let Some(code) = err.raw_os_error() {
        return std::io::Error::from_raw_os_error(code).to_string();
    }
    let mut cause = err
        .get_ref()
        .map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(c) = cause {
        if let Some(code) = c
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
        {
            return std::io::Error::from_raw_os_error(code).to_string();
        }
        cause = c.source();
    }
    err.kind().to_string()
}

/// `text` without the ` at path "..."` that tempfile appends to its I/O errors: the
/// name of a temporary file the user never chose, in Rust's debug quoting.
fn without_temp_paths(text: &str) -> String {
    const MARK: &str = " at path \"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + MARK.len()..];
        // The quoted path ends at the first `"` not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (j, c) in after.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(j + 1);
                    break;
                }
                _ => {}
            }
        }
        match end {
            Some(end) => rest = &after[end..],
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The error as the JSON object `--output json` prints:
/// `{"ok": false, "error": {"message", "file"?, "line"?, "column"?}}`.
pub fn error_json(err: &anyhow::Error) -> serde_json::Value {
    let mut error = serde_json::Map::new();
    match err.downcast_ref::<Failure>() {
        Some(f) => {
            error.insert("message".into(), f.message.clone().into());
            if let Some(file) = &f.file {
                error.insert("file".into(), file.clone().into());
            }
            if let Some((line, column)) = f.at {
                error.insert("line".into(), line.into());
                error.insert("column".into(), column.into());
            }
        }
        None => {
            error.insert("message".into(), message(err).into());
        }
    }
    serde_json::json!({"ok": false, "error": error})
}

/// Prints an error the way the command's `--output` asks and returns its exit code:
/// text on stderr (`file:line:col: error: message`, or `error: message`), or one JSON
/// object on stdout ([`error_json`]). Every command's errors end here (`main` calls it),
/// so a command only returns them.
pub fn print_error(output: OutputFormat, err: &anyhow::Error) -> ExitCode {
    let exit = exit_for(err);
    tracing::debug!(exit = exit as u8, error = ?err, "failed");
    match output {
        OutputFormat::Text => match err.downcast_ref::<Failure>() {
            Some(Failure {
                file: Some(file),
                at,
                message,
                ..
            }) => match at {
                Some((line, column)) => eprintln!("{file}:{line}:{column}: error: {message}"),
                None => eprintln!("{file}: error: {message}"),
            },
            _ => eprintln!("error: {}", message(err)),
        },
        OutputFormat::Json => println!("{}", error_json(err)),
    }
    exit.code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_os_error_appears_once() {
        #[derive(Debug)]
        struct Wrapped {
            source: std::io::Error,
        }
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot write `x`: {}", self.source)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let text = io.to_string();
        let err = Err::<(), _>(Wrapped { source: io })
            .context("writing out")
            .unwrap_err();
        let message = message(&err);
        assert_eq!(message, format!("writing out: cannot write `x`: {text}"));
        assert_eq!(exit_for(&err), Exit::Environment);
    }

    #[test]
    fn temp_file_names_are_left_out() {
        assert_eq!(
            without_temp_paths(
                "cannot create a folder in `/o`: Permission denied (os error 13) at path \"/o/.out.tmp-Ab\\\"c\": more"
            ),
            "cannot create a folder in `/o`: Permission denied (os error 13): more"
        );
        assert_eq!(without_temp_paths("at path \"x"), "at path \"x");
    }

    #[test]
    fn classes() {
        let missing = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound))
            .context("cannot read x");
        assert_eq!(exit_for(&missing), Exit::Input);
        assert_eq!(exit_for(&anyhow::anyhow!("bad config")), Exit::Input);
        let usage = anyhow::Error::new(Failure::new(Exit::Usage, "bad flag"));
        assert_eq!(exit_for(&usage), Exit::Usage);
    }

    #[test]
    fn json_errors() {
        let err = anyhow::Error::new(
            Failure::new(Exit::Input, "no such path 'a'").in_file("v.yaml", Some((3, 1))),
        );
        assert_eq!(
            error_json(&err),
            serde_json::json!({"ok": false, "error": {
                "message": "no such path 'a'", "file": "v.yaml", "line": 3, "column": 1}})
        );
        let err = anyhow::anyhow!("plain");
        assert_eq!(
            error_json(&err),
            serde_json::json!({"ok": false, "error": {"message": "plain"}})
        );
    }
}

//! `ladder get` and `ladder set`: read or change one value in a YAML file, keeping every
//! other byte (comments, blank lines, quoting, order). A comment-preserving `yq` for the
//! one job of setting values.
//!
//! Exit codes are the binary's (see `report`): 1 for a file that does not exist, invalid
//! YAML, a missing path or a refused edit; 2 for a malformed path, `--also` or value for
//! `--type`; 3 when a file cannot be read or written.

use clap::{Args, ValueEnum};
use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use yamledit::{DocSelector, Edit, Error, Path, Value};

use crate::OutputFormat;
use crate::report::{Exit, Failure};

/// Which document of a multi-document file to use.
#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct DocArgs {
    /// Use document N of a multi-document file (counted from 0).
    #[arg(long, value_name = "N")]
    pub doc: Option<usize>,
    /// Use the document with this kind and metadata.name, e.g. Deployment/web.
    #[arg(long, value_name = "KIND/NAME", value_parser = parse_select)]
    pub select: Option<DocSelector>,
}

impl DocArgs {
    fn selector(&self) -> DocSelector {
        match (&self.doc, &self.select) {
            (Some(n), _) => DocSelector::Index(*n),
            (None, Some(s)) => s.clone(),
            (None, None) => DocSelector::Auto,
        }
    }
}

fn parse_select(text: &str) -> Result<DocSelector, Error> {
    text.parse()
}

fn parse_path(text: &str) -> Result<Path, Error> {
    Path::parse(text)
}

/// Print the value at PATH in a YAML file.
///
/// With --output json the value is printed as JSON (strings quoted, numbers and booleans
/// typed), and errors as {"ok": false, "error": {...}}.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The YAML file, or - for standard input.
    pub file: PathBuf,
    /// Path to a scalar: image.tag, containers[0].image, images[name=web].newTag,
    /// podAnnotations."prometheus.io/port".
    #[arg(value_parser = parse_path)]
    pub path: Path,
    #[command(flatten)]
    pub doc: DocArgs,
    /// How to print the value (and errors).
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Always a string: quoted when YAML would read it as another type ('1.20', 'true').
    String,
    /// A whole number, written plain (3, -10).
    Int,
    /// A number, written plain (1.5, 1000.0).
    Float,
    /// true or false, written plain.
    Bool,
}

impl ValueType {
    fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
        }
    }
}

/// One `--also` edit: `PATH=VALUE`, or `PATH:TYPE=VALUE` with its own type.
#[derive(Debug, Clone)]
pub struct AlsoEdit {
    pub path: Path,
    pub value_type: Option<ValueType>,
    pub value: String,
}

/// Splits `PATH[:TYPE]=VALUE` at the first `=` outside a `[...]` selector and a quoted
/// key, so that `images[name=web].newTag=v2` is the path `images[name=web].newTag`.
fn parse_also(text: &str) -> Result<AlsoEdit, String> {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    let mut split = None;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            '=' if !quoted && depth == 0 => {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(i) = split else {
        return Err("write PATH=VALUE or PATH:TYPE=VALUE (TYPE: string, int, float, bool)".into());
    };
    let (mut path, value) = (&text[..i], &text[i + 1..]);
    let mut value_type = None;
    for ty in ValueType::value_variants() {
        if let Some(p) = path.strip_suffix(&format!(":{}", ty.name())) {
            path = p;
            value_type = Some(*ty);
            break;
        }
    }
    let path = Path::parse(path).map_err(|e| e.to_string())?;
    Ok(AlsoEdit {
        path,
        value_type,
        value: value.to_string(),
    })
}

/// Set the value at PATH in a YAML file, changing nothing else.
///
/// The file is rewritten atomically. A missing key is added, with its missing parent
/// mappings, in the indentation and quoting of the file. The new value keeps the type of
/// the value it replaces: over an int, 3 is written as an int and `three` is refused
/// (pass --type string to change the type); over a string, 3 is written as the string
/// '3'. A new key gets a string unless --type says otherwise.
///
/// With --output json, prints {"ok": true, "file", "changed", "edits": [{"path",
/// "value"}]} (and "text", the new file, when FILE is -), or the error as JSON.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The YAML file, or - to read standard input and write standard output.
    pub file: PathBuf,
    /// Path to the value, as for `ladder get`.
    #[arg(value_parser = parse_path)]
    pub path: Path,
    /// The new value.
    pub value: String,
    /// Write VALUE as this type [default: the type of the value it replaces; a string
    /// for a new key or an empty value].
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE")]
    pub value_type: Option<ValueType>,
    /// Also set PATH to VALUE in the same pass (repeatable). Without :TYPE it is written
    /// like VALUE: as --type says, else with the type of the value it replaces. A key
    /// whose name ends in :int (or another type) is quoted: "a:int"=3.
    #[arg(long = "also", value_name = "PATH[:TYPE]=VALUE", value_parser = parse_also)]
    pub also: Vec<AlsoEdit>,
    #[command(flatten)]
    pub doc: DocArgs,
    /// How to report the result (and errors).
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

fn is_stdin(file: &FsPath) -> bool {
    file.as_os_str() == "-"
}

fn display_name(file: &FsPath) -> String {
    if is_stdin(file) {
        "<stdin>".into()
    } else {
        file.display().to_string()
    }
}

fn read_input(file: &FsPath) -> anyhow::Result<String> {
    let started = Instant::now();
    let read = if is_stdin(file) {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(file)
    };
    let bytes = read.map_err(|e| io_failure(file, "cannot read it", &e))?;
    tracing::debug!(file = %display_name(file), bytes = bytes.len(), elapsed = ?started.elapsed(), "read");
    String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            Exit::Input,
            "not UTF-8 text; ladder edits YAML files in UTF-8",
        )
        .in_file(display_name(file), None)
        .into()
    })
}

/// A file that cannot be read or written: bad input when it does not exist or is not a
/// file, the environment failing otherwise (permissions, I/O).
fn io_failure(file: &FsPath, what: &str, err: &std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind as K;
    let (exit, message) = match err.kind() {
        K::NotFound => (Exit::Input, "no such file".to_string()),
        K::IsADirectory => (Exit::Input, "a folder, not a file".to_string()),
        _ => (Exit::Environment, format!("{what}: {err}")),
    };
    Failure::new(exit, message)
        .in_file(display_name(file), None)
        .into()
}

/// A yamledit error as the binary reports it: in the file, at its line and column, with
/// the flag that fixes it when there is one.
fn in_file(file: &FsPath, err: &Error, advice: &str) -> anyhow::Error {
    let advice = match err {
        Error::AmbiguousDocument { .. } => " (--doc N or --select KIND/NAME)",
        Error::AmbiguousKindName { .. } => " (--doc N)",
        _ => advice,
    };
    let exit = match err {
        Error::PathSyntax { .. } | Error::InvalidValue { .. } => Exit::Usage,
        _ => Exit::Input,
    };
    Failure::new(exit, format!("{err}{advice}"))
        .in_file(
            display_name(file),
            err.location().map(|at| (at.line, at.column)),
        )
        .into()
}

pub fn get(args: &GetArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.file)?;
    let started = Instant::now();
    let value = yamledit::get(&text, &args.doc.selector(), &args.path)
        .map_err(|e| in_file(&args.file, &e, ""))?;
    tracing::debug!(path = %args.path, elapsed = ?started.elapsed(), "looked up");
    let mut out = std::io::stdout().lock();
    match args.output {
        OutputFormat::Text => writeln!(out, "{value}")?,
        OutputFormat::Json => writeln!(out, "{}", value.to_json())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn typed(raw: &str, ty: ValueType) -> Result<Value, Error> {
    let invalid = |kind: &'static str, message: &str| Error::InvalidValue {
        kind,
        value: raw.to_string(),
        message: message.to_string(),
    };
    match ty {
        ValueType::String => Ok(Value::String(raw.to_string())),
        ValueType::Int => raw
            .trim()
            .parse()
            .map(Value::Int)
            .map_err(|_| invalid("int", "write a whole number like 3 or -10")),
        ValueType::Float => raw
            .trim()
            .parse()
            .map(Value::Float)
            .map_err(|_| invalid("float", "write a number like 1.5 or 1e3")),
        ValueType::Bool => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid("bool", "write true or false")),
        },
    }
}

/// The edit for one PATH and VALUE: typed as asked, else like the value it replaces.
fn edit(path: &Path, raw: &str, ty: Option<ValueType>, doc: &DocSelector) -> anyhow::Result<Edit> {
    let edit = match ty {
        Some(ty) => Edit::new(
            path.clone(),
            typed(raw, ty)
                .map_err(|e| anyhow::Error::new(Failure::new(Exit::Usage, e.to_string())))?,
        ),
        None => Edit::like_old(path.clone(), raw),
    };
    Ok(edit.in_doc(doc.clone()))
}

/// How to write a value whose type the file does not expect: the flag for the main
/// VALUE, the `--also` syntax for the others.
fn type_advice(args: &SetArgs, err: &Error) -> String {
    let Error::TypeMismatch {
        path,
        value,
        suggested,
        ..
    } = err
    else {
        return String::new();
    };
    if *path == args.path.to_string() {
        format!("; to change its type, pass --type {suggested}")
    } else {
        let also = format!("{path}:{suggested}={value}");
        format!(
            "; to change its type, write --also '{}'",
            also.replace('\'', r"'\''")
        )
    }
}

pub fn set(args: &SetArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.file)?;
    let doc = args.doc.selector();
    let mut edits = vec![edit(&args.path, &args.value, args.value_type, &doc)?];
    for also in &args.also {
        let ty = also.value_type.or(args.value_type);
        edits.push(edit(&also.path, &also.value, ty, &doc)?);
    }
    let started = Instant::now();
    let out = yamledit::set_many(&text, &edits)
        .map_err(|e| in_file(&args.file, &e, &type_advice(args, &e)))?;
    let changed = out != text;
    tracing::debug!(edits = edits.len(), changed, elapsed = ?started.elapsed(), "edited");
    if is_stdin(&args.file) {
        if args.output == OutputFormat::Text {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            stdout.flush()?;
        }
    } else if changed {
        let started = Instant::now();
        write_atomically(&args.file, out.as_bytes())?;
        tracing::debug!(file = %args.file.display(), elapsed = ?started.elapsed(), "written");
    }
    if args.output == OutputFormat::Json {
        let edited: Vec<_> = edits
            .iter()
            .map(|e| {
                let value = yamledit::get(&out, &e.doc, &e.path)
                    .map(|v| serde_json::from_str::<serde_json::Value>(&v.to_json()))
                    .ok()
                    .and_then(Result::ok);
                serde_json::json!({"path": e.path.to_string(), "value": value})
            })
            .collect();
        let mut report = serde_json::json!({
            "ok": true,
            "file": if is_stdin(&args.file) { "-".to_string() } else { args.file.display().to_string() },
            "changed": changed,
            "edits": edited,
        });
        if is_stdin(&args.file) {
            report["text"] = out.into();
        }
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Write through a temporary file in the same directory and rename it over the target,
/// so that a reader never sees half a file and a failure leaves the old file intact.
/// The file keeps its permissions; a symlink keeps pointing where it pointed. Any
/// failure is the environment's (exit 3), reported once with the OS's words.
fn write_atomically(file: &FsPath, bytes: &[u8]) -> anyhow::Result<()> {
    let fail = |what: String, err: std::io::Error| -> anyhow::Error {
        Failure::new(
            Exit::Environment,
            format!("cannot write it: {what}{}", crate::report::os_text(&err)),
        )
        .in_file(display_name(file), None)
        .into()
    };
    let target = std::fs::canonicalize(file).map_err(|e| fail(String::new(), e))?;
    let dir = target.parent().unwrap_or(FsPath::new("."));
    let perms = std::fs::metadata(&target)
        .map_err(|e| fail(String::new(), e))?
        .permissions();
    let in_dir = || format!("cannot create a file in {}: ", dir.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".ladder-set-")
        .tempfile_in(dir)
        .map_err(|e| fail(in_dir(), e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .and_then(|()| std::fs::set_permissions(tmp.path(), perms))
        .map_err(|e| fail(String::new(), e))?;
    tmp.persist(&target)
        .map_err(|e| fail(String::new(), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn also_splits_outside_selectors_and_quotes() {
        let e = parse_also("images[name=web].newTag=v2").unwrap();
        assert_eq!(e.path.to_string(), "images[name=web].newTag");
        assert_eq!((e.value.as_str(), e.value_type), ("v2", None));
        let e = parse_also("replicas:int=3").unwrap();
        assert_eq!(e.path.to_string(), "replicas");
        assert_eq!(
            (e.value.as_str(), e.value_type),
            ("3", Some(ValueType::Int))
        );
        let e = parse_also("a.\"k=v\"=x=y").unwrap();
        assert_eq!(e.path.to_string(), "a.\"k=v\"");
        assert_eq!(e.value, "x=y");
        let e = parse_also("image.tag=").unwrap();
        assert_eq!(e.value, "");
        assert!(parse_also("no-value").is_err());
        assert!(parse_also("a..b=1").is_err());
    }
}

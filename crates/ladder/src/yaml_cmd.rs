//! `ladder get` and `ladder set`: read or change one value in a YAML file, keeping every
//! other byte (comments, blank lines, quoting, order). A comment-preserving `yq` for the
//! one job of setting values.
//!
//! Exit codes: 0 success, 1 the path does not exist, 2 any other error (invalid YAML, a
//! refused edit, I/O, bad arguments).

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use yamledit::{DocSelector, Edit, Error, Path, Value};

const NOT_FOUND: u8 = 1;
const FAILURE: u8 = 2;

/// Which document of a multi-document file to use.
#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct DocArgs {
    /// Use document N of a multi-document file (counted from 0).
    #[arg(long, value_name = "N")]
    pub doc: Option<usize>,
    /// Use the document with this kind and metadata.name, e.g. Deployment/web.
    #[arg(long, value_name = "KIND/NAME")]
    pub select: Option<String>,
}

impl DocArgs {
    fn selector(&self) -> Result<DocSelector, Error> {
        match (&self.doc, &self.select) {
            (Some(n), _) => Ok(DocSelector::Index(*n)),
            (None, Some(s)) => s.parse(),
            (None, None) => Ok(DocSelector::Auto),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The bare value.
    Text,
    /// The value as JSON (strings quoted, numbers and booleans typed).
    Json,
}

const EXIT_CODES: &str = "Exit status: 0 done, 1 no such path, 2 any other error \
     (invalid YAML, a refused edit, I/O, bad arguments).";

/// Print the value at PATH in a YAML file.
#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct GetArgs {
    /// The YAML file, or - for standard input.
    pub file: PathBuf,
    /// Path to a scalar: image.tag, containers[0].image, images[name=web].newTag,
    /// podAnnotations."prometheus.io/port".
    pub path: String,
    #[command(flatten)]
    pub doc: DocArgs,
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub output: Output,
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

/// Set the value at PATH in a YAML file, changing nothing else.
///
/// The file is rewritten atomically. A missing key is added, with its missing parent
/// mappings, in the indentation of the mapping that receives it.
#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct SetArgs {
    /// The YAML file, or - to read standard input and write standard output.
    pub file: PathBuf,
    /// Path to the value, as for `ladder get`.
    pub path: String,
    /// The new value.
    pub value: String,
    /// How to write VALUE. Promotions write tags, which must stay strings.
    #[arg(long = "type", short = 't', value_enum, default_value_t = ValueType::String)]
    pub value_type: ValueType,
    /// Also set PATH=VALUE in the same pass (repeatable; uses the same --type).
    #[arg(long = "also", value_name = "PATH=VALUE")]
    pub also: Vec<String>,
    #[command(flatten)]
    pub doc: DocArgs,
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
    let bytes = if is_stdin(file) {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", display_name(file)))
}

/// Print `file:line:col: error: message` and return the exit code for it.
fn report(file: &FsPath, err: &Error) -> ExitCode {
    let name = display_name(file);
    let advice = match err {
        Error::AmbiguousDocument { .. } => " (--doc N or --select kind/name)",
        Error::AmbiguousKindName { .. } => " (--doc N)",
        _ => "",
    };
    match err.location() {
        Some(at) => eprintln!("{name}:{}:{}: error: {err}{advice}", at.line, at.column),
        None => eprintln!("{name}: error: {err}{advice}"),
    }
    ExitCode::from(if err.is_not_found() {
        NOT_FOUND
    } else {
        FAILURE
    })
}

fn io_failure(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::from(FAILURE)
}

fn parse_path(file: &FsPath, text: &str) -> Result<Path, ExitCode> {
    Path::parse(text).map_err(|e| report(file, &e))
}

pub fn get(args: &GetArgs) -> anyhow::Result<ExitCode> {
    let text = match read_input(&args.file) {
        Ok(t) => t,
        Err(e) => return Ok(io_failure(&e)),
    };
    let path = match parse_path(&args.file, &args.path) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let result = args
        .doc
        .selector()
        .and_then(|doc| yamledit::get(&text, &doc, &path));
    match result {
        Ok(value) => {
            let mut out = std::io::stdout().lock();
            match args.output {
                Output::Text => writeln!(out, "{value}")?,
                Output::Json => writeln!(out, "{}", value.to_json())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&args.file, &e)),
    }
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

pub fn set(args: &SetArgs) -> anyhow::Result<ExitCode> {
    let text = match read_input(&args.file) {
        Ok(t) => t,
        Err(e) => return Ok(io_failure(&e)),
    };
    let doc = match args.doc.selector() {
        Ok(d) => d,
        Err(e) => return Ok(report(&args.file, &e)),
    };
    let mut pairs = vec![(args.path.as_str(), args.value.as_str())];
    for kv in &args.also {
        let Some(pair) = kv.split_once('=') else {
            eprintln!("error: --also takes PATH=VALUE, got {kv:?}");
            return Ok(ExitCode::from(FAILURE));
        };
        pairs.push(pair);
    }
    let mut edits = Vec::with_capacity(pairs.len());
    for (p, v) in pairs {
        let path = match parse_path(&args.file, p) {
            Ok(p) => p,
            Err(code) => return Ok(code),
        };
        let value = match typed(v, args.value_type) {
            Ok(v) => v,
            Err(e) => return Ok(report(&args.file, &e)),
        };
        edits.push(Edit::new(path, value).in_doc(doc.clone()));
    }
    let out = match yamledit::set_many(&text, &edits) {
        Ok(out) => out,
        Err(e) => return Ok(report(&args.file, &e)),
    };
    if is_stdin(&args.file) {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    } else if out != text
        && let Err(e) = write_atomically(&args.file, out.as_bytes())
    {
        return Ok(io_failure(&e));
    }
    Ok(ExitCode::SUCCESS)
}

/// Write through a temporary file in the same directory and rename it over the target,
/// so that a reader never sees half a file and a failure leaves the old file intact.
/// The file keeps its permissions; a symlink keeps pointing where it pointed.
fn write_atomically(file: &FsPath, bytes: &[u8]) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(file)
        .with_context(|| format!("cannot resolve {}", file.display()))?;
    let dir = target.parent().unwrap_or(FsPath::new("."));
    let perms = std::fs::metadata(&target)
        .with_context(|| format!("cannot stat {}", file.display()))?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".ladder-set-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    std::fs::set_permissions(tmp.path(), perms)?;
    tmp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", file.display()))?;
    Ok(())
}

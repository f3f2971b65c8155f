//! Surgical YAML edits: read one scalar, or change one (or several) and keep every
//! other byte of the file as it was: comments, blank lines, indentation, quoting, key
//! order, other documents, line endings, a byte order mark.
//!
//! ```
//! use yamledit::{Path, Value};
//!
//! let text = "image:\n  repository: ghcr.io/acme/web\n  tag: v1.2.0  # promoted by ladder\n";
//! let path = Path::parse("image.tag").unwrap();
//! assert_eq!(yamledit::get(text, &Default::default(), &path).unwrap(), Value::from("v1.2.0"));
//! let out = yamledit::set(text, &path, "v1.3.0").unwrap();
//! assert_eq!(out, "image:\n  repository: ghcr.io/acme/web\n  tag: v1.3.0  # promoted by ladder\n");
//! ```

mod edit;
mod error;
mod fast;
mod insert;
mod locate;
mod path;
mod quote;
mod scalar;
mod source;
mod tree;
mod value;
mod verify;

pub use edit::{Edit, Typing, set_many};
pub use error::{Error, Location};
pub use locate::DocSelector;
pub use path::{Path, Segment};
pub use scalar::{reads_as_non_string, resolve_plain};
pub use value::Value;

use locate::{Located, locate, missing_key, select_doc};
use tree::Tree;

/// The scalar at `path`. Aliases and `<<` merge keys are followed.
pub fn get(text: &str, doc: &DocSelector, path: &Path) -> Result<Value, Error> {
    let tree = Tree::parse(text)?;
    let d = select_doc(&tree, doc)?;
    match locate(&tree, &tree.docs[d].root, path, true)? {
        Located::Found { node, .. } => node.typed().ok_or_else(|| Error::WrongKind {
            path: path.to_string(),
            found: node.kind_name(),
            expected: "a scalar",
            at: tree.loc(node.start),
        }),
        Located::Missing { at, key, depth, .. } => {
            let mut e = missing_key(&tree, path, at, depth);
            if let (Error::NoSuchPath { at: loc, .. }, true, Some(k)) =
                (&mut e, at.is_empty_scalar(), key)
            {
                *loc = tree.loc(k.start);
            }
            Err(e)
        }
    }
}

/// Set one value in the only document of `text`. See [`set_many`].
pub fn set(text: &str, path: &Path, value: impl Into<Value>) -> Result<String, Error> {
    set_many(text, &[Edit::new(path.clone(), value)])
}

/// Check that `text` is well-formed YAML, as `set` requires before it edits anything.
pub fn validate(text: &str) -> Result<(), Error> {
    Tree::parse(text).map(|_| ())
}

/// For the `fast_path` fuzz target: None when the fast parser gives up on `text`, else
/// whether it built exactly the tree that the yaml-rust2 path builds.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fast_path_agrees(text: &str) -> Option<Result<(), String>> {
    fast::compare(text)
}

//! The engine's error type.

/// What can keep a tenant config repo from being opened or read. A config that opens
/// but is wrong is not an error here: it is the `Problems` of a load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repo text is neither a folder nor a URL.
    #[error("`{repo}` is not a folder or a Git URL")]
    NotARepo { repo: String },

    /// The subfolder climbs out of the repository or names no folder.
    #[error("subfolder `{subfolder}` is not a folder inside {repo}")]
    BadSubfolder { repo: String, subfolder: String },

    /// The ref does not name a commit of the repository.
    #[error("`{git_ref}` is not a branch, tag or commit of {repo}")]
    RefNotFound {
        repo: String,
        git_ref: String,
        #[source]
        source: Box<ladder_git::Error>,
    },

    /// Mirroring, fetching or reading through the git layer failed.
    #[error("{context}: {source}")]
    Git {
        context: String,
        #[source]
        source: Box<ladder_git::Error>,
    },

    /// Reading a file of the opened tree failed (not "absent": the read itself).
    #[error("reading the tenant config repo: {0}")]
    Tree(#[from] ladder_tree::TreeError),
}

impl Error {
    /// True when trying again later may help (the network, a timeout, a busy lock);
    /// false for what needs a person to change something.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Git { source, .. } => source.is_transient(),
            Error::Tree(ladder_tree::TreeError::Io { .. }) => true,
            Error::Tree(_)
            | Error::NotARepo { .. }
            | Error::BadSubfolder { .. }
            | Error::RefNotFound { .. } => false,
        }
    }

    /// The git layer's error behind this one, for callers that classify (auth, timeout).
    pub fn git_error(&self) -> Option<&ladder_git::Error> {
        match self {
            Error::Git { source, .. } | Error::RefNotFound { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

//! What the CLI takes from its environment for the one repo it was given: credentials
//! (`LADDER_GIT_*`) and the ssh command (`GIT_SSH_COMMAND`). Libraries never read the
//! environment; the binary reads it here and passes the values for `--repo` only.

use std::path::PathBuf;

use anyhow::Context;
use ladder_git::Credentials;

/// The user for http(s) remotes.
pub const ENV_USERNAME: &str = "LADDER_GIT_USERNAME";
/// The password or token for http(s) remotes.
pub const ENV_PASSWORD: &str = "LADDER_GIT_PASSWORD";
/// A file holding the password or token.
pub const ENV_PASSWORD_FILE: &str = "LADDER_GIT_PASSWORD_FILE";

/// Credentials from the environment: `LADDER_GIT_PASSWORD`, else the file named by
/// `LADDER_GIT_PASSWORD_FILE` (its trailing newline dropped); the user defaults to the
/// token user forges document. `None` when no password is set.
pub fn credentials() -> anyhow::Result<Option<Credentials>> {
    credentials_from(|k| std::env::var(k).ok())
}

fn credentials_from(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Credentials>> {
    let password = match get(ENV_PASSWORD).filter(|p| !p.is_empty()) {
        Some(p) => Some(p),
        None => match get(ENV_PASSWORD_FILE).filter(|p| !p.is_empty()) {
            Some(path) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "cannot read the password file {} named by {ENV_PASSWORD_FILE}",
                        path.display()
                    )
                })?;
                Some(text.trim_end_matches(['\n', '\r']).to_string())
            }
            None => None,
        },
    };
    Ok(password.map(|password| {
        let username = get(ENV_USERNAME)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| ladder_git::url::TOKEN_USERNAME.to_string());
        Credentials::new(username, password)
    }))
}

/// What the git and ssh processes ladder starts may inherit from this process (the
/// git layer keeps only PATH, HOME, the ssh agent and proxies).
pub fn child_env() -> ladder_git::ChildEnv {
    ladder_git::ChildEnv::from_vars(std::env::vars_os())
}

/// The ssh command the user configured for git, if any.
pub fn ssh_command() -> Option<String> {
    std::env::var("GIT_SSH_COMMAND")
        .ok()
        .filter(|c| !c.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_then_file_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let file_s = file.display().to_string();
        let got = credentials_from(|k| (k == ENV_PASSWORD_FILE).then(|| file_s.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(
            (got.username(), got.password()),
            (ladder_git::url::TOKEN_USERNAME, "from-file")
        );
        let got = credentials_from(|k| match k {
            ENV_USERNAME => Some("ci".into()),
            ENV_PASSWORD => Some("direct".into()),
            ENV_PASSWORD_FILE => Some(file_s.clone()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!((got.username(), got.password()), ("ci", "direct"));
        assert!(credentials_from(|_| None).unwrap().is_none());
        let err = credentials_from(|k| (k == ENV_PASSWORD_FILE).then(|| "/nonexistent/pw".into()))
            .unwrap_err();
        assert!(format!("{err:#}").contains(ENV_PASSWORD_FILE), "{err:#}");
    }
}

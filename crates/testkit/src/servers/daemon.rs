//! `git daemon` (git://) serving a folder of repositories.

use std::path::Path;
use std::process::{Child, Stdio};

use super::{NotListening, free_port, stop, wait_listening};
use crate::git::{command_in, exec_path_program};

/// `git daemon` serving every repository under `base`, push enabled. Killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let program = exec_path_program("git-daemon");
        let mut last = None;
        // The port is picked before the daemon binds it; retry on the rare collision.
        for _ in 0..5 {
            let port = free_port();
            // Run git-daemon itself: `git daemon` would run it as a child process that
            // outlives a kill of the `git` wrapper, leaking a daemon per test.
            let mut child = command_in(&program, base)
                .args([
                    "--reuseaddr",
                    "--export-all",
                    "--enable=receive-pack",
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--base-path={}", base.display()),
                ])
                .arg(base)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {} ({e}): install git (Debian package git)",
                        program.display()
                    )
                });
            match wait_listening(port, &mut child) {
                Ok(()) => return GitDaemon { child, port },
                Err(e) => last = Some(e),
            }
            stop(&mut child);
        }
        match last {
            Some(NotListening::Exited(status)) => {
                panic!("git daemon exited on five ports in a row: last {status}")
            }
            _ => panic!("git daemon did not listen on 127.0.0.1 within the deadline"),
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

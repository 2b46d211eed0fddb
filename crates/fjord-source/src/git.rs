//! Runs the system `git`: never through a shell, with the machine's and the
//! user's git configuration shut out, no prompts, and a time limit.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::error::{GitFailure, SourceError};
use crate::repo::Repo;
use crate::secret::scrub;

#[derive(Debug, Clone)]
pub(crate) struct Git {
    pub binary: PathBuf,
    pub timeout: Duration,
    /// An empty directory used as HOME, so nothing in a real home directory
    /// (`.gitconfig`, `.ssh/config`, `.netrc`) changes what git does.
    pub home: PathBuf,
    /// Where per-command private files (askpass helper, SSH key) go.
    pub scratch_root: PathBuf,
}

/// One git invocation.
pub(crate) struct Invocation<'a> {
    pub repo: &'a Repo,
    pub git_dir: Option<&'a Path>,
    /// The subcommand and its arguments.
    pub args: Vec<OsString>,
    /// Whether the command talks to the remote (and so needs credentials).
    pub remote: bool,
    pub env: Vec<(String, OsString)>,
}

impl<'a> Invocation<'a> {
    pub fn new(repo: &'a Repo, args: impl IntoIterator<Item = impl Into<OsString>>) -> Self {
        Self {
            repo,
            git_dir: None,
            args: args.into_iter().map(Into::into).collect(),
            remote: false,
            env: Vec::new(),
        }
    }

    pub fn git_dir(mut self, dir: &'a Path) -> Self {
        self.git_dir = Some(dir);
        self
    }

    pub fn remote(mut self) -> Self {
        self.remote = true;
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }
}

impl Git {
    /// Runs `inv` and returns its stdout, or an error carrying its scrubbed
    /// stderr.
    pub async fn run(&self, inv: Invocation<'_>) -> Result<Vec<u8>, SourceError> {
        let command = inv
            .args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let repo_name = inv.repo.redacted_url();
        let mut cmd = tokio::process::Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            // An inherited GIT_DIR, GIT_INDEX_FILE, … would point git at
            // some other repository.
            if key.to_string_lossy().starts_with("GIT_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env_remove("SSH_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C");

        // Held until git exits: it owns the askpass helper and the key file.
        let scratch = if inv.remote {
            let dir = tempfile::Builder::new()
                .prefix("git-")
                .tempdir_in(&self.scratch_root)
                .map_err(|e| {
                    SourceError::io("create scratch directory in", &self.scratch_root, e)
                })?;
            for (key, value) in inv.repo.auth_env(dir.path())? {
                cmd.env(key, value);
            }
            Some(dir)
        } else {
            None
        };
        for (key, value) in &inv.env {
            cmd.env(key, value);
        }
        if let Some(dir) = inv.git_dir {
            let mut arg = OsString::from("--git-dir=");
            arg.push(dir);
            cmd.arg(arg);
        }
        cmd.args(&inv.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        tracing::debug!(repo = %repo_name, command = %command, "git");
        let child = cmd.spawn().map_err(|e| SourceError::Spawn {
            binary: self.binary.display().to_string(),
            message: e.to_string(),
        })?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                return Err(SourceError::Spawn {
                    binary: self.binary.display().to_string(),
                    message: e.to_string(),
                });
            }
            Err(_) => {
                return Err(SourceError::Timeout {
                    repo: repo_name,
                    command,
                    seconds: self.timeout.as_secs(),
                });
            }
        };
        drop(scratch);
        if output.status.success() {
            return Ok(output.stdout);
        }
        let secrets = inv.repo.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let stderr = scrub(String::from_utf8_lossy(&output.stderr).trim(), &secrets);
        let failure = GitFailure::classify(&stderr);
        tracing::debug!(repo = %repo_name, command = %command, ?failure, %stderr, "git failed");
        Err(SourceError::Git {
            repo: repo_name,
            command,
            failure,
            stderr,
        })
    }
}

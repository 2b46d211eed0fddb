//! The errors of git access. Every message names the repository by its
//! redacted URL; git's own stderr is included with credentials scrubbed.

/// What a failed git command most likely means, read from its stderr, so a
/// caller can tell "fix your Secret" from "the server is down".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitFailure {
    /// The server refused the credentials (or wanted some and got none).
    Authentication,
    /// The SSH host key is unknown or changed.
    HostKey,
    /// The repository does not exist (or is hidden from these credentials).
    RepositoryNotFound,
    /// The server could not be reached.
    Unreachable,
    Other,
}

impl GitFailure {
    pub(crate) fn classify(stderr: &str) -> Self {
        let s = stderr.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| s.contains(n));
        if any(&[
            "host key verification failed",
            "remote host identification has changed",
        ]) {
            Self::HostKey
        } else if any(&[
            "authentication failed",
            "could not read username",
            "could not read password",
            "permission denied (publickey",
            "invalid username or password",
            "access denied",
            "the requested url returned error: 401",
            "the requested url returned error: 403",
        ]) {
            Self::Authentication
        } else if any(&[
            "repository not found",
            "does not appear to be a git repository",
            "no such repository",
            "the requested url returned error: 404",
        ]) {
            Self::RepositoryNotFound
        } else if any(&[
            "could not resolve host",
            "connection refused",
            "connection timed out",
            "unable to connect",
            "failed to connect",
            "network is unreachable",
            "could not read from remote repository",
            "unable to access",
        ]) {
            Self::Unreachable
        } else {
            Self::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("invalid repository URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("invalid revision {revision:?} for {repo}: {reason}")]
    InvalidRevision {
        repo: String,
        revision: String,
        reason: String,
    },

    #[error("revision {revision:?} not found in {repo}")]
    RevisionNotFound { repo: String, revision: String },

    #[error("git {command} failed for {repo} ({failure:?}): {stderr}")]
    Git {
        repo: String,
        command: String,
        failure: GitFailure,
        stderr: String,
    },

    #[error("git {command} for {repo} timed out after {seconds}s")]
    Timeout {
        repo: String,
        command: String,
        seconds: u64,
    },

    #[error("cannot run git ({binary}): {message}")]
    Spawn { binary: String, message: String },

    #[error("{action} {path}: {message}")]
    Io {
        action: &'static str,
        path: String,
        message: String,
    },

    #[error("commit {commit} of {repo} is not checked out: {reason}")]
    UnsafeTree {
        repo: String,
        commit: String,
        reason: String,
    },
}

impl SourceError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, err: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.display().to_string(),
            message: err.to_string(),
        }
    }

    /// The failure class when git itself failed.
    pub fn git_failure(&self) -> Option<GitFailure> {
        match self {
            Self::Git { failure, .. } => Some(*failure),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_git_messages() {
        let c = GitFailure::classify;
        assert_eq!(
            c("fatal: Authentication failed for 'http://127.0.0.1:1/r.git/'"),
            GitFailure::Authentication
        );
        assert_eq!(
            c(
                "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository."
            ),
            GitFailure::Authentication
        );
        assert_eq!(
            c("Host key verification failed.\nfatal: Could not read"),
            GitFailure::HostKey
        );
        assert_eq!(
            c("fatal: '/x' does not appear to be a git repository"),
            GitFailure::RepositoryNotFound
        );
        assert_eq!(
            c("fatal: unable to connect to 127.0.0.1:\nConnection refused"),
            GitFailure::Unreachable
        );
        assert_eq!(c("fatal: something else"), GitFailure::Other);
    }
}

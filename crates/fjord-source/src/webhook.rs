//! Push webhooks from GitHub, GitLab and Gitea: verification of the
//! signature or token, and what the push says (which repository, which ref,
//! which commit) so the affected Applications can be refreshed at once.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::revision::{is_commit_id, is_head};
use crate::secret::SecretString;
use crate::url::same_repository;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
}

/// The shared secrets webhooks are checked against. A provider without a
/// secret is accepted unverified, as Argo CD does: a webhook only triggers
/// a refresh, which then reads Git itself.
#[derive(Debug, Clone, Default)]
pub struct WebhookSecrets {
    pub github: Option<SecretString>,
    pub gitlab: Option<SecretString>,
    pub gitea: Option<SecretString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    Push(PushEvent),
    /// The provider checking that the endpoint answers (GitHub's `ping`).
    Ping(Provider),
}

/// A push, as the payload describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub provider: Provider,
    /// Every URL the payload gives for the repository (clone, SSH, web).
    pub repo_urls: Vec<String>,
    /// The full ref pushed, e.g. `refs/heads/main`.
    pub git_ref: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub before: Option<String>,
    /// The commit the ref points to now; `None` when the ref was deleted.
    pub after: Option<String>,
    pub default_branch: Option<String>,
    /// Paths added, modified or removed by the pushed commits.
    pub changed_files: Vec<String>,
}

impl PushEvent {
    /// Whether the push is to the repository `repo_url` names.
    pub fn matches_repo(&self, repo_url: &str) -> bool {
        self.repo_urls.iter().any(|u| same_repository(u, repo_url))
    }

    /// Whether an Application on `repo_url` at `target_revision` may see a
    /// new commit because of this push. `HEAD` follows the default branch
    /// (any branch when the payload does not name it); a pinned commit id
    /// never moves.
    pub fn affects(&self, repo_url: &str, target_revision: &str) -> bool {
        if !self.matches_repo(repo_url) {
            return false;
        }
        let target = target_revision.trim();
        if is_head(target) {
            return match (&self.branch, &self.default_branch) {
                (Some(branch), Some(default)) => branch == default,
                (Some(_), None) => true,
                (None, _) => false,
            };
        }
        if target.starts_with("refs/") {
            return target == self.git_ref;
        }
        if is_commit_id(target) {
            return false;
        }
        self.branch.as_deref() == Some(target) || self.tag.as_deref() == Some(target)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("not a GitHub, GitLab or Gitea webhook (no event header)")]
    UnknownProvider,
    #[error("{provider:?} event {event:?} is not handled")]
    UnsupportedEvent { provider: Provider, event: String },
    #[error("{provider:?} webhook has no signature or token, but a secret is configured")]
    MissingSignature { provider: Provider },
    #[error("{provider:?} webhook signature or token does not match")]
    BadSignature { provider: Provider },
    #[error("malformed {provider:?} push payload: {reason}")]
    Malformed { provider: Provider, reason: String },
}

/// Verifies and parses a webhook request. `headers` are the request's
/// headers (names in any case); `body` is the raw body the signature covers.
pub fn parse_webhook<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<WebhookEvent, WebhookError> {
    let headers: Vec<(String, &str)> = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| *v);

    // Gitea also sends GitHub's headers, so it is recognised first.
    if let Some(event) = header("x-gitea-event") {
        let provider = Provider::Gitea;
        if let Some(secret) = &secrets.gitea {
            let signature =
                header("x-gitea-signature").ok_or(WebhookError::MissingSignature { provider })?;
            verify_hmac_hex(provider, secret, body, signature)?;
        }
        return match event {
            "push" => github_like_push(provider, body).map(WebhookEvent::Push),
            other => Err(unsupported(provider, other)),
        };
    }
    if let Some(event) = header("x-github-event") {
        let provider = Provider::GitHub;
        if let Some(secret) = &secrets.github {
            let signature =
                header("x-hub-signature-256").ok_or(WebhookError::MissingSignature { provider })?;
            let hex = signature
                .strip_prefix("sha256=")
                .ok_or(WebhookError::BadSignature { provider })?;
            verify_hmac_hex(provider, secret, body, hex)?;
        }
        return match event {
            "push" => github_like_push(provider, body).map(WebhookEvent::Push),
            "ping" => Ok(WebhookEvent::Ping(provider)),
            other => Err(unsupported(provider, other)),
        };
    }
    if let Some(event) = header("x-gitlab-event") {
        let provider = Provider::GitLab;
        if let Some(secret) = &secrets.gitlab {
            let token =
                header("x-gitlab-token").ok_or(WebhookError::MissingSignature { provider })?;
            if !constant_time_eq(token.as_bytes(), secret.expose().as_bytes()) {
                return Err(WebhookError::BadSignature { provider });
            }
        }
        return match event {
            "Push Hook" | "Tag Push Hook" => gitlab_push(body).map(WebhookEvent::Push),
            other => Err(unsupported(provider, other)),
        };
    }
    Err(WebhookError::UnknownProvider)
}

fn unsupported(provider: Provider, event: &str) -> WebhookError {
    WebhookError::UnsupportedEvent {
        provider,
        event: event.chars().take(64).collect(),
    }
}

fn verify_hmac_hex(
    provider: Provider,
    secret: &SecretString,
    body: &[u8],
    signature: &str,
) -> Result<(), WebhookError> {
    let expected = hex::decode(signature).map_err(|_| WebhookError::BadSignature { provider })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| WebhookError::BadSignature { provider })?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature { provider })
}

/// Compares digests, so neither the contents nor the length of the secret
/// shows in the time taken.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

fn json(provider: Provider, body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::Malformed {
        provider,
        reason: e.to_string(),
    })
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// GitHub and Gitea share the push payload's shape.
fn github_like_push(provider: Provider, body: &[u8]) -> Result<PushEvent, WebhookError> {
    let v = json(provider, body)?;
    let urls = [
        "/repository/clone_url",
        "/repository/ssh_url",
        "/repository/html_url",
        "/repository/git_url",
        "/repository/url",
    ];
    push_event(provider, &v, &urls, "/repository/default_branch")
}

fn gitlab_push(body: &[u8]) -> Result<PushEvent, WebhookError> {
    let provider = Provider::GitLab;
    let v = json(provider, body)?;
    let urls = [
        "/project/git_http_url",
        "/project/git_ssh_url",
        "/project/web_url",
        "/repository/git_http_url",
        "/repository/git_ssh_url",
        "/repository/homepage",
    ];
    push_event(provider, &v, &urls, "/project/default_branch")
}

fn push_event(
    provider: Provider,
    v: &Value,
    url_fields: &[&str],
    default_branch: &str,
) -> Result<PushEvent, WebhookError> {
    let malformed = |reason: &str| WebhookError::Malformed {
        provider,
        reason: reason.to_string(),
    };
    let git_ref = str_at(v, "/ref")
        .ok_or_else(|| malformed("no `ref`"))?
        .to_string();
    let mut repo_urls: Vec<String> = Vec::new();
    for field in url_fields {
        if let Some(url) = str_at(v, field)
            && !repo_urls.iter().any(|u| u == url)
        {
            repo_urls.push(url.to_string());
        }
    }
    if repo_urls.is_empty() {
        return Err(malformed("no repository URL"));
    }
    let commit = |pointer: &str| {
        str_at(v, pointer)
            .filter(|s| is_commit_id(s))
            .map(str::to_ascii_lowercase)
    };
    // An all-zero id means the ref did not exist before, or no longer does.
    let real = |id: Option<String>| id.filter(|s| s.bytes().any(|b| b != b'0'));
    let mut changed_files = Vec::new();
    if let Some(commits) = v.get("commits").and_then(Value::as_array) {
        for c in commits {
            for kind in ["added", "modified", "removed"] {
                for path in c.get(kind).and_then(Value::as_array).into_iter().flatten() {
                    if let Some(path) = path.as_str()
                        && !changed_files.iter().any(|p| p == path)
                    {
                        changed_files.push(path.to_string());
                    }
                }
            }
        }
    }
    Ok(PushEvent {
        provider,
        repo_urls,
        branch: git_ref.strip_prefix("refs/heads/").map(str::to_string),
        tag: git_ref.strip_prefix("refs/tags/").map(str::to_string),
        git_ref,
        before: real(commit("/before")),
        after: real(commit("/after")),
        default_branch: str_at(v, default_branch).map(str::to_string),
        changed_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    fn push(branch: Option<&str>, default: Option<&str>) -> PushEvent {
        PushEvent {
            provider: Provider::GitHub,
            repo_urls: vec![
                "https://github.com/acme/apps.git".into(),
                "git@github.com:acme/apps.git".into(),
            ],
            git_ref: branch
                .map(|b| format!("refs/heads/{b}"))
                .unwrap_or_else(|| "refs/tags/v1".into()),
            branch: branch.map(str::to_string),
            tag: if branch.is_none() {
                Some("v1".into())
            } else {
                None
            },
            before: None,
            after: None,
            default_branch: default.map(str::to_string),
            changed_files: vec![],
        }
    }

    #[test]
    fn affects_follows_argo_cd_revision_rules() {
        let p = push(Some("main"), Some("main"));
        assert!(p.affects("ssh://git@github.com/acme/apps", "HEAD"));
        assert!(p.affects("https://github.com/Acme/apps", ""));
        assert!(p.affects("https://github.com/acme/apps", "main"));
        assert!(p.affects("https://github.com/acme/apps", "refs/heads/main"));
        assert!(!p.affects("https://github.com/acme/apps", "release"));
        assert!(!p.affects("https://github.com/acme/other", "main"));
        assert!(!p.affects(
            "https://github.com/acme/apps",
            "0123456789abcdef0123456789abcdef01234567"
        ));
        let feature = push(Some("feature"), Some("main"));
        assert!(!feature.affects("https://github.com/acme/apps", "HEAD"));
        assert!(feature.affects("https://github.com/acme/apps", "feature"));
        let tag = push(None, Some("main"));
        assert!(tag.affects("https://github.com/acme/apps", "v1"));
        assert!(!tag.affects("https://github.com/acme/apps", "HEAD"));
    }
}

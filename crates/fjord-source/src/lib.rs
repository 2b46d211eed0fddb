//! Git as fjord's source of truth: repository mirrors fetched incrementally
//! with the system `git`, `targetRevision` resolved to commits, trees
//! checked out once per commit, credentials from Argo CD-style repository
//! Secrets, and push webhooks from GitHub, GitLab and Gitea.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fjord_source::SourceError> {
//! use fjord_source::{Repo, RepoCache};
//! let cache = RepoCache::new("/var/cache/fjord/git")?;
//! let repo = Repo::new("https://git.example.com/team/apps.git").with_basic_auth("bot", "token");
//! let commit = cache.resolve(&repo, "main").await?;
//! let tree = cache.checkout(&repo, &commit).await?;
//! # let _ = tree; Ok(()) }
//! ```

mod cache;
mod checkout;
mod credentials;
mod error;
mod git;
mod repo;
mod revision;
mod secret;
mod url;
mod webhook;

pub use cache::{CacheOptions, FetchOutcome, RepoCache, mirror_name};
pub use credentials::{
    CredentialsError, RepoCredentials, SECRET_TYPE_LABEL, SecretKind, credentials_for,
    matching_template,
};
pub use error::{GitFailure, SourceError};
pub use repo::Repo;
pub use revision::{RemoteRefs, is_commit_id, is_head};
pub use secret::{SecretString, scrub};
pub use url::{RepoUrl, Transport, normalize_url, redact_url, same_repository};
pub use webhook::{Provider, PushEvent, WebhookError, WebhookEvent, WebhookSecrets, parse_webhook};

//! The controller's view of Git: resolve a revision to a commit (cheaply,
//! at most once per poll interval unless refreshed) and hand over the tree
//! at that commit. Credentials come from Argo CD-style repository Secrets.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use fjord_source::{Repo, RepoCache, RepoCredentials, SecretKind};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Source(#[from] fjord_source::SourceError),
}

/// Credentials from the repository Secrets, by Secret name.
#[derive(Default)]
struct Credentials {
    repositories: HashMap<String, RepoCredentials>,
    templates: HashMap<String, RepoCredentials>,
}

pub struct Repositories {
    cache: RepoCache,
    poll_interval: Duration,
    resolved: Mutex<HashMap<(String, String), (String, Instant)>>,
    credentials: RwLock<Credentials>,
}

impl Repositories {
    pub fn new(cache_dir: PathBuf, poll_interval: Duration) -> Result<Self, RepoError> {
        Ok(Repositories {
            cache: RepoCache::new(cache_dir)?,
            poll_interval,
            resolved: Default::default(),
            credentials: Default::default(),
        })
    }

    fn repo(&self, url: &str) -> Repo {
        let Ok(creds) = self.credentials.read() else { return Repo::new(url) };
        let repositories: Vec<RepoCredentials> = creds.repositories.values().cloned().collect();
        let templates: Vec<RepoCredentials> = creds.templates.values().cloned().collect();
        Repo::new(url).with_credentials_from(&repositories, &templates)
    }

    /// The commit `revision` points at. Reuses the last answer for a poll
    /// interval unless `refresh` is set (a webhook or a refresh request).
    pub async fn resolve(&self, url: &str, revision: &str, refresh: bool) -> Result<String, RepoError> {
        let key = (url.to_string(), revision.to_string());
        if !refresh
            && let Some((commit, at)) = self.resolved.lock().await.get(&key)
                && at.elapsed() < self.poll_interval {
                    return Ok(commit.clone());
                }
        let commit = self.cache.resolve(&self.repo(url), revision).await?;
        self.resolved.lock().await.insert(key, (commit.clone(), Instant::now()));
        Ok(commit)
    }

    /// The tree at `commit`, on disk.
    pub async fn checkout(&self, url: &str, commit: &str) -> Result<PathBuf, RepoError> {
        Ok(self.cache.checkout(&self.repo(url), commit).await?)
    }

    /// Forgets resolved revisions of a repository, so the next resolve asks Git.
    pub async fn invalidate(&self, url: &str) {
        self.resolved.lock().await.retain(|(r, _), _| !fjord_source::same_repository(r, url));
    }

    /// Takes in a repository Secret (labels and decoded data); `None` data
    /// removes it. Returns a problem worth logging, never a secret value.
    pub fn set_secret(&self, name: &str, labels: &BTreeMap<String, String>, data: Option<&BTreeMap<String, String>>) -> Option<String> {
        let Ok(mut creds) = self.credentials.write() else { return None };
        creds.repositories.remove(name);
        creds.templates.remove(name);
        let (Some(kind), Some(data)) = (SecretKind::from_labels(labels), data) else { return None };
        match RepoCredentials::from_secret_data(data) {
            Ok(c) => {
                match kind {
                    SecretKind::Repository => creds.repositories.insert(name.to_string(), c),
                    SecretKind::RepoCreds => creds.templates.insert(name.to_string(), c),
                };
                None
            }
            Err(e) => Some(format!("repository Secret {name}: {e}")),
        }
    }
}

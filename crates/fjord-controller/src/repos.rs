//! The controller's view of Git: resolve a revision to a commit (cheaply,
//! at most once per poll interval unless refreshed) and hand over the tree
//! at that commit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("repository {repo}: {message}")]
pub struct SourceError {
    pub repo: String,
    pub message: String,
}

pub struct Repositories {
    cache_dir: PathBuf,
    poll_interval: Duration,
    resolved: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl Repositories {
    pub fn new(cache_dir: PathBuf, poll_interval: Duration) -> Self {
        Repositories { cache_dir, poll_interval, resolved: Default::default() }
    }

    /// The commit `revision` points at. Reuses the last answer for a poll
    /// interval unless `refresh` is set (a webhook or a refresh request).
    pub async fn resolve(&self, repo: &str, revision: &str, refresh: bool) -> Result<String, SourceError> {
        let key = (repo.to_string(), revision.to_string());
        if !refresh {
            if let Some((commit, at)) = self.resolved.lock().await.get(&key) {
                if at.elapsed() < self.poll_interval {
                    return Ok(commit.clone());
                }
            }
        }
        let commit = fjord_source_resolve(&self.cache_dir, repo, revision).await?;
        self.resolved.lock().await.insert(key, (commit.clone(), Instant::now()));
        Ok(commit)
    }

    /// The tree at `commit`, on disk.
    pub async fn checkout(&self, repo: &str, commit: &str) -> Result<PathBuf, SourceError> {
        fjord_source_checkout(&self.cache_dir, repo, commit).await
    }

    /// Forgets resolved revisions of a repository, so the next resolve asks Git.
    pub async fn invalidate(&self, repo: &str) {
        self.resolved.lock().await.retain(|(r, _), _| r != repo);
    }
}

async fn git(repo: &str, args: &[&str]) -> Result<String, SourceError> {
    git_env(repo, args, &[]).await
}

async fn git_env(repo: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, SourceError> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .envs(env.iter().copied())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| SourceError { repo: repo.to_string(), message: format!("cannot run git: {e}") })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(SourceError { repo: repo.to_string(), message: stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn mirror_dir(cache: &std::path::Path, repo: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(repo.as_bytes());
    cache.join("repos").join(digest[..10].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

async fn fetch(cache: &std::path::Path, repo: &str) -> Result<PathBuf, SourceError> {
    let dir = mirror_dir(cache, repo);
    let d = dir.to_string_lossy().to_string();
    if !dir.join("HEAD").exists() {
        std::fs::create_dir_all(&dir).map_err(|e| SourceError { repo: repo.into(), message: e.to_string() })?;
        git(repo, &["init", "--bare", "-q", &d]).await?;
        git(repo, &["-C", &d, "remote", "add", "origin", repo]).await?;
    }
    git(repo, &["-C", &d, "fetch", "-q", "--prune", "--force", "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+HEAD:refs/fjord/HEAD"]).await?;
    Ok(dir)
}

async fn fjord_source_resolve(cache: &std::path::Path, repo: &str, revision: &str) -> Result<String, SourceError> {
    let dir = fetch(cache, repo).await?;
    let d = dir.to_string_lossy().to_string();
    let rev = if revision == "HEAD" { "refs/fjord/HEAD".to_string() } else { revision.to_string() };
    git(repo, &["-C", &d, "rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .await
        .map_err(|_| SourceError { repo: repo.into(), message: format!("revision {revision:?} not found") })
}

async fn fjord_source_checkout(cache: &std::path::Path, repo: &str, commit: &str) -> Result<PathBuf, SourceError> {
    let tree = cache.join("trees").join(commit);
    if tree.is_dir() {
        return Ok(tree);
    }
    let dir = mirror_dir(cache, repo);
    let tmp = cache.join("trees").join(format!(".{commit}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| SourceError { repo: repo.into(), message: e.to_string() })?;
    let (d, t) = (dir.to_string_lossy().to_string(), tmp.to_string_lossy().to_string());
    // A private index: concurrent checkouts must not share the mirror's.
    let index = format!("{t}.index");
    git_env(repo, &["--git-dir", &d, "--work-tree", &t, "checkout", "-q", "-f", commit, "--", "."], &[("GIT_INDEX_FILE", &index)])
        .await?;
    let _ = std::fs::remove_file(&index);
    std::fs::rename(&tmp, &tree).map_err(|e| SourceError { repo: repo.into(), message: e.to_string() })?;
    Ok(tree)
}

//! The repository cache: one bare mirror per repository, fetched
//! incrementally, with concurrent fetches of one repository coalesced.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::SourceError;
use crate::git::{Git, Invocation};
use crate::repo::Repo;
use crate::revision::{self, LOCAL_HEAD, RemoteRefs};
use crate::url::normalize_url;

/// How the cache runs git.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// The git executable; `git` is looked up on `PATH`.
    pub git_binary: PathBuf,
    /// The longest one git command may run before it is killed.
    pub git_timeout: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            git_binary: PathBuf::from("git"),
            git_timeout: Duration::from_secs(180),
        }
    }
}

/// What a call to [`RepoCache::fetch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The caller arrived while another caller's fetch of the same
    /// repository was running and took its result instead of fetching again.
    pub shared: bool,
}

/// Git repositories mirrored under one directory, shared by every user of
/// the same repository URL. One `RepoCache` per cache root and process.
#[derive(Debug)]
pub struct RepoCache {
    root: PathBuf,
    pub(crate) git: Git,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

#[derive(Debug, Default)]
struct Slot {
    flight: Mutex<Flight>,
    /// Held for the whole of a fetch; holds the last fetch's result.
    fetch: tokio::sync::Mutex<Option<Result<(), SourceError>>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Flight {
    running: bool,
    completed: u64,
}

impl RepoCache {
    /// A cache under `root` (created if missing) with default options.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SourceError> {
        Self::with_options(root, CacheOptions::default())
    }

    pub fn with_options(
        root: impl Into<PathBuf>,
        options: CacheOptions,
    ) -> Result<Self, SourceError> {
        let root = root.into();
        for dir in ["repos", "trees", "home", "tmp"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| SourceError::io("create", &path, e))?;
        }
        // Left by a process that stopped mid-write; nothing else uses it.
        let tmp = root.join("tmp");
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Self {
            git: Git {
                binary: options.git_binary,
                timeout: options.git_timeout,
                home: root.join("home"),
                scratch_root: tmp,
            },
            root,
            slots: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bare mirror of `repo`: `<root>/repos/<hash of the normal URL>`.
    pub fn mirror_dir(&self, repo: &Repo) -> PathBuf {
        self.root.join("repos").join(mirror_name(repo.url()))
    }

    /// A fresh private directory on the cache's file system, so what is
    /// built in it can be renamed into place atomically.
    pub(crate) fn scratch_dir(&self, prefix: &str) -> Result<tempfile::TempDir, SourceError> {
        let tmp = self.root.join("tmp");
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .map_err(|e| SourceError::io("create directory in", &tmp, e))
    }

    fn slot(&self, repo: &Repo) -> Arc<Slot> {
        let key = mirror_name(repo.url());
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// The refs the remote advertises now: a cheap "has it changed?" check
    /// that transfers no objects.
    pub async fn ls_remote(&self, repo: &Repo) -> Result<RemoteRefs, SourceError> {
        repo.parsed()?;
        let out = self
            .git
            .run(
                Invocation::new(
                    repo,
                    [
                        "ls-remote",
                        "--symref",
                        repo.url(),
                        "HEAD",
                        "refs/heads/*",
                        "refs/tags/*",
                    ],
                )
                .remote(),
            )
            .await?;
        Ok(RemoteRefs::parse(&String::from_utf8_lossy(&out)))
    }

    /// Brings the mirror up to date with the remote's branches and tags,
    /// cloning it on first use. A caller that arrives while a fetch of the
    /// same repository runs waits for it and shares its result.
    pub async fn fetch(&self, repo: &Repo) -> Result<FetchOutcome, SourceError> {
        repo.parsed()?;
        let slot = self.slot(repo);
        let arrived = *slot.flight.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = slot.fetch.lock().await;
        let now = *slot.flight.lock().unwrap_or_else(|p| p.into_inner());
        if arrived.running
            && now.completed > arrived.completed
            && let Some(result) = last.as_ref()
        {
            tracing::debug!(repo = %repo.redacted_url(), "sharing a fetch that was running");
            return result.clone().map(|()| FetchOutcome { shared: true });
        }
        slot.flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running = true;
        let result = self.fetch_now(repo).await;
        *last = Some(result.clone());
        {
            let mut flight = slot.flight.lock().unwrap_or_else(|p| p.into_inner());
            flight.running = false;
            flight.completed += 1;
        }
        drop(last);
        result.map(|()| FetchOutcome { shared: false })
    }

    async fn fetch_now(&self, repo: &Repo) -> Result<(), SourceError> {
        let mirror = self.ensure_mirror(repo).await?;
        remove_stale_locks(&mirror);
        let started = std::time::Instant::now();
        self.git
            .run(
                Invocation::new(
                    repo,
                    [
                        "fetch",
                        "--prune",
                        "--no-tags",
                        "--quiet",
                        "--no-write-fetch-head",
                        "--",
                        repo.url(),
                        "+refs/heads/*:refs/heads/*",
                        "+refs/tags/*:refs/tags/*",
                    ],
                )
                .git_dir(&mirror)
                .remote(),
            )
            .await?;
        tracing::info!(repo = %repo.redacted_url(), elapsed_ms = started.elapsed().as_millis() as u64, "fetched");
        Ok(())
    }

    /// Creates the bare mirror if it does not exist yet, atomically, so a
    /// crash never leaves a half-initialised one behind.
    async fn ensure_mirror(&self, repo: &Repo) -> Result<PathBuf, SourceError> {
        let mirror = self.mirror_dir(repo);
        if mirror.join("objects").is_dir() {
            return Ok(mirror);
        }
        let tmp = self.scratch_dir("mirror-")?;
        let target = tmp.path().join("repo.git");
        self.git
            .run(Invocation::new(
                repo,
                [
                    "init".into(),
                    "--bare".into(),
                    "--quiet".into(),
                    target.clone().into_os_string(),
                ],
            ))
            .await?;
        // Refs here only ever move by fetch; reflogs would just grow.
        self.git
            .run(
                Invocation::new(repo, ["config", "core.logAllRefUpdates", "false"])
                    .git_dir(&target),
            )
            .await?;
        std::fs::rename(&target, &mirror)
            .map_err(|e| SourceError::io("move mirror into place at", &mirror, e))?;
        tracing::info!(repo = %repo.redacted_url(), dir = %mirror.display(), "created mirror");
        Ok(mirror)
    }

    /// Resolves `revision` (`HEAD` or empty, a branch, a tag, a full or
    /// abbreviated commit id, or a full ref name) to a commit id whose
    /// objects are in the mirror. Asks the remote with `ls-remote` first and
    /// fetches only when the commit is not in the mirror yet; a full commit
    /// id already in the mirror needs no network at all.
    pub async fn resolve(&self, repo: &Repo, revision: &str) -> Result<String, SourceError> {
        let lowered;
        let mut revision = revision.trim();
        if revision::is_commit_id(revision) {
            lowered = revision.to_ascii_lowercase();
            revision = &lowered;
        }
        self.check_revision(repo, revision)?;
        if revision::is_commit_id(revision) && self.has_commit(repo, revision).await {
            return Ok(revision.to_string());
        }
        let remote = self.ls_remote(repo).await?;
        if let Some(commit) = remote.resolve(revision) {
            if !self.has_commit(repo, &commit).await {
                self.fetch_until_present(repo, revision, &commit).await?;
            }
            if revision::is_head(revision) {
                self.set_local_head(repo, &commit).await?;
            }
            return Ok(commit);
        }
        // Not a ref the remote advertises: an abbreviated commit id (or one
        // the server never advertises) needs the objects.
        self.fetch(repo).await?;
        self.resolve_local(repo, revision).await
    }

    /// Resolves `revision` from the mirror alone, without the network:
    /// the last state fetched. `HEAD` is the remote HEAD as last resolved.
    pub async fn resolve_local(&self, repo: &Repo, revision: &str) -> Result<String, SourceError> {
        let revision = revision.trim();
        self.check_revision(repo, revision)?;
        let mirror = self.mirror_dir(repo);
        if mirror.join("objects").is_dir() {
            for candidate in revision::local_candidates(revision) {
                if let Some(commit) = self.peel_to_commit(repo, &mirror, &candidate).await {
                    return Ok(commit);
                }
            }
        }
        Err(SourceError::RevisionNotFound {
            repo: repo.redacted_url(),
            revision: revision.to_string(),
        })
    }

    fn check_revision(&self, repo: &Repo, revision: &str) -> Result<(), SourceError> {
        revision::check(revision).map_err(|reason| SourceError::InvalidRevision {
            repo: repo.redacted_url(),
            revision: revision.to_string(),
            reason,
        })
    }

    /// A pushed commit may land after a fetch that was already running
    /// when the caller arrived; then one more fetch of its own brings it.
    async fn fetch_until_present(
        &self,
        repo: &Repo,
        revision: &str,
        commit: &str,
    ) -> Result<(), SourceError> {
        for _ in 0..2 {
            self.fetch(repo).await?;
            if self.has_commit(repo, commit).await {
                return Ok(());
            }
        }
        Err(SourceError::RevisionNotFound {
            repo: repo.redacted_url(),
            revision: format!("{revision} ({commit})"),
        })
    }

    pub(crate) async fn has_commit(&self, repo: &Repo, commit: &str) -> bool {
        let mirror = self.mirror_dir(repo);
        mirror.join("objects").is_dir()
            && self.peel_to_commit(repo, &mirror, commit).await.as_deref() == Some(commit)
    }

    async fn peel_to_commit(&self, repo: &Repo, mirror: &Path, name: &str) -> Option<String> {
        let out = self
            .git
            .run(
                Invocation::new(
                    repo,
                    [
                        "rev-parse",
                        "--verify",
                        "--quiet",
                        "--end-of-options",
                        &format!("{name}^{{commit}}"),
                    ],
                )
                .git_dir(mirror),
            )
            .await
            .ok()?;
        let id = String::from_utf8_lossy(&out).trim().to_string();
        revision::is_commit_id(&id).then_some(id)
    }

    async fn set_local_head(&self, repo: &Repo, commit: &str) -> Result<(), SourceError> {
        let mirror = self.mirror_dir(repo);
        self.git
            .run(Invocation::new(repo, ["update-ref", LOCAL_HEAD, commit]).git_dir(&mirror))
            .await
            .map(|_| ())
    }
}

/// Lock files a git process leaves when it is killed (on a time-out, or
/// with the whole process) would fail every later fetch. Only a fetch
/// writes to a mirror, and the caller holds the repository's fetch lock, so
/// any lock found here is stale.
fn remove_stale_locks(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let name = entry.file_name();
            // Objects are written under temporary names, never `.lock`.
            if name != "objects" {
                remove_stale_locks(&path);
            }
        } else if path.extension().is_some_and(|e| e == "lock") {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::warn!(path = %path.display(), "removed stale git lock"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove stale git lock")
                }
            }
        }
    }
}

/// The directory name of a repository's mirror: a hash of its normal URL,
/// so every spelling of one repository shares one mirror.
pub fn mirror_name(url: &str) -> String {
    let digest = Sha256::digest(normalize_url(url).as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_repository_share_a_mirror() {
        assert_eq!(
            mirror_name("git@github.com:org/repo.git"),
            mirror_name("ssh://git@GitHub.com/org/repo/")
        );
        assert_ne!(
            mirror_name("https://github.com/org/repo"),
            mirror_name("https://github.com/org/other")
        );
        assert_eq!(mirror_name("x").len(), 32);
    }
}

//! Trees by commit: the files of a commit, written once under
//! `<root>/trees/<commit>` and reused by every caller after that.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use crate::cache::RepoCache;
use crate::error::SourceError;
use crate::git::Invocation;
use crate::repo::Repo;
use crate::revision::is_commit_id;

impl RepoCache {
    /// Where the tree of `commit` lives (whether or not it exists yet).
    pub fn tree_dir(&self, commit: &str) -> PathBuf {
        self.root().join("trees").join(commit)
    }

    /// The files of `commit` (a full commit id from [`RepoCache::resolve`])
    /// in a directory of their own, written on first use and reused after.
    /// Fetches once if the mirror lacks the commit. Trees are shared across
    /// repositories, so `repo` must hold the commit even when its tree is
    /// already there: no repository hands out another's files. A tree
    /// holding a symlink that points outside itself is refused, since a
    /// renderer following it would read the host's files.
    pub async fn checkout(&self, repo: &Repo, commit: &str) -> Result<PathBuf, SourceError> {
        if !is_commit_id(commit) {
            return Err(SourceError::InvalidRevision {
                repo: repo.redacted_url(),
                revision: commit.to_string(),
                reason: "a checkout needs a full commit id".into(),
            });
        }
        let commit = commit.to_ascii_lowercase();
        let tree = self.tree_dir(&commit);
        if !self.has_commit(repo, &commit).await {
            self.fetch(repo).await?;
            if !self.has_commit(repo, &commit).await {
                return Err(SourceError::RevisionNotFound {
                    repo: repo.redacted_url(),
                    revision: commit,
                });
            }
        }
        if tree.is_dir() {
            touch(&tree);
            return Ok(tree);
        }
        let tmp = self.scratch_dir("tree-")?;
        let work = tmp.path().join("tree");
        std::fs::create_dir(&work).map_err(|e| SourceError::io("create", &work, e))?;
        let index = tmp.path().join("index");
        let mirror = self.mirror_dir(repo);
        // A private index per checkout, so checkouts of different commits
        // from one mirror never share (and race on) the mirror's index.
        self.git
            .run(
                Invocation::new(repo, ["read-tree", "--end-of-options", commit.as_str()])
                    .git_dir(&mirror)
                    .env("GIT_INDEX_FILE", &index),
            )
            .await?;
        self.git
            .run(
                Invocation::new(repo, ["checkout-index", "--all", "--force"])
                    .git_dir(&mirror)
                    .env("GIT_INDEX_FILE", &index)
                    .env("GIT_WORK_TREE", &work),
            )
            .await?;
        check_symlinks(&work, &work).map_err(|reason| SourceError::UnsafeTree {
            repo: repo.redacted_url(),
            commit: commit.clone(),
            reason,
        })?;
        match std::fs::rename(&work, &tree) {
            Ok(()) => {}
            // Another caller wrote the same commit first; theirs is as good.
            Err(_) if tree.is_dir() => {}
            Err(e) => return Err(SourceError::io("move tree into place at", &tree, e)),
        }
        tracing::debug!(repo = %repo.redacted_url(), %commit, "checked out");
        Ok(tree)
    }

    /// Removes all but the `keep` most recently used trees, never one whose
    /// commit is in `in_use`. Returns the commits removed.
    pub fn prune_trees(&self, keep: usize, in_use: &[&str]) -> Result<Vec<String>, SourceError> {
        let dir = self.root().join("trees");
        let entries = std::fs::read_dir(&dir).map_err(|e| SourceError::io("read", &dir, e))?;
        let mut trees: Vec<(SystemTime, String)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let used = e.metadata().ok()?.modified().ok()?;
                is_commit_id(&name).then_some((used, name))
            })
            .collect();
        trees.sort_by(|a, b| b.cmp(a));
        let mut removed = Vec::new();
        for (_, commit) in trees.into_iter().skip(keep) {
            if in_use.iter().any(|c| c.eq_ignore_ascii_case(&commit)) {
                continue;
            }
            // Out of the way first, so no reader ever sees half a tree
            // under a commit's name.
            let doomed = self.scratch_dir("old-")?;
            let from = dir.join(&commit);
            std::fs::rename(&from, doomed.path().join("tree"))
                .map_err(|e| SourceError::io("move", &from, e))?;
            drop(doomed);
            removed.push(commit);
        }
        Ok(removed)
    }
}

/// Marks a tree as just used, for [`RepoCache::prune_trees`].
fn touch(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|f| f.set_modified(SystemTime::now())) {
        tracing::debug!(dir = %dir.display(), error = %e, "cannot mark tree as used");
    }
}

/// Refuses any symlink under `dir` whose target leaves `root`.
fn check_symlinks(root: &Path, dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| format!("stat {}: {e}", path.display()))?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)
                .map_err(|e| format!("readlink {}: {e}", path.display()))?;
            let rel_dir = dir.strip_prefix(root).unwrap_or(Path::new(""));
            if !stays_inside(rel_dir, &target) {
                let shown = path.strip_prefix(root).unwrap_or(&path);
                return Err(format!(
                    "symlink {} points outside the repository ({})",
                    shown.display(),
                    target.display()
                ));
            }
        } else if kind.is_dir() {
            check_symlinks(root, &path)?;
        }
    }
    Ok(())
}

/// Whether `target`, read from a link in `rel_dir` (relative to the tree),
/// stays within the tree, judged lexically.
fn stays_inside(rel_dir: &Path, target: &Path) -> bool {
    let mut depth: i64 = rel_dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return false,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_bounds() {
        assert!(stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(stays_inside(Path::new("a"), Path::new("../x/y")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../etc/passwd")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(!stays_inside(Path::new(""), Path::new("x/../../y")));
    }
}

//! File access for one kustomization root, with kustomize's root-only load
//! restriction: a file must lie in or below the root of the kustomization
//! that names it, after symlinks are resolved.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictions {
    #[default]
    RootOnly,
    None,
}

#[derive(Debug, Clone)]
pub struct Loader {
    /// Canonical (symlink-free) directory of the kustomization.
    root: PathBuf,
    restrictions: LoadRestrictions,
}

/// Joins without touching the file system, folding `.` and `..` so that
/// error messages show the path the user meant.
pub fn lexical_join(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    let joined = base.join(rel);
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Loader {
    pub fn new(dir: &Path, restrictions: LoadRestrictions) -> Result<Self> {
        let root = dir.canonicalize().map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        if !root.is_dir() {
            return Err(Error::invalid(format!(
                "must build at directory: '{}' is a file",
                dir.display()
            )));
        }
        Ok(Loader { root, restrictions })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn is_remote(rel: &str) -> bool {
        rel.contains("://") || rel.starts_with("git@") || rel.starts_with("github.com/")
    }

    /// The path as written (joined to the root) and its canonical form.
    fn locate(&self, rel: &str) -> Result<(PathBuf, PathBuf)> {
        if Self::is_remote(rel) {
            return Err(Error::Unsupported {
                field: "resources".into(),
                reason: format!(
                    "remote resource '{rel}' cannot be loaded; fjord renders local trees only"
                ),
            });
        }
        let wanted = lexical_join(&self.root, rel);
        let real = wanted.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(wanted.clone()),
            _ => Error::Io {
                path: wanted.clone(),
                source: e,
            },
        })?;
        Ok((wanted, real))
    }

    /// The canonical path of `rel`, checked against the load restriction.
    pub fn resolve_file(&self, rel: &str) -> Result<PathBuf> {
        let (wanted, real) = self.locate(rel)?;
        if self.restrictions == LoadRestrictions::RootOnly && !real.starts_with(&self.root) {
            return Err(Error::OutsideRoot {
                path: wanted,
                root: self.root.clone(),
            });
        }
        Ok(real)
    }

    pub fn read(&self, rel: &str) -> Result<(PathBuf, Vec<u8>)> {
        let path = self.resolve_file(rel)?;
        if path.is_dir() {
            return Err(Error::invalid(format!(
                "'{}' is a directory, not a file",
                path.display()
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok((path, bytes))
    }

    pub fn read_string(&self, rel: &str) -> Result<(PathBuf, String)> {
        let (path, bytes) = self.read(rel)?;
        let s = String::from_utf8(bytes)
            .map_err(|_| Error::invalid(format!("'{}' is not valid UTF-8", path.display())))?;
        Ok((path, s))
    }

    /// A loader for a directory named by this kustomization (a base or a
    /// component). Directories may lie outside the root, as in kustomize,
    /// but a directory may not contain the one naming it.
    pub fn child(&self, rel: &str) -> Result<Loader> {
        let (wanted, real) = self.locate(rel)?;
        if real.exists() && !real.is_dir() {
            return Err(Error::invalid(format!(
                "must build at directory: '{}': file is not directory",
                wanted.display()
            )));
        }
        if !real.is_dir() {
            return Err(Error::invalid(format!(
                "must build at directory: not a valid directory: '{}'",
                wanted.display()
            )));
        }
        if self.root.starts_with(&real) {
            return Err(Error::invalid(format!(
                "cycle detected: candidate root '{}' contains visited root '{}'",
                real.display(),
                self.root.display()
            )));
        }
        Ok(Loader {
            root: real,
            restrictions: self.restrictions,
        })
    }
}

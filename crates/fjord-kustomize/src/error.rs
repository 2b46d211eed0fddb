use std::path::PathBuf;

/// Everything that can make a build fail. Messages follow kustomize's wording
/// where users (and scripts) are known to match on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Worded as kustomize reports a missing file or directory.
    #[error("evalsymlink failure on '{0}' : lstat {0}: no such file or directory")]
    NotFound(PathBuf),
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("invalid YAML in '{path}': {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("invalid resource in '{path}': {message}")]
    InvalidResource { path: PathBuf, message: String },
    #[error(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{0}'"
    )]
    MissingKustomization(PathBuf),
    #[error("Found multiple kustomization files under: {0}")]
    MultipleKustomizations(PathBuf),
    #[error("invalid Kustomization '{path}': {message}")]
    InvalidKustomization { path: PathBuf, message: String },
    #[error("cycle detected: '{0}' is already being built")]
    Cycle(PathBuf),
    #[error("may not add resource with an already registered id: {0}")]
    DuplicateId(String),
    #[error("'{field}' is not supported: {reason}")]
    Unsupported { field: String, reason: String },
    #[error("{object}: {message}")]
    Object { object: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub(crate) fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

pub(crate) trait ResultExt<T> {
    fn context_with<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context_with<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

/// A string quoted as Go's `%q` quotes it (kustomize wraps some errors so).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

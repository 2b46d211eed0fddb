//! Errors carry names and positions only: never item values, plaintext or key bytes.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sealed value is not valid base64")]
    Base64,
    #[error("sealed value is too short")]
    TooShort,
    #[error("no key could decrypt secret")]
    NoKeyCouldDecrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("item {item:?}: {reason}")]
    Item { item: String, reason: Box<Error> },
    #[error("no private key found in {0}")]
    NoPrivateKey(String),
    #[error("invalid private key in {0}")]
    InvalidPrivateKey(String),
    #[error("invalid certificate: {0}")]
    Certificate(&'static str),
    #[error("certificate has expired")]
    CertificateExpired,
    #[error("cannot parse {what} at line {line}, column {column}")]
    Parse {
        what: &'static str,
        line: usize,
        column: usize,
    },
    #[error("document {index} is not a valid {what}")]
    Document { what: &'static str, index: usize },
    #[error("invalid SealedSecret: {0}")]
    InvalidSealedSecret(&'static str),
    #[error("invalid Secret: {0}")]
    InvalidSecret(String),
    #[error("cannot generate a key: {0} failed")]
    KeyGeneration(&'static str),
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A template failed to parse or execute. `reason` names functions, constructs and Go
    /// types, never values; `unsupported` marks constructs or functions that are refused.
    #[error("template line {line}, column {column}: {}{reason}", if *unsupported { "unsupported: " } else { "" })]
    Template {
        line: usize,
        column: usize,
        reason: String,
        unsupported: bool,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// serde messages may quote the offending input (which can be a secret value), so only the
    /// position survives.
    pub(crate) fn from_yaml(what: &'static str, e: &serde_yaml::Error) -> Self {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        Error::Parse { what, line, column }
    }

    pub(crate) fn from_json(what: &'static str, e: &serde_json::Error) -> Self {
        Error::Parse {
            what,
            line: e.line(),
            column: e.column(),
        }
    }
}

//! Sealed Secrets crypto and types, wire-compatible with Bitnami's controller and kubeseal.
//!
//! Sealing needs only the controller's certificate; opening needs one of its private keys.
//! Nothing in this crate logs or formats plaintext or key material.

pub mod cert;
pub mod crypto;
pub mod error;
pub mod generate;
pub mod keys;
pub mod open;
pub mod scope;
pub mod seal;
pub mod template;
pub mod types;

pub use cert::{ControllerCert, parse_cert_pem};
pub use crypto::{Plaintext, SessionKey};
pub use error::Error;
pub use generate::{DEFAULT_CERT_TTL, DEFAULT_KEY_BITS, GeneratedKey, generate_key};
pub use keys::{PrivateKey, parse_private_keys};
pub use open::{UnsealOptions, open_value, unseal};
pub use scope::Scope;
pub use seal::{SealOptions, merge_into, re_encrypt, seal_raw, seal_secret};
pub use types::{
    ObjectMeta, OwnerReference, SealedSecret, SealedSecretSpec, Secret, SecretTemplate,
    SecretValue, parse_sealed_secrets, parse_secrets, to_json_pretty, to_yaml_sorted,
};

/// The randomness source for sealing; re-exported so callers need not pick an RNG crate.
pub use rand::rngs::OsRng;
pub use rsa::RsaPublicKey;

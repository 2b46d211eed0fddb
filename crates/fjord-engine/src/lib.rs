//! The engine under every fjord command: load manifests, validate them
//! against the API server, compare them with the live cluster, and sync the
//! difference with server-side apply.
//!
//! The pieces are separate concerns, in the spirit of gitops-engine:
//! [`manifest`] (load from disk), [`object`] (identity and ordering),
//! [`cluster`] (API discovery and requests), [`compare`] (normalise and diff),
//! [`sync`] (validate, apply, prune), [`tracking`] (ownership) and
//! [`schema`] (the server's OpenAPI schemas).

pub mod cluster;
pub mod compare;
pub mod manifest;
pub mod object;
pub mod schema;
pub mod sync;
pub mod tracking;

pub use cluster::{Cluster, ClusterError};
pub use manifest::{LoadError, Manifest, Source};
pub use object::ObjectId;
pub use sync::{ObjectResult, Outcome, Plan, Rejection, SyncError, SyncOptions, SyncReport};

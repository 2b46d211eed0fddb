//! The SealedSecret controller: opens `bitnami.com/v1alpha1` SealedSecrets
//! into the Secrets they describe, wire-compatible with Bitnami's
//! controller (its keys, its Secret, its status, its HTTP endpoints).
//!
//! [`keys`] holds the sealing keys, [`secret`] decides what to write,
//! [`controller`] watches and works the queue, [`http`] answers kubeseal
//! and [`client`] asks a running controller.

pub mod client;
pub mod controller;
pub mod http;
pub mod keys;
pub mod secret;

pub use controller::{SealedConfig, SealedSecrets};
pub use keys::{KeyConfig, KeyError};

use kube::api::{ApiResource, GroupVersionKind};

pub const GROUP: &str = "bitnami.com";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "SealedSecret";

pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), "sealedsecrets")
}

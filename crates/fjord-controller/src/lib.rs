//! The GitOps controller: Argo CD `Application`s reconciled from Git.
//!
//! The split follows kube-runtime: a watch feeds a store of Applications
//! and a [`cache::LiveCache`] of every managed kind; a queue of application
//! names feeds the reconcilers ([`reconcile`]). Source, render, compare,
//! sync and assess are separate modules. [`sealed`] is the SealedSecret
//! controller, which runs in the same process or alone.

pub mod application;
pub mod cache;
pub mod controller;
pub mod destinations;
pub mod drift;
pub mod events;
pub mod endpoint;
pub mod health;
pub mod install;
pub mod leader;
pub mod queue;
pub mod reconcile;
pub mod render;
pub mod repos;
pub mod sealed;
pub mod status;

pub use controller::{Controller, ControllerConfig};

/// An error and its causes on one line, for conditions, events and logs.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

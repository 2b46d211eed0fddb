//! The GitOps controller: Argo CD `Application`s reconciled from Git.
//!
//! The split follows kube-runtime: a watch feeds a store of Applications
//! and a [`cache::LiveCache`] of every managed kind; a queue of application
//! names feeds the reconcilers ([`reconcile`]). Source, render, compare,
//! sync and assess are separate modules.

pub mod application;
pub mod cache;
pub mod controller;
pub mod destinations;
pub mod drift;
pub mod endpoint;
pub mod health;
pub mod install;
pub mod leader;
pub mod reconcile;
pub mod render;
pub mod repos;
pub mod status;

pub use controller::{Controller, ControllerConfig};

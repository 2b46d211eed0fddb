//! Native kustomize renderer: turns a kustomization directory into the list
//! of Kubernetes objects `kustomize build` (v5.5) produces, in the same
//! order. No network, no Kubernetes client.

mod build;
mod config;
mod crds;
pub mod emit;
mod error;
mod fieldspec;
mod generators;
mod goyaml;
mod hash;
mod kustomization;
mod label_selector;
mod load;
mod nameref;
mod origin;
pub mod patch;
mod plugins;
mod replacements;
mod resource;
mod schema;
mod select;
mod shared_values;
mod sort;
mod transform;
mod vars;
pub mod yaml;

use std::path::Path;

pub use build::Options;
pub use error::{Error, Result};
pub use load::LoadRestrictions;
pub use resource::{Gvk, ResId, Resource};
pub use schema::Builtin as BuiltinSchema;

/// Builds the kustomization in `dir` and returns the objects in output
/// order.
pub fn build(dir: &Path, opts: &Options) -> Result<Vec<serde_json::Value>> {
    let rs = build::Builder::new(opts.clone()).run(dir)?;
    Ok(rs
        .into_iter()
        .map(|r| serde_json::Value::Object(r.obj))
        .collect())
}

/// Builds and renders as multi-document YAML, as `kustomize build` prints.
pub fn build_yaml(dir: &Path, opts: &Options) -> Result<String> {
    let rs = build::Builder::new(opts.clone()).run(dir)?;
    // Each object is dropped as soon as it is written, so the peak holds
    // the objects or their text, not both.
    let mut out = String::new();
    for (i, r) in rs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        emit::write_document(&mut out, &serde_json::Value::Object(r.obj));
    }
    Ok(out)
}

//! `replacements:`: copy a field of one object into fields of others.

use crate::error::{Error, Result};
use crate::kustomization::ReplacementOrPath;
use crate::load::Loader;
use crate::resource::Resource;

pub fn apply(_rs: &mut [Resource], _reps: &[ReplacementOrPath], _ldr: &Loader) -> Result<()> {
    Err(Error::Unsupported {
        field: "replacements".into(),
        reason: "not implemented yet".into(),
    })
}

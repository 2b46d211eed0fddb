//! `crds:`: name-reference rules declared in CustomResourceDefinition
//! schemas.

use std::path::Path;

use crate::config::TransformerConfig;
use crate::error::Result;

pub fn config_from_crds(_text: &str, _path: &Path) -> Result<TransformerConfig> {
    Ok(TransformerConfig::default())
}

//! Built-in generators and transformers given as plugin configurations in
//! `generators:` and `transformers:`.

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::load::Loader;
use crate::resource::Resource;

pub fn generate(c: &Resource, _ldr: &Loader) -> Result<Vec<Resource>> {
    Err(Error::Unsupported { field: "generators".into(), reason: format!("plugin {} is not available", c.cur_id()) })
}

pub fn transform(c: &Resource, _ldr: &Loader, _rs: &mut Vec<Resource>, _cfg: &TransformerConfig) -> Result<()> {
    Err(Error::Unsupported { field: "transformers".into(), reason: format!("plugin {} is not available", c.cur_id()) })
}

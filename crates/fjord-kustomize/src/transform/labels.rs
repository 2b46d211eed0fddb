//! `commonLabels`, `labels` and `commonAnnotations`: string pairs written
//! into every field spec that selects the object.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::fieldspec;
use crate::kustomization::FieldSpec;
use crate::resource::Resource;

pub fn apply(
    resources: &mut [Resource],
    pairs: &IndexMap<String, String>,
    specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        let gvk = r.org_gvk();
        let id = r.cur_id();
        r.with_value(|obj| -> Result<()> {
            for fs in specs.iter().filter(|fs| super::selects(fs, &gvk)) {
                let mut set = |node: &mut Value| -> Result<()> {
                    if node.is_null() {
                        *node = Value::Object(Map::new());
                    }
                    let Value::Object(m) = node else {
                        return Err(Error::Object {
                            object: id.to_string(),
                            message: format!("field '{}' is not a mapping", fs.path),
                        });
                    };
                    for (k, v) in pairs {
                        m.insert(k.clone(), Value::String(v.clone()));
                    }
                    Ok(())
                };
                fieldspec::visit_str(obj, &fs.path, fs.create, &mut set)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

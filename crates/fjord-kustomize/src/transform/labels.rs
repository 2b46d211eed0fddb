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
        let res = r.with_value(|obj| -> Result<()> {
            for fs in specs.iter().filter(|fs| super::selects(fs, &gvk)) {
                let mut set = |node: &mut Value| -> Result<()> {
                    if node.is_null() {
                        *node = Value::Object(Map::new());
                    }
                    let Value::Object(m) = node else {
                        return Err(Error::Object {
                            // Named below, once the object is back.
                            object: String::new(),
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
        });
        match res {
            Err(Error::Object { object, message }) if object.is_empty() => {
                return Err(Error::Object {
                    object: r.cur_id().to_string(),
                    message,
                });
            }
            other => other?,
        }
    }
    Ok(())
}

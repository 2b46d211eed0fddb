//! `commonLabels`, `labels` and `commonAnnotations`: string pairs written
//! into every field spec that selects the object.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::fieldspec::{self, Crumb};
use crate::kustomization::FieldSpec;
use crate::resource::Resource;
use crate::shared_values::{PathsInterner, Step};

pub fn apply(
    resources: &mut [Resource],
    pairs: &IndexMap<String, String>,
    specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let values: Vec<Arc<str>> = pairs.values().map(|v| Arc::from(v.as_str())).collect();
    let mut interner = PathsInterner::default();
    for r in resources.iter_mut() {
        let gvk = r.org_gvk();
        // Per key, the fields it was created in: they share one value.
        let mut created: Vec<Vec<Vec<Step>>> = vec![Vec::new(); pairs.len()];
        let res = r.with_value(|obj| -> Result<()> {
            for fs in specs.iter().filter(|fs| super::selects(fs, &gvk)) {
                let mut set = |node: &mut Value, trail: &[Crumb]| -> Result<()> {
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
                    for (i, (k, v)) in pairs.iter().enumerate() {
                        if m.insert(k.clone(), Value::String(v.clone())).is_none() {
                            let mut path: Vec<Step> = trail.iter().map(Step::from).collect();
                            path.push(Step::Key(k.clone()));
                            created[i].push(path);
                        }
                    }
                    Ok(())
                };
                fieldspec::visit_str_with_path(obj, &fs.path, fs.create, &mut set)?;
            }
            Ok(())
        });
        if res.is_ok() {
            r.build.shared.replay(&mut r.obj);
            for (paths, v) in created.into_iter().zip(&values) {
                if paths.len() > 1 {
                    r.build.shared.share(interner.intern(paths), v.clone());
                }
            }
        }
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

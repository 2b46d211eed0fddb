//! `replicas:`: sets the replica count of named workloads.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fieldspec;
use crate::kustomization::{FieldSpec, Replica};
use crate::resource::Resource;

pub fn apply(resources: &mut [Resource], rep: &Replica, specs: &[FieldSpec]) -> Result<()> {
    let mut found = false;
    for fs in specs {
        for r in resources.iter_mut() {
            // Any id of the object, current or earlier, with the name and a
            // gvk the spec selects.
            let mut ids = r.prev_ids();
            ids.push(r.cur_id());
            let hit = ids
                .iter()
                .any(|id| id.name == rep.name && super::selects(fs, &id.gvk));
            if !hit {
                continue;
            }
            found = true;
            let mut obj = Value::Object(std::mem::take(&mut r.obj));
            let mut set = |node: &mut Value| -> Result<()> {
                // kustomize changes the value but keeps how it was written:
                // a count given as a quoted string stays quoted.
                *node = match node {
                    Value::String(_) => Value::String(rep.count.to_string()),
                    _ => Value::from(rep.count),
                };
                Ok(())
            };
            let res = fieldspec::visit_str(&mut obj, &fs.path, fs.create, &mut set);
            if let Value::Object(m) = obj {
                r.obj = m;
            }
            res?;
        }
    }
    if !found {
        let gvks: Vec<String> = specs.iter().map(|fs| fs.gvk().to_string()).collect();
        return Err(Error::invalid(format!(
            "resource with name {} does not match a config with the following GVK [{}]",
            rep.name,
            gvks.join(" ")
        )));
    }
    Ok(())
}

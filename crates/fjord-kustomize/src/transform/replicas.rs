//! `replicas:`: sets the replica count of named workloads.

use serde_json::Value;

use crate::error::Result;
use crate::fieldspec;
use crate::kustomization::{FieldSpec, Replica};
use crate::resource::Resource;

pub fn apply(resources: &mut [Resource], rep: &Replica, specs: &[FieldSpec]) -> Result<()> {
    let mut found = false;
    for r in resources.iter_mut() {
        let named = r.name() == rep.name || r.prev_ids().iter().any(|p| p.name == rep.name);
        if !named {
            continue;
        }
        let gvk = r.gvk();
        let mut obj = Value::Object(std::mem::take(&mut r.obj));
        for fs in specs.iter().filter(|fs| super::selects(fs, &gvk)) {
            found = true;
            let mut set = |node: &mut Value| -> Result<()> {
                *node = Value::from(rep.count);
                Ok(())
            };
            fieldspec::visit_str(&mut obj, &fs.path, fs.create, &mut set)?;
        }
        if let Value::Object(m) = obj {
            r.obj = m;
        }
    }
    if !found {
        tracing::debug!(name = %rep.name, "replicas entry matched no workload");
    }
    Ok(())
}

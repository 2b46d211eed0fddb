//! `namespace:`: moves every namespaced object into one namespace.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fieldspec;
use crate::kustomization::FieldSpec;
use crate::resource::Resource;

pub fn apply(resources: &mut [Resource], ns: &str, specs: &[FieldSpec]) -> Result<()> {
    if ns.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        if r.obj.is_empty() {
            continue;
        }
        r.store_previous_id();
        let gvk = r.gvk();
        if !gvk.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        let is_binding = matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding");
        if is_binding {
            // Subjects named `default` are the ones kustomize moves along
            // with the binding.
            if let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
                for s in subjects.iter_mut() {
                    if let Value::Object(m) = s
                        && m.get("name").and_then(Value::as_str) == Some("default")
                    {
                        m.insert("namespace".into(), Value::String(ns.into()));
                    }
                }
            }
        }
        let api_version = r.api_version().to_string();
        r.with_value(|obj| -> Result<()> {
            for fs in specs {
                if fs.path == "metadata/namespace"
                    || (fs.path == "metadata/name" && api_version != "v1")
                    || (is_binding && fs.path == "subjects/namespace")
                    || !super::selects(fs, &gvk)
                {
                    continue;
                }
                let mut set = |node: &mut Value| -> Result<()> {
                    match node {
                        Value::Null | Value::String(_) => {
                            *node = Value::String(ns.to_string());
                            Ok(())
                        }
                        _ => Err(Error::invalid(format!(
                            "namespace field specs must target scalar nodes: '{}'",
                            fs.path
                        ))),
                    }
                };
                fieldspec::visit_str(obj, &fs.path, fs.create, &mut set)?;
            }
            Ok(())
        })?;
    }
    let mut seen = HashSet::with_capacity(resources.len());
    for r in resources.iter() {
        if !seen.insert(r.cur_id().key()) {
            return Err(Error::invalid(format!(
                "namespace transformation produces ID conflict: {}",
                r.cur_id()
            )));
        }
    }
    Ok(())
}

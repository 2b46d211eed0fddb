//! `namespace:`: moves every namespaced object into one namespace.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fieldspec;
use crate::kustomization::FieldSpec;
use crate::resource::Resource;

/// The NamespaceTransformer's options; a kustomization's `namespace:`
/// uses the defaults.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    /// Only set namespaces that are missing or empty.
    pub unset_only: bool,
    /// Which role binding subjects move: `defaultOnly` (those named
    /// `default`, also when unset), `allServiceAccounts` or `none`.
    pub set_role_binding_subjects: String,
}

impl Options {
    /// Whether a subject moves with its binding.
    fn moves(&self, subject: &serde_json::Map<String, Value>) -> Result<bool> {
        let field = |f: &str| subject.get(f).and_then(Value::as_str);
        match self.set_role_binding_subjects.as_str() {
            "" | "defaultOnly" => Ok(field("name") == Some("default")),
            "allServiceAccounts" => Ok(field("kind") == Some("ServiceAccount")),
            "none" => Ok(false),
            other => Err(Error::invalid(format!(
                "invalid value \"{other}\" for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
            ))),
        }
    }

    /// Whether a field holding `current` gets the namespace.
    fn sets(&self, current: Option<&Value>) -> bool {
        !self.unset_only
            || match current {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            }
    }
}

pub fn apply(
    resources: &mut [Resource],
    ns: &str,
    specs: &[FieldSpec],
    opts: &Options,
) -> Result<()> {
    if ns.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        if r.obj.is_empty() {
            continue;
        }
        r.store_previous_id();
        move_object(r, ns, specs, opts)?;
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

/// Moves one object into the namespace: its own namespace unless it is
/// cluster-scoped, role binding subjects as the options say, and the
/// field specs that select it.
pub fn move_object(r: &mut Resource, ns: &str, specs: &[FieldSpec], opts: &Options) -> Result<()> {
    let gvk = r.gvk();
    let current = r.obj.get("metadata").and_then(|m| m.get("namespace"));
    if !gvk.is_cluster_scoped() && opts.sets(current) {
        r.set_namespace(ns);
    }
    let is_binding = matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding");
    if is_binding && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
        for s in subjects.iter_mut() {
            if let Value::Object(m) = s
                && opts.moves(m)?
                && opts.sets(m.get("namespace"))
            {
                m.insert("namespace".into(), Value::String(ns.into()));
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
                if !opts.sets(Some(node)) {
                    return Ok(());
                }
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
    Ok(())
}

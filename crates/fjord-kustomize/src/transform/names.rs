//! `namePrefix` and `nameSuffix`.

use serde_json::Value;

use crate::error::Result;
use crate::fieldspec;
use crate::kustomization::FieldSpec;
use crate::resource::Resource;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Affix {
    Prefix,
    Suffix,
}

/// Kinds whose names kustomize never decorates.
fn skipped(kind: &str, group: &str) -> bool {
    kind == "CustomResourceDefinition"
        || kind == "Namespace"
        || (kind == "APIService" && group == "apiregistration.k8s.io")
}

pub fn apply(
    resources: &mut [Resource],
    affix: &str,
    which: Affix,
    specs: &[FieldSpec],
) -> Result<()> {
    if affix.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        let org_gvk = r.org_gvk();
        if skipped(&org_gvk.kind, &org_gvk.group) {
            continue;
        }
        for fs in specs.iter().filter(|fs| super::selects(fs, &org_gvk)) {
            if fs.path == "metadata/name" {
                match which {
                    Affix::Prefix => r.build.prefixes.push(affix.to_string()),
                    Affix::Suffix => r.build.suffixes.push(affix.to_string()),
                }
                r.store_previous_id();
            }
            let mut obj = Value::Object(std::mem::take(&mut r.obj));
            let mut set = |node: &mut Value| -> Result<()> {
                if let Value::String(s) = node {
                    *s = match which {
                        Affix::Prefix => format!("{affix}{s}"),
                        Affix::Suffix => format!("{s}{affix}"),
                    };
                }
                Ok(())
            };
            let res = fieldspec::visit_str(&mut obj, &fs.path, fs.create, &mut set);
            if let Value::Object(m) = obj {
                r.obj = m;
            }
            res?;
        }
    }
    Ok(())
}

//! `vars:`: `$(NAME)` references replaced by a field of another object.

use serde_json::Value;

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::fieldspec::{self, parse_field_path};
use crate::kustomization::Var;
use crate::resource::{Gvk, ResId, Resource};

pub fn add(vars: &mut Vec<Var>, v: Var) -> Result<()> {
    if vars.iter().any(|x| x.name == v.name) {
        return Err(Error::invalid(format!(
            "var '{}' already encountered",
            v.name
        )));
    }
    vars.push(v);
    Ok(())
}

fn objref_gvk(v: &Var) -> Gvk {
    let o = &v.objref;
    if !o.api_version.is_empty() {
        Gvk::from_api_version(&o.api_version, &o.kind)
    } else {
        Gvk {
            group: o.group.clone(),
            version: o.version.clone(),
            kind: o.kind.clone(),
        }
    }
}

/// Binds this level's vars to the objects they name, as kustomize's
/// `MergeVars` does once a kustomization's transformers have run: the
/// object is found by any of its ids (current or earlier), by exact
/// group/version/kind and name, and by namespace only when the var gives
/// one (or the kind is cluster-scoped). The binding survives later renames.
pub fn bind(rs: &mut [Resource], vars: &mut Vec<Var>, incoming: &[Var]) -> Result<()> {
    for v in incoming {
        let want = ResId {
            gvk: objref_gvk(v),
            name: v.objref.name.clone(),
            namespace: v.objref.namespace.clone(),
        };
        let with_ns = !want.namespace.is_empty() || want.gvk.is_cluster_scoped();
        let matches = |id: &ResId| {
            id.gvk == want.gvk
                && id.name == want.name
                && (!with_ns || id.effective_namespace() == want.effective_namespace())
        };
        let hits: Vec<usize> = rs
            .iter()
            .enumerate()
            .filter(|(_, r)| matches(&r.cur_id()) || r.prev_ids().iter().any(&matches))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => {}
            [i] => rs[*i].build.ref_vars.push(v.name.clone()),
            _ => {
                return Err(Error::invalid(format!(
                    "found {} resId matches for var {} (unable to disambiguate)",
                    hits.len(),
                    v.name
                )));
            }
        }
        add(vars, v.clone())?;
    }
    Ok(())
}

fn value_of(v: &Var, rs: &[Resource]) -> Result<Value> {
    let path = if v.fieldref.fieldpath.is_empty() {
        "metadata.name"
    } else {
        &v.fieldref.fieldpath
    };
    let Some(r) = rs.iter().find(|r| r.build.ref_vars.contains(&v.name)) else {
        // The var printed as kustomize's Go `%v` prints it.
        return Err(Error::invalid(format!(
            "var '{{{} {} {{{path}}}}}' cannot be mapped to a field in the set of known resources",
            v.name,
            objref_gvk(v)
        )));
    };
    let obj = Value::Object(r.obj.clone());
    fieldspec::get(&obj, &parse_field_path(path))
        .cloned()
        .ok_or_else(|| {
            Error::invalid(format!(
                "field specified in var '{}' not found in corresponding resource: {path}",
                v.name
            ))
        })
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Expands `$(NAME)` as Kubernetes does: `$$` escapes, unknown names stay.
fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
    if let Some(name) = s.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
        && !name.contains(['(', ')', '$'])
        && let Some(v) = lookup(name)
    {
        return v;
    }
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'('
                && let Some(end) = s[i + 2..].find(')')
            {
                let name = &s[i + 2..i + 2 + end];
                if let Some(v) = lookup(name) {
                    out.push_str(&scalar_text(&v));
                } else {
                    out.push_str(&s[i..i + 3 + end]);
                }
                i += 3 + end;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    Value::String(out)
}

fn expand_node(node: &mut Value, lookup: &dyn Fn(&str) -> Option<Value>) {
    match node {
        Value::String(s) => *node = expand(s, lookup),
        Value::Array(items) => items.iter_mut().for_each(|i| expand_node(i, lookup)),
        Value::Object(m) => m.values_mut().for_each(|v| {
            if v.is_string() {
                expand_node(v, lookup)
            }
        }),
        _ => {}
    }
}

pub fn resolve(rs: &mut [Resource], vars: &[Var], cfg: &TransformerConfig) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(vars.len());
    for v in vars {
        values.push((v.name.clone(), value_of(v, rs)?));
    }
    let lookup = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    for r in rs.iter_mut() {
        let gvk = r.gvk();
        let mut obj = Value::Object(std::mem::take(&mut r.obj));
        for fs in cfg
            .var_reference
            .iter()
            .filter(|fs| gvk.is_selected_by(&fs.group, &fs.version, &fs.kind))
        {
            let mut f = |node: &mut Value| -> Result<()> {
                expand_node(node, &lookup);
                Ok(())
            };
            fieldspec::visit_str(&mut obj, &fs.path, false, &mut f)?;
        }
        if let Value::Object(m) = obj {
            r.obj = m;
        }
    }
    Ok(())
}

//! Name references: after prefixes, suffixes, hashes and namespaces have
//! changed object names, every field that names another object (a volume's
//! ConfigMap, a RoleBinding's subjects, an HPA's target, ...) is rewritten to
//! the new name.

use std::collections::HashMap;

use serde_json::Value;

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::fieldspec;
use crate::resource::{BuildInfo, Gvk, ResId, Resource};

struct Candidate {
    cur: ResId,
    prev: Vec<ResId>,
    build: BuildInfo,
    org_namespace: String,
}

struct Index {
    cands: Vec<Candidate>,
    /// Earlier names to candidates that once had them.
    by_prev_name: HashMap<String, Vec<usize>>,
}

/// Namespaces of the ServiceAccounts a RoleBinding names: objects there may
/// be referred to from the binding's namespace. A subject whose namespace
/// is present but not a string (`namespace:` left blank) is an error, as in
/// kustomize.
fn role_binding_namespaces(r: &Resource) -> Result<Vec<String>> {
    if r.kind() != "RoleBinding" {
        return Ok(Vec::new());
    }
    let Some(Value::Array(subjects)) = r.obj.get("subjects") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in subjects {
        let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind")) else {
            continue;
        };
        if kind.as_str() != Some("ServiceAccount") {
            continue;
        }
        match ns.as_str() {
            Some(n) => out.push(n.to_string()),
            None => {
                return Err(Error::invalid(format!(
                    "Invalid Input: namespace is blank for resource \"{}\"",
                    r.cur_id()
                )));
            }
        }
    }
    Ok(out)
}

struct Referrer {
    cur: ResId,
    build: BuildInfo,
    rb_namespaces: Vec<String>,
    role_ref_gvk: Option<Gvk>,
}

impl Referrer {
    fn could_reference(&self, c: &Candidate) -> bool {
        if self.cur.gvk.is_cluster_scoped() || c.cur.gvk.is_cluster_scoped() {
            return true;
        }
        c.cur.effective_namespace() == self.cur.effective_namespace()
            || self.rb_namespaces.iter().any(|n| *n == c.cur.namespace)
    }
}

pub fn fix(resources: &mut [Resource], config: &TransformerConfig) -> Result<()> {
    let idx = {
        let mut cands = Vec::with_capacity(resources.len());
        let mut by_prev_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            let prev = r.prev_ids();
            for p in &prev {
                let v = by_prev_name.entry(p.name.clone()).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
            cands.push(Candidate {
                cur: r.cur_id(),
                org_namespace: r.org_id().effective_namespace().to_string(),
                prev,
                build: r.build.clone(),
            });
        }
        Index {
            cands,
            by_prev_name,
        }
    };
    for r in resources.iter_mut() {
        let org_gvk = r.org_id().gvk;
        let referrer = Referrer {
            cur: r.cur_id(),
            build: r.build.clone(),
            rb_namespaces: role_binding_namespaces(r)?,
            role_ref_gvk: r.obj.get("roleRef").and_then(|rr| {
                Some(Gvk {
                    group: rr.get("apiGroup")?.as_str()?.to_string(),
                    version: String::new(),
                    kind: rr.get("kind")?.as_str()?.to_string(),
                })
            }),
        };
        let mut obj = Value::Object(std::mem::take(&mut r.obj));
        let mut result = Ok(());
        'outer: for nbr in &config.name_reference {
            let target = nbr.gvk();
            for fs in &nbr.field_specs {
                if !org_gvk.is_selected_by(&fs.group, &fs.version, &fs.kind) {
                    continue;
                }
                let is_role_ref = fs.path.ends_with("roleRef/name");
                let mut f = |node: &mut Value| set(node, &idx, &referrer, &target, is_role_ref);
                if let Err(e) = fieldspec::visit_str(&mut obj, &fs.path, false, &mut f) {
                    result = Err(e.context(format!(
                        "updating name reference in '{}' field of '{}'",
                        fs.path, referrer.cur
                    )));
                    break 'outer;
                }
            }
        }
        if let Value::Object(m) = obj {
            r.obj = m;
        }
        result?;
    }
    Ok(())
}

fn set(node: &mut Value, idx: &Index, who: &Referrer, target: &Gvk, role_ref: bool) -> Result<()> {
    match node {
        Value::String(_) => set_scalar(node, idx, who, target, role_ref),
        Value::Object(_) => set_mapping(node, idx, who, target, role_ref),
        Value::Array(items) => {
            for it in items {
                match it {
                    Value::Object(_) => set_mapping(it, idx, who, target, role_ref)?,
                    Value::String(_) => set_scalar(it, idx, who, target, role_ref)?,
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn set_scalar(
    node: &mut Value,
    idx: &Index,
    who: &Referrer,
    target: &Gvk,
    role_ref: bool,
) -> Result<()> {
    let Value::String(old) = node else {
        return Ok(());
    };
    let cands = sieve(idx, who, target, role_ref, old, None);
    if let Some(c) = select(&cands, idx, who, old, false)? {
        *old = idx.cands[c].cur.name.clone();
    }
    Ok(())
}

fn set_mapping(
    node: &mut Value,
    idx: &Index,
    who: &Referrer,
    target: &Gvk,
    role_ref: bool,
) -> Result<()> {
    let Value::Object(m) = node else {
        return Ok(());
    };
    let Some(old) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
        return Ok(());
    };
    let ns = m
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let cands = sieve(idx, who, target, role_ref, &old, ns.as_deref());
    let Some(c) = select(&cands, idx, who, &old, true)? else {
        return Ok(());
    };
    let chosen = &idx.cands[c].cur;
    if chosen.name == old && chosen.namespace.is_empty() {
        return Ok(());
    }
    m.insert("name".into(), Value::String(chosen.name.clone()));
    if !chosen.namespace.is_empty() {
        m.insert("namespace".into(), Value::String(chosen.namespace.clone()));
    }
    Ok(())
}

fn eff(ns: &str) -> &str {
    if ns.is_empty() {
        crate::resource::DEFAULT_NAMESPACE
    } else {
        ns
    }
}

fn sieve(
    idx: &Index,
    who: &Referrer,
    target: &Gvk,
    role_ref: bool,
    old: &str,
    ns: Option<&str>,
) -> Vec<usize> {
    let Some(named) = idx.by_prev_name.get(old) else {
        return Vec::new();
    };
    let mut base: Vec<usize> = named
        .iter()
        .copied()
        .filter(|&i| who.could_reference(&idx.cands[i]))
        .collect();
    if let Some(ns) = ns {
        let by_org: Vec<usize> = base
            .iter()
            .copied()
            .filter(|&i| idx.cands[i].org_namespace == eff(ns))
            .collect();
        base = if by_org.is_empty() {
            base.into_iter()
                .filter(|&i| idx.cands[i].cur.effective_namespace() == eff(ns))
                .collect()
        } else {
            by_org
        };
    }
    base.into_iter()
        .filter(|&i| {
            let c = &idx.cands[i];
            c.prev.iter().any(|p| p.name == old)
                && c.prev.iter().any(|p| {
                    p.gvk
                        .is_selected_by(&target.group, &target.version, &target.kind)
                })
                && (!role_ref
                    || who.role_ref_gvk.as_ref().is_none_or(|g| {
                        c.prev
                            .iter()
                            .any(|p| p.gvk.is_selected_by(&g.group, &g.version, &g.kind))
                    }))
                && (who.cur.gvk.is_cluster_scoped()
                    || c.cur.gvk.is_cluster_scoped()
                    || c.cur.gvk.kind == "ServiceAccount"
                    || c.cur.effective_namespace() == who.cur.effective_namespace())
        })
        .collect()
}

fn select(
    cands: &[usize],
    idx: &Index,
    who: &Referrer,
    _old: &str,
    with_ns: bool,
) -> Result<Option<usize>> {
    if cands.len() == 1 {
        return Ok(Some(cands[0]));
    }
    let decorated = |allow_empty: bool, from: &[usize]| -> Vec<usize> {
        from.iter()
            .copied()
            .filter(|&i| {
                let c = &idx.cands[i];
                let r = Resource {
                    obj: Default::default(),
                    build: c.build.clone(),
                };
                r.prefixes_suffixes_equal(&who.build, allow_empty)
            })
            .collect()
    };
    let mut c = decorated(true, cands);
    if c.len() > 1 {
        c = decorated(false, &c);
    }
    match c.len() {
        0 => Ok(None),
        1 => Ok(Some(c[0])),
        _ => {
            let first = &idx.cands[c[0]].cur;
            let same = c.iter().all(|&i| {
                let x = &idx.cands[i].cur;
                x.name == first.name && (!with_ns || x.namespace == first.namespace)
            });
            if same {
                return Ok(Some(c[0]));
            }
            let ids: Vec<String> = c.iter().map(|&i| idx.cands[i].cur.to_string()).collect();
            Err(Error::invalid(format!(
                "found multiple possible referrals: {}\nreferrer: {}",
                ids.join(", "),
                who.cur
            )))
        }
    }
}

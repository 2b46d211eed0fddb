//! Name references: after prefixes, suffixes, hashes and namespaces have
//! changed object names, every field that names another object (a volume's
//! ConfigMap, a RoleBinding's subjects, an HPA's target, ...) is rewritten to
//! the new name.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::fieldspec;
use crate::resource::{BuildInfo, Gvk, ResId, Resource};

/// What name-reference fixing knows of each object. Built-up names and ids
/// are borrowed from the resources; only the current id is computed.
struct Candidate<'a> {
    cur: ResId,
    /// Earlier (kind, name, effective namespace) triples, oldest first.
    prev: &'a [(String, String, String)],
    build: &'a BuildInfo,
}

impl Candidate<'_> {
    /// The effective namespace the object started with.
    fn org_namespace(&self) -> &str {
        match self.prev.first() {
            Some((_, _, ns)) => ns,
            None => self.cur.effective_namespace(),
        }
    }

    /// Whether an earlier id of this object has a gvk selected by `sel`
    /// (earlier ids share the current group and version).
    fn prev_selected_by(&self, sel: &Gvk) -> bool {
        let g = &self.cur.gvk;
        self.prev
            .iter()
            .any(|(kind, _, _)| selects(sel, &g.group, &g.version, kind))
    }
}

fn selects(sel: &Gvk, group: &str, version: &str, kind: &str) -> bool {
    (sel.group.is_empty() || sel.group == group)
        && (sel.version.is_empty() || sel.version == version)
        && (sel.kind.is_empty() || sel.kind == kind)
}

struct Index<'a> {
    cands: Vec<Candidate<'a>>,
    /// Earlier names to candidates that once had them.
    by_prev_name: HashMap<&'a str, Vec<usize>>,
}

/// Namespaces of the ServiceAccounts a RoleBinding names: objects there may
/// be referred to from the binding's namespace. A subject whose namespace
/// is present but not a string (`namespace:` left blank) is an error, as in
/// kustomize.
fn role_binding_namespaces(cur: &ResId, obj: &Map<String, Value>) -> Result<Vec<String>> {
    if cur.gvk.kind != "RoleBinding" {
        return Ok(Vec::new());
    }
    let Some(Value::Array(subjects)) = obj.get("subjects") else {
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
                    cur
                )));
            }
        }
    }
    Ok(out)
}

struct Referrer<'a> {
    cur: &'a ResId,
    build: &'a BuildInfo,
    rb_namespaces: Vec<String>,
    role_ref_gvk: Option<Gvk>,
}

impl Referrer<'_> {
    fn could_reference(&self, c: &Candidate) -> bool {
        if self.cur.gvk.is_cluster_scoped() || c.cur.gvk.is_cluster_scoped() {
            return true;
        }
        c.cur.effective_namespace() == self.cur.effective_namespace()
            || self.rb_namespaces.contains(&c.cur.namespace)
    }
}

pub fn fix(resources: &mut [Resource], config: &TransformerConfig) -> Result<()> {
    let curs: Vec<ResId> = resources.iter().map(Resource::cur_id).collect();
    // The objects are lent out while the build facts stay borrowed by the
    // index; they are put back before returning, error or not.
    let mut objs: Vec<Map<String, Value>> = resources
        .iter_mut()
        .map(|r| std::mem::take(&mut r.obj))
        .collect();
    let result = fix_objects(resources, curs, &mut objs, config);
    for (r, obj) in resources.iter_mut().zip(objs) {
        r.obj = obj;
    }
    result
}

fn fix_objects(
    resources: &[Resource],
    curs: Vec<ResId>,
    objs: &mut [Map<String, Value>],
    config: &TransformerConfig,
) -> Result<()> {
    let mut cands = Vec::with_capacity(resources.len());
    let mut by_prev_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (r, cur)) in resources.iter().zip(curs).enumerate() {
        for (_, name, _) in &r.build.prev {
            let v = by_prev_name.entry(name.as_str()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
        cands.push(Candidate {
            cur,
            prev: &r.build.prev,
            build: &r.build,
        });
    }
    let idx = Index {
        cands,
        by_prev_name,
    };
    for (i, obj) in objs.iter_mut().enumerate() {
        let c = &idx.cands[i];
        let org_gvk = Gvk {
            group: c.cur.gvk.group.clone(),
            version: c.cur.gvk.version.clone(),
            kind: c
                .prev
                .first()
                .map_or_else(|| c.cur.gvk.kind.clone(), |(k, _, _)| k.clone()),
        };
        let referrer = Referrer {
            cur: &c.cur,
            build: c.build,
            rb_namespaces: role_binding_namespaces(&c.cur, obj)?,
            role_ref_gvk: obj.get("roleRef").and_then(|rr| {
                Some(Gvk {
                    group: rr.get("apiGroup")?.as_str()?.to_string(),
                    version: String::new(),
                    kind: rr.get("kind")?.as_str()?.to_string(),
                })
            }),
        };
        let mut value = Value::Object(std::mem::take(obj));
        let mut result = Ok(());
        'outer: for nbr in &config.name_reference {
            let target = nbr.gvk();
            for fs in &nbr.field_specs {
                if !org_gvk.is_selected_by(&fs.group, &fs.version, &fs.kind) {
                    continue;
                }
                let is_role_ref = fs.path.ends_with("roleRef/name");
                let mut f = |node: &mut Value| set(node, &idx, &referrer, &target, is_role_ref);
                if let Err(e) = fieldspec::visit_str(&mut value, &fs.path, false, &mut f) {
                    result = Err(e.context(format!(
                        "updating name reference in '{}' field of '{}'",
                        fs.path, referrer.cur
                    )));
                    break 'outer;
                }
            }
        }
        if let Value::Object(m) = value {
            *obj = m;
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
            .filter(|&i| idx.cands[i].org_namespace() == eff(ns))
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
            c.prev.iter().any(|(_, n, _)| n == old)
                && c.prev_selected_by(target)
                && (!role_ref
                    || who
                        .role_ref_gvk
                        .as_ref()
                        .is_none_or(|g| c.prev_selected_by(g)))
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
            .filter(|&i| idx.cands[i].build.decorations_equal(who.build, allow_empty))
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

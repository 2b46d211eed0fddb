//! Strategic merge patch with the semantics of kustomize's kyaml merge:
//! mappings merge field by field, lists with a merge key merge element by
//! element (patch elements first, then the remaining original ones), other
//! lists are replaced whole, and `$patch` directives (on a mapping, a list
//! element or a whole list) are honoured. `$deleteFromPrimitiveList`,
//! `$setElementOrder` and `$retainKeys` are applied as Kubernetes applies
//! them, where kustomize v5.5 would leave them in the output as fields.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How a list field merges.
#[derive(Debug, Clone, PartialEq)]
pub enum ListStrategy {
    /// Replace the whole list with the patch's.
    Replace,
    /// Merge maps matched on these keys.
    Keys(Vec<String>),
    /// Union of scalar values.
    Primitive,
}

/// Answers the list strategy for a field, given the path of field names from
/// the object root (sequence steps omitted).
pub trait Schema {
    fn list_strategy(&self, path: &[&str], dest: &[Value], patch: &[Value]) -> ListStrategy;
}

const DIRECTIVE: &str = "$patch";

enum Directive {
    None,
    Delete,
    Replace,
    Merge,
}

fn directive(m: &Map<String, Value>) -> Result<Directive> {
    match m.get(DIRECTIVE) {
        None => Ok(Directive::None),
        Some(Value::String(s)) => match s.as_str() {
            "delete" => Ok(Directive::Delete),
            "replace" => Ok(Directive::Replace),
            "merge" => Ok(Directive::Merge),
            other => Err(Error::invalid(format!(
                "unknown patch directive '$patch: {other}'"
            ))),
        },
        Some(other) => Err(Error::invalid(format!("invalid '$patch' value {other}"))),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    k.as_str() != DIRECTIVE
                        && !k.starts_with("$deleteFromPrimitiveList/")
                        && !k.starts_with("$setElementOrder/")
                        && !k.starts_with("$retainKeys")
                })
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|e| !matches!(e, Value::Object(m) if matches!(directive(m), Ok(Directive::Delete))))
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Applies `patch` to `dest`. Returns `None` when the patch deletes the
/// whole object.
pub fn merge(dest: &Value, patch: &Value, schema: &dyn Schema) -> Result<Option<Value>> {
    let mut path = Vec::new();
    merge_value(Some(dest), patch, schema, &mut path)
}

/// As [`merge`], taking the destination by value: mappings are merged in
/// place instead of being copied, which matters when one patch is applied
/// to thousands of objects.
pub fn merge_owned(dest: Value, patch: &Value, schema: &dyn Schema) -> Result<Option<Value>> {
    let mut path = Vec::new();
    merge_into(Some(dest), patch, schema, &mut path)
}

fn merge_into<'a>(
    dest: Option<Value>,
    patch: &'a Value,
    schema: &dyn Schema,
    path: &mut Vec<&'a str>,
) -> Result<Option<Value>> {
    let Value::Object(pm) = patch else {
        return merge_value(dest.as_ref(), patch, schema, path);
    };
    match directive(pm)? {
        Directive::Delete => return Ok(None),
        Directive::Replace => return fresh(pm, schema, path).map(Some),
        Directive::None | Directive::Merge => {}
    }
    let Some(Value::Object(mut out)) = dest else {
        return fresh(pm, schema, path).map(Some);
    };
    for (k, pv) in pm {
        if k == DIRECTIVE || k.starts_with("$setElementOrder/") || k.starts_with("$retainKeys") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(gone)) = (out.get_mut(field), pv) {
                cur.retain(|x| !gone.contains(x));
            }
            continue;
        }
        path.push(k.as_str());
        let cur = out.get_mut(k.as_str()).map(std::mem::take);
        let merged = merge_into(cur, pv, schema, path)?;
        path.pop();
        match merged {
            Some(v) => {
                out.insert(k.clone(), v);
            }
            None => {
                out.remove(k);
            }
        }
    }
    Ok(Some(Value::Object(out)))
}

/// An element less its own `$patch`.
fn without_directive(e: &Value) -> Value {
    match e {
        Value::Object(m) if m.contains_key(DIRECTIVE) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != DIRECTIVE)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A patch mapping taken as new content (nothing to merge into, or
/// `$patch: replace`): kustomize walks it as a merge into nothing, so its
/// null fields are dropped at every depth it walks.
fn fresh<'a>(
    pm: &'a Map<String, Value>,
    schema: &dyn Schema,
    path: &mut Vec<&'a str>,
) -> Result<Value> {
    let mut out = Map::with_capacity(pm.len());
    for (k, pv) in pm {
        if k == DIRECTIVE
            || k.starts_with("$setElementOrder/")
            || k.starts_with("$retainKeys")
            || k.starts_with("$deleteFromPrimitiveList/")
        {
            continue;
        }
        path.push(k.as_str());
        let v = merge_value(None, pv, schema, path)?;
        path.pop();
        if let Some(v) = v {
            out.insert(k.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

fn merge_value<'a>(
    dest: Option<&Value>,
    patch: &'a Value,
    schema: &dyn Schema,
    path: &mut Vec<&'a str>,
) -> Result<Option<Value>> {
    match patch {
        Value::Null => Ok(None),
        Value::Object(pm) => {
            match directive(pm)? {
                Directive::Delete => return Ok(None),
                Directive::Replace => return fresh(pm, schema, path).map(Some),
                Directive::None | Directive::Merge => {}
            }
            let Some(Value::Object(dm)) = dest else {
                return fresh(pm, schema, path).map(Some);
            };
            let mut out = dm.clone();
            for (k, pv) in pm {
                if k == DIRECTIVE
                    || k.starts_with("$setElementOrder/")
                    || k.starts_with("$retainKeys")
                {
                    continue;
                }
                if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Array(cur)), Value::Array(gone)) = (out.get_mut(field), pv)
                    {
                        cur.retain(|x| !gone.contains(x));
                    }
                    continue;
                }
                path.push(k.as_str());
                let merged = merge_value(dm.get(k), pv, schema, path)?;
                path.pop();
                match merged {
                    Some(v) => {
                        out.insert(k.clone(), v);
                    }
                    None => {
                        out.remove(k);
                    }
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(pa) => {
            let Some(Value::Array(da)) = dest else {
                // A new list merged by keys: kustomize takes the patch's
                // list as the original and merges the patch into it, which
                // drops its elements' null fields.
                return match schema.list_strategy(path, &[], pa) {
                    ListStrategy::Keys(keys) => {
                        let base: Vec<Value> = pa.iter().map(without_directive).collect();
                        merge_keyed(&base, pa, None, true, &keys, schema, path).map(Some)
                    }
                    _ => Ok(Some(strip_directives(patch))),
                };
            };
            let strategy = schema.list_strategy(path, da, pa);
            if strategy == ListStrategy::Replace {
                return Ok(Some(strip_directives(patch)));
            }
            // A directive for the whole list is the first element holding
            // `$patch`, when that is all it holds; elements with the same
            // directive are then dropped from the patch.
            let list_directive = pa
                .iter()
                .find_map(|e| e.as_object().filter(|m| m.contains_key(DIRECTIVE)))
                .filter(|m| m.len() == 1);
            let mut skip: Option<&Value> = None;
            if let Some(m) = list_directive {
                skip = m.get(DIRECTIVE);
                let kept = || {
                    pa.iter()
                        .filter(|e| !(e.is_object() && e.get(DIRECTIVE) == skip))
                        .map(strip_directives)
                        .collect()
                };
                match directive(m)? {
                    Directive::Delete => return Ok(None),
                    Directive::Replace => return Ok(Some(Value::Array(kept()))),
                    Directive::None | Directive::Merge => {}
                }
            }
            match strategy {
                ListStrategy::Replace => Ok(Some(strip_directives(patch))),
                ListStrategy::Primitive => {
                    let mut out: Vec<Value> = Vec::with_capacity(pa.len() + da.len());
                    for v in pa.iter().chain(da.iter()) {
                        if !out.contains(v) {
                            out.push(v.clone());
                        }
                    }
                    Ok(Some(Value::Array(out)))
                }
                ListStrategy::Keys(keys) => {
                    merge_keyed(da, pa, skip, false, &keys, schema, path).map(Some)
                }
            }
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

// Lists merged by keys follow kyaml's associative-list merge step by step,
// because its quirks show in kustomize's output: with two keys (a port and
// its protocol) an element missing one of them may be matched loosely, not
// at all, or not applied; a `$patch: replace` element leaves the original;
// patch elements come first, then the remaining original ones.

/// The text of an element's key fields ("" where missing, null or empty).
fn key_values(elem: &Value, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| match elem.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        })
        .collect()
}

/// A field's text for matching, when the field is there at all.
fn field_text(elem: &Map<String, Value>, key: &str) -> Option<String> {
    elem.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    })
}

/// Whether two key tuples name the same element, one side's missing values
/// filled from the other's (kyaml's `match`); also the filled tuple.
fn tuples_match(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else {
            out.push(if x.is_empty() { y.clone() } else { x.clone() });
        }
    }
    common.then_some(out)
}

/// The keys (and values) to match on: those that some element gives a
/// value; all of them when none does.
fn valid_keys(
    all: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let valid: Vec<bool> = (0..keys.len())
        .map(|i| all.iter().any(|v| v.get(i).is_some_and(|x| !x.is_empty())))
        .collect();
    if !valid.iter().any(|v| *v) {
        return (keys.to_vec(), values.to_vec());
    }
    let ks = keys
        .iter()
        .zip(&valid)
        .filter(|(_, v)| **v)
        .map(|(k, _)| k.clone())
        .collect();
    let vs = values
        .iter()
        .zip(&valid)
        .filter(|(x, v)| **v || !x.is_empty())
        .map(|(x, _)| x.clone())
        .collect();
    (ks, vs)
}

/// Whether an element's fields are all there with these values.
fn matches_exact(e: &Value, keys: &[String], values: &[String]) -> bool {
    let Value::Object(m) = e else { return false };
    keys.iter()
        .zip(values)
        .all(|(k, v)| field_text(m, k).as_deref() == Some(v.as_str()))
}

fn is_empty_element(v: &Value) -> bool {
    v.is_null() || v.as_object().is_some_and(Map::is_empty)
}

/// kyaml's element setter: every element matching the keys is replaced by
/// `element` (or removed without one; an empty value matches any value
/// present); with no match `element` is appended. Empty elements go.
fn set_element(
    list: Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) -> Vec<Value> {
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut found_any = false;
    for e in list {
        if is_empty_element(&e) {
            continue;
        }
        let Value::Object(m) = &e else {
            out.push(e);
            continue;
        };
        let mut found = false;
        for (j, k) in keys.iter().enumerate() {
            if let Some(v) = values.get(j) {
                found = match field_text(m, k) {
                    Some(t) => v.is_empty() || t == *v,
                    None => false,
                };
            }
            if !found {
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(e);
            }
            continue;
        }
        found_any = true;
        if let Some(el) = &element {
            out.push(el.clone());
        }
    }
    if let Some(el) = element.filter(|e| !e.is_null())
        && !found_any
    {
        out.push(el);
    }
    out
}

/// `same_nodes`: the original list is the patch's own (a new list), so
/// what a `$patch: replace` element becomes is the original too.
fn merge_keyed<'a>(
    dest: &[Value],
    patch: &'a [Value],
    skip: Option<&Value>,
    same_nodes: bool,
    keys: &[String],
    schema: &dyn Schema,
    path: &mut Vec<&'a str>,
) -> Result<Value> {
    // A list-level `$patch: merge` element is no element.
    let patch: Vec<&'a Value> = patch
        .iter()
        .filter(|e| !(skip.is_some() && e.is_object() && e.get(DIRECTIVE) == skip))
        .collect();
    // Every element's key tuple, patch elements first, each tuple once.
    let mut tuples: Vec<Vec<String>> = Vec::new();
    for e in patch.iter().copied().chain(dest) {
        let t = key_values(e, keys);
        if !tuples.contains(&t) {
            tuples.push(t);
        }
    }
    if keys.len() > 1 {
        for i in 0..tuples.len() {
            for j in 0..tuples.len() {
                if let Some(m) = tuples_match(&tuples[i], &tuples[j]) {
                    tuples[i] = m.clone();
                    tuples[j] = m;
                }
            }
        }
    }
    let mut dest: Vec<Value> = dest.to_vec();
    let mut items: Vec<Value> = Vec::new();
    let mut last_keys: Vec<String> = keys.to_vec();
    for values in &tuples {
        let (vkeys, vvals) = valid_keys(&tuples, values, keys);
        let (mkeys, mvals) = valid_keys(std::slice::from_ref(&vvals), &vvals, &vkeys);
        let d = dest.iter().position(|e| matches_exact(e, &mkeys, &mvals));
        let p = patch
            .iter()
            .copied()
            .find(|e| matches_exact(e, &mkeys, &mvals));
        // Merged into the original element in place, except a replaced one.
        let val = match (d, p) {
            (None, None) => None,
            (Some(i), None) => Some(dest[i].clone()),
            (None, Some(pe)) => merge_value(None, pe, schema, path)?,
            (Some(i), Some(pe)) => {
                let replaces =
                    matches!(pe, Value::Object(m) if matches!(directive(m)?, Directive::Replace));
                let merged = merge_value(Some(&dest[i]), pe, schema, path)?;
                if let Some(v) = merged.as_ref().filter(|_| same_nodes || !replaces) {
                    dest[i] = v.clone();
                }
                merged
            }
        };
        last_keys = vkeys.clone();
        let Some(mut val) = val.filter(|v| !is_empty_element(v)) else {
            if !vkeys.is_empty() {
                dest = set_element(dest, None, &vkeys, &vvals);
            }
            continue;
        };
        if let Value::Object(m) = &mut val {
            for (k, v) in vkeys.iter().zip(&vvals) {
                if !m.contains_key(k) && !v.is_empty() {
                    m.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        items = set_element(items, Some(val), &vkeys, &vvals);
    }
    if tuples.is_empty() {
        return Ok(Value::Array(dest));
    }
    // The original elements go after, each replacing an item it matches.
    for elem in dest {
        let mut v = Vec::new();
        for k in &last_keys {
            match elem.as_object().and_then(|m| field_text(m, k)) {
                Some(t) => v.push(t),
                None => items.push(elem.clone()),
            }
        }
        if last_keys.len() > 1 {
            items = set_element(items, None, &last_keys, &v);
        }
        items = set_element(items, Some(elem), &last_keys, &v);
    }
    Ok(Value::Array(items))
}

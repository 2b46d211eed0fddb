//! Strategic merge patch with the semantics of kustomize's kyaml merge:
//! mappings merge field by field, lists with a merge key merge element by
//! element (patch elements first, then the remaining original ones), other
//! lists are replaced whole, and `$patch`, `$deleteFromPrimitiveList` and
//! `$setElementOrder` directives are honoured.

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
        Directive::Replace => return Ok(Some(strip_directives(patch))),
        Directive::None | Directive::Merge => {}
    }
    let Some(Value::Object(mut out)) = dest else {
        return Ok(Some(strip_directives(patch)));
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
                Directive::Replace => return Ok(Some(strip_directives(patch))),
                Directive::None | Directive::Merge => {}
            }
            let Some(Value::Object(dm)) = dest else {
                // Nothing to merge into: the patch (less its directives) is
                // the new value.
                return Ok(Some(strip_directives(patch)));
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
                return Ok(Some(strip_directives(patch)));
            };
            // A `- $patch: replace` element replaces the whole list with the
            // other patch elements.
            if pa.iter().any(
                |e| matches!(e, Value::Object(m) if matches!(directive(m), Ok(Directive::Replace))),
            ) {
                let rest: Vec<Value> = pa
                    .iter()
                    .filter(|e| !matches!(e, Value::Object(m) if m.contains_key(DIRECTIVE)))
                    .map(strip_directives)
                    .collect();
                return Ok(Some(Value::Array(rest)));
            }
            match schema.list_strategy(path, da, pa) {
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
                ListStrategy::Keys(keys) => merge_keyed(da, pa, &keys, schema, path).map(Some),
            }
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

fn key_of(v: &Value, keys: &[String]) -> Option<Vec<String>> {
    let m = v.as_object()?;
    let vals: Vec<String> = keys
        .iter()
        .map(|k| match m.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        })
        .collect();
    if vals.iter().all(String::is_empty) {
        None
    } else {
        Some(vals)
    }
}

/// Keys match when every key present on both sides is equal (a missing
/// key, such as an unset `protocol`, matches anything).
fn keys_match(a: &[String], b: &[String]) -> bool {
    let mut common = false;
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
        } else if !x.is_empty() && !y.is_empty() {
            return false;
        }
    }
    common
}

fn merge_keyed<'a>(
    dest: &[Value],
    patch: &'a [Value],
    keys: &[String],
    schema: &dyn Schema,
    path: &mut Vec<&'a str>,
) -> Result<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(dest.len() + patch.len());
    let mut used = vec![false; dest.len()];
    let dest_keys: Vec<Option<Vec<String>>> = dest.iter().map(|d| key_of(d, keys)).collect();
    for p in patch {
        let Some(pk) = key_of(p, keys) else {
            out.push(strip_directives(p));
            continue;
        };
        let found = dest_keys
            .iter()
            .enumerate()
            .find(|(i, dk)| !used[*i] && dk.as_ref().is_some_and(|dk| keys_match(dk, &pk)))
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                used[i] = true;
                if let Some(v) = merge_value(Some(&dest[i]), p, schema, path)? {
                    out.push(v);
                }
            }
            None => {
                if let Some(v) = merge_value(None, p, schema, path)? {
                    out.push(v);
                }
            }
        }
    }
    for (i, d) in dest.iter().enumerate() {
        if !used[i] {
            out.push(d.clone());
        }
    }
    Ok(Value::Array(out))
}

//! `replacements:`: copy a field of one object into fields of others.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::{ReplacementOrPath, Selector};
use crate::load::Loader;
use crate::resource::{Gvk, ResId, Resource};
use crate::select::Compiled;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Replacement {
    source: Option<Source>,
    targets: Option<Vec<Target>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Source {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
    field_path: String,
    options: Option<FieldOptions>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FieldOptions {
    delimiter: String,
    index: i64,
    create: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Target {
    select: Option<Selector>,
    reject: Vec<Selector>,
    field_paths: Vec<String>,
    options: Option<FieldOptions>,
}

const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// Whether an id matches the plain (non-regex) parts of a selector.
fn id_selected(id: &ResId, s: &Selector) -> bool {
    id.gvk.is_selected_by(&s.group, &s.version, &s.kind)
        && (s.name.is_empty() || id.name == s.name)
        && (s.namespace.is_empty()
            || id.namespace == s.namespace
            || id.effective_namespace() == s.namespace)
}

fn all_ids(r: &Resource) -> Vec<ResId> {
    let mut ids = vec![r.cur_id()];
    ids.extend(r.prev_ids());
    ids
}

fn load(reps: &[ReplacementOrPath], ldr: &Loader) -> Result<Vec<Replacement>> {
    let mut out = Vec::new();
    for r in reps {
        let v = match r {
            ReplacementOrPath::Path { path } => {
                let (p, text) = ldr.read_string(path)?;
                let docs = crate::yaml::parse_documents(&text, &p)?;
                for d in docs {
                    let items = match d {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    for it in items {
                        out.push(parse(it)?);
                    }
                }
                continue;
            }
            ReplacementOrPath::Inline(v) => v.clone(),
        };
        out.push(parse(v)?);
    }
    Ok(out)
}

fn parse(v: Value) -> Result<Replacement> {
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("invalid replacement: {e}")))
}

/// Splits `a.b[c.d=e].f` on dots outside brackets.
fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut depth) = (String::new(), 0);
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((seg, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match (seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')), v) {
        (Some(sel), Value::Array(a)) => {
            let (k, want) = sel.split_once('=')?;
            a.iter().find(|e| elem_matches(e, k, want))?
        }
        (None, Value::Array(a)) => a.get(seg.parse::<usize>().ok()?)?,
        (None, Value::Object(m)) => m.get(seg)?,
        _ => return None,
    };
    lookup(next, rest)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn elem_matches(e: &Value, k: &str, want: &str) -> bool {
    if k.is_empty() {
        return scalar_text(e).as_deref() == Some(want);
    }
    e.get(k).and_then(scalar_text).as_deref() == Some(want)
}

/// Visits every field `path` names, creating missing ones when asked.
fn visit_targets(
    v: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<usize> {
    let Some((seg, rest)) = path.split_first() else {
        f(v)?;
        return Ok(1);
    };
    let bracket = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    match v {
        Value::Array(a) => {
            if seg == "*" {
                let mut n = 0;
                for e in a.iter_mut() {
                    n += visit_targets(e, rest, create, f)?;
                }
                return Ok(n);
            }
            if let Some((k, want)) = bracket.and_then(|s| s.split_once('=')) {
                let mut n = 0;
                for e in a.iter_mut().filter(|e| elem_matches(e, k, want)) {
                    n += visit_targets(e, rest, create, f)?;
                }
                if n == 0 && create && !k.is_empty() {
                    let mut m = Map::new();
                    m.insert(k.to_string(), Value::String(want.to_string()));
                    a.push(Value::Object(m));
                    if let Some(last) = a.last_mut() {
                        n += visit_targets(last, rest, create, f)?;
                    }
                }
                return Ok(n);
            }
            let Ok(i) = seg.parse::<usize>() else {
                return Ok(0);
            };
            // One past the end is created, as kustomize appends it.
            if i == a.len() && create {
                a.push(match rest.first() {
                    None => Value::Null,
                    Some(next) if next.starts_with('[') || next.parse::<usize>().is_ok() => {
                        Value::Array(Vec::new())
                    }
                    Some(_) => Value::Object(Map::new()),
                });
            }
            let len = a.len();
            match a.get_mut(i) {
                Some(e) => visit_targets(e, rest, create, f),
                None => Err(Error::invalid(format!(
                    "index {i} specified but only {len} elements found"
                ))),
            }
        }
        Value::Object(m) => {
            if seg == "*" {
                let mut n = 0;
                for e in m.values_mut() {
                    n += visit_targets(e, rest, create, f)?;
                }
                return Ok(n);
            }
            if !m.contains_key(seg.as_str()) || m.get(seg.as_str()).is_some_and(Value::is_null) {
                if !create {
                    return Ok(0);
                }
                let fresh = match rest.first() {
                    None => Value::Null,
                    Some(next) if next.starts_with('[') || next.parse::<usize>().is_ok() => {
                        Value::Array(Vec::new())
                    }
                    Some(_) => Value::Object(Map::new()),
                };
                m.insert(seg.clone(), fresh);
            }
            match m.get_mut(seg.as_str()) {
                Some(child) => visit_targets(child, rest, create, f),
                None => Ok(0),
            }
        }
        Value::Null if create => {
            *v = Value::Object(Map::new());
            visit_targets(v, path, create, f)
        }
        _ => Ok(0),
    }
}

/// The value in the target's own scalar type where it can hold it, as
/// kyaml keeps a target's tag when it overwrites the text.
fn retyped(target: &Value, text: &str, value: &Value) -> Value {
    match target {
        Value::String(_) => Value::String(text.to_string()),
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Value::Bool(_) => text
            .parse::<bool>()
            .map(Value::Bool)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        _ => value.clone(),
    }
}

fn set_field(opts: Option<&FieldOptions>, target: &mut Value, value: &Value) -> Result<()> {
    let is_scalar = |v: &Value| !matches!(v, Value::Object(_) | Value::Array(_));
    let mut value = value.clone();
    if let Some(o) = opts.filter(|o| !o.delimiter.is_empty()) {
        let Some(cur) = scalar_text(target) else {
            return Err(Error::invalid(
                "delimiter option can only be used with scalar nodes",
            ));
        };
        let mut parts: Vec<String> = cur
            .split(o.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let v = scalar_text(&value).unwrap_or_default();
        if o.index < 0 {
            parts.insert(0, v);
        } else if o.index as usize >= parts.len() {
            parts.push(v);
        } else {
            parts[o.index as usize] = v;
        }
        value = Value::String(parts.join(&o.delimiter));
    }
    if is_scalar(target)
        && !target.is_null()
        && let Some(text) = scalar_text(&value)
    {
        *target = retyped(target, &text, &value);
        return Ok(());
    }
    *target = value;
    Ok(())
}

pub fn apply(rs: &mut [Resource], reps: &[ReplacementOrPath], ldr: &Loader) -> Result<()> {
    for rep in load(reps, ldr)? {
        let (Some(src), Some(targets)) = (&rep.source, &rep.targets) else {
            return Err(Error::invalid(
                "replacements must specify a source and at least one target",
            ));
        };
        let sel = Selector {
            group: src.group.clone(),
            version: src.version.clone(),
            kind: src.kind.clone(),
            name: src.name.clone(),
            namespace: src.namespace.clone(),
            ..Default::default()
        };
        let hits: Vec<&Resource> = rs
            .iter()
            .filter(|r| all_ids(r).iter().any(|id| id_selected(id, &sel)))
            .collect();
        // The source as kustomize names it in errors: its id, then the
        // field path when one is given.
        let source_id = format!(
            "{}/{}.{}",
            Gvk {
                group: src.group.clone(),
                version: src.version.clone(),
                kind: src.kind.clone(),
            },
            if src.name.is_empty() {
                "[noName]"
            } else {
                &src.name
            },
            if src.namespace.is_empty() {
                "[noNs]"
            } else {
                &src.namespace
            },
        );
        let selector = if src.field_path.is_empty() {
            source_id.clone()
        } else {
            format!("{source_id}:{}", src.field_path)
        };
        let source = match hits.len() {
            1 => hits[0],
            0 => return Err(Error::invalid(format!("nothing selected by {selector}"))),
            _ => {
                return Err(Error::invalid(format!(
                    "multiple matches for selector {selector}"
                )));
            }
        };
        let fp = if src.field_path.is_empty() {
            DEFAULT_FIELD_PATH
        } else {
            &src.field_path
        };
        let obj = Value::Object(source.obj.clone());
        let mut value = match lookup(&obj, &split_path(fp)) {
            Some(v) if !v.is_null() && v != &Value::String(String::new()) => v.clone(),
            _ => {
                return Err(Error::invalid(format!(
                    "fieldPath `{fp}` is missing for replacement source {source_id}"
                )));
            }
        };
        if let Some(o) = src.options.as_ref().filter(|o| !o.delimiter.is_empty()) {
            let Some(text) = scalar_text(&value) else {
                return Err(Error::invalid(
                    "delimiter option can only be used with scalar nodes",
                ));
            };
            let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
            let part = usize::try_from(o.index)
                .ok()
                .and_then(|i| parts.get(i))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "options.index {} is out of bounds for value {text}",
                        o.index
                    ))
                })?;
            value = Value::String(part.to_string());
        }
        for t in targets {
            let Some(select) = &t.select else {
                return Err(Error::invalid("target must specify resources to select"));
            };
            let label_sel = Compiled::new(&Selector {
                label_selector: select.label_selector.clone(),
                annotation_selector: select.annotation_selector.clone(),
                ..Default::default()
            })?;
            let reject_meta: Vec<Compiled> = t
                .reject
                .iter()
                .filter(|r| !r.label_selector.is_empty() || !r.annotation_selector.is_empty())
                .map(|r| {
                    Compiled::new(&Selector {
                        label_selector: r.label_selector.clone(),
                        annotation_selector: r.annotation_selector.clone(),
                        ..Default::default()
                    })
                })
                .collect::<Result<_>>()?;
            let paths: Vec<String> = if t.field_paths.is_empty() {
                vec![DEFAULT_FIELD_PATH.into()]
            } else {
                t.field_paths.clone()
            };
            let create = t.options.as_ref().is_some_and(|o| o.create);
            for r in rs.iter_mut() {
                if !label_sel.matches(r) || reject_meta.iter().any(|c| c.matches(r)) {
                    continue;
                }
                let ids = all_ids(r);
                let rejected = t.reject.iter().any(|rj| {
                    let empty = rj.group.is_empty()
                        && rj.version.is_empty()
                        && rj.kind.is_empty()
                        && rj.name.is_empty()
                        && rj.namespace.is_empty();
                    !empty && ids.iter().any(|id| id_selected(id, rj))
                });
                if rejected || !ids.iter().any(|id| id_selected(id, select)) {
                    continue;
                }
                for fp in &paths {
                    let segs = split_path(fp);
                    let opts = t.options.as_ref();
                    let what = if create {
                        "unable to find or create field"
                    } else {
                        "unable to find field"
                    };
                    let found = r
                        .with_value(|v| {
                            visit_targets(v, &segs, create, &mut |node| {
                                set_field(opts, node, &value)
                            })
                        })
                        .map_err(|e| {
                            Error::invalid(format!("{what} \"{fp}\" in replacement target: {e}"))
                        })?;
                    if found == 0 {
                        return Err(Error::invalid(format!(
                            "{what} \"{fp}\" in replacement target {}",
                            r.cur_id()
                        )));
                    }
                    r.build.shared.replay(&mut r.obj);
                }
            }
        }
    }
    Ok(())
}

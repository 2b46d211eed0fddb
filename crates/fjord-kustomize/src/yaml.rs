//! YAML in and out. Internally every document is a `serde_json::Value`
//! (mapping order preserved), which keeps patches and field paths simple.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Parses a multi-document YAML (or JSON) text. Empty documents are dropped,
/// as kustomize drops them.
pub fn parse_documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let mut v = serde_yaml::Value::deserialize(doc).map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Merge keys (`<<: *anchor`) are resolved here because kustomize
        // emits the merged form.
        v.apply_merge().map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let v = to_json(v);
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Parses a single YAML value (used for kustomization files and inline
/// patches).
pub fn parse_one(text: &str, path: &Path) -> Result<Value> {
    let mut docs = parse_documents(text, path)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        _ => Err(Error::Yaml {
            path: path.to_path_buf(),
            message: "expected a single document".into(),
        }),
    }
}

fn to_json(v: serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                // JSON has no NaN or infinities; keep their YAML spelling.
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(seq) => Value::Array(seq.into_iter().map(to_json).collect()),
        serde_yaml::Value::Mapping(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(key_string(k), to_json(v));
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => to_json(t.value),
    }
}

fn key_string(k: serde_yaml::Value) -> String {
    match k {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Null => "null".into(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(&other).unwrap_or_default().trim_end().to_string(),
    }
}

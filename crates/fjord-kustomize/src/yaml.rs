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
        let Loose(v) = Loose::deserialize(doc).map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// A YAML value read leniently, as kustomize's decoder reads it: a repeated
/// mapping key keeps its last value, `<<` merge keys are applied, tags are
/// dropped, and non-string keys become strings.
struct Loose(Value);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor).map(Loose)
    }
}

struct LooseVisitor;

impl<'de> serde::de::Visitor<'de> for LooseVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(i))
    }
    fn visit_u64<E>(self, u: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> std::result::Result<Value, E> {
        // JSON has no NaN or infinities; keep their YAML spelling.
        Ok(serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| {
                Value::String(if f.is_nan() {
                    ".nan".into()
                } else if f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                })
            }))
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> std::result::Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        Loose::deserialize(d).map(|l| l.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Loose(v)) = seq.next_element()? {
            out.push(v);
        }
        // Documents stay in memory for the whole build: no spare capacity.
        out.shrink_to_fit();
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        // Entries are gathered first so that the map is allocated once, at
        // its final size (documents stay in memory for the whole build).
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut merges = Vec::new();
        while let Some((Loose(k), Loose(v))) = map.next_entry()? {
            let key = match k {
                Value::String(s) => s,
                Value::Null => "null".into(),
                other => other.to_string(),
            };
            if key == "<<" {
                merges.push(v);
                continue;
            }
            entries.push((key, v));
        }
        let mut out = Map::with_capacity(entries.len());
        for (k, v) in entries {
            out.insert(k, v);
        }
        for m in merges {
            let sources = match m {
                Value::Array(a) => a,
                other => vec![other],
            };
            for src in sources {
                if let Value::Object(src) = src {
                    for (k, v) in src {
                        out.entry(k).or_insert(v);
                    }
                }
            }
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(
        self,
        data: A,
    ) -> std::result::Result<Value, A::Error> {
        use serde::de::VariantAccess;
        let (_tag, variant): (String, _) = data.variant()?;
        variant.newtype_variant::<Loose>().map(|l| l.0)
    }
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

//! YAML in and out. Internally every document is a `serde_json::Value`
//! (mapping order preserved), which keeps patches and field paths simple.

use std::path::Path;

use std::cell::Cell;

use serde::de::DeserializeSeed;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Parses a multi-document YAML (or JSON) text. Empty documents are dropped,
/// as kustomize drops them.
pub fn parse_documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    Ok(parse_documents_noting_duplicates(text, path)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// As [`parse_documents`], also telling for each document the first mapping
/// key it repeats, if any. Reading keeps the last value; kustomize reads
/// resources that way too but then fails to print them.
pub fn parse_documents_noting_duplicates(
    text: &str,
    path: &Path,
) -> Result<Vec<(Value, Option<String>)>> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let dup = Cell::new(None);
        let v = LooseSeed(&dup).deserialize(doc).map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if !v.is_null() {
            out.push((v, dup.into_inner()));
        }
    }
    Ok(out)
}

/// A YAML value read leniently, as kustomize's decoder reads it: a repeated
/// mapping key keeps its last value (the first repeat is noted), `<<` merge
/// keys are applied, tags are dropped, and non-string keys become strings.
#[derive(Clone, Copy)]
struct LooseSeed<'c>(&'c Cell<Option<String>>);

impl<'de> DeserializeSeed<'de> for LooseSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(LooseVisitor(self.0))
    }
}

struct LooseVisitor<'c>(&'c Cell<Option<String>>);

impl<'de> serde::de::Visitor<'de> for LooseVisitor<'_> {
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
        LooseSeed(self.0).deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(LooseSeed(self.0))? {
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
        while let Some(k) = map.next_key_seed(LooseSeed(self.0))? {
            let v = map.next_value_seed(LooseSeed(self.0))?;
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
            match out.entry(k) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                serde_json::map::Entry::Occupied(mut e) => {
                    let first = self.0.take();
                    self.0.set(first.or_else(|| {
                        Some(format!("mapping key {:?} already defined", e.key()))
                    }));
                    e.insert(v);
                }
            }
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
        variant.newtype_variant_seed(LooseSeed(self.0))
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

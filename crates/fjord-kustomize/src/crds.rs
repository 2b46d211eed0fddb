//! `crds:`: OpenAPI definitions of custom types whose `x-kubernetes-*`
//! extensions declare label selectors, annotations, identity (name) fields
//! and references to other objects.

use std::path::Path;

use serde_json::{Map, Value};

use crate::config::{NameBackRef, TransformerConfig};
use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;

const X_ANNOTATION: &str = "x-kubernetes-annotation";
const X_LABEL_SELECTOR: &str = "x-kubernetes-label-selector";
const X_IDENTITY: &str = "x-kubernetes-identity";
const X_VERSION: &str = "x-kubernetes-object-ref-api-version";
const X_KIND: &str = "x-kubernetes-object-ref-kind";
const X_NAME_KEY: &str = "x-kubernetes-object-ref-name-key";

fn properties(def: &Value) -> Option<&Map<String, Value>> {
    def.get("properties").and_then(Value::as_object)
}

fn looks_like_k8s_type(def: &Value) -> bool {
    properties(def).is_some_and(|p| {
        ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| p.contains_key(*k))
    })
}

fn spec(kind: &str, path: &[String]) -> FieldSpec {
    FieldSpec {
        kind: kind.to_string(),
        path: path.join("/"),
        ..Default::default()
    }
}

fn walk(
    cfg: &mut TransformerConfig,
    kind: &str,
    defs: &Map<String, Value>,
    type_name: &str,
    path: &mut Vec<String>,
    depth: usize,
) {
    // Self-referencing definitions would recurse forever.
    if depth > 32 {
        return;
    }
    let Some(props) = defs
        .get(type_name)
        .map(|d| d.get("Schema").unwrap_or(d))
        .and_then(properties)
    else {
        return;
    };
    for (name, prop) in props {
        path.push(name.clone());
        let s = |k: &str| prop.get(k).and_then(Value::as_str);
        if prop.get(X_ANNOTATION).is_some() {
            cfg.common_annotations.push(spec(kind, path));
        }
        if prop.get(X_LABEL_SELECTOR).is_some() {
            cfg.common_labels.push(spec(kind, path));
        }
        if prop.get(X_IDENTITY).is_some() {
            cfg.name_prefix.push(spec(kind, path));
        }
        if let (Some(version), Some(target)) = (s(X_VERSION), s(X_KIND)) {
            let key = s(X_NAME_KEY).unwrap_or("name").to_string();
            let mut p = path.clone();
            p.push(key);
            cfg.name_reference.push(NameBackRef {
                version: version.to_string(),
                kind: target.to_string(),
                field_specs: vec![spec(kind, &p)],
                ..Default::default()
            });
        }
        if let Some(r) = s("$ref") {
            walk(cfg, kind, defs, r, path, depth + 1);
        }
        path.pop();
    }
}

pub fn config_from_crds(text: &str, path: &Path) -> Result<TransformerConfig> {
    let v = crate::yaml::parse_one(text, path)?;
    let Value::Object(defs) = v else {
        return Err(Error::invalid(format!(
            "unable to parse open API definition from '{}'",
            path.display()
        )));
    };
    let mut out = TransformerConfig::default();
    for (name, def) in &defs {
        let def = def.get("Schema").unwrap_or(def);
        if !looks_like_k8s_type(def) {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        let mut one = TransformerConfig::default();
        walk(&mut one, kind, &defs, name, &mut Vec::new(), 0);
        out.merge(&one)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &str = r#"{
      "example.com/v1beta1.Bee": {"Schema": {"properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {},
        "spec": {"$ref": "example.com/v1beta1.BeeSpec"}}}},
      "example.com/v1beta1.BeeSpec": {"Schema": {"properties": {
        "secretRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"},
        "selector": {"x-kubernetes-label-selector": ""},
        "notes": {"x-kubernetes-annotation": ""}}}}
    }"#;

    #[test]
    fn extensions_become_field_specs() {
        let c = config_from_crds(DEFS, Path::new("crd.json")).expect("parse");
        let nr = c
            .name_reference
            .iter()
            .find(|n| n.kind == "Secret")
            .expect("secret reference");
        assert_eq!(nr.version, "v1");
        assert_eq!(nr.field_specs[0].path, "spec/secretRef/name");
        assert_eq!(nr.field_specs[0].kind, "Bee");
        assert_eq!(c.common_labels[0].path, "spec/selector");
        assert_eq!(c.common_annotations[0].path, "spec/notes");
    }
}

//! What a comparison ignores: `ignoreDifferences` as JSON pointers, jq
//! path expressions, and fields owned by other field managers.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::application::IgnoreDifference;

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("jq expression {expression:?} is not valid: {message}")]
    JqSyntax { expression: String, message: String },
}

/// Fields an apply needs whoever owns them: never ignored, never stripped.
const IDENTITY_POINTERS: &[&str] = &["/apiVersion", "/kind", "/metadata/name", "/metadata/namespace"];

/// Removes the fields at the given JSON pointers, so both sides of a
/// comparison ignore them. Array elements are removed from the highest
/// index down, so removing one does not shift the others.
pub fn remove_pointers(value: &mut Value, pointers: &[String]) {
    let mut ordered: Vec<&String> = pointers.iter().collect();
    ordered.sort_by(|a, b| compare_pointers(b, a));
    ordered.dedup();
    for pointer in ordered {
        let Some((parent, last)) = pointer.rsplit_once('/') else { continue };
        let last = last.replace("~1", "/").replace("~0", "~");
        match value.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(&last);
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = last.parse::<usize>()
                    && i < items.len() {
                        items.remove(i);
                    }
            }
            _ => {}
        }
    }
}

/// Orders pointers segment by segment, array indices as numbers.
fn compare_pointers(a: &str, b: &str) -> Ordering {
    let mut left = a.split('/');
    let mut right = b.split('/');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Whether an `ignoreDifferences` entry applies to an object.
pub fn rule_matches(rule: &IgnoreDifference, id: &fjord_engine::ObjectId) -> bool {
    rule.kind == id.kind
        && rule.group == id.group
        && (rule.name.is_empty() || rule.name == id.name)
        && (rule.namespace.is_empty() || rule.namespace == id.namespace)
}

/// The JSON pointers to ignore in `objects` (typically the live object and
/// the desired one: a jq expression may select differently in each) under
/// the given rules. `managed_fields` is the live object's
/// `metadata.managedFields`, which the live cache does not keep.
pub fn ignored_pointers(rules: &[&IgnoreDifference], objects: &[&Value], managed_fields: Option<&Value>) -> Vec<String> {
    let mut pointers = Vec::new();
    for rule in rules {
        pointers.extend(rule.json_pointers.iter().cloned());
        for expression in &rule.jq_path_expressions {
            if let Some(pointer) = jq_path_to_pointer(expression) {
                pointers.push(pointer);
                continue;
            }
            for object in objects {
                // An expression that does not parse is reported once per
                // reconcile by [`invalid_jq_expressions`]; one that fails on
                // this object (iterating a field it lacks) selects nothing.
                if let Ok(found) = jq_pointers(expression, object) {
                    pointers.extend(found);
                }
            }
        }
        if !rule.managed_fields_managers.is_empty()
            && let Some(managed_fields) = managed_fields {
                for object in objects {
                    pointers.extend(managed_field_pointers(managed_fields, &rule.managed_fields_managers, object));
                }
            }
    }
    pointers.sort();
    pointers.dedup();
    pointers
}

/// Every jq expression in the rules that does not compile, with its place
/// in the spec, so the application can say which one is not applied.
pub fn invalid_jq_expressions(rules: &[IgnoreDifference]) -> Vec<(String, DriftError)> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        for (j, expression) in rule.jq_path_expressions.iter().enumerate() {
            if jq_path_to_pointer(expression).is_some() {
                continue;
            }
            if let Err(e) = jq_pointers(expression, &Value::Null) {
                out.push((format!("spec.ignoreDifferences[{i}].jqPathExpressions[{j}]"), e));
            }
        }
    }
    out
}

/// The fields `expression` selects in `object`, as JSON pointers: the
/// outputs of jq's `path(EXPR)`. A runtime error (such as iterating a field
/// the object lacks) selects nothing.
pub fn jq_pointers(expression: &str, object: &Value) -> Result<Vec<String>, DriftError> {
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::{Compiler, Ctx, Vars, data};
    use jaq_json::Val;

    let syntax = |message: String| DriftError::JqSyntax { expression: expression.to_string(), message };
    let program = format!("path({expression})");
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code: program.as_str(), path: () })
        .map_err(|errors| syntax(errors.iter().map(|(_, e)| format!("{e:?}")).collect::<Vec<_>>().join("; ")))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<String> =
                errors.iter().flat_map(|(_, es)| es.iter().map(|(name, undefined)| format!("{undefined:?} {name}"))).collect();
            syntax(format!("undefined: {}", names.join(", ")))
        })?;
    let input = jaq_json::read::parse_single(object.to_string().as_bytes()).map_err(|e| syntax(format!("input: {e}")))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut pointers = Vec::new();
    for output in filter.id.run((ctx, input)) {
        let Ok(path) = output else { continue };
        // Paths come back as jq values; their JSON text is the way across.
        let Ok(Value::Array(segments)) = serde_json::from_str::<Value>(&path.to_string()) else { continue };
        if let Some(pointer) = segments_to_pointer(&segments) {
            pointers.push(pointer);
        }
    }
    Ok(pointers)
}

/// A jq path (`["spec", "containers", 0, "image"]`) as a JSON pointer;
/// `None` for slices and anything else a pointer cannot name.
fn segments_to_pointer(segments: &[Value]) -> Option<String> {
    let mut pointer = String::new();
    for segment in segments {
        pointer.push('/');
        match segment {
            Value::String(key) => pointer.push_str(&escape(key)),
            Value::Number(n) => pointer.push_str(&n.as_u64()?.to_string()),
            _ => return None,
        }
    }
    Some(pointer)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The fields of `object` that the given managers own according to
/// `managed_fields` (a live object's `metadata.managedFields`), as JSON
/// pointers. Keyed list items (`k:{...}`) and set values (`v:...`) are
/// found in `object` itself, so the pointers fit it even when its lists
/// are ordered differently from the live object's.
pub fn managed_field_pointers(managed_fields: &Value, managers: &[String], object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for entry in managed_fields.as_array().into_iter().flatten() {
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or_default();
        if !managers.iter().any(|m| m == manager) {
            continue;
        }
        // Status is a subresource the comparison never looks at.
        if entry.get("subresource").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
            continue;
        }
        if let Some(fields) = entry.get("fieldsV1").and_then(Value::as_object) {
            owned_leaves(fields, Some(object), &mut String::new(), &mut out);
        }
    }
    out.retain(|p| !IDENTITY_POINTERS.contains(&p.as_str()));
    out.sort();
    out.dedup();
    out
}

/// Walks a fieldsV1 set: `f:name` is a field, `k:{json}` the list item
/// whose keys have those values, `v:json` the set item equal to the value,
/// `i:n` an index, and `.` the node itself. Leaves (nothing below but `.`)
/// are the fields the manager owns.
fn owned_leaves(fields: &Map<String, Value>, node: Option<&Value>, path: &mut String, out: &mut Vec<String>) {
    for (key, children) in fields {
        if key == "." {
            continue;
        }
        let (segment, child) = if let Some(name) = key.strip_prefix("f:") {
            (escape(name), node.and_then(|n| n.get(name)))
        } else if let Some(keys) = key.strip_prefix("k:") {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else { continue };
            let Some((i, item)) = list_item(node, |item| keys.iter().all(|(k, v)| item.get(k) == Some(v))) else { continue };
            (i.to_string(), Some(item))
        } else if let Some(value) = key.strip_prefix("v:") {
            let Ok(value) = serde_json::from_str::<Value>(value) else { continue };
            let Some((i, item)) = list_item(node, |item| *item == value) else { continue };
            (i.to_string(), Some(item))
        } else if let Some(index) = key.strip_prefix("i:") {
            let Ok(i) = index.parse::<usize>() else { continue };
            (i.to_string(), node.and_then(|n| n.get(i)))
        } else {
            continue;
        };
        let len = path.len();
        path.push('/');
        path.push_str(&segment);
        match children.as_object().filter(|c| c.keys().any(|k| k != ".")) {
            Some(grandchildren) => owned_leaves(grandchildren, child, path, out),
            None => out.push(path.clone()),
        }
        path.truncate(len);
    }
}

fn list_item(node: Option<&Value>, wanted: impl Fn(&Value) -> bool) -> Option<(usize, &Value)> {
    node?.as_array()?.iter().enumerate().find(|(_, item)| wanted(item))
}

/// The plain-path subset of jq expressions (`.spec.replicas`,
/// `.metadata.labels["a/b"]`) as a JSON pointer; `None` for anything else.
pub fn jq_path_to_pointer(expression: &str) -> Option<String> {
    let mut rest = expression.trim().strip_prefix('.')?;
    let mut pointer = String::new();
    while !rest.is_empty() {
        let segment;
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]")?;
            segment = r[..end].to_string();
            rest = &r[end + 2..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            segment = rest[..end].to_string();
            rest = &rest[end..];
            if segment.is_empty() || !segment.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return None;
            }
        }
        pointer.push('/');
        pointer.push_str(&escape(&segment));
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(pointer)
}

#[cfg(test)]
mod pointer_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jq_paths_become_pointers() {
        assert_eq!(jq_path_to_pointer(".spec.replicas").as_deref(), Some("/spec/replicas"));
        assert_eq!(jq_path_to_pointer(".metadata.labels[\"a/b\"]").as_deref(), Some("/metadata/labels/a~1b"));
        assert_eq!(jq_path_to_pointer(".spec.template.spec.containers[] | select(.name == \"x\")"), None);
    }

    #[test]
    fn pointers_are_removed() {
        let mut v = json!({"spec": {"replicas": 3, "x": 1}});
        remove_pointers(&mut v, &["/spec/replicas".to_string()]);
        assert_eq!(v, json!({"spec": {"x": 1}}));
    }

    #[test]
    fn array_elements_are_removed_from_the_end() {
        let mut v = json!({"a": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]});
        remove_pointers(&mut v, &["/a/2".to_string(), "/a/10".to_string(), "/a/3".to_string()]);
        assert_eq!(v, json!({"a": [0, 1, 4, 5, 6, 7, 8, 9, 11]}));
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": {"x": "1", "a/b": "2"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "sidecar", "image": "proxy:1", "args": ["-a", "-b"]},
                {"name": "app", "image": "web:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}})
    }

    #[test]
    fn jq_expressions_select_paths() {
        let d = deployment();
        let image = ".spec.template.spec.containers[] | select(.name == \"app\") | .image";
        assert_eq!(jq_pointers(image, &d).unwrap(), ["/spec/template/spec/containers/1/image"]);
        assert_eq!(jq_pointers(".metadata.annotations[\"a/b\"]", &d).unwrap(), ["/metadata/annotations/a~1b"]);
        assert_eq!(jq_pointers(".spec.template.spec.containers[].image", &d).unwrap().len(), 2);
        // Iterating what the object lacks selects nothing.
        assert!(jq_pointers(".spec.missing[] | .x", &d).unwrap().is_empty());
        let error = jq_pointers(".spec.template.spec.containers[] | select(.name ==", &d).unwrap_err();
        assert!(error.to_string().contains("select(.name =="), "{error}");
        assert!(jq_pointers(".spec | nosuchfunction", &d).is_err());
    }

    #[test]
    fn invalid_expressions_are_named_by_their_place() {
        let rules = vec![IgnoreDifference {
            jq_path_expressions: vec![".spec.replicas".into(), ".a | select(".into()],
            ..Default::default()
        }];
        let invalid = invalid_jq_expressions(&rules);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].0, "spec.ignoreDifferences[0].jqPathExpressions[1]");
    }

    #[test]
    fn fields_owned_by_other_managers_become_pointers() {
        let managed = json!([
            {"manager": "fjord", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "hpa", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:name": {}, "f:annotations": {"f:x": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}}}},
                    "k:{\"name\":\"sidecar\"}": {"f:args": {"v:\"-b\"": {}}},
                    "k:{\"name\":\"gone\"}": {"f:image": {}}}}}}}},
            {"manager": "hpa", "operation": "Update", "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:x": {}}}},
        ]);
        let pointers = managed_field_pointers(&managed, &["hpa".to_string()], &deployment());
        assert_eq!(pointers, [
            "/metadata/annotations/x",
            "/spec/replicas",
            "/spec/template/spec/containers/0/args/1",
            "/spec/template/spec/containers/1/image",
            "/spec/template/spec/containers/1/ports/0",
        ]);
        assert!(managed_field_pointers(&managed, &["other".to_string()], &deployment()).is_empty());
        // A manifest that orders its containers differently gets its own indices.
        let mut reordered = deployment();
        reordered["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().reverse();
        let pointers = managed_field_pointers(&managed, &["hpa".to_string()], &reordered);
        assert!(pointers.contains(&"/spec/template/spec/containers/0/image".to_string()), "{pointers:?}");
    }

    #[test]
    fn rules_combine_pointers_expressions_and_managers() {
        let rule = IgnoreDifference {
            kind: "Deployment".into(),
            group: "apps".into(),
            json_pointers: vec!["/spec/replicas".into()],
            jq_path_expressions: vec![".spec.template.spec.containers[] | select(.name == \"app\") | .image".into()],
            managed_fields_managers: vec!["hpa".into()],
            ..Default::default()
        };
        let managed = json!([{"manager": "hpa", "fieldsV1": {"f:metadata": {"f:annotations": {"f:x": {}}}}}]);
        let d = deployment();
        let pointers = ignored_pointers(&[&rule], &[&d], Some(&managed));
        assert_eq!(pointers, ["/metadata/annotations/x", "/spec/replicas", "/spec/template/spec/containers/1/image"]);
        let mut live = d.clone();
        live["spec"]["replicas"] = json!(7);
        live["spec"]["template"]["spec"]["containers"][1]["image"] = json!("web:2");
        live["metadata"]["annotations"]["x"] = json!("changed");
        assert!(fjord_engine::compare::live_matches(&d, &live, &pointers));
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("proxy:2");
        assert!(!fjord_engine::compare::live_matches(&d, &live, &pointers));
    }
}

//! Comparing a desired object (the server's dry-run result) with the live
//! one: normalisation of what the server owns, Secret masking, and a
//! readable unified diff.

use serde_json::{Map, Value};

/// Metadata fields the server sets and the user never writes.
const SERVER_METADATA: &[&str] =
    &["managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"];

/// Annotations written by other tools that restate the manifest.
const NOISY_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

/// Strips what the server owns, so that two objects that differ only in
/// bookkeeping compare equal. Defaults the server fills in need no special
/// case: both sides of a comparison come from the server and carry them.
pub fn normalize(object: &Value) -> Value {
    canonical_order(&strip_server_fields(object))
}

fn strip_server_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_METADATA {
                metadata.remove(*field);
            }
            if let Some(annotations) = metadata.get_mut("annotations").and_then(Value::as_object_mut) {
                for a in NOISY_ANNOTATIONS {
                    annotations.remove(*a);
                }
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
        }
    }
    object
}

/// Sorts mapping keys so two sides of a diff line up whatever order the
/// server or the author wrote them in; apiVersion, kind and metadata lead,
/// as people expect to read them.
fn canonical_order(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            let rank = |k: &str| match k {
                "apiVersion" => 0,
                "kind" => 1,
                "metadata" => 2,
                _ => 3,
            };
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical_order(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_order).collect()),
        other => other.clone(),
    }
}

/// True when applying `desired` would leave `live` as it is.
pub fn is_unchanged(live: &Value, desired: &Value) -> bool {
    // Map equality ignores key order, so no need to sort here.
    strip_server_fields(live) == strip_server_fields(desired)
}

fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret") && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Replaces Secret values with placeholders on both sides of a diff. Equal
/// values get the same placeholder and different values different ones, so
/// a changed value still shows as a change without showing the value.
pub fn mask_secrets(live: Option<&Value>, desired: Option<&Value>) -> (Option<Value>, Option<Value>) {
    let secret = live.is_some_and(is_secret) || desired.is_some_and(is_secret);
    let (mut live, mut desired) = (live.cloned(), desired.cloned());
    if !secret {
        return (live, desired);
    }
    for field in ["data", "stringData"] {
        let live_map = live.as_ref().and_then(|o| o.get(field)).and_then(Value::as_object).cloned().unwrap_or_default();
        let desired_map = desired.as_ref().and_then(|o| o.get(field)).and_then(Value::as_object).cloned().unwrap_or_default();
        let mask_one = |own: &Map<String, Value>, other: &Map<String, Value>, is_live: bool| -> Map<String, Value> {
            own.iter()
                .map(|(k, v)| {
                    let changed = other.get(k).is_some_and(|o| o != v);
                    // The second side of a changed pair gets a longer mask.
                    let len = if changed && !is_live { 16 } else { 8 };
                    (k.clone(), Value::String("+".repeat(len)))
                })
                .collect()
        };
        let masked_live = mask_one(&live_map, &desired_map, true);
        let masked_desired = mask_one(&desired_map, &live_map, false);
        if let Some(obj) = live.as_mut().and_then(Value::as_object_mut) {
            if obj.contains_key(field) {
                obj.insert(field.into(), Value::Object(masked_live));
            }
        }
        if let Some(obj) = desired.as_mut().and_then(Value::as_object_mut) {
            if obj.contains_key(field) {
                obj.insert(field.into(), Value::Object(masked_desired));
            }
        }
    }
    // The last-applied annotation would repeat the values in clear.
    for side in [live.as_mut(), desired.as_mut()].into_iter().flatten() {
        if let Some(annotations) = side.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    (live, desired)
}

/// A unified diff of two objects rendered as YAML, after normalisation and
/// masking. Empty when they are equal.
pub fn unified_diff(live: Option<&Value>, desired: Option<&Value>, label: &str) -> String {
    let live = live.map(normalize);
    let desired = desired.map(normalize);
    let (live, desired) = mask_secrets(live.as_ref(), desired.as_ref());
    let render = |v: &Option<Value>| v.as_ref().map(to_yaml).unwrap_or_default();
    let (old, new) = (render(&live), render(&desired));
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{label}"), &format!("desired/{label}"))
        .to_string()
}

fn to_yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_bookkeeping_is_ignored() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "1", "resourceVersion": "9", "managedFields": [{"manager": "x"}],
                         "creationTimestamp": "2026-01-01T00:00:00Z", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"k": "v"}});
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "10"}, "data": {"k": "v"}});
        assert!(is_unchanged(&live, &desired));
        assert_eq!(unified_diff(Some(&live), Some(&desired), "a"), "");
        let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "w"}});
        assert!(!is_unchanged(&live, &changed));
        let diff = unified_diff(Some(&live), Some(&changed), "a");
        assert!(diff.contains("-  k: v") && diff.contains("+  k: w"), "{diff}");
    }

    #[test]
    fn secret_values_never_show_but_changes_do() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2FtZQ==", "changed": "b2xk"}});
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2FtZQ==", "changed": "bmV3"}});
        let diff = unified_diff(Some(&live), Some(&desired), "s");
        for secret in ["c2FtZQ==", "b2xk", "bmV3", "same\n", "old", "new"] {
            assert!(!diff.contains(secret), "{secret} leaked: {diff}");
        }
        assert!(diff.contains("-  changed: ++++++++\n"), "{diff}");
        assert!(diff.contains("+  changed: ++++++++++++++++\n"), "{diff}");
        assert!(!diff.contains("-  same"), "{diff}");
        let unchanged = unified_diff(Some(&live), Some(&live), "s");
        assert_eq!(unchanged, "");
    }

    #[test]
    fn a_new_secret_shows_keys_but_not_values() {
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}});
        let diff = unified_diff(None, Some(&desired), "s");
        assert!(diff.contains("+  password: ++++++++"), "{diff}");
        assert!(!diff.contains("hunter2"));
    }
}

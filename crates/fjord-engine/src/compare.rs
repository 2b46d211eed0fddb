//! Comparing a desired object (the server's dry-run result) with the live
//! one: normalisation of what the server owns, Secret masking, and a
//! readable unified diff.

use serde_json::{Map, Value};

/// The hash of the manifest an object was last applied from. It lets a
/// no-op sync skip the dry run of objects that provably did not change.
pub const MANIFEST_HASH_ANNOTATION: &str = "fjord.dev/manifest-hash";

/// Sets the manifest-hash annotation to the hash of the object without it.
pub fn stamp_manifest_hash(object: &mut Value) {
    use sha2::{Digest, Sha256};
    if let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.remove(MANIFEST_HASH_ANNOTATION);
    }
    let digest = Sha256::digest(object.to_string().as_bytes());
    let hash: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if let Some(map) = annotations.as_object_mut() {
        map.insert(MANIFEST_HASH_ANNOTATION.to_string(), Value::String(hash));
    }
}

/// True when `live` was applied from exactly `desired` (same manifest
/// hash) and every field the manifest sets still has its value: applying
/// it again would change nothing. Fields the manifest no longer sets are
/// covered by the hash, drift in the fields it sets by the comparison.
pub fn known_unchanged(desired: &Value, live: &Value) -> bool {
    let hash = |v: &Value| v.pointer("/metadata/annotations").and_then(|a| a.get(MANIFEST_HASH_ANNOTATION)).and_then(Value::as_str).map(str::to_string);
    matches!((hash(desired), hash(live)), (Some(d), Some(l)) if d == l) && live_matches(desired, live, &[])
}

/// True when every field set in `desired` has the same value in `live`,
/// ignoring the given JSON pointers. The live object carries server
/// defaults the manifest does not, so this is containment, not equality.
pub fn live_matches(desired: &Value, live: &Value, ignored: &[String]) -> bool {
    contains(desired, live, &mut String::new(), ignored)
}

fn contains(desired: &Value, live: &Value, path: &mut String, ignored: &[String]) -> bool {
    if ignored.iter().any(|p| p == path) {
        return true;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| {
            let len = path.len();
            path.push('/');
            path.push_str(&k.replace('~', "~0").replace('/', "~1"));
            let ok = match l.get(k) {
                Some(lv) => contains(dv, lv, path, ignored),
                // The server drops empty values; an absent field matches them.
                None => is_empty(dv) || ignored.iter().any(|p| p.starts_with(path.as_str())),
            };
            path.truncate(len);
            ok
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len()
                && d.iter().zip(l).enumerate().all(|(i, (dv, lv))| {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    let ok = contains(dv, lv, path, ignored);
                    path.truncate(len);
                    ok
                })
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (Value::Null, _) => true,
        (d, l) => d == l || is_empty(d) && is_empty(l),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

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
        if let Some(obj) = live.as_mut().and_then(Value::as_object_mut)
            && obj.contains_key(field) {
                obj.insert(field.into(), Value::Object(masked_live));
            }
        if let Some(obj) = desired.as_mut().and_then(Value::as_object_mut)
            && obj.contains_key(field) {
                obj.insert(field.into(), Value::Object(masked_desired));
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
    fn defaults_in_live_do_not_count_as_drift() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        let live = json!({"spec": {"replicas": 2, "revisionHistoryLimit": 10,
            "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}]}}}});
        assert!(live_matches(&desired, &live, &[]));
    }

    #[test]
    fn changed_or_removed_values_are_drift() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        let scaled = json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        assert!(!live_matches(&desired, &scaled, &[]));
        let extra_container = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}}}});
        assert!(!live_matches(&desired, &extra_container, &[]));
        let missing = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        assert!(!live_matches(&desired, &missing, &[]));
        assert!(live_matches(&desired, &scaled, &["/spec/replicas".to_string()]));
    }

    #[test]
    fn only_the_same_manifest_untouched_is_known_unchanged() {
        let mut desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        stamp_manifest_hash(&mut desired);
        let mut live = desired.clone();
        live["metadata"]["uid"] = json!("u");
        assert!(known_unchanged(&desired, &live));
        // A field removed from the manifest: the hash differs.
        let mut smaller = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {}});
        stamp_manifest_hash(&mut smaller);
        assert!(!known_unchanged(&smaller, &live));
        // Drift in a field the manifest sets.
        live["data"]["k"] = json!("edited");
        assert!(!known_unchanged(&desired, &live));
        // Never applied by fjord: no hash.
        let mut plain = desired.clone();
        plain["metadata"]["annotations"] = json!({});
        assert!(!known_unchanged(&desired, &plain));
    }

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

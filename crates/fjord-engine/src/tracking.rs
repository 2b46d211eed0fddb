//! Ownership tracking with Argo CD's annotation:
//! `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`.
//!
//! Controllers copy annotations onto the objects they create (a Deployment's
//! onto its ReplicaSets), so an annotation alone does not prove ownership:
//! the id must also name the object that carries it, as Argo CD checks.

use serde_json::Value;

use crate::object::ObjectId;

pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";

/// The tracking id that marks `id` as owned by `app`.
pub fn tracking_id(app: &str, id: &ObjectId) -> String {
    format!("{app}:{}/{}:{}/{}", id.group, id.kind, id.namespace, id.name)
}

/// Who owns a live object, as far as tracking says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// No tracking annotation, or one copied from another object.
    Nobody,
    App(String),
}

pub fn owner_of(live: &Value) -> Owner {
    let Some(value) = live.pointer("/metadata/annotations").and_then(|a| a.get(TRACKING_ANNOTATION)).and_then(Value::as_str)
    else {
        return Owner::Nobody;
    };
    let id = ObjectId::from_object(live);
    match parse(value) {
        Some((app, tracked)) if tracked == id => Owner::App(app),
        _ => Owner::Nobody,
    }
}

/// Parses a tracking id into the app name and the object it names.
pub fn parse(value: &str) -> Option<(String, ObjectId)> {
    let (app, rest) = value.split_once(':')?;
    let (group_kind, namespaced_name) = rest.split_once(':')?;
    let (group, kind) = group_kind.split_once('/')?;
    let (namespace, name) = namespaced_name.split_once('/')?;
    if app.is_empty() || kind.is_empty() || name.is_empty() {
        return None;
    }
    Some((
        app.to_string(),
        ObjectId { group: group.into(), kind: kind.into(), namespace: namespace.into(), name: name.into() },
    ))
}

/// Sets the tracking annotation on a desired object.
pub fn mark(object: &mut Value, app: &str, id: &ObjectId) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
    if !annotations.is_object() {
        *annotations = Value::Object(Default::default());
    }
    if let Some(map) = annotations.as_object_mut() {
        map.insert(TRACKING_ANNOTATION.to_string(), Value::String(tracking_id(app, id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn id_format_matches_argo_cd() {
        let id = ObjectId { group: "apps".into(), kind: "Deployment".into(), namespace: "payments".into(), name: "web".into() };
        assert_eq!(tracking_id("shop", &id), "shop:apps/Deployment:payments/web");
        let ns = ObjectId { group: "".into(), kind: "Namespace".into(), namespace: "".into(), name: "payments".into() };
        assert_eq!(tracking_id("shop", &ns), "shop:/Namespace:/payments");
        assert_eq!(parse("shop:/Namespace:/payments"), Some(("shop".into(), ns)));
    }

    #[test]
    fn copied_annotation_is_not_ownership() {
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d9", "namespace": "p",
            "annotations": {TRACKING_ANNOTATION: "shop:apps/Deployment:p/web"}}});
        assert_eq!(owner_of(&rs), Owner::Nobody);
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "p",
            "annotations": {TRACKING_ANNOTATION: "shop:apps/Deployment:p/web"}}});
        assert_eq!(owner_of(&deploy), Owner::App("shop".into()));
    }

    #[test]
    fn mark_adds_the_annotation_and_keeps_others() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "p", "annotations": {"a": "b"}}});
        let id = ObjectId::from_object(&cm);
        mark(&mut cm, "shop", &id);
        assert_eq!(cm["metadata"]["annotations"]["a"], "b");
        assert_eq!(owner_of(&cm), Owner::App("shop".into()));
    }
}

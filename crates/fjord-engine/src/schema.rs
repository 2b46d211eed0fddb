//! The server's OpenAPI v3 schemas, used to drop fields a kind does not
//! declare.
//!
//! Server-side apply refuses a patch with an undeclared field whatever the
//! `fieldValidation` directive says (the typed patch cannot be built: HTTP
//! 500 "field not declared in schema"), while a create or update with
//! `fieldValidation=Ignore` silently drops it. Argo CD's `Validate=false`
//! promises the second behaviour, so with it fjord removes undeclared
//! fields before applying, by the schema the server publishes.

use serde_json::{Map, Value};

/// How deep a schema walk follows the object; deeper nesting is kept as is
/// (no real manifest comes close, and it bounds recursive schemas).
const MAX_DEPTH: usize = 128;

/// The schema document of one group-version (`/openapi/v3/apis/G/V`).
#[derive(Debug)]
pub struct SchemaDocument {
    schemas: Map<String, Value>,
}

impl SchemaDocument {
    pub fn new(document: &Value) -> Self {
        let schemas = document.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
        SchemaDocument { schemas }
    }

    /// The schema of a kind, found by its `x-kubernetes-group-version-kind`.
    pub fn kind_schema(&self, group: &str, version: &str, kind: &str) -> Option<&Value> {
        self.schemas.values().find(|schema| {
            schema.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|gvks| {
                gvks.iter().any(|gvk| gvk["group"] == group && gvk["version"] == version && gvk["kind"] == kind)
            }) && schema.get("properties").is_some()
        })
    }

    /// Removes from `object` every field the kind's schema does not declare;
    /// returns the JSON pointers of what was removed. An object of a kind
    /// without a published schema is left as it is.
    pub fn drop_undeclared(&self, group: &str, version: &str, kind: &str, object: &mut Value) -> Vec<String> {
        let mut dropped = Vec::new();
        if let Some(schema) = self.kind_schema(group, version, kind) {
            self.prune(object, schema, &mut String::new(), &mut dropped, 0);
        }
        dropped
    }

    /// Follows `$ref` and the single-element `allOf` the server wraps
    /// references in (to hang a default or description beside them).
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..MAX_DEPTH {
            let structural = ["properties", "items", "additionalProperties"].iter().any(|k| schema.get(k).is_some());
            if structural {
                return schema;
            }
            if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
                match target.strip_prefix("#/components/schemas/").and_then(|name| self.schemas.get(name)) {
                    Some(next) => schema = next,
                    None => return schema,
                }
            } else if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                schema = only;
            } else {
                return schema;
            }
        }
        schema
    }

    fn prune(&self, value: &mut Value, schema: &Value, path: &mut String, dropped: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema = self.resolve(schema);
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                if properties.is_none() && additional.is_none() {
                    // Untyped (RawExtension, a free-form object): anything goes.
                    return;
                }
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    let declared = properties.and_then(|p| p.get(&key));
                    let field_schema = match (declared, additional) {
                        (Some(schema), _) => Some(schema),
                        (None, Some(Value::Bool(true))) => None,
                        (None, Some(Value::Bool(false)) | None) => {
                            map.remove(&key);
                            dropped.push(path.clone());
                            path.truncate(len);
                            continue;
                        }
                        (None, Some(other)) => Some(other),
                    };
                    if let (Some(field_schema), Some(field)) = (field_schema, map.get_mut(&key)) {
                        self.prune(field, field_schema, path, dropped, depth + 1);
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("/{i}"));
                        self.prune(item, item_schema, path, dropped, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The server path of a group-version's OpenAPI v3 document.
pub fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("/openapi/v3/api/{version}") } else { format!("/openapi/v3/apis/{group}/{version}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> SchemaDocument {
        SchemaDocument::new(&json!({"components": {"schemas": {
            "apps.Deployment": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/meta.ObjectMeta"}], "default": {}},
                    "spec": {"allOf": [{"$ref": "#/components/schemas/apps.DeploymentSpec"}]}}},
            "apps.DeploymentSpec": {"type": "object", "properties": {"replicas": {"type": "integer"},
                "template": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "containers": {"type": "array", "items": {"$ref": "#/components/schemas/core.Container"}}}}}}}},
            "core.Container": {"type": "object", "properties": {"name": {"type": "string"}, "image": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}}}},
            "meta.ObjectMeta": {"type": "object", "properties": {"name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "example.Widget": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}],
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "raw": {"type": "object"}}},
        }}}))
    }

    #[test]
    fn undeclared_fields_are_dropped_wherever_they_are() {
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"a/b": "c"}, "bogusMeta": 1},
            "spec": {"replicas": 2, "bogusTop": true, "template": {"spec": {"containers": [
                {"name": "app", "image": "x", "args": ["-v"], "bogus": {"deep": 1}}]}}}});
        let dropped = document().drop_undeclared("apps", "v1", "Deployment", &mut deployment);
        assert_eq!(dropped, ["/metadata/bogusMeta", "/spec/bogusTop", "/spec/template/spec/containers/0/bogus"]);
        assert_eq!(deployment, json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"a/b": "c"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "x", "args": ["-v"]}]}}}}));
    }

    #[test]
    fn free_form_and_unknown_kinds_are_kept() {
        let doc = document();
        let mut widget = json!({"spec": {"anything": {"goes": 1}}, "raw": {"x": 1}, "other": 1});
        assert_eq!(doc.drop_undeclared("example.com", "v1", "Widget", &mut widget), ["/other"]);
        assert_eq!(widget, json!({"spec": {"anything": {"goes": 1}}, "raw": {"x": 1}}));
        let mut gadget = json!({"spec": {"x": 1}});
        assert!(doc.drop_undeclared("example.com", "v1", "Gadget", &mut gadget).is_empty());
    }

    #[test]
    fn document_paths_follow_the_group() {
        assert_eq!(document_path("", "v1"), "/openapi/v3/api/v1");
        assert_eq!(document_path("apps", "v1"), "/openapi/v3/apis/apps/v1");
    }
}

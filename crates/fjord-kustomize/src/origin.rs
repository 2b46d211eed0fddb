//! `buildMetadata: [originAnnotations]`: where each object came from, as
//! kustomize records it in `config.kubernetes.io/origin`.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::resource::Resource;

pub const ORIGIN_OPTION: &str = "originAnnotations";
pub const TRANSFORMATIONS_OPTION: &str = "transformerAnnotations";
pub const ORIGIN_KEY: &str = "config.kubernetes.io/origin";
pub const TRANSFORMATIONS_KEY: &str = "alpha.config.kubernetes.io/transformations";

/// Joins and cleans a relative path the way Go's `filepath.Join` does,
/// keeping leading `..` that cannot be folded.
pub fn join(base: &Path, rel: &str) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    for c in base.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else {
                    parts.push("..".into());
                }
            }
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.iter().collect()
}

pub fn path_origin(p: &Path) -> String {
    format!("path: {}\n", crate::emit::scalar(&p.display().to_string()))
}

/// An origin naming the generator or transformer configuration that made or
/// changed an object (kustomize's `configuredIn` / `configuredBy`).
pub fn configured(
    in_file: &Path,
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: &str,
) -> String {
    let q = crate::emit::scalar;
    let mut s = format!(
        "configuredIn: {}\nconfiguredBy:\n  apiVersion: {}\n  kind: {}\n",
        q(&in_file.display().to_string()),
        q(api_version),
        q(kind)
    );
    if !name.is_empty() {
        s.push_str(&format!("  name: {}\n", q(name)));
    }
    if !namespace.is_empty() {
        s.push_str(&format!("  namespace: {}\n", q(namespace)));
    }
    s
}

/// The `path:` of an origin annotation.
pub fn path_of(text: &str) -> Option<String> {
    let v = crate::yaml::parse_one(text, Path::new("<origin>")).ok()?;
    v.get("path")?.as_str().map(str::to_string)
}

/// After a transformer has run: objects that carry an origin get the
/// transformer appended to their transformations; objects without one are
/// taken to be its output and get it as their origin (kustomize's
/// `AddTransformerAnnotation`).
pub fn record_transformation(rs: &mut [Resource], origin: &str) {
    let mut item = String::with_capacity(origin.len() + 16);
    for (i, line) in origin.lines().enumerate() {
        item.push_str(if i == 0 { "- " } else { "  " });
        item.push_str(line);
        item.push('\n');
    }
    for r in rs.iter_mut() {
        let ann = r
            .obj
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object);
        let has_origin = ann.is_some_and(|a| a.contains_key(ORIGIN_KEY));
        if !has_origin {
            r.set_annotation(ORIGIN_KEY, origin);
            continue;
        }
        let mut list = ann
            .and_then(|a| a.get(TRANSFORMATIONS_KEY))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        list.push_str(&item);
        r.set_annotation(TRANSFORMATIONS_KEY, &list);
    }
}

pub fn remove(r: &mut Resource, key: &str) {
    let Some(Value::Object(meta)) = r.obj.get_mut("metadata") else {
        return;
    };
    let Some(Value::Object(ann)) = meta.get_mut("annotations") else {
        return;
    };
    if ann.shift_remove(key).is_some() && ann.is_empty() {
        meta.shift_remove("annotations");
    }
}

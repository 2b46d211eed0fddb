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
    format!("path: {}\n", p.display())
}

pub fn configured(in_file: &Path, api_version: &str, kind: &str, name: &str) -> String {
    let mut s = format!("configuredIn: {}\nconfiguredBy:\n  apiVersion: {api_version}\n  kind: {kind}\n", in_file.display());
    if !name.is_empty() {
        s.push_str(&format!("  name: {name}\n"));
    }
    s
}

/// The `path:` of an origin annotation.
pub fn path_of(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("path: "))
}

pub fn remove(r: &mut Resource, key: &str) {
    let Some(Value::Object(meta)) = r.obj.get_mut("metadata") else { return };
    let Some(Value::Object(ann)) = meta.get_mut("annotations") else { return };
    if ann.shift_remove(key).is_some() && ann.is_empty() {
        meta.shift_remove("annotations");
    }
}

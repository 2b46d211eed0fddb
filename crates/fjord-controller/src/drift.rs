//! What a comparison ignores: `ignoreDifferences` as JSON pointers.

use serde_json::Value;

/// Removes the fields at the given JSON pointers, so both sides of a
/// comparison ignore them.
pub fn remove_pointers(value: &mut Value, pointers: &[String]) {
    for pointer in pointers {
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
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
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
}

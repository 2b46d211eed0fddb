//! The `ValueAddTransformer` builtin: writes a value into a field of the
//! selected objects, or inserts it as one segment of a path held there.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::Selector;
use crate::resource::Resource;
use crate::select::Compiled;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Target {
    pub selector: Option<Selector>,
    pub field_path: String,
    pub file_path_position: i64,
}

/// Checks targets as kustomize does when it reads the plugin's config.
pub fn check(targets: &[Target]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::invalid("must specify at least one target"));
    }
    for t in targets {
        if t.field_path.is_empty() {
            return Err(Error::invalid("fieldPath cannot be empty"));
        }
        if t.file_path_position < 0 {
            return Err(Error::invalid(format!(
                "value of FilePathPosition ({}) cannot be negative",
                t.file_path_position
            )));
        }
    }
    Ok(())
}

pub fn apply(rs: &mut [Resource], value: &str, targets: &[Target]) -> Result<()> {
    for t in targets {
        let selector = t.selector.as_ref().map(Compiled::new).transpose()?;
        for r in rs
            .iter_mut()
            .filter(|r| selector.as_ref().is_none_or(|s| s.matches(r)))
        {
            if t.field_path == "metadata/namespace" {
                crate::transform::namespace::move_object(r, value, &[], &Default::default())?;
                continue;
            }
            let id = r.cur_id().to_string();
            set_field(
                &mut r.obj,
                &split(&t.field_path),
                value,
                t.file_path_position,
            )
            .map_err(|message| Error::Object {
                object: id,
                message,
            })?;
        }
    }
    Ok(())
}

/// Splits on `/`; a segment ending in `\` is joined with the next.
fn split(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match out.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

fn set_field(
    obj: &mut Map<String, Value>,
    fields: &[String],
    value: &str,
    position: i64,
) -> std::result::Result<(), String> {
    let Some((last, parents)) = fields.split_last() else {
        return Ok(());
    };
    let mut cur = obj;
    for f in parents {
        let next = cur
            .entry(f.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if next.is_null() {
            *next = Value::Object(Map::new());
        }
        cur = match next {
            Value::Object(m) => m,
            _ => return Err(format!("field '{f}' is not a mapping")),
        };
    }
    let slot = cur.entry(last.clone()).or_insert(Value::Null);
    let current = match slot {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(format!("field '{last}' is not a scalar")),
    };
    let new = match usize::try_from(position) {
        Ok(p) if p > 0 => insert_path_part(&current, p - 1, value),
        _ => value.to_string(),
    };
    *slot = Value::String(new);
    Ok(())
}

/// Inserts `part` as segment `pos` of a slash-separated path, counting from
/// the first named segment whether the path is absolute or not; the result
/// is cleaned as Go's `filepath.Join` cleans it.
fn insert_path_part(path: &str, pos: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let mut parts = path_split(path);
    let mut pos = pos.min(parts.len());
    if parts.first().is_some_and(String::is_empty) && pos < parts.len() {
        pos += 1;
    }
    parts.insert(pos, part.to_string());
    if parts.first().is_some_and(String::is_empty) {
        format!("/{}", clean_join(&parts[1..]))
    } else {
        clean_join(&parts)
    }
}

/// Go's `PathSplit`: an absolute path starts with an empty segment.
fn path_split(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    let (dir, base) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    if dir == "/" {
        return if base.is_empty() {
            vec![String::new()]
        } else {
            vec![String::new(), base.to_string()]
        };
    }
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    if dir.is_empty() {
        return vec![base.to_string()];
    }
    let mut out = path_split(dir);
    out.push(base.to_string());
    out
}

/// Go's `filepath.Join` of relative segments: empty and `.` segments go,
/// `..` takes the previous one away.
fn clean_join(parts: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in parts.iter().flat_map(|p| p.split('/')) {
        match seg {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_a_path_part_as_kustomize_does() {
        assert_eq!(insert_path_part("/a/b/c", 1, "x"), "/a/x/b/c");
        assert_eq!(insert_path_part("a/b/c", 0, "x"), "x/a/b/c");
        assert_eq!(insert_path_part("a/b", 9, "x/y"), "a/b/x/y");
        assert_eq!(insert_path_part("", 0, "x"), "x");
        assert_eq!(insert_path_part("a/b", 1, ""), "a/b");
    }

    #[test]
    fn splits_on_unescaped_slashes() {
        assert_eq!(split("a/b\\/c/d"), vec!["a", "b/c", "d"]);
    }
}

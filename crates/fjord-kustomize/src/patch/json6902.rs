//! RFC 6902 JSON patch, given as JSON or as a YAML list of operations.

use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Operation {
    op: String,
    path: String,
    from: Option<String>,
    value: Option<Value>,
}

/// Parses a patch. `Ok(None)` means the text does not start with a list and
/// so is not a JSON patch.
pub fn parse(text: &str, source: &std::path::Path) -> Result<Option<Vec<Operation>>> {
    // kustomize reads a JSON patch from the first document only; a first
    // document that is not a list makes the text strategic-merge patches.
    let docs = crate::yaml::parse_documents(text, source)?;
    let Some(Value::Array(items)) = docs.into_iter().next() else {
        return Ok(None);
    };
    let mut ops = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        let Value::Object(mut m) = it else {
            return Err(Error::invalid(format!(
                "{}: JSON patch operation {i} is not a mapping",
                source.display()
            )));
        };
        let s = |m: &serde_json::Map<String, Value>, k: &str| {
            m.get(k).and_then(Value::as_str).map(str::to_string)
        };
        let Some(op) = s(&m, "op") else {
            return Err(Error::invalid(format!(
                "{}: JSON patch operation {i} has no 'op'",
                source.display()
            )));
        };
        let Some(path) = s(&m, "path") else {
            return Err(Error::invalid(format!(
                "{}: JSON patch operation {i} has no 'path'",
                source.display()
            )));
        };
        let from = s(&m, "from");
        let value = m.remove("value");
        ops.push(Operation {
            op,
            path,
            from,
            value,
        });
    }
    Ok(Some(ops))
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

// The semantics and messages below are those of the JSON patch library
// kustomize uses (evanphx/json-patch v4), including its quirks: the first
// segment of a path is never looked at, `replace` of a missing object key
// adds it, a missing `value` is null, and negative array indices count from
// the end.

/// Where an operation's path leads: the container holding the last
/// segment, and that segment. `None` when the path has fewer than two
/// segments or a container along it is missing.
fn locate<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segs: Vec<&str> = path.split('/').collect();
    if segs.len() < 2 {
        return None;
    }
    let (last, parents) = segs[1..].split_last()?;
    let mut cur = doc;
    for part in parents {
        let key = unescape(part);
        cur = match cur {
            Value::Object(m) => m.get_mut(&key)?,
            Value::Array(a) => {
                let i = array_index(&key, a.len()).ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
        if !cur.is_object() && !cur.is_array() {
            return None;
        }
    }
    Some((cur, unescape(last)))
}

fn missing() -> &'static str {
    "missing value"
}

fn invalid_index(i: i64) -> String {
    format!("Unable to access invalid index: {i}: invalid index referenced")
}

fn atoi(key: &str) -> std::result::Result<i64, String> {
    key.parse::<i64>().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            crate::error::go_quote(key)
        )
    })
}

/// An existing element's index; negative ones count from the end.
fn array_index(key: &str, len: usize) -> std::result::Result<usize, String> {
    let i = atoi(key)?;
    let len = len as i64;
    let at = if i < 0 { i + len } else { i };
    if i < -len || at >= len {
        return Err(invalid_index(i));
    }
    Ok(at as usize)
}

/// The value at `key` of a container: `None` for a missing object key (not
/// an error, as in the library), an error for a bad array index.
fn get_in(con: &Value, key: &str) -> std::result::Result<Option<Value>, String> {
    match con {
        Value::Object(m) => Ok(m.get(key).cloned()),
        Value::Array(a) => Ok(Some(a[array_index(key, a.len())?].clone())),
        _ => Ok(None),
    }
}

fn add_in(con: &mut Value, key: &str, v: Value) -> std::result::Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), v);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(v);
                return Ok(());
            }
            let i = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = a.len() as i64 + 1;
            if i >= size || i < -size {
                return Err(invalid_index(i));
            }
            a.insert(if i < 0 { i + size } else { i } as usize, v);
            Ok(())
        }
        _ => Err(missing().into()),
    }
}

fn remove_in(con: &mut Value, key: &str) -> std::result::Result<Value, String> {
    match con {
        Value::Object(m) => m
            .shift_remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value")),
        Value::Array(a) => {
            let i = array_index(key, a.len())?;
            Ok(a.remove(i))
        }
        _ => Err(missing().into()),
    }
}

fn apply_one(doc: &mut Value, o: &Operation) -> std::result::Result<(), String> {
    let path = o.path.as_str();
    // A missing value is JSON null to the library.
    let value = || o.value.clone().unwrap_or(Value::Null);
    let from = || o.from.clone().unwrap_or_default();
    match o.op.as_str() {
        "add" => {
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                )
            })?;
            add_in(con, &key, value()).map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!("remove operation does not apply: doc is missing path: \"{path}\": missing value")
            })?;
            remove_in(con, &key)
                .map(drop)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            if path.is_empty() {
                let v = value();
                if !v.is_object() && !v.is_array() {
                    return Err("replace operation value must be object or array".into());
                }
                *doc = v;
                return Ok(());
            }
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                )
            })?;
            get_in(con, &key).map_err(|_| {
                format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )
            })?;
            match con {
                Value::Object(m) => {
                    m.insert(key, value());
                }
                Value::Array(a) => {
                    let i = array_index(&key, a.len())?;
                    a[i] = value();
                }
                _ => {}
            }
            Ok(())
        }
        "move" => {
            let from = from();
            let (con, key) = locate(doc, &from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                )
            })?;
            get_in(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let v = remove_in(con, &key)
                .map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add_in(con, &key, v).map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "copy" => {
            let from = from();
            let (con, key) = locate(doc, &from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: missing value"
                )
            })?;
            let v = get_in(con, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .unwrap_or(Value::Null);
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add_in(con, &key, v).map_err(|e| format!("error while adding value during copy: {e}"))
        }
        "test" => {
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if *doc == value() {
                    Ok(())
                } else {
                    Err(failed())
                };
            }
            let (con, key) = locate(doc, path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: missing value")
            })?;
            let got =
                get_in(con, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            if got.unwrap_or(Value::Null) == value() {
                Ok(())
            } else {
                Err(failed())
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Applies the operations in order; the first that fails stops the patch.
pub fn apply(doc: &mut Value, ops: &[Operation]) -> Result<()> {
    for o in ops {
        apply_one(doc, o).map_err(Error::Invalid)?;
    }
    Ok(())
}

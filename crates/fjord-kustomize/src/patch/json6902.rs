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

/// Parses a patch. `Ok(None)` means the text is not a list and so cannot be
/// a JSON patch.
pub fn parse(text: &str, source: &std::path::Path) -> Result<Option<Vec<Operation>>> {
    let v = crate::yaml::parse_one(text, source)?;
    let Value::Array(items) = v else {
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

fn tokens(path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::invalid(format!(
            "JSON pointer '{path}' must start with '/'"
        )));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String], path: &str) -> Result<&'a mut Value> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| Error::invalid(format!("JSON patch path '{path}' does not exist")))?;
    }
    Ok(cur)
}

fn get(doc: &Value, path: &str) -> Result<Value> {
    let toks = tokens(path)?;
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| Error::invalid(format!("JSON patch path '{path}' does not exist")))?;
    }
    Ok(cur.clone())
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<()> {
    let toks = tokens(path)?;
    let Some((last, parents)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                index(last, a.len() + 1, path)?
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(Error::invalid(format!(
            "JSON patch path '{path}': parent is not a container"
        ))),
    }
}

fn index(t: &str, len: usize, path: &str) -> Result<usize> {
    match t.parse::<usize>() {
        Ok(i) if i < len => Ok(i),
        _ => Err(Error::invalid(format!(
            "JSON patch path '{path}': index '{t}' out of bounds"
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value> {
    let toks = tokens(path)?;
    let Some((last, parents)) = toks.split_last() else {
        return Err(Error::invalid(
            "JSON patch cannot remove the whole document",
        ));
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => m.shift_remove(last).ok_or_else(|| {
            Error::invalid(format!(
                "Unable to remove nonexistent key: {last}: missing value at '{path}'"
            ))
        }),
        Value::Array(a) => {
            let i = index(last, a.len(), path)?;
            Ok(a.remove(i))
        }
        _ => Err(Error::invalid(format!(
            "JSON patch path '{path}': parent is not a container"
        ))),
    }
}

pub fn apply(doc: &mut Value, ops: &[Operation]) -> Result<()> {
    for o in ops {
        let need_value = || {
            o.value.clone().ok_or_else(|| {
                Error::invalid(format!(
                    "JSON patch '{}' at '{}' has no value",
                    o.op, o.path
                ))
            })
        };
        let need_from = || {
            o.from.clone().ok_or_else(|| {
                Error::invalid(format!(
                    "JSON patch '{}' at '{}' has no 'from'",
                    o.op, o.path
                ))
            })
        };
        match o.op.as_str() {
            "add" => add(doc, &o.path, need_value()?)?,
            "remove" => {
                remove(doc, &o.path)?;
            }
            "replace" => {
                remove(doc, &o.path).map_err(|_| {
                    Error::invalid(format!(
                        "replace operation does not apply: doc is missing key: {}",
                        o.path
                    ))
                })?;
                add(doc, &o.path, need_value()?)?;
            }
            "move" => {
                let v = remove(doc, &need_from()?)?;
                add(doc, &o.path, v)?;
            }
            "copy" => {
                let v = get(doc, &need_from()?)?;
                add(doc, &o.path, v)?;
            }
            "test" => {
                if get(doc, &o.path)? != need_value()? {
                    return Err(Error::invalid(format!(
                        "JSON patch test failed at '{}'",
                        o.path
                    )));
                }
            }
            other => {
                return Err(Error::invalid(format!(
                    "unknown JSON patch operation '{other}'"
                )));
            }
        }
    }
    Ok(())
}

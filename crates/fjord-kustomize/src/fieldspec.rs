//! Walks a field path (`spec/template/metadata/labels`) through an object,
//! descending into every element of the sequences it meets.

use serde_json::{Map, Value};

use crate::error::Result;

/// Splits a path on `/`, honouring `\/` as a literal slash inside a key.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// Calls `f` on every value found at `path`. With `create`, missing
/// mappings along the way (and the final field, as null) are created.
pub fn visit<S: AsRef<str>>(
    node: &mut Value,
    path: &[S],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    walk(node, path, create, &mut Vec::new(), &mut |v, _| f(v))
}

/// One step of the concrete path to a visited value.
#[derive(Debug, Clone, Copy)]
pub enum Crumb<'p> {
    Key(&'p str),
    Index(usize),
}

/// As [`visit_str`], also telling `f` the concrete path to each value.
pub fn visit_str_with_path(
    node: &mut Value,
    path: &str,
    create: bool,
    f: &mut dyn FnMut(&mut Value, &[Crumb]) -> Result<()>,
) -> Result<()> {
    if path.contains('\\') {
        return walk(node, &split_path(path), create, &mut Vec::new(), f);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    walk(node, &segs, create, &mut Vec::new(), f)
}

fn walk<'p, S: AsRef<str>>(
    node: &mut Value,
    path: &'p [S],
    create: bool,
    trail: &mut Vec<Crumb<'p>>,
    f: &mut dyn FnMut(&mut Value, &[Crumb]) -> Result<()>,
) -> Result<()> {
    let Some((seg, rest)) = path.split_first() else {
        return f(node, trail);
    };
    match node {
        Value::Array(items) => {
            for (i, it) in items.iter_mut().enumerate() {
                trail.push(Crumb::Index(i));
                let r = walk(it, path, create, trail, f);
                trail.pop();
                r?;
            }
            Ok(())
        }
        Value::Object(m) => {
            // `field[]` names a sequence; kustomize never creates one.
            let seg = seg.as_ref();
            let (seg, is_seq) = match seg.strip_suffix("[]") {
                Some(s) => (s, true),
                None => (seg, false),
            };
            let present = m.get(seg).is_some_and(|v| !v.is_null());
            if !present {
                if is_seq {
                    // A null where a field spec expects a sequence becomes
                    // an empty one, as in kustomize; a missing one stays so.
                    if let Some(v) = m.get_mut(seg) {
                        *v = Value::Array(Vec::new());
                    }
                    return Ok(());
                }
                if !create {
                    return Ok(());
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                m.insert(seg.to_string(), fresh);
            }
            let Some(child) = m.get_mut(seg) else {
                return Ok(());
            };
            trail.push(Crumb::Key(seg));
            let r = walk(child, rest, create, trail, f);
            trail.pop();
            r?;
            if rest.is_empty() && child.is_null() {
                m.remove(seg);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub fn visit_str(
    node: &mut Value,
    path: &str,
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if path.contains('\\') {
        return visit(node, &split_path(path), create, f);
    }
    // The common case needs no copies of the segments.
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    visit(node, &segs, create, f)
}

/// Read-only lookup of a dotted or slashed path with `[i]` indices and
/// `[key=value]` selectors, as used by vars and replacements.
pub fn get<'a>(node: &'a Value, segs: &[PathSeg]) -> Option<&'a Value> {
    let mut cur = node;
    for s in segs {
        cur = match (s, cur) {
            (PathSeg::Field(f), Value::Object(m)) => m.get(f)?,
            (PathSeg::Index(i), Value::Array(a)) => a.get(*i)?,
            (PathSeg::Match(k, v), Value::Array(a)) => a.iter().find(|e| scalar_eq(e.get(k), v))?,
            _ => return None,
        };
    }
    Some(cur)
}

fn scalar_eq(v: Option<&Value>, want: &str) -> bool {
    match v {
        Some(Value::String(s)) => s == want,
        Some(Value::Number(n)) => n.to_string() == want,
        Some(Value::Bool(b)) => b.to_string() == want,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathSeg {
    Field(String),
    Index(usize),
    Match(String, String),
    /// `*` or `[]` in replacement targets: every element.
    All,
}

/// Parses `spec.template.spec.containers[name=app].image` or
/// `spec/containers/0/image` forms.
pub fn parse_field_path(p: &str) -> Vec<PathSeg> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut raw = Vec::new();
    let sep = if p.contains('/') && !p.contains('[') {
        '/'
    } else {
        '.'
    };
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                if depth == 1 && !cur.is_empty() {
                    raw.push(std::mem::take(&mut cur));
                }
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
                if depth == 0 {
                    raw.push(std::mem::take(&mut cur));
                }
            }
            c if c == sep && depth == 0 => {
                if !cur.is_empty() {
                    raw.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        raw.push(cur);
    }
    for r in raw {
        if let Some(inner) = r.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if inner.is_empty() || inner == "*" {
                segs.push(PathSeg::All);
            } else if let Some((k, v)) = inner.split_once('=') {
                segs.push(PathSeg::Match(k.to_string(), v.to_string()));
            } else if let Ok(i) = inner.parse() {
                segs.push(PathSeg::Index(i));
            } else {
                segs.push(PathSeg::Field(inner.to_string()));
            }
        } else if r == "*" {
            segs.push(PathSeg::All);
        } else {
            segs.push(PathSeg::Field(r));
        }
    }
    segs
}

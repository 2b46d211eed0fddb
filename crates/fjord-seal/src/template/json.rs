//! `encoding/json` as Sprig uses it: Marshal (optionally HTML-escaped, optionally indented)
//! and Unmarshal into `interface{}`.

use std::collections::BTreeMap;

use super::value::{Elem, MAX_OUTPUT, Value, format_float, runes};

const MAX_DEPTH: usize = 300;

/// None where Go's Marshal fails (NaN, infinities, nesting too deep).
pub fn encode(v: &Value, html: bool, indent: Option<&str>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    enc(&mut out, v, html, indent, 0)?;
    Some(out)
}

fn newline(out: &mut Vec<u8>, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(ind.as_bytes());
        }
    }
}

fn enc(out: &mut Vec<u8>, v: &Value, html: bool, indent: Option<&str>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH || out.len() > MAX_OUTPUT {
        return None;
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i, _) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => {
            if !f.is_finite() {
                return None;
            }
            let a = f.abs();
            let exp = a != 0.0 && !(1e-6..1e21).contains(&a);
            let mut s = format_float(*f, if exp { 'e' } else { 'f' }, None);
            if exp {
                // e-07 → e-7
                if let Some(p) = s.find("e-0") {
                    s.remove(p + 2);
                }
            }
            out.extend_from_slice(s.as_bytes());
        }
        Value::Str(s) => string(out, s, html),
        Value::List(_, _, true) => out.extend_from_slice(b"null"),
        Value::List(l, ..) => {
            out.push(b'[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, indent, depth + 1);
                enc(out, e, html, indent, depth + 1)?;
            }
            if !l.is_empty() {
                newline(out, indent, depth);
            }
            out.push(b']');
        }
        Value::Map(m, _) => {
            let m = m.borrow();
            out.push(b'{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, indent, depth + 1);
                string(out, k, html);
                out.push(b':');
                if indent.is_some() {
                    out.push(b' ');
                }
                enc(out, e, html, indent, depth + 1)?;
            }
            if !m.is_empty() {
                newline(out, indent, depth);
            }
            out.push(b'}');
        }
    }
    Some(())
}

fn string(out: &mut Vec<u8>, s: &[u8], html: bool) {
    out.push(b'"');
    let mut i = 0;
    for (c, w, valid) in runes(s) {
        let raw = &s[i..i + w];
        i += w;
        if !valid {
            out.extend_from_slice(b"\\ufffd");
            continue;
        }
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\x08' => out.extend_from_slice(b"\\b"),
            '\x0c' => out.extend_from_slice(b"\\f"),
            '<' | '>' | '&' if html => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            _ => out.extend_from_slice(raw),
        }
    }
    out.push(b'"');
}

/// None where Go's Unmarshal fails.
pub fn decode(b: &[u8]) -> Option<Value> {
    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
    Some(convert(v))
}

fn convert(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s.as_bytes()),
        serde_json::Value::Array(a) => Value::list(a.into_iter().map(convert).collect()),
        serde_json::Value::Object(o) => {
            let m: BTreeMap<Vec<u8>, Value> = o
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), convert(v)))
                .collect();
            Value::map(m, Elem::Any)
        }
    }
}

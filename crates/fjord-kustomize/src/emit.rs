//! Writes objects as kustomize does: keys sorted, block style, sequences
//! not indented under their key, `---` between documents.

use serde_json::Value;

pub fn to_yaml_stream<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, d) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(&mut out, d);
    }
    out
}

pub fn write_document(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => write_map(out, v, 0),
        Value::Array(a) if !a.is_empty() => write_seq(out, a, 0),
        _ => {
            write_scalar(out, v, 0);
            out.push('\n');
        }
    }
}

fn sorted_entries(v: &Value) -> Vec<(&String, &Value)> {
    let Value::Object(m) = v else {
        return Vec::new();
    };
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, v: &Value, ind: usize) {
    for (i, (k, val)) in sorted_entries(v).into_iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        write_key(out, k);
        out.push(':');
        write_value_after_key(out, val, ind);
    }
}

fn write_value_after_key(out: &mut String, val: &Value, ind: usize) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_map(out, val, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            indent(out, ind);
            write_seq(out, a, ind);
        }
        _ => {
            out.push(' ');
            write_scalar(out, val, ind + 2);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for (i, item) in a.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, item, ind + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, ind + 2),
            _ => {
                write_scalar(out, item, ind + 2);
                out.push('\n');
            }
        }
    }
}

/// A string as a YAML scalar on one line: plain when that reads back as the
/// same string, quoted otherwise.
pub fn scalar(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s, 0, true);
    out
}

fn write_key(out: &mut String, k: &str) {
    write_string(out, k, 0, true);
}

fn write_scalar(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s, ind, false),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn write_string(out: &mut String, s: &str, ind: usize, is_key: bool) {
    if !is_key && s.contains('\n') && is_literal_safe(s) {
        write_literal(out, s, ind);
    } else if is_plain_safe(s) {
        out.push_str(s);
    } else if resolves_to_non_string(s) {
        // Strings that would read back as another type are double-quoted,
        // as kustomize writes them ("true", "8080").
        write_double_quoted(out, s);
    } else if s
        .chars()
        .all(|c| c == '\t' || (!c.is_control() && c != '\u{feff}'))
    {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        write_double_quoted(out, s);
    }
}

fn is_literal_safe(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.starts_with('\t')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.lines().any(|l| l.ends_with(' ') || l.ends_with('\t'))
}

fn write_literal(out: &mut String, s: &str, ind: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing >= 1 { &s[..s.len() - 1] } else { s };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, ind);
            out.push_str(line);
        }
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// True when the string can be written without quotes and still reads back
/// as the same string, under YAML 1.1 and 1.2 resolvers alike.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with('\t') || s.ends_with('\t') {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // "-foo" and ":foo" style starts are legal plain scalars only when not
        // followed by a space; stay conservative and quote them, except a
        // lone leading dash followed by a non-space, which YAML allows.
        let ok = (first == '-' || first == '?' || first == ':')
            && s.len() > 1
            && !s[1..].starts_with(' ')
            && !looks_numeric(s);
        if !ok {
            return false;
        }
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\n')
        || s.contains('\r')
    {
        return false;
    }
    if s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    }) {
        return false;
    }
    !resolves_to_non_string(s)
}

fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y", "Y",
        "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "=", "<<",
    ];
    WORDS.contains(&s) || looks_numeric(s)
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0b")) {
        return !o.is_empty() && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    }
    // Integers, floats, exponents and YAML 1.1 sexagesimal (1:20) numbers.
    let mut digits = 0;
    for c in t.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' | '_' | ':' | 'e' | 'E' | '+' | '-' => {}
            _ => return false,
        }
    }
    digits > 0
}

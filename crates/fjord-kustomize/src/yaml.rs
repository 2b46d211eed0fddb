//! YAML in and out. Internally every document is a `serde_json::Value`
//! (mapping order preserved), which keeps patches and field paths simple.
//!
//! Documents are read from libyaml's event stream and plain scalars are
//! resolved as go-yaml v3 (which kustomize reads with) resolves them: `0644`
//! is the octal integer 420, `1_000` is 1000, `2001-12-14` is a timestamp
//! (kept as its RFC 3339 text, as kustomize prints it), `yes` is a string.
//! Quoted and block scalars are always strings.

use base64::Engine as _;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::Path;

use serde_json::{Map, Number, Value};
use unsafe_libyaml as unsafe_yaml;

use crate::error::{Error, Result};
use crate::goyaml::{
    go_parse_float, go_parse_int, go_parse_uint, parse_timestamp, yaml_style_float,
};

/// Deepest nesting accepted (deeper documents are refused, not overflowed).
const MAX_DEPTH: usize = 256;
/// Most nodes that aliases may expand to in one text (a guard against
/// "billion laughs" documents).
const MAX_ALIAS_NODES: usize = 1_000_000;

/// Parses a multi-document YAML (or JSON) text. Empty documents are dropped,
/// as kustomize drops them.
pub fn parse_documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    Ok(load(text, path, Reading::Plain)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// As [`parse_documents`], for strategic-merge patches: kustomize looks a
/// repeated key of a patch up by its first occurrence, so the first value
/// is kept.
pub fn parse_patch_documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    Ok(load(text, path, Reading::Patches)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// Reads resources: as [`parse_documents`], also telling for each document
/// the first mapping key it repeats, if any. Reading keeps the last value;
/// kustomize reads resources that way too but then fails to print them.
pub fn parse_resource_documents(text: &str, path: &Path) -> Result<Vec<(Value, Option<String>)>> {
    load(text, path, Reading::Resources)
}

/// What a text holds, which changes how some of it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Plain,
    /// Objects: kustomize keeps every annotation value as the text it was
    /// written as (`0x10` stays "0x10", `null` is "null"; a list or a
    /// mapping is ""), where a label keeps its YAML type.
    Resources,
    /// Strategic-merge patches: annotations as for resources, except that
    /// null still deletes; a repeated key keeps its first value.
    Patches,
    /// Kustomization files: YAML 1.1 booleans.
    Kustomization,
}

/// Where in a document the loader is, as far as annotations go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Elsewhere,
    Root,
    Metadata,
    Annotations,
    AnnotationValue,
}

fn load(text: &str, path: &Path, reading: Reading) -> Result<Vec<(Value, Option<String>)>> {
    let mut events = Events::new(text);
    let mut loader = Loader {
        anchors: HashMap::new(),
        alias_nodes: 0,
        duplicate: None,
        keep_first: reading == Reading::Patches,
        reading,
        zone: Zone::Elsewhere,
        flows: 0,
    };
    let fail = |message: String| Error::Yaml {
        path: path.to_path_buf(),
        message,
    };
    let mut out = Vec::new();
    loop {
        match events.next().map_err(fail)? {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => break,
            Event::DocumentStart => {
                loader.anchors.clear();
                loader.duplicate = None;
                let first = events.next().map_err(fail)?;
                loader.zone = Zone::Root;
                let v = loader.node(&mut events, first, 0).map_err(fail)?;
                if !v.is_null() {
                    out.push((v, loader.duplicate.take()));
                }
            }
            other => return Err(fail(format!("unexpected YAML event {other:?}"))),
        }
    }
    Ok(out)
}

/// Parses a single YAML value (used for kustomization files and inline
/// patches).
pub fn parse_one(text: &str, path: &Path) -> Result<Value> {
    single(parse_documents(text, path)?, path)
}

/// Reads a kustomization file. kustomize reads these with YAML 1.1's
/// booleans, so a plain `y`, `no`, `on` or `off` is a boolean there (and,
/// where a string is expected, an error).
pub fn parse_kustomization(text: &str, path: &Path) -> Result<Value> {
    let docs = load(text, path, Reading::Kustomization)?;
    single(docs.into_iter().map(|(v, _)| v).collect(), path)
}

fn single(mut docs: Vec<Value>, path: &Path) -> Result<Value> {
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        _ => Err(Error::Yaml {
            path: path.to_path_buf(),
            message: "expected a single document".into(),
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Quoted,
}

#[derive(Debug)]
enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias(String),
    Scalar {
        anchor: Option<String>,
        tag: Option<String>,
        value: String,
        style: Style,
    },
    /// The anchor, and whether the collection is written in flow style.
    SequenceStart(Option<String>, bool),
    SequenceEnd,
    MappingStart(Option<String>, bool),
    MappingEnd,
}

/// libyaml's parser over one text.
struct Events<'a> {
    /// Boxed: libyaml keeps pointers into its own state.
    parser: Box<MaybeUninit<unsafe_yaml::yaml_parser_t>>,
    ok: bool,
    done: bool,
    _text: &'a str,
}

impl<'a> Events<'a> {
    fn new(text: &'a str) -> Self {
        let mut parser = Box::new(MaybeUninit::<unsafe_yaml::yaml_parser_t>::uninit());
        // SAFETY: the parser is initialised in place before any other use;
        // the input outlives it (borrowed for 'a, the parser is dropped with
        // `self`).
        let ok = unsafe {
            let p = parser.as_mut_ptr();
            if unsafe_yaml::yaml_parser_initialize(p).fail {
                false
            } else {
                unsafe_yaml::yaml_parser_set_encoding(p, unsafe_yaml::YAML_UTF8_ENCODING);
                unsafe_yaml::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
                true
            }
        };
        Events {
            parser,
            ok,
            done: false,
            _text: text,
        }
    }

    fn next(&mut self) -> std::result::Result<Event, String> {
        if !self.ok {
            return Err("the YAML parser could not be set up".into());
        }
        if self.done {
            return Err("unexpected end of the YAML stream".into());
        }
        let mut event = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised (`ok`); the event is read only
        // after libyaml filled it and is deleted right after.
        unsafe {
            let p = self.parser.as_mut_ptr();
            let failed_before = (&*p).error != unsafe_yaml::YAML_NO_ERROR;
            if failed_before || unsafe_yaml::yaml_parser_parse(p, event.as_mut_ptr()).fail {
                return Err(parse_error(p));
            }
            let e = event.as_mut_ptr();
            let out = convert(&*e);
            unsafe_yaml::yaml_event_delete(e);
            if matches!(out, Event::StreamEnd) {
                self.done = true;
            }
            Ok(out)
        }
    }
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        if self.ok {
            // SAFETY: initialised in `new` and not deleted before.
            unsafe { unsafe_yaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
        }
    }
}

/// # Safety
/// `s` is null or a NUL-terminated string.
unsafe fn c_string(s: *const u8) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: per the function's contract.
    let c = unsafe { std::ffi::CStr::from_ptr(s.cast()) };
    Some(String::from_utf8_lossy(c.to_bytes()).into_owned())
}

/// # Safety
/// `e` is an event libyaml has just produced.
unsafe fn convert(e: &unsafe_yaml::yaml_event_t) -> Event {
    // SAFETY: the union member read matches the event type.
    unsafe {
        match e.type_ {
            unsafe_yaml::YAML_STREAM_START_EVENT => Event::StreamStart,
            unsafe_yaml::YAML_STREAM_END_EVENT => Event::StreamEnd,
            unsafe_yaml::YAML_DOCUMENT_START_EVENT => Event::DocumentStart,
            unsafe_yaml::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
            unsafe_yaml::YAML_ALIAS_EVENT => {
                Event::Alias(c_string(e.data.alias.anchor).unwrap_or_default())
            }
            unsafe_yaml::YAML_SCALAR_EVENT => {
                let s = &e.data.scalar;
                let bytes = if s.value.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(s.value, s.length as usize)
                };
                Event::Scalar {
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: if s.style == unsafe_yaml::YAML_PLAIN_SCALAR_STYLE {
                        Style::Plain
                    } else {
                        Style::Quoted
                    },
                }
            }
            unsafe_yaml::YAML_SEQUENCE_START_EVENT => {
                let start = &e.data.sequence_start;
                Event::SequenceStart(
                    c_string(start.anchor),
                    start.style == unsafe_yaml::YAML_FLOW_SEQUENCE_STYLE,
                )
            }
            unsafe_yaml::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
            unsafe_yaml::YAML_MAPPING_START_EVENT => {
                let start = &e.data.mapping_start;
                Event::MappingStart(
                    c_string(start.anchor),
                    start.style == unsafe_yaml::YAML_FLOW_MAPPING_STYLE,
                )
            }
            unsafe_yaml::YAML_MAPPING_END_EVENT => Event::MappingEnd,
            _ => Event::StreamEnd,
        }
    }
}

/// libyaml's error, worded as serde_yaml words it.
///
/// # Safety
/// `p` is an initialised parser.
unsafe fn parse_error(p: *const unsafe_yaml::yaml_parser_t) -> String {
    // SAFETY: per the function's contract.
    let parser: &unsafe_yaml::yaml_parser_t = unsafe { &*p };
    // SAFETY: libyaml's problem and context are null or C strings.
    let (problem, context) = unsafe {
        (
            c_string(parser.problem.cast()),
            c_string(parser.context.cast()),
        )
    };
    let mark =
        |m: &unsafe_yaml::yaml_mark_t| format!("line {} column {}", m.line + 1, m.column + 1);
    let pm = &parser.problem_mark;
    let mut s = problem.unwrap_or_else(|| "libyaml parser failed but there is no error".into());
    if pm.line != 0 || pm.column != 0 {
        s.push_str(&format!(" at {}", mark(pm)));
    } else if parser.problem_offset != 0 {
        s.push_str(&format!(" at position {}", parser.problem_offset));
    }
    if let Some(context) = context {
        s.push_str(&format!(", {context}"));
        let cm = &parser.context_mark;
        if (cm.line != 0 || cm.column != 0) && (cm.line != pm.line || cm.column != pm.column) {
            s.push_str(&format!(" at {}", mark(cm)));
        }
    }
    s
}

/// Builds values from events, keeping anchors for aliases.
struct Loader {
    /// Anchor name to (value, node count, depth).
    anchors: HashMap<String, (Value, usize, usize)>,
    alias_nodes: usize,
    duplicate: Option<String>,
    /// Of a repeated mapping key, keep the first value rather than the last.
    keep_first: bool,
    reading: Reading,
    /// Where the node being read sits.
    zone: Zone,
    /// How many flow collections (`[…]`, `{…}`) enclose the node being
    /// read: kustomize keeps a plain timestamp with a time of day as written
    /// inside one, and rewrites it in RFC 3339 elsewhere.
    flows: usize,
}

fn size_and_depth(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(a) => a
            .iter()
            .map(size_and_depth)
            .fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1))),
        Value::Object(m) => m
            .values()
            .map(size_and_depth)
            .fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1))),
        _ => (1, 1),
    }
}

impl Loader {
    fn remember(&mut self, anchor: Option<String>, v: &Value) {
        if let Some(a) = anchor {
            let (n, d) = size_and_depth(v);
            self.anchors.insert(a, (v.clone(), n, d));
        }
    }

    fn node(
        &mut self,
        events: &mut Events,
        first: Event,
        depth: usize,
    ) -> std::result::Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "recursion limit exceeded: nesting deeper than {MAX_DEPTH}"
            ));
        }
        // Children are elsewhere unless a mapping below says otherwise.
        let zone = std::mem::replace(&mut self.zone, Zone::Elsewhere);
        let as_text = zone == Zone::AnnotationValue && self.reading != Reading::Plain;
        match first {
            Event::Alias(name) => {
                let Some((v, n, d)) = self.anchors.get(&name) else {
                    return Err(format!("unknown anchor '{name}'"));
                };
                self.alias_nodes += n;
                if self.alias_nodes > MAX_ALIAS_NODES || depth + d > MAX_DEPTH {
                    return Err("repetition limit exceeded: aliases expand too much".into());
                }
                Ok(v.clone())
            }
            Event::Scalar {
                anchor,
                tag,
                value,
                style,
            } => {
                let v = if as_text {
                    let typed = resolve(&value, style, tag.as_deref());
                    if typed.is_null() && self.reading == Reading::Patches {
                        typed
                    } else {
                        Value::String(value)
                    }
                } else if let Some(b) = (self.reading == Reading::Kustomization
                    && tag.is_none()
                    && style == Style::Plain)
                    .then(|| yaml11_bool(&value))
                    .flatten()
                {
                    Value::Bool(b)
                } else if self.flows > 0
                    && tag.is_none()
                    && style == Style::Plain
                    && has_time_of_day(&value)
                {
                    Value::String(value)
                } else {
                    resolve(&value, style, tag.as_deref())
                };
                self.remember(anchor, &v);
                Ok(v)
            }
            Event::SequenceStart(anchor, flow) => {
                self.flows += usize::from(flow);
                let items = self.sequence(events, depth);
                self.flows -= usize::from(flow);
                let mut items = items?;
                // Documents stay in memory for the whole build: no spare
                // capacity.
                items.shrink_to_fit();
                let v = if as_text {
                    Value::String(String::new())
                } else {
                    Value::Array(items)
                };
                self.remember(anchor, &v);
                Ok(v)
            }
            Event::MappingStart(anchor, flow) => {
                self.flows += usize::from(flow);
                let entries = self.mapping(events, depth, zone);
                self.flows -= usize::from(flow);
                let entries = entries?;
                let v = if as_text {
                    Value::String(String::new())
                } else {
                    Value::Object(entries)
                };
                self.remember(anchor, &v);
                Ok(v)
            }
            other => Err(format!("unexpected YAML event {other:?}")),
        }
    }

    fn sequence(
        &mut self,
        events: &mut Events,
        depth: usize,
    ) -> std::result::Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            match events.next()? {
                Event::SequenceEnd => return Ok(items),
                e => items.push(self.node(events, e, depth + 1)?),
            }
        }
    }

    fn mapping(
        &mut self,
        events: &mut Events,
        depth: usize,
        zone: Zone,
    ) -> std::result::Result<Map<String, Value>, String> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut merges = Vec::new();
        loop {
            let key_event = match events.next()? {
                Event::MappingEnd => break,
                e => e,
            };
            let is_merge = matches!(
                &key_event,
                Event::Scalar { value, style: Style::Plain, tag: None, .. } if value == "<<"
            );
            let key = match self.node(events, key_event, depth + 1)? {
                Value::String(s) => s,
                Value::Null => "null".into(),
                other => {
                    // An object keyed by a number or a boolean cannot be
                    // printed as JSON, which is where kustomize fails.
                    if self.reading == Reading::Resources && self.duplicate.is_none() {
                        self.duplicate =
                            Some("json: unsupported type: map[interface {}]interface {}".into());
                    }
                    other.to_string()
                }
            };
            self.zone = match (zone, key.as_str()) {
                (Zone::Root, "metadata") => Zone::Metadata,
                (Zone::Metadata, "annotations") => Zone::Annotations,
                (Zone::Annotations, _) => Zone::AnnotationValue,
                _ => Zone::Elsewhere,
            };
            let value_event = events.next()?;
            let value = self.node(events, value_event, depth + 1)?;
            if is_merge {
                merges.push(value);
                continue;
            }
            entries.push((key, value));
        }
        // Allocated once, at its final size.
        let mut out = Map::with_capacity(entries.len());
        for (k, v) in entries {
            match out.entry(k) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                serde_json::map::Entry::Occupied(mut e) => {
                    if self.duplicate.is_none() {
                        self.duplicate = Some(format!(
                            "yaml: unmarshal errors: mapping key {:?} already defined",
                            e.key()
                        ));
                    }
                    if !self.keep_first {
                        e.insert(v);
                    }
                }
            }
        }
        for m in merges {
            let sources = match m {
                Value::Array(a) => a,
                other => vec![other],
            };
            for src in sources {
                if let Value::Object(src) = src {
                    for (k, v) in src {
                        out.entry(k).or_insert(v);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The booleans YAML 1.1 adds to YAML 1.2's `true` and `false`.
fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// A timestamp that is more than a date.
fn has_time_of_day(s: &str) -> bool {
    s.contains(['T', 't', ' ']) && parse_timestamp(s).is_some()
}

/// A scalar's value: quoted and block scalars and `!!str` are strings;
/// plain ones (and those tagged with another core type) are resolved as
/// go-yaml v3 resolves them; other tags leave the text a string.
fn resolve(value: &str, style: Style, tag: Option<&str>) -> Value {
    let core = tag.map(|t| {
        t.strip_prefix("tag:yaml.org,2002:")
            .or_else(|| t.strip_prefix("!!"))
            .unwrap_or("?")
    });
    match core {
        None if style == Style::Plain => resolve_plain(value),
        Some("int" | "float" | "bool" | "null" | "timestamp") => resolve_plain(value),
        // Go reads `!!binary` into a string of the decoded bytes.
        Some("binary") => match base64::engine::general_purpose::STANDARD.decode(value) {
            Ok(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            Err(_) => Value::String(value.to_string()),
        },
        _ => Value::String(value.to_string()),
    }
}

/// go-yaml v3's resolution of a plain scalar.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        // JSON has no NaN or infinities; their YAML spelling is kept.
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::String(".inf".into());
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::String("-.inf".into()),
        ".nan" | ".NaN" | ".NAN" => return Value::String(".nan".into()),
        _ => {}
    }
    let string = || Value::String(s.to_string());
    let float = |f: f64| Number::from_f64(f).map_or_else(string, Value::Number);
    match s.as_bytes().first() {
        Some(b'.') => match go_parse_float(s) {
            Some(f) => float(f),
            None => string(),
        },
        Some(b'0'..=b'9' | b'+' | b'-') => {
            if let Some(t) = parse_timestamp(s) {
                return Value::String(t.rfc3339());
            }
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Value::from(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Value::from(u);
            }
            if yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return float(f);
            }
            for (prefix, radix, neg) in [
                ("0b", 2, false),
                ("-0b", 2, true),
                ("0o", 8, false),
                ("-0o", 8, true),
            ] {
                if let Some(rest) = plain.strip_prefix(prefix) {
                    let text = if neg {
                        format!("-{rest}")
                    } else {
                        rest.to_string()
                    };
                    if let Ok(i) = i64::from_str_radix(&text, radix) {
                        return Value::from(i);
                    }
                    if !neg && let Ok(u) = u64::from_str_radix(rest, radix) {
                        return Value::from(u);
                    }
                }
            }
            string()
        }
        _ => string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        parse_one(text, Path::new("t")).unwrap_or(Value::Null)
    }

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v3() {
        let v = one(
            "a: 0644\nb: 1_000\nc: 08\nd: 2001-12-14\ne: yes\nf: '0644'\ng: 0o17\nh: 1e3\ni: ~\nj: 12:30\nk: !!str 12\nl: 2001-12-14 21:59:43.10\nm: 2001-12-14t21:59:43.10-05:00\n",
        );
        assert_eq!(
            v,
            serde_json::json!({
                "a": 420, "b": 1000, "c": 8.0, "d": "2001-12-14T00:00:00Z", "e": "yes",
                "f": "0644", "g": 15, "h": 1000.0, "i": null, "j": "12:30", "k": "12",
                "l": "2001-12-14T21:59:43.1Z", "m": "2001-12-14T21:59:43.1-05:00",
            })
        );
    }

    #[test]
    fn anchors_merges_and_duplicates() {
        let docs = parse_resource_documents(
            "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\ndup: 1\ndup: 2\n",
            Path::new("t"),
        )
        .unwrap_or_default();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].0,
            serde_json::json!({"base": {"x": 1, "y": 2}, "use": {"y": 3, "x": 1}, "list": [{"x": 1, "y": 2}], "dup": 2})
        );
        assert_eq!(
            docs[0].1.as_deref(),
            Some("yaml: unmarshal errors: mapping key \"dup\" already defined")
        );
        let keyed =
            parse_resource_documents("data:\n  9110: x\n", Path::new("t")).unwrap_or_default();
        assert_eq!(
            keyed[0].1.as_deref(),
            Some("json: unsupported type: map[interface {}]interface {}")
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("a{}", i - 1)
            };
            bomb.push_str(&format!("a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse_documents(&bomb, Path::new("t")).is_err());
        let deep = "[".repeat(10_000);
        assert!(parse_documents(&deep, Path::new("t")).is_err());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_documents("a: [1, 2\nb: 3\n", Path::new("t")).err();
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("line"), "{msg}");
    }
}

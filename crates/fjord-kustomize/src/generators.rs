//! `configMapGenerator` and `secretGenerator`.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::{GeneratorArgs, GeneratorOptions};
use crate::load::Loader;
use crate::resource::{Behavior, Resource};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    ConfigMap,
    Secret,
}

/// Local options win over the kustomization-wide `generatorOptions`.
pub fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut out = global.cloned().unwrap_or_default();
    if let Some(l) = local {
        for (k, v) in &l.labels {
            out.labels.insert(k.clone(), v.clone());
        }
        for (k, v) in &l.annotations {
            out.annotations.insert(k.clone(), v.clone());
        }
        // A global `true` holds whatever the generator says.
        let either = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
        };
        out.disable_name_suffix_hash =
            either(out.disable_name_suffix_hash, l.disable_name_suffix_hash);
        out.immutable = either(out.immutable, l.immutable);
    }
    out
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn env_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            // Worded, and the line's bytes printed, as kustomize does.
            let shown: Vec<String> = raw.iter().map(u8::to_string).collect();
            return Err(Error::invalid(format!(
                "line [{}] has invalid utf8 bytes : {}",
                shown.join(" "),
                String::from_utf8_lossy(raw)
            )));
        };
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // kustomize takes any key as written, and a line with an empty
        // key (`=value`) as a blank one.
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        if k.is_empty() {
            continue;
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

enum Datum {
    Text(String),
    Binary(Vec<u8>),
}

/// A list as Go's `%v` prints it, as kustomize's messages show them.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// A `files` entry: `path`, keyed by its base name, or `key=path`; refused
/// as kustomize refuses it otherwise.
fn file_source(source: &str) -> Result<(String, &str)> {
    let q = crate::error::go_quote;
    match (source.matches('=').count(), source.split_once('=')) {
        (0, _) => {
            let base = source
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(source);
            Ok((
                if base.is_empty() {
                    "/".into()
                } else {
                    base.into()
                },
                source,
            ))
        }
        (1, Some(("", p))) => Err(Error::invalid(format!(
            "missing key name for file path {} in source {}",
            q(p),
            q(source)
        ))),
        (1, Some((k, ""))) => Err(Error::invalid(format!(
            "missing file path for key name {} in source {}",
            q(k),
            q(source)
        ))),
        (1, Some((k, p))) => Ok((k.to_string(), p)),
        _ => Err(Error::invalid(format!(
            "source {} key name or file path contains '='",
            q(source)
        ))),
    }
}

fn collect(args: &GeneratorArgs, ldr: &Loader) -> Result<Vec<(String, Datum)>> {
    let mut pairs = Vec::new();
    for e in &args.envs {
        let sources = || format!("env source files: {}", go_list(&args.envs));
        let (_, bytes) = ldr.read(e).map_err(|err| err.context(sources()))?;
        for (k, v) in env_pairs(&bytes).map_err(|err| err.context(sources()))? {
            pairs.push((k, Datum::Text(v)));
        }
    }
    for l in &args.literals {
        let Some((k, v)) = l.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::invalid(format!(
                "literal sources {}: invalid literal source {l}, expected key=value",
                go_list(&args.literals)
            )));
        };
        pairs.push((k.to_string(), Datum::Text(remove_quotes(v).to_string())));
    }
    let file_sources = || format!("file sources: {}", go_list(&args.files));
    for f in &args.files {
        let (key, rel) = file_source(f).map_err(|e| e.context(file_sources()))?;
        let (_, bytes) = ldr.read(rel).map_err(|e| e.context(file_sources()))?;
        let d = match String::from_utf8(bytes) {
            Ok(s) => Datum::Text(s),
            Err(e) => Datum::Binary(e.into_bytes()),
        };
        pairs.push((key, d));
    }
    Ok(pairs)
}

pub fn generate(
    kind: GenKind,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    ldr: &Loader,
) -> Result<Resource> {
    let what = match kind {
        GenKind::ConfigMap => "configmap",
        GenKind::Secret => "secret",
    };
    let pairs = collect(args, ldr)
        .map_err(|e| e.context(format!("{what} '{}': loading KV pairs", args.name)))?;
    let opts = merge_options(args.options.as_ref(), global);
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, d) in pairs {
        if data.contains_key(&k) || binary.contains_key(&k) {
            return Err(Error::invalid(format!(
                "{what} {} illegally repeats the key `{k}`",
                args.name
            )));
        }
        match (kind, d) {
            (GenKind::ConfigMap, Datum::Text(s)) => {
                data.insert(k, Value::String(s));
            }
            (GenKind::ConfigMap, Datum::Binary(b)) => {
                binary.insert(k, Value::String(wrapped_base64(&b)));
            }
            (GenKind::Secret, Datum::Text(s)) => {
                data.insert(k, Value::String(wrapped_base64(s.as_bytes())));
            }
            (GenKind::Secret, Datum::Binary(b)) => {
                data.insert(k, Value::String(wrapped_base64(&b)));
            }
        }
    }
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    let to_map = |m: &indexmap::IndexMap<String, String>| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    if !opts.labels.is_empty() {
        meta.insert("labels".into(), to_map(&opts.labels));
    }
    if !opts.annotations.is_empty() {
        meta.insert("annotations".into(), to_map(&opts.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert(
        "kind".into(),
        if kind == GenKind::ConfigMap {
            "ConfigMap"
        } else {
            "Secret"
        }
        .into(),
    );
    obj.insert("metadata".into(), Value::Object(meta));
    if kind == GenKind::Secret {
        let t = if args.type_.is_empty() {
            "Opaque"
        } else {
            &args.type_
        };
        obj.insert("type".into(), Value::String(t.to_string()));
    }
    // A Secret always has its data, even none; a ConfigMap only with some.
    if !data.is_empty() || kind == GenKind::Secret {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if opts.immutable == Some(true) {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Resource::new(obj);
    r.build.needs_hash = opts.disable_name_suffix_hash != Some(true);
    r.build.behavior = parse_behavior(&args.behavior)?;
    Ok(r)
}

/// Base64 broken into 70-character lines, each ending in a newline, once
/// the encoding reaches 70 characters: the form kustomize writes (and
/// hashes).
fn wrapped_base64(b: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(b);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

pub fn parse_behavior(s: &str) -> Result<Behavior> {
    match s {
        "" | "create" => Ok(Behavior::Create),
        "merge" => Ok(Behavior::Merge),
        "replace" => Ok(Behavior::Replace),
        // kustomize takes any other word as unspecified, which creates.
        _ => Ok(Behavior::Create),
    }
}

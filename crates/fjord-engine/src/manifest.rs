//! Loading manifests from a directory: `.yaml`, `.yml` and `.json` files,
//! recursively, multi-document, `List` kinds expanded, in a deterministic
//! order (paths sorted byte-wise, then document order).

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where an object came from, for error messages and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    /// Zero-based index of the YAML document within the file.
    pub document: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// One Kubernetes object as written in Git, with its origin.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub source: Source,
    pub object: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: invalid YAML: {message}", path.display())]
    Yaml { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: invalid YAML: {message}", path.display())]
    YamlNoLocation { path: PathBuf, message: String },
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{source_}: {problem}")]
    Invalid { source_: Source, problem: String },
    #[error("{} is neither a file nor a directory", path.display())]
    NotFound { path: PathBuf },
}

/// Loads every manifest under `root` (a file or a directory).
pub fn load_path(root: &Path) -> Result<Vec<Manifest>, LoadError> {
    let meta = std::fs::metadata(root).map_err(|_| LoadError::NotFound { path: root.to_path_buf() })?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(root, &mut files)?;
        files.sort();
        files
    } else {
        vec![root.to_path_buf()]
    };
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Io { path: file.clone(), source })?;
        manifests.extend(parse_file(&file, &text)?);
    }
    Ok(manifests)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|source| LoadError::Io { path: path.clone(), source })?;
        // Hidden entries (.git, editor files) are never manifests.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if file_type.is_dir() || (file_type.is_symlink() && path.is_dir()) {
            collect_files(&path, out)?;
        } else if is_manifest_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_manifest_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Parses one file's text into manifests. JSON files hold one value; YAML
/// files hold any number of documents.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Manifest>, LoadError> {
    let documents: Vec<Value> = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        let value: Value = serde_json::from_str(text).map_err(|e| LoadError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        vec![value]
    } else {
        parse_yaml_documents(path, text)?
    };

    let mut manifests = Vec::new();
    for (document, value) in documents.into_iter().enumerate() {
        let source = Source { file: path.to_path_buf(), document };
        match value {
            Value::Null => continue,
            Value::Object(_) => expand_into(value, &source, &mut manifests)?,
            other => {
                return Err(LoadError::Invalid {
                    source_: source,
                    problem: format!("expected a Kubernetes object (a mapping), found {}", type_name(&other)),
                });
            }
        }
    }
    Ok(manifests)
}

fn parse_yaml_documents(path: &Path, text: &str) -> Result<Vec<Value>, LoadError> {
    use serde::Deserialize;
    let mut values = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| yaml_error(path, &e))?;
        values.push(value);
    }
    Ok(values)
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> LoadError {
    // serde_yaml appends " at line L column C" to its message; the location
    // already leads our message, so keep only the cause.
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    match e.location() {
        Some(loc) => LoadError::Yaml { path: path.to_path_buf(), line: loc.line(), column: loc.column(), message },
        None => LoadError::YamlNoLocation { path: path.to_path_buf(), message },
    }
}

/// Adds an object, or each item of a `List` (`v1/List`, `FooList`), to `out`
/// after checking the fields every object needs.
fn expand_into(value: Value, source: &Source, out: &mut Vec<Manifest>) -> Result<(), LoadError> {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.ends_with("List") && value.get("items").is_some() {
        let Some(Value::Array(items)) = value.get("items").cloned() else {
            return Err(LoadError::Invalid { source_: source.clone(), problem: format!("{kind}.items must be a list") });
        };
        for (i, item) in items.into_iter().enumerate() {
            check_required(&item, source).map_err(|problem| LoadError::Invalid {
                source_: source.clone(),
                problem: format!("{kind} item {i}: {problem}"),
            })?;
            out.push(Manifest { source: source.clone(), object: item });
        }
        return Ok(());
    }
    check_required(&value, source).map_err(|problem| LoadError::Invalid { source_: source.clone(), problem })?;
    out.push(Manifest { source: source.clone(), object: value });
    Ok(())
}

fn check_required(value: &Value, _source: &Source) -> Result<(), String> {
    if !value.is_object() {
        return Err(format!("expected a Kubernetes object (a mapping), found {}", type_name(value)));
    }
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !non_empty(value.get("apiVersion")) {
        return Err("object has no apiVersion".into());
    }
    if !non_empty(value.get("kind")) {
        return Err("object has no kind".into());
    }
    if !non_empty(value.pointer("/metadata/name")) {
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
        if value.pointer("/metadata/generateName").is_some() {
            return Err(format!("{kind} uses metadata.generateName, which cannot be synced declaratively; give it metadata.name"));
        }
        return Err(format!("{kind} has no metadata.name"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Vec<Manifest>, LoadError> {
        parse_file(Path::new(name), text)
    }

    #[test]
    fn multi_document_yaml_skips_empty_documents() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
        let got = parse("x.yaml", text).unwrap();
        let names: Vec<_> = got.iter().map(|m| m.object["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(got[1].source.document, 2);
    }

    #[test]
    fn list_kinds_are_expanded() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"}}]}"#;
        let got = parse("l.json", text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].object["kind"], "Secret");
    }

    #[test]
    fn yaml_syntax_error_names_file_line_and_column() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: indent\n";
        let err = parse("apps/cm.yaml", text).unwrap_err().to_string();
        assert!(err.starts_with("apps/cm.yaml:5:"), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }

    #[test]
    fn missing_fields_name_the_file_and_document() {
        let err = parse("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: ConfigMap\nmetadata: {name: x}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "a.yaml (document 1): object has no apiVersion");
        let err = parse("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").unwrap_err().to_string();
        assert_eq!(err, "a.yaml (document 0): ConfigMap has no metadata.name");
        let err = parse("a.yaml", "apiVersion: v1\nmetadata: {name: x}\n").unwrap_err().to_string();
        assert_eq!(err, "a.yaml (document 0): object has no kind");
    }

    #[test]
    fn scalars_are_rejected() {
        let err = parse("a.yaml", "just text\n").unwrap_err().to_string();
        assert!(err.contains("found a string"), "{err}");
    }

    #[test]
    fn directory_walk_is_sorted_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
        std::fs::write(dir.path().join("b/c/z.yml"), cm("z")).unwrap();
        std::fs::write(dir.path().join("a.yaml"), cm("a")).unwrap();
        std::fs::write(dir.path().join("b/m.json"), r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"}}"#).unwrap();
        std::fs::write(dir.path().join("README.md"), "not yaml: [").unwrap();
        std::fs::write(dir.path().join(".hidden.yaml"), "not: [valid").unwrap();
        let got = load_path(dir.path()).unwrap();
        let names: Vec<_> = got.iter().map(|m| m.object["metadata"]["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names, ["a", "z", "m"]);
    }
}

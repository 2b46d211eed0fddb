//! Render: a path in a checked-out tree → the objects it declares. A
//! kustomization when the path has one, otherwise a directory of manifests,
//! as Argo CD decides.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use fjord_engine::manifest::{self, Manifest, Source};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::application::{DirectorySpec, KustomizeSpec, SourceSpec};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("path {path:?} leaves the repository")]
    Escapes { path: String },
    #[error("path {path:?} does not exist in the repository at this revision")]
    Missing { path: String },
    #[error(transparent)]
    Load(#[from] manifest::LoadError),
    #[error("kustomize build {path}: {message}")]
    Kustomize { path: String, message: String },
    #[error("cannot write the kustomize overlay for spec.source.kustomize in {}", path.display())]
    Overlay {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("spec.source.kustomize.images entry {0:?} is not NAME[=NEW_NAME][:TAG][@DIGEST]")]
    Image(String),
}

/// What a render produced, and how.
pub struct Rendered {
    pub manifests: Vec<Manifest>,
    /// "Kustomize" or "Directory", as Argo CD's `status.sourceType`.
    pub source_type: &'static str,
}

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

pub fn render(tree: &Path, source: &SourceSpec) -> Result<Rendered, RenderError> {
    let rel = source.path();
    let dir = within(tree, rel)?;
    if !dir.is_dir() {
        return Err(RenderError::Missing { path: rel.to_string() });
    }
    if KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
        let target = match source.kustomize.as_ref().filter(|k| has_overrides(k)) {
            Some(k) => write_overlay(tree, rel, k)?,
            None => dir.clone(),
        };
        let objects = fjord_kustomize::build(&target, &fjord_kustomize::Options::default())
            .map_err(|e| RenderError::Kustomize { path: rel.to_string(), message: crate::error_chain(&e) })?;
        let manifests = objects
            .into_iter()
            .enumerate()
            .map(|(document, object)| Manifest { source: Source { file: PathBuf::from(rel), document }, object })
            .collect();
        return Ok(Rendered { manifests, source_type: "Kustomize" });
    }
    let directory = source.directory.clone().unwrap_or_default();
    let mut files = Vec::new();
    walk(&dir, &dir, &directory, &mut files)?;
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| manifest::LoadError::Io { path: file.clone(), source })?;
        let shown = file.strip_prefix(tree).unwrap_or(&file).to_path_buf();
        manifests.extend(manifest::parse_file(&shown, &text)?);
    }
    Ok(Rendered { manifests, source_type: "Directory" })
}

/// Resolves a repository-relative path, refusing anything that leaves it.
fn within(tree: &Path, rel: &str) -> Result<PathBuf, RenderError> {
    let mut out = tree.to_path_buf();
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => return Err(RenderError::Escapes { path: rel.to_string() }),
        }
    }
    // Symlinks inside the tree must not lead out of it either.
    if let (Ok(real), Ok(root)) = (out.canonicalize(), tree.canonicalize())
        && !real.starts_with(&root) {
            return Err(RenderError::Escapes { path: rel.to_string() });
        }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, spec: &DirectorySpec, out: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|source| manifest::LoadError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if spec.recurse {
                walk(root, &path, spec, out)?;
            }
            continue;
        }
        let ext_ok = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"));
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().to_string();
        let included = spec.include.as_deref().is_none_or(|p| p.is_empty() || glob_any(p, &rel));
        let excluded = spec.exclude.as_deref().is_some_and(|p| !p.is_empty() && glob_any(p, &rel));
        if ext_ok && included && !excluded {
            out.push(path);
        }
    }
    Ok(())
}

/// Argo CD include/exclude patterns: a glob, or `{a,b}` for several.
fn glob_any(pattern: &str, path: &str) -> bool {
    let alternatives: Vec<&str> = match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(inner) => inner.split(',').map(str::trim).collect(),
        None => vec![pattern],
    };
    let file = path.rsplit('/').next().unwrap_or(path);
    alternatives.iter().any(|alt| glob(alt.as_bytes(), path.as_bytes()) || (!alt.contains('/') && glob(alt.as_bytes(), file.as_bytes())))
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn has_overrides(k: &KustomizeSpec) -> bool {
    k.name_prefix.is_some() || k.name_suffix.is_some() || !k.images.is_empty() || !k.common_labels.is_empty() || k.namespace.is_some()
}

/// Applies `spec.source.kustomize` the way Argo CD does, as an overlay on
/// the application's kustomization. The overlay lives inside the tree so
/// kustomize's root-only load restriction still holds.
fn write_overlay(tree: &Path, rel: &str, k: &KustomizeSpec) -> Result<PathBuf, RenderError> {
    let mut kustomization = serde_json::Map::new();
    kustomization.insert("apiVersion".into(), "kustomize.config.k8s.io/v1beta1".into());
    kustomization.insert("kind".into(), "Kustomization".into());
    let depth = 2;
    let up = "../".repeat(depth);
    let target = if rel == "." || rel.is_empty() { up.trim_end_matches('/').to_string() } else { format!("{up}{}", rel.trim_matches('/')) };
    kustomization.insert("resources".into(), Value::Array(vec![Value::String(target)]));
    if let Some(p) = &k.name_prefix {
        kustomization.insert("namePrefix".into(), p.clone().into());
    }
    if let Some(s) = &k.name_suffix {
        kustomization.insert("nameSuffix".into(), s.clone().into());
    }
    if let Some(ns) = &k.namespace {
        kustomization.insert("namespace".into(), ns.clone().into());
    }
    if !k.common_labels.is_empty() {
        let labels: BTreeMap<&String, &String> = k.common_labels.iter().collect();
        kustomization.insert("commonLabels".into(), serde_json::to_value(labels).unwrap_or_default());
    }
    if !k.images.is_empty() {
        let images = k.images.iter().map(|i| parse_image(i)).collect::<Result<Vec<_>, _>>()?;
        kustomization.insert("images".into(), Value::Array(images));
    }
    let text = serde_yaml::to_string(&Value::Object(kustomization)).unwrap_or_default();
    let hash = hex(&Sha256::digest(format!("{rel}\n{text}").as_bytes())[..8]);
    let dir = tree.join(".fjord-overlays").join(hash);
    std::fs::create_dir_all(&dir).map_err(|source| RenderError::Overlay { path: dir.clone(), source })?;
    std::fs::write(dir.join("kustomization.yaml"), text).map_err(|source| RenderError::Overlay { path: dir.clone(), source })?;
    Ok(dir)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name=newName:tag`, `name:tag`, `name@digest` → a kustomize images entry.
fn parse_image(spec: &str) -> Result<Value, RenderError> {
    let (name, rest) = match spec.split_once('=') {
        Some((n, r)) => (n.to_string(), Some(r.to_string())),
        None => (String::new(), None),
    };
    let (image, digest) = match rest.as_deref().unwrap_or(spec).split_once('@') {
        Some((i, d)) => (i.to_string(), Some(d.to_string())),
        None => (rest.clone().unwrap_or_else(|| spec.to_string()), None),
    };
    // A tag follows the last ':' that comes after the last '/' (registry ports have ':' too).
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (new_name, tag) = match image[slash..].rfind(':') {
        Some(i) => (image[..slash + i].to_string(), Some(image[slash + i + 1..].to_string())),
        None => (image.clone(), None),
    };
    if new_name.is_empty() {
        return Err(RenderError::Image(spec.to_string()));
    }
    let mut entry = serde_json::Map::new();
    if rest.is_some() {
        entry.insert("name".into(), name.into());
        entry.insert("newName".into(), new_name.into());
    } else {
        entry.insert("name".into(), new_name.into());
    }
    if let Some(t) = tag {
        entry.insert("newTag".into(), t.into());
    }
    if let Some(d) = digest {
        entry.insert("digest".into(), d.into());
    }
    Ok(Value::Object(entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_overrides_parse_like_argo_cd() {
        assert_eq!(parse_image("my-app=registry.example/my-app:v2").unwrap(), json!({"name": "my-app", "newName": "registry.example/my-app", "newTag": "v2"}));
        assert_eq!(parse_image("nginx:1.27").unwrap(), json!({"name": "nginx", "newTag": "1.27"}));
        assert_eq!(parse_image("reg:5000/app@sha256:abc").unwrap(), json!({"name": "reg:5000/app", "digest": "sha256:abc"}));
    }

    #[test]
    fn globs_match_file_names_and_alternatives() {
        assert!(glob_any("*.yaml", "sub/a.yaml"));
        assert!(glob_any("{a.yaml,b.yaml}", "b.yaml"));
        assert!(!glob_any("{a.yaml,b.yaml}", "c.yaml"));
        assert!(glob_any("sub/*", "sub/x.json"));
    }

    #[test]
    fn directories_recurse_only_when_asked_and_paths_stay_inside() {
        let tree = tempfile::tempdir().unwrap();
        let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
        std::fs::create_dir_all(tree.path().join("app/nested")).unwrap();
        std::fs::write(tree.path().join("app/a.yaml"), cm("a")).unwrap();
        std::fs::write(tree.path().join("app/skip.yaml"), cm("skip")).unwrap();
        std::fs::write(tree.path().join("app/nested/b.yaml"), cm("b")).unwrap();
        let names = |source: &SourceSpec| -> Vec<String> {
            render(tree.path(), source).unwrap().manifests.iter().map(|m| m.object["metadata"]["name"].as_str().unwrap().to_string()).collect()
        };
        let mut source = SourceSpec { path: Some("app".into()), ..Default::default() };
        assert_eq!(names(&source), ["a", "skip"]);
        source.directory = Some(DirectorySpec { recurse: true, exclude: Some("skip.yaml".into()), ..Default::default() });
        assert_eq!(names(&source), ["a", "b"]);
        source.path = Some("../etc".into());
        assert!(matches!(render(tree.path(), &source), Err(RenderError::Escapes { .. })));
        source.path = Some("nope".into());
        assert!(matches!(render(tree.path(), &source), Err(RenderError::Missing { .. })));
    }
}

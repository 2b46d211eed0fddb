//! The `Kustomization` and `Component` file formats.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
pub const KUSTOMIZATION_VERSION: &str = "kustomize.config.k8s.io/v1beta1";
pub const COMPONENT_VERSION: &str = "kustomize.config.k8s.io/v1alpha1";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kustomization {
    pub api_version: String,
    pub kind: String,
    pub metadata: Option<Value>,
    pub open_api: IndexMap<String, String>,
    pub name_prefix: String,
    pub name_suffix: String,
    pub namespace: String,
    pub common_labels: IndexMap<String, String>,
    pub labels: Vec<Label>,
    pub common_annotations: IndexMap<String, String>,
    pub patches_strategic_merge: Vec<String>,
    pub patches_json6902: Vec<Patch>,
    pub patches: Vec<Patch>,
    pub images: Vec<Image>,
    pub image_tags: Vec<Image>,
    pub replacements: Vec<ReplacementOrPath>,
    pub replicas: Vec<Replica>,
    pub vars: Vec<Var>,
    pub sort_options: Option<SortOptions>,
    pub resources: Vec<String>,
    pub components: Vec<String>,
    pub crds: Vec<String>,
    pub bases: Vec<String>,
    pub config_map_generator: Vec<GeneratorArgs>,
    pub secret_generator: Vec<GeneratorArgs>,
    pub helm_globals: Option<Value>,
    pub helm_charts: Vec<Value>,
    pub helm_chart_inflation_generator: Vec<Value>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Vec<String>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    pub validators: Vec<String>,
    pub build_metadata: Vec<String>,
    /// The file this was read from (`kustomization.yaml`, ...).
    #[serde(skip)]
    pub file_name: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Label {
    pub pairs: IndexMap<String, String>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct FieldSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    #[serde(alias = "create")]
    pub create: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patch {
    pub path: String,
    pub patch: String,
    pub target: Option<Selector>,
    pub options: IndexMap<String, bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Image {
    pub name: String,
    pub new_name: String,
    pub new_tag: String,
    pub digest: String,
    pub tag_suffix: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Var {
    pub name: String,
    pub objref: ObjRef,
    pub fieldref: FieldRef,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub api_version: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct FieldRef {
    pub fieldpath: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ReplacementOrPath {
    Path { path: String },
    Inline(Value),
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SortOptions {
    pub order: String,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacySortOptions {
    pub order_first: Vec<String>,
    pub order_last: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorArgs {
    pub name: String,
    pub namespace: String,
    pub behavior: String,
    pub files: Vec<String>,
    pub literals: Vec<String>,
    pub envs: Vec<String>,
    pub env: String,
    pub options: Option<GeneratorOptions>,
    #[serde(rename = "type")]
    pub type_: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorOptions {
    pub labels: IndexMap<String, String>,
    pub annotations: IndexMap<String, String>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// Top-level field names, as kustomize spells them. Matching is
/// case-insensitive because kustomize decodes through Go's JSON decoder.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// serde's messages do not say which field held the wrong type; trying the
/// fields one at a time finds it, so the error can name it as kustomize does.
fn name_bad_field(fields: &Map<String, Value>) -> Option<String> {
    fields.iter().find_map(|(name, value)| {
        let one = Map::from_iter([(name.clone(), value.clone())]);
        serde_json::from_value::<Kustomization>(Value::Object(one))
            .err()
            .map(|e| format!("field '{}': {e}", yaml_name(name)))
    })
}

/// Whether a field leaves the kustomization empty in kustomize's sense:
/// a zero scalar, or one of the deprecated lists folded into another field
/// when it is empty. Any other list or mapping, even an empty one, counts.
fn leaves_empty(name: &str, value: &Value) -> bool {
    match value {
        _ if name == "apiVersion" || name == "kind" => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => {
            a.is_empty() && matches!(name, "bases" | "imageTags" | "helmChartInflationGenerator")
        }
        _ => false,
    }
}

/// A null decodes to Go's zero value, not an error: a null field of a
/// struct is as if absent, a null string (in a list or in a string map such
/// as labels) is "".
fn go_nulls(v: Value, string_map: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::Null if string_map => Some((k, Value::String(String::new()))),
                    Value::Null => None,
                    other => {
                        let inner = matches!(k.as_str(), "labels" | "annotations" | "pairs");
                        Some((k, go_nulls(other, inner)))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| match v {
                    Value::Null => Value::String(String::new()),
                    other => go_nulls(other, false),
                })
                .collect(),
        ),
        other => other,
    }
}

/// The kustomization.yaml spelling of a normalised field name.
fn yaml_name(name: &str) -> &str {
    if name == "openApi" { "openapi" } else { name }
}

impl Kustomization {
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let v = crate::yaml::parse_kustomization(text, path)?;
        let invalid = |message: String| Error::InvalidKustomization {
            path: path.to_path_buf(),
            message,
        };
        let obj = match v {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            _ => return Err(invalid("expected a mapping".into())),
        };
        let mut norm = Map::new();
        for (k, v) in obj {
            let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&k)) else {
                return Err(invalid(format!("json: unknown field \"{k}\"")));
            };
            // `openapi` is the serde name of `open_api`.
            let name = if *field == "openapi" {
                "openApi"
            } else {
                field
            };
            if v.is_null() {
                continue;
            }
            let string_map = matches!(*field, "commonLabels" | "commonAnnotations");
            norm.insert(name.to_string(), go_nulls(v, string_map));
        }
        let mut k: Kustomization = match serde_json::from_value(Value::Object(norm.clone())) {
            Ok(k) => k,
            Err(e) => {
                return Err(invalid(
                    name_bad_field(&norm).unwrap_or_else(|| e.to_string()),
                ));
            }
        };
        if norm.iter().all(|(name, value)| leaves_empty(name, value)) {
            return Err(invalid("kustomization.yaml is empty".into()));
        }
        k.fix(path)?;
        Ok(k)
    }

    fn fix(&mut self, path: &Path) -> Result<()> {
        if self.kind.is_empty() {
            self.kind = "Kustomization".into();
        }
        if self.api_version.is_empty() {
            self.api_version = if self.kind == "Component" {
                COMPONENT_VERSION
            } else {
                KUSTOMIZATION_VERSION
            }
            .into();
        }
        let invalid = |message: String| Error::InvalidKustomization {
            path: path.to_path_buf(),
            message,
        };
        match self.kind.as_str() {
            "Kustomization" if self.api_version != KUSTOMIZATION_VERSION => {
                return Err(invalid(format!(
                    "apiVersion for Kustomization should be {KUSTOMIZATION_VERSION}"
                )));
            }
            "Component" if self.api_version != COMPONENT_VERSION => {
                return Err(invalid(format!(
                    "apiVersion for Component should be {COMPONENT_VERSION}"
                )));
            }
            "Kustomization" | "Component" => {}
            other => {
                return Err(invalid(format!(
                    "kind should be Kustomization or Component, not '{other}'"
                )));
            }
        }
        self.resources.append(&mut self.bases);
        self.images.append(&mut self.image_tags);
        for g in self
            .config_map_generator
            .iter_mut()
            .chain(self.secret_generator.iter_mut())
        {
            if !g.env.is_empty() {
                g.envs.push(std::mem::take(&mut g.env));
            }
        }
        if !self.helm_charts.is_empty() || !self.helm_chart_inflation_generator.is_empty() {
            return Err(Error::Unsupported {
                field: "helmCharts".into(),
                reason: "Helm chart inflation is not available in fjord".into(),
            });
        }
        if !self.validators.is_empty() {
            return Err(Error::Unsupported {
                field: "validators".into(),
                reason: "validator plugins are not available in fjord".into(),
            });
        }
        Ok(())
    }
}

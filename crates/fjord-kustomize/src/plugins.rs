//! Built-in generators and transformers given as plugin configurations
//! (`apiVersion: builtin`) in `generators:` and `transformers:`.

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::build::apply_patch;
use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::generators::{self, GenKind};
use crate::kustomization::{
    FieldSpec, GeneratorArgs, Image, Patch, ReplacementOrPath, Replica, Selector,
};
use crate::load::Loader;
use crate::resource::Resource;
use crate::schema::OpenApi;
use crate::transform::{images, labels, names, namespace, replicas, value_add};

/// A config field name as Go matches it, whatever its case: `Path` is
/// `path`.
fn go_field_name(k: &str) -> String {
    let mut chars = k.chars();
    match chars.next() {
        Some(first) if first.is_ascii_uppercase() => {
            let rest: String = chars.collect();
            match (first.to_ascii_lowercase(), rest.as_str()) {
                ('j', "SONOp" | "sonop" | "SONOP") => "jsonOp".to_string(),
                (f, r) => format!("{f}{r}"),
            }
        }
        _ => k.to_string(),
    }
}

/// Config fields holding structs, whose own field names are matched the
/// same way (maps of user keys, such as labels, are left as written).
const STRUCT_FIELDS: &[&str] = &[
    "imageTag",
    "replica",
    "target",
    "targets",
    "selector",
    "options",
    "sortOptions",
    "fieldSpecs",
    "legacySortOptions",
];

fn go_fields(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = go_field_name(k);
                    let v = if STRUCT_FIELDS.contains(&key.as_str()) {
                        go_fields(v)
                    } else {
                        v.clone()
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(go_fields).collect()),
        other => other.clone(),
    }
}

fn config<T: DeserializeOwned>(c: &Resource) -> Result<T> {
    // kustomize decodes configs as Go decodes JSON, matching field names
    // whatever their case.
    let obj: serde_json::Map<String, Value> = c
        .obj
        .iter()
        .map(|(k, v)| {
            let key = go_field_name(k);
            // Label and annotation values written as numbers or booleans
            // are taken as their text, as kustomize takes them.
            let value = match (key.as_str(), v) {
                ("labels" | "annotations", Value::Object(m)) => Value::Object(
                    m.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::Number(n) => Value::String(n.to_string()),
                                Value::Bool(b) => Value::String(b.to_string()),
                                other => other.clone(),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                ),
                (k, v) if STRUCT_FIELDS.contains(&k) => go_fields(v),
                _ => v.clone(),
            };
            (key, value)
        })
        .collect();
    serde_json::from_value(Value::Object(obj)).map_err(|e| Error::Object {
        object: c.cur_id().to_string(),
        message: format!("invalid plugin configuration: {e}"),
    })
}

fn check_builtin(c: &Resource, field: &str) -> Result<()> {
    if c.api_version() == "builtin" || c.gvk().group.is_empty() && c.gvk().version == "builtin" {
        return Ok(());
    }
    Err(Error::Unsupported {
        field: field.into(),
        reason: format!(
            "external plugins disabled; unable to load external plugin '{}' ({}): fjord runs built-in plugins only",
            c.kind(),
            c.cur_id()
        ),
    })
}

/// A builtin plugin config of a kind kustomize does not have, worded as
/// kustomize words it.
fn unknown_builtin(c: &Resource) -> Error {
    Error::invalid(format!("unable to load builtin {}", c.gvk()))
}

pub fn generate(c: &Resource, ldr: &Loader) -> Result<Vec<Resource>> {
    check_builtin(c, "generators")?;
    let kind = match c.kind() {
        "IAMPolicyGenerator" => return iam_policy(c),
        "ConfigMapGenerator" => GenKind::ConfigMap,
        "SecretGenerator" => GenKind::Secret,
        "HelmChartInflationGenerator" => {
            return Err(Error::Unsupported {
                field: "generators".into(),
                reason: "Helm chart inflation is not available in fjord".into(),
            });
        }
        _ => return Err(unknown_builtin(c)),
    };
    let mut args: GeneratorArgs = config(c)?;
    if args.name.is_empty() {
        args.name = c.name().to_string();
    }
    if args.namespace.is_empty() {
        args.namespace = c.namespace().to_string();
    }
    Ok(vec![generators::generate(kind, &args, None, ldr)?])
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IamPolicyConfig {
    cloud: String,
    kubernetes_service: IamKubernetesService,
    service_account: IamServiceAccount,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IamKubernetesService {
    name: String,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IamServiceAccount {
    name: String,
    project_id: String,
}

/// `IAMPolicyGenerator`: a ServiceAccount bound to a cloud identity (only
/// GKE workload identity exists). Kustomize fills a YAML template with the
/// values and parses it, so they are read as YAML here too.
fn iam_policy(c: &Resource) -> Result<Vec<Resource>> {
    let p: IamPolicyConfig = config(c)?;
    if p.cloud != "gke" {
        return Err(Error::Object {
            object: c.cur_id().to_string(),
            message: format!("cloud provider {} not supported yet", p.cloud),
        });
    }
    let mut text = format!(
        "\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    \
         iam.gke.io/gcp-service-account: {}@{}.iam.gserviceaccount.com\n  name: {}\n",
        p.service_account.name, p.service_account.project_id, p.kubernetes_service.name
    );
    if !p.kubernetes_service.namespace.is_empty() {
        text.push_str(&format!(
            "\n  namespace: {}",
            p.kubernetes_service.namespace
        ));
    }
    let source = std::path::PathBuf::from(format!("<{}>", c.cur_id()));
    let docs = crate::yaml::parse_documents(&text, &source)?;
    crate::build::to_resources(docs, &source)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AffixConfig {
    prefix: String,
    suffix: String,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PairsConfig {
    labels: IndexMap<String, String>,
    annotations: IndexMap<String, String>,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NamespaceConfig {
    field_specs: Vec<FieldSpec>,
    #[serde(flatten)]
    options: namespace::Options,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ImageConfig {
    image_tag: Image,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ReplicaConfig {
    replica: Replica,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Json6902Config {
    target: Option<Selector>,
    path: String,
    json_op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SmConfig {
    paths: Vec<String>,
    patches: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ReplacementConfig {
    replacements: Vec<ReplacementOrPath>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ValueAddConfig {
    value: String,
    targets: Vec<value_add::Target>,
    target_file_path: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ValueAddTargets {
    targets: Vec<value_add::Target>,
}

pub fn transform(
    c: &Resource,
    ldr: &Loader,
    rs: &mut Vec<Resource>,
    _cfg: &TransformerConfig,
    custom: &OpenApi,
) -> Result<()> {
    check_builtin(c, "transformers")?;
    match c.kind() {
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let a: AffixConfig = config(c)?;
            names::apply(rs, &a.prefix, names::Affix::Prefix, &a.field_specs)?;
            names::apply(rs, &a.suffix, names::Affix::Suffix, &a.field_specs)
        }
        "LabelTransformer" => {
            let p: PairsConfig = config(c)?;
            labels::apply(rs, &p.labels, &p.field_specs)
        }
        "AnnotationsTransformer" => {
            let p: PairsConfig = config(c)?;
            labels::apply(rs, &p.annotations, &p.field_specs)
        }
        "NamespaceTransformer" => {
            let n: NamespaceConfig = config(c)?;
            namespace::apply(rs, c.namespace(), &n.field_specs, &n.options)
        }
        "ImageTagTransformer" => {
            let i: ImageConfig = config(c)?;
            images::apply(rs, &i.image_tag, &i.field_specs)
        }
        "ReplicaCountTransformer" => {
            let r: ReplicaConfig = config(c)?;
            replicas::apply(rs, &r.replica, &r.field_specs)
        }
        "PatchTransformer" => {
            let p: Patch = config(c)?;
            apply_patch(ldr, rs, &p, custom)
        }
        "PatchJson6902Transformer" => {
            let j: Json6902Config = config(c)?;
            match (j.path.is_empty(), j.json_op.trim().is_empty()) {
                (true, true) => return Err(Error::invalid("empty file path and empty jsonOp")),
                (false, false) => {
                    return Err(Error::invalid(
                        "must specify a file path or jsonOp, not both",
                    ));
                }
                _ => {}
            }
            let p = Patch {
                path: j.path,
                patch: j.json_op,
                target: j.target,
                options: IndexMap::new(),
            };
            apply_patch(ldr, rs, &p, custom)
        }
        "PatchStrategicMergeTransformer" => {
            let s: SmConfig = config(c)?;
            if s.paths.is_empty() && s.patches.trim().is_empty() {
                return Err(Error::invalid("empty file path and empty patch content"));
            }
            for path in &s.paths {
                apply_patch(
                    ldr,
                    rs,
                    &Patch {
                        path: path.clone(),
                        ..Default::default()
                    },
                    custom,
                )?;
            }
            if !s.patches.trim().is_empty() {
                apply_patch(
                    ldr,
                    rs,
                    &Patch {
                        patch: s.patches.clone(),
                        ..Default::default()
                    },
                    custom,
                )?;
            }
            Ok(())
        }
        "ValueAddTransformer" => {
            let mut v: ValueAddConfig = config(c)?;
            let mut value = v.value.trim().to_string();
            if value.is_empty() {
                // The kustomization's directory name.
                value = ldr
                    .root()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
            }
            if !v.target_file_path.is_empty() {
                let (path, text) = ldr.read_string(&v.target_file_path)?;
                let more: ValueAddTargets =
                    serde_json::from_value(crate::yaml::parse_one(&text, &path)?)
                        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
                v.targets.extend(more.targets);
            }
            value_add::check(&v.targets)?;
            value_add::apply(rs, &value, &v.targets)
        }
        "HashTransformer" => {
            // Names get the content hash now, and again at the end of the
            // build, as in kustomize.
            crate::build::hash_names(rs);
            Ok(())
        }
        "ReplacementTransformer" => {
            let r: ReplacementConfig = config(c)?;
            crate::replacements::apply(rs, &r.replacements, ldr)
        }
        _ => Err(unknown_builtin(c)),
    }
}

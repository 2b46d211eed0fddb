//! Transformer configuration: which fields each built-in transformation
//! touches. Defaults come from `defaults.yaml`; kustomizations add their own
//! through `configurations:` and `crds:`.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;
use crate::resource::Gvk;
use crate::sort::gvk_less;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackRef>,
    pub var_reference: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

/// Fields (in referrers) that hold the name of an object of kind `gvk`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NameBackRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(rename = "fieldSpecs")]
    pub field_specs: Vec<FieldSpec>,
}

impl NameBackRef {
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl FieldSpec {
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// Merges `incoming` into `into` as kustomize's `FsSlice.MergeAll` does: an
/// incoming spec is dropped when an existing one with the same path is
/// selected by its gvk (so `{kind: Deployment, path: metadata/name}` makes a
/// later gvk-less `metadata/name` redundant); specs that agree on that key but
/// not on `create` conflict.
pub fn merge_specs(into: &mut Vec<FieldSpec>, incoming: &[FieldSpec]) -> Result<()> {
    for x in incoming {
        let existing = into
            .iter()
            .find(|s| s.path == x.path && s.gvk().is_selected_by(&x.group, &x.version, &x.kind));
        match existing {
            Some(s) if s.create != x.create => {
                return Err(Error::invalid(format!(
                    "conflicting fieldspecs for path '{}' of kind '{}'",
                    x.path, x.kind
                )));
            }
            Some(_) => {}
            None => into.push(x.clone()),
        }
    }
    Ok(())
}

fn sort_specs(v: &mut [FieldSpec]) {
    v.sort_by(|a, b| order(&a.gvk(), &b.gvk()));
}

fn order(a: &Gvk, b: &Gvk) -> std::cmp::Ordering {
    if gvk_less(a, b) {
        std::cmp::Ordering::Less
    } else if gvk_less(b, a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

impl TransformerConfig {
    pub fn defaults() -> Self {
        static DEFAULTS: std::sync::OnceLock<TransformerConfig> = std::sync::OnceLock::new();
        DEFAULTS
            .get_or_init(|| {
                let mut c: TransformerConfig = serde_yaml::from_str(include_str!("defaults.yaml"))
                    .unwrap_or_else(|e| panic!("built-in defaults.yaml is malformed: {e}"));
                c.sort();
                c
            })
            .clone()
    }

    pub fn parse(text: &str, path: &std::path::Path) -> Result<Self> {
        let v = crate::yaml::parse_one(text, path)?;
        if v.is_null() {
            return Ok(TransformerConfig::default());
        }
        serde_json::from_value(v).map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: format!("not a transformer configuration: {e}"),
        })
    }

    fn sort(&mut self) {
        for v in [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.namespace,
            &mut self.common_labels,
            &mut self.labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ] {
            sort_specs(v);
        }
        self.name_reference
            .sort_by(|a, b| order(&a.gvk(), &b.gvk()));
    }

    pub fn merge(&mut self, o: &TransformerConfig) -> Result<()> {
        merge_specs(&mut self.name_prefix, &o.name_prefix)?;
        merge_specs(&mut self.name_suffix, &o.name_suffix)?;
        merge_specs(&mut self.namespace, &o.namespace)?;
        merge_specs(&mut self.common_labels, &o.common_labels)?;
        merge_specs(&mut self.labels, &o.labels)?;
        merge_specs(&mut self.template_labels, &o.template_labels)?;
        merge_specs(&mut self.common_annotations, &o.common_annotations)?;
        merge_specs(&mut self.var_reference, &o.var_reference)?;
        merge_specs(&mut self.images, &o.images)?;
        merge_specs(&mut self.replicas, &o.replicas)?;
        for nbr in &o.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|x| x.gvk() == nbr.gvk())
            {
                Some(x) => merge_specs(&mut x.field_specs, &nbr.field_specs)?,
                None => self.name_reference.push(nbr.clone()),
            }
        }
        self.sort();
        Ok(())
    }
}

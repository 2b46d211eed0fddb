//! The built-in transformers, in the order kustomize runs them.

pub mod images;
pub mod labels;
pub mod names;
pub mod namespace;
pub mod replicas;
pub mod value_add;

use crate::kustomization::FieldSpec;
use crate::resource::Gvk;

pub(crate) fn selects(fs: &FieldSpec, gvk: &Gvk) -> bool {
    gvk.is_selected_by(&fs.group, &fs.version, &fs.kind)
}

//! Patches: strategic merge (`strategic_merge`) and RFC 6902 JSON patches
//! (`json6902`), plus how kustomize picks their targets.

pub mod json6902;
pub mod strategic_merge;

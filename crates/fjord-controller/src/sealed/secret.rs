//! What to do with the Secret a SealedSecret describes, given the one that
//! may already be there: the upstream controller's ownership rules.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

/// On a live Secret: the SealedSecret may take it over.
pub const ANNOTATION_MANAGED: &str = "sealedsecrets.bitnami.com/managed";
/// On a live Secret: the SealedSecret's items are merged in rather than replacing.
pub const ANNOTATION_PATCH: &str = "sealedsecrets.bitnami.com/patch";

#[derive(Debug, PartialEq)]
pub enum Write {
    Create(Secret),
    Replace(Secret),
    Unchanged,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WriteError {
    #[error("Resource {0:?} already exists and is not managed by SealedSecret")]
    NotManaged(String),
    #[error("Secret {0:?} is immutable and its data differs from the SealedSecret")]
    Immutable(String),
}

/// `desired` is the opened Secret; `owner_uid` the SealedSecret's uid.
pub fn plan(desired: Secret, existing: Option<&Secret>, owner_uid: &str) -> Result<Write, WriteError> {
    let Some(existing) = existing else { return Ok(Write::Create(desired)) };
    let name = existing.metadata.name.clone().unwrap_or_default();
    let flag = |annotation: &str| {
        existing.metadata.annotations.as_ref().and_then(|a| a.get(annotation)).is_some_and(|v| v == "true")
    };
    let owned = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner_uid && o.controller == Some(true));
    let (managed, patch) = (flag(ANNOTATION_MANAGED), flag(ANNOTATION_PATCH));
    if !owned && !managed && !patch {
        return Err(WriteError::NotManaged(name));
    }

    let mut updated = existing.clone();
    if patch {
        merge(&mut updated.data, desired.data);
        merge(&mut updated.metadata.labels, desired.metadata.labels);
        merge(&mut updated.metadata.annotations, desired.metadata.annotations);
        if managed {
            updated.metadata.owner_references = desired.metadata.owner_references;
        }
    } else {
        updated.data = desired.data;
        updated.metadata.labels = desired.metadata.labels;
        updated.metadata.annotations = desired.metadata.annotations;
        updated.metadata.owner_references = desired.metadata.owner_references;
    }
    updated.type_ = desired.type_;
    if existing.immutable == Some(true) && updated.data != existing.data {
        return Err(WriteError::Immutable(name));
    }
    Ok(if &updated == existing { Write::Unchanged } else { Write::Replace(updated) })
}

fn merge<V>(into: &mut Option<BTreeMap<String, V>>, from: Option<BTreeMap<String, V>>) {
    if let Some(from) = from {
        into.get_or_insert_with(BTreeMap::new).extend(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn secret(items: &[(&str, &str)], owner: Option<&str>, annotations: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("db".into());
        s.data = Some(items.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect());
        s.metadata.owner_references = owner.map(|uid| {
            vec![OwnerReference {
                api_version: "bitnami.com/v1alpha1".into(),
                kind: "SealedSecret".into(),
                name: "db".into(),
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        if !annotations.is_empty() {
            s.metadata.annotations = Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        }
        s.type_ = Some("Opaque".into());
        s
    }

    #[test]
    fn missing_secret_is_created() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        assert_eq!(plan(desired.clone(), None, "u1"), Ok(Write::Create(desired)));
    }

    #[test]
    fn a_secret_owned_by_someone_else_is_left_alone() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        let foreign = secret(&[("a", "0")], None, &[]);
        assert_eq!(plan(desired.clone(), Some(&foreign), "u1"), Err(WriteError::NotManaged("db".into())));
        let other_owner = secret(&[("a", "0")], Some("u2"), &[]);
        assert_eq!(plan(desired, Some(&other_owner), "u1"), Err(WriteError::NotManaged("db".into())));
    }

    #[test]
    fn managed_annotation_hands_the_secret_over_whole() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        let live = secret(&[("a", "0"), ("b", "9")], None, &[(ANNOTATION_MANAGED, "true")]);
        let Ok(Write::Replace(written)) = plan(desired.clone(), Some(&live), "u1") else { panic!("expected a replace") };
        assert_eq!(written.data, desired.data);
        assert_eq!(written.metadata.owner_references, desired.metadata.owner_references);
        assert_eq!(written.metadata.annotations, None);
    }

    #[test]
    fn patch_annotation_merges_items_and_keeps_owners() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        let live = secret(&[("a", "0"), ("b", "9")], None, &[(ANNOTATION_PATCH, "true")]);
        let Ok(Write::Replace(written)) = plan(desired, Some(&live), "u1") else { panic!("expected a replace") };
        let data = written.data.unwrap();
        assert_eq!(data["a"].0, b"1");
        assert_eq!(data["b"].0, b"9");
        assert_eq!(written.metadata.owner_references, None);
        assert!(written.metadata.annotations.unwrap().contains_key(ANNOTATION_PATCH));
    }

    #[test]
    fn same_content_writes_nothing() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        let mut live = desired.clone();
        live.metadata.resource_version = Some("7".into());
        assert_eq!(plan(desired, Some(&live), "u1"), Ok(Write::Unchanged));
    }

    #[test]
    fn immutable_secret_with_other_data_is_an_error() {
        let desired = secret(&[("a", "1")], Some("u1"), &[]);
        let mut live = secret(&[("a", "0")], Some("u1"), &[]);
        live.immutable = Some(true);
        assert_eq!(plan(desired, Some(&live), "u1"), Err(WriteError::Immutable("db".into())));
    }
}

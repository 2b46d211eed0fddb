//! Opening: what the controller does to turn a SealedSecret into a Secret.

use crate::crypto::{Plaintext, hybrid_decrypt};
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, decode_base64_lenient};
use crate::scope::Scope;
use crate::types::{
    OwnerReference, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret, Secret,
    SecretValue,
};

pub const ANNOTATION_SKIP_OWNER_REFERENCES: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";

#[derive(Clone, Copy, Debug)]
pub struct UnsealOptions {
    /// The deprecated `spec.data` blob. The controller accepts it by default; kubeseal's
    /// recovery mode refuses it.
    pub accept_v1_data: bool,
}

impl Default for UnsealOptions {
    fn default() -> Self {
        UnsealOptions {
            accept_v1_data: true,
        }
    }
}

/// Opens one base64 sealed value (an `encryptedData` entry or `--raw` output).
pub fn open_value(keys: &[PrivateKey], sealed_b64: &str, label: &str) -> Result<Plaintext> {
    let bytes = decode_base64_lenient(sealed_b64).ok_or(Error::Base64)?;
    hybrid_decrypt(keys, &bytes, label)
}

/// The label comes from the SealedSecret's own name, namespace and annotations, never from the
/// template, so a renamed or moved object fails to open unless its scope allows it.
pub fn label_for(ss: &SealedSecret) -> String {
    let scope = Scope::from_annotations(&ss.metadata.annotations);
    scope.label(
        ss.metadata.namespace.as_deref().unwrap_or_default(),
        ss.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// Builds the Secret the controller would create. The owner reference uid is the SealedSecret's
/// `metadata.uid`, empty when it has none (as in recovery mode).
pub fn unseal(ss: &SealedSecret, keys: &[PrivateKey], opts: UnsealOptions) -> Result<Secret> {
    let label = label_for(ss);
    let has_v1 = ss.spec.data.as_deref().is_some_and(|d| !d.is_empty());
    let mut secret = if !ss.spec.encrypted_data.is_empty() {
        if has_v1 {
            return Err(Error::InvalidSealedSecret(
                "both spec.data and spec.encryptedData are set",
            ));
        }
        let template = &ss.spec.template;
        let mut secret = Secret {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata: template.metadata.clone(),
            type_: template.type_.clone(),
            immutable: template.immutable,
            ..Default::default()
        };
        for (item, value) in &ss.spec.encrypted_data {
            let opened = open_value(keys, value, &label).map_err(|e| Error::Item {
                item: item.clone(),
                reason: Box::new(e),
            })?;
            secret.data.insert(item.clone(), SecretValue(opened));
        }
        // Rendered over the opened items only; a result replaces an item of the same name.
        let mut rendered = Vec::new();
        for (item, text) in &template.data {
            let value = crate::template::render(text, &secret.data).map_err(|e| Error::Item {
                item: item.clone(),
                reason: Box::new(e),
            })?;
            rendered.push((item.clone(), SecretValue::new(value)));
        }
        secret.data.extend(rendered);
        secret
    } else if has_v1 {
        if !opts.accept_v1_data {
            return Err(Error::Unsupported("deprecated spec.data"));
        }
        let blob = ss.spec.data.as_deref().unwrap_or_default();
        let opened = open_value(keys, blob, &label)?;
        let mut secret: Secret = serde_json::from_slice(opened.as_bytes())
            .map_err(|e| Error::from_json("sealed v1 Secret", &e))?;
        secret.api_version = "v1".into();
        secret.kind = "Secret".into();
        secret
    } else {
        return Err(Error::InvalidSealedSecret("no encryptedData"));
    };

    secret.metadata.namespace = ss.metadata.namespace.clone();
    secret.metadata.name = ss.metadata.name.clone();
    // The API server defaults the type; doing it here makes the result match the live object.
    if secret.type_.as_deref().is_none_or(str::is_empty) {
        secret.type_ = Some("Opaque".into());
    }
    let skip_owner = secret
        .metadata
        .annotations
        .get(ANNOTATION_SKIP_OWNER_REFERENCES)
        .is_some_and(|v| v == "true");
    secret.metadata.owner_references = if skip_owner {
        Vec::new()
    } else {
        vec![OwnerReference {
            api_version: SEALED_SECRET_API_VERSION.into(),
            kind: SEALED_SECRET_KIND.into(),
            name: ss.metadata.name.clone().unwrap_or_default(),
            uid: ss.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }]
    };
    tracing::debug!(
        name = ss.metadata.name.as_deref().unwrap_or_default(),
        namespace = ss.metadata.namespace.as_deref().unwrap_or_default(),
        items = secret.data.len(),
        "unsealed"
    );
    Ok(secret)
}

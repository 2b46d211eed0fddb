//! Sealing: what kubeseal does with a Secret and the controller's certificate.

use base64::Engine;
use rand::{CryptoRng, RngCore};
use rsa::RsaPublicKey;
use std::collections::BTreeMap;

use crate::crypto::hybrid_encrypt;
use crate::error::{Error, Result};
use crate::keys::PrivateKey;
use crate::scope::Scope;
use crate::types::{
    ObjectMeta, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret, SealedSecretSpec,
    Secret, SecretTemplate,
};

const LAST_APPLIED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// `--scope`: a non-strict value rewrites the input's scope annotations; `None` keeps them.
    pub scope: Option<Scope>,
    /// `--name`: replaces the Secret's name.
    pub name: Option<String>,
    /// Used when the Secret has none. Must equal the Secret's namespace if both are set.
    pub namespace: Option<String>,
    pub allow_empty_data: bool,
}

pub fn seal_secret<R: RngCore + CryptoRng>(
    rng: &mut R,
    public_key: &RsaPublicKey,
    input: &Secret,
    opts: &SealOptions,
) -> Result<SealedSecret> {
    let mut secret = input.clone();
    if let Some(name) = &opts.name {
        secret.metadata.name = Some(name.clone());
    }
    if secret.data.is_empty() && secret.string_data.is_empty() && !opts.allow_empty_data {
        return Err(Error::InvalidSecret(
            "it has no data and no stringData".into(),
        ));
    }
    if let Some(scope) = opts.scope.filter(|s| *s != Scope::Strict) {
        scope.apply_to_annotations(&mut secret.metadata.annotations);
    }
    let scope = Scope::from_annotations(&secret.metadata.annotations);
    let name = secret.metadata.name.clone().filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(Error::InvalidSecret("metadata.name is missing".into()));
    };
    match (&secret.metadata.namespace, &opts.namespace) {
        (Some(own), Some(given)) if !own.is_empty() && own != given => {
            return Err(Error::InvalidSecret(format!(
                "namespace {given:?} differs from the Secret's namespace {own:?}"
            )));
        }
        (None, Some(given)) => secret.metadata.namespace = Some(given.clone()),
        (Some(own), Some(given)) if own.is_empty() => {
            secret.metadata.namespace = Some(given.clone())
        }
        _ => {}
    }
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    if namespace.is_empty() && scope != Scope::ClusterWide {
        return Err(Error::InvalidSecret(
            "a namespace is needed unless cluster-wide".into(),
        ));
    }
    let label = scope.label(&namespace, &name);

    let mut encrypted = BTreeMap::new();
    for (item, value) in &secret.data {
        encrypted.insert(
            item.clone(),
            seal_bytes(rng, public_key, value.as_bytes(), &label)?,
        );
    }
    // stringData wins on a clash, as the API server merges it over data.
    for (item, value) in &secret.string_data {
        encrypted.insert(
            item.clone(),
            seal_bytes(rng, public_key, value.0.as_bytes(), &label)?,
        );
    }

    let mut outer = ObjectMeta {
        name: Some(name),
        namespace: secret.metadata.namespace.clone().filter(|n| !n.is_empty()),
        ..Default::default()
    };
    if scope != Scope::Strict {
        scope.apply_to_annotations(&mut outer.annotations);
    }
    tracing::debug!(scope = %scope, items = encrypted.len(), "sealed");
    Ok(SealedSecret {
        kind: SEALED_SECRET_KIND.into(),
        api_version: SEALED_SECRET_API_VERSION.into(),
        metadata: outer,
        spec: SealedSecretSpec {
            template: SecretTemplate {
                metadata: template_metadata(&secret.metadata),
                type_: secret.type_.clone(),
                immutable: secret.immutable,
                data: BTreeMap::new(),
            },
            data: None,
            encrypted_data: encrypted,
        },
        status: None,
    })
}

/// Server-set fields, owner references and last-applied annotations (which would carry the
/// plaintext) do not belong in the template.
fn template_metadata(meta: &ObjectMeta) -> ObjectMeta {
    let mut annotations = meta.annotations.clone();
    for a in LAST_APPLIED_ANNOTATIONS {
        annotations.remove(a);
    }
    ObjectMeta {
        name: meta.name.clone(),
        generate_name: meta.generate_name.clone(),
        namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
        labels: meta.labels.clone(),
        annotations,
        finalizers: meta.finalizers.clone(),
        ..Default::default()
    }
}

fn seal_bytes<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &RsaPublicKey,
    value: &[u8],
    label: &str,
) -> Result<String> {
    let sealed = hybrid_encrypt(rng, key, value, label)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// `--raw`: one value, base64, for the caller to paste into `encryptedData`.
pub fn seal_raw<R: RngCore + CryptoRng>(
    rng: &mut R,
    public_key: &RsaPublicKey,
    value: &[u8],
    scope: Scope,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<String> {
    let namespace = namespace.unwrap_or_default();
    let name = name.unwrap_or_default();
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(Error::InvalidSecret(
            "--raw needs a namespace unless cluster-wide".into(),
        ));
    }
    if scope == Scope::Strict && name.is_empty() {
        return Err(Error::InvalidSecret(
            "--raw with strict scope needs --name".into(),
        ));
    }
    seal_bytes(rng, public_key, value, &scope.label(namespace, name))
}

/// `--merge-into`: new items and template labels, annotations and data are merged into `target`.
pub fn merge_into(target: &mut SealedSecret, update: SealedSecret) {
    target
        .spec
        .encrypted_data
        .extend(update.spec.encrypted_data);
    let t = &mut target.spec.template;
    let u = update.spec.template;
    t.metadata.labels.extend(u.metadata.labels);
    t.metadata.annotations.extend(u.metadata.annotations);
    t.data.extend(u.data);
}

/// Seals every item again for `public_key` (the newest key), keeping names, scope and template:
/// what the controller's `/v1/rotate` answers and `--re-encrypt` asks for. The deprecated
/// `spec.data` blob is sealed again as it is.
pub fn re_encrypt<R: RngCore + CryptoRng>(
    rng: &mut R,
    sealed: &SealedSecret,
    keys: &[PrivateKey],
    public_key: &RsaPublicKey,
) -> Result<SealedSecret> {
    let label = crate::open::label_for(sealed);
    let mut out = sealed.clone();
    for (item, value) in out.spec.encrypted_data.iter_mut() {
        let opened = crate::open::open_value(keys, value, &label).map_err(|e| Error::Item {
            item: item.clone(),
            reason: Box::new(e),
        })?;
        *value = seal_bytes(rng, public_key, opened.as_bytes(), &label)?;
    }
    if let Some(blob) = out.spec.data.as_mut().filter(|d| !d.is_empty()) {
        let opened = crate::open::open_value(keys, blob, &label)?;
        *blob = seal_bytes(rng, public_key, opened.as_bytes(), &label)?;
    }
    out.status = None;
    Ok(out)
}

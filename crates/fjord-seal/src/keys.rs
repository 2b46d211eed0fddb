//! Controller private keys: PEM (PKCS#1 or PKCS#8), or backups of the controller's key Secrets
//! (a Secret or a List of them, YAML or JSON, holding `tls.key`).

use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct PrivateKey(RsaPrivateKey);

impl PrivateKey {
    pub fn from_rsa(key: RsaPrivateKey) -> Self {
        PrivateKey(key)
    }
    pub fn inner(&self) -> &RsaPrivateKey {
        &self.0
    }
    pub fn public_key(&self) -> RsaPublicKey {
        self.0.to_public_key()
    }
    pub fn bits(&self) -> usize {
        self.0.size() * 8
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(<redacted RSA-{}>)", self.0.size() * 8)
    }
}

/// Reads every private key in `bytes`. `source` names the input in errors (a path, never content).
pub fn parse_private_keys(bytes: &[u8], source: &str) -> Result<Vec<PrivateKey>> {
    let keys = if contains(bytes, b"-----BEGIN") {
        from_pem(bytes, source)?
    } else {
        from_secret_backup(bytes, source)?
    };
    if keys.is_empty() {
        return Err(Error::NoPrivateKey(source.to_string()));
    }
    tracing::debug!(source, count = keys.len(), "loaded private keys");
    Ok(keys)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn from_pem(bytes: &[u8], source: &str) -> Result<Vec<PrivateKey>> {
    let blocks =
        pem::parse_many(bytes).map_err(|_| Error::InvalidPrivateKey(source.to_string()))?;
    let mut keys = Vec::new();
    for block in blocks {
        let key = match block.tag() {
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(block.contents()),
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(block.contents())
                .map_err(|_| rsa::pkcs1::Error::Crypto),
            _ => continue,
        }
        .map_err(|_| Error::InvalidPrivateKey(source.to_string()))?;
        keys.push(PrivateKey(key));
    }
    Ok(keys)
}

fn from_secret_backup(bytes: &[u8], source: &str) -> Result<Vec<PrivateKey>> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::InvalidPrivateKey(source.to_string()))?;
    let mut keys = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
            .map_err(|e| Error::from_yaml("private key backup", &e))?;
        collect_tls_keys(&value, source, &mut keys)?;
    }
    Ok(keys)
}

fn collect_tls_keys(
    value: &serde_yaml::Value,
    source: &str,
    out: &mut Vec<PrivateKey>,
) -> Result<()> {
    if let Some(items) = value.get("items").and_then(|i| i.as_sequence()) {
        for item in items {
            collect_tls_keys(item, source, out)?;
        }
        return Ok(());
    }
    if let Some(encoded) = value
        .get("data")
        .and_then(|d| d.get("tls.key"))
        .and_then(|k| k.as_str())
    {
        let pem_bytes = zeroize::Zeroizing::new(
            decode_base64_lenient(encoded)
                .ok_or_else(|| Error::InvalidPrivateKey(source.to_string()))?,
        );
        out.extend(from_pem(&pem_bytes, source)?);
    } else if let Some(pem_text) = value
        .get("stringData")
        .and_then(|d| d.get("tls.key"))
        .and_then(|k| k.as_str())
    {
        out.extend(from_pem(pem_text.as_bytes(), source)?);
    }
    Ok(())
}

/// Go's base64 decoder skips CR and LF, and so must we for values wrapped by other tools.
pub(crate) fn decode_base64_lenient(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .ok()
}

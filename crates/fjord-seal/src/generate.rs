//! New controller keys: an RSA key with the self-signed certificate the upstream controller
//! makes (random serial below 2^128, subject = issuer, CA:true and KeyUsage encipherOnly, both
//! critical, signed with SHA-256 RSA), so kubeseal and every other reader accept it unchanged.

use std::time::Duration;

use rand::{CryptoRng, RngCore};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey};
use rsa::pkcs8::LineEnding;
use sha2::Sha256;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::PrivateKey;

/// The upstream default `--key-size`.
pub const DEFAULT_KEY_BITS: usize = 4096;
/// The upstream default `--key-ttl` (87600h).
pub const DEFAULT_CERT_TTL: Duration = Duration::from_secs(87_600 * 3600);

/// A fresh key and its certificate (PEM).
pub struct GeneratedKey {
    pub key: PrivateKey,
    pub cert_pem: String,
}

/// `common_name` may be empty (the upstream default `--my-cn`), which gives an empty Name.
pub fn generate_key<R: RngCore + CryptoRng>(
    rng: &mut R,
    bits: usize,
    common_name: &str,
    ttl: Duration,
) -> Result<GeneratedKey> {
    let rsa = RsaPrivateKey::new(rng, bits).map_err(|_| Error::KeyGeneration("RSA key"))?;
    let cert_pem = self_signed_cert(rng, &rsa, common_name, ttl)?;
    Ok(GeneratedKey {
        key: PrivateKey::from_rsa(rsa),
        cert_pem,
    })
}

/// A certificate for an existing key, as the controller makes one.
pub fn self_signed_cert<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &RsaPrivateKey,
    common_name: &str,
    ttl: Duration,
) -> Result<String> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    // Positive and below 2^128: DER integers are signed, so the top bit stays clear.
    serial[0] &= 0x7f;
    let serial =
        SerialNumber::new(&serial).map_err(|_| Error::KeyGeneration("certificate serial"))?;
    let validity =
        Validity::from_now(ttl).map_err(|_| Error::KeyGeneration("certificate validity"))?;
    let subject = if common_name.is_empty() {
        Name::default()
    } else {
        format!("CN={common_name}")
            .parse()
            .map_err(|_| Error::KeyGeneration("certificate common name"))?
    };
    let signer = SigningKey::<Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|_| Error::KeyGeneration("certificate public key"))?;
    let profile = Profile::Manual { issuer: None };
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, &signer)
        .map_err(|_| Error::KeyGeneration("certificate"))?;
    builder
        .add_extension(&KeyUsage(KeyUsages::EncipherOnly.into()))
        .map_err(|_| Error::KeyGeneration("certificate key usage"))?;
    builder
        .add_extension(&BasicConstraints {
            ca: true,
            path_len_constraint: None,
        })
        .map_err(|_| Error::KeyGeneration("certificate basic constraints"))?;
    let cert = builder
        .build::<Signature>()
        .map_err(|_| Error::KeyGeneration("certificate signature"))?;
    cert.to_pem(LineEnding::LF)
        .map_err(|_| Error::KeyGeneration("certificate PEM"))
}

impl PrivateKey {
    /// PKCS#1 PEM (`RSA PRIVATE KEY`), the form the controller stores in `tls.key`.
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>> {
        self.inner()
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|_| Error::KeyGeneration("PKCS#1 encoding"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::parse_cert_pem;
    use crate::keys::parse_private_keys;
    use x509_cert::Certificate;
    use x509_cert::der::DecodePem;

    #[test]
    fn generated_certificate_matches_the_upstream_profile() {
        let generated = generate_key(&mut rand::rngs::OsRng, 2048, "", DEFAULT_CERT_TTL).unwrap();
        let parsed = parse_cert_pem(generated.cert_pem.as_bytes()).unwrap();
        assert_eq!(parsed.public_key, generated.key.public_key());
        let lifetime = parsed.not_after.duration_since(parsed.not_before).unwrap();
        assert!(lifetime.as_secs().abs_diff(DEFAULT_CERT_TTL.as_secs()) < 5);

        let cert = Certificate::from_pem(generated.cert_pem.as_bytes()).unwrap();
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.subject, tbs.issuer);
        assert!(tbs.subject.0.is_empty());
        let serial = tbs.serial_number.as_bytes();
        assert!(serial.len() <= 17 && serial[0] & 0x80 == 0);
        let extensions = tbs.extensions.as_ref().unwrap();
        assert_eq!(extensions.len(), 2);
        assert!(extensions.iter().all(|e| e.critical));
    }

    #[test]
    fn stored_key_reads_back() {
        let generated = generate_key(&mut rand::rngs::OsRng, 2048, "fjord", DEFAULT_CERT_TTL).unwrap();
        let pem = generated.key.to_pkcs1_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let keys = parse_private_keys(pem.as_bytes(), "tls.key").unwrap();
        assert_eq!(keys[0].public_key(), generated.key.public_key());
    }

    #[test]
    fn re_encrypted_items_open_only_with_the_new_key() {
        use crate::{SealOptions, Scope, Secret, SecretValue, re_encrypt, seal_secret, unseal};
        let old = generate_key(&mut rand::rngs::OsRng, 2048, "", DEFAULT_CERT_TTL).unwrap();
        let new = generate_key(&mut rand::rngs::OsRng, 2048, "", DEFAULT_CERT_TTL).unwrap();
        let mut secret = Secret::default();
        secret.metadata.name = Some("db".into());
        secret.metadata.namespace = Some("shop".into());
        secret.data.insert("password".into(), SecretValue::new(b"hunter2".to_vec()));
        let options = SealOptions { scope: Some(Scope::Strict), ..Default::default() };
        let sealed = seal_secret(&mut rand::rngs::OsRng, &old.key.public_key(), &secret, &options).unwrap();

        let both = [old.key.clone(), new.key.clone()];
        let rotated = re_encrypt(&mut rand::rngs::OsRng, &sealed, &both, &new.key.public_key()).unwrap();
        assert_ne!(rotated.spec.encrypted_data, sealed.spec.encrypted_data);
        let opened = unseal(&rotated, std::slice::from_ref(&new.key), Default::default()).unwrap();
        assert_eq!(opened.data["password"].as_bytes(), b"hunter2");
        assert!(unseal(&rotated, std::slice::from_ref(&old.key), Default::default()).is_err());
    }
}

//! The controller certificate. Its KeyUsage (encipherOnly alone) is invalid under RFC 5280,
//! so only the DER structure is decoded and extensions are never interpreted.

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct ControllerCert {
    pub public_key: RsaPublicKey,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl ControllerCert {
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now > self.not_after
    }
}

/// Uses the first CERTIFICATE block, like kubeseal; the key must be RSA.
pub fn parse_cert_pem(bytes: &[u8]) -> Result<ControllerCert> {
    let blocks = pem::parse_many(bytes).map_err(|_| Error::Certificate("not PEM"))?;
    let block = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or(Error::Certificate("no CERTIFICATE block"))?;
    parse_cert_der(block.contents())
}

pub fn parse_cert_der(der: &[u8]) -> Result<ControllerCert> {
    let cert = Certificate::from_der(der).map_err(|_| Error::Certificate("malformed DER"))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|_| Error::Certificate("malformed public key"))?;
    let public_key = RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| Error::Certificate("public key is not RSA"))?;
    let to_time = |d: Duration| UNIX_EPOCH + d;
    Ok(ControllerCert {
        public_key,
        not_before: to_time(tbs.validity.not_before.to_unix_duration()),
        not_after: to_time(tbs.validity.not_after.to_unix_duration()),
    })
}

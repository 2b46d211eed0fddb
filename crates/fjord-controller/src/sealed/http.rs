//! The endpoints kubeseal calls (upstream's `server.go`): the current
//! certificate, verification and re-encryption of a SealedSecret.

use fjord_seal::{SealedSecret, UnsealOptions, parse_sealed_secrets, re_encrypt, to_json_pretty, unseal};

use super::SealedSecrets;

/// An HTTP answer, independent of the server library.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }
}

impl SealedSecrets {
    /// `GET /v1/cert.pem`: the newest certificate, the one to seal with.
    pub fn cert_pem(&self) -> Reply {
        match self.keys.ring().latest() {
            Some((key, _)) => Reply { status: 200, content_type: "application/x-pem-file", body: key.cert_pem.clone() },
            None => Reply::text(500, "no sealing key\n"),
        }
    }

    /// `POST /v1/verify`: 200 if this controller can open the SealedSecret,
    /// 409 if not, 400 if it is not one SealedSecret. Nothing opened leaves.
    pub fn verify(&self, body: &[u8]) -> Reply {
        let sealed = match one_sealed_secret(body) {
            Ok(sealed) => sealed,
            Err(reply) => return reply,
        };
        match unseal(&sealed, self.keys.ring().private_keys(), UnsealOptions::default()) {
            Ok(_) => Reply::text(200, "ok\n"),
            Err(e) => Reply::text(409, format!("{}\n", crate::error_chain(&e))),
        }
    }

    /// `POST /v1/rotate`: the SealedSecret sealed again with the newest key, as JSON.
    pub fn rotate(&self, body: &[u8]) -> Reply {
        let sealed = match one_sealed_secret(body) {
            Ok(sealed) => sealed,
            Err(reply) => return reply,
        };
        let ring = self.keys.ring();
        let Some((_, latest)) = ring.latest() else { return Reply::text(500, "no sealing key\n") };
        let rotated = match re_encrypt(&mut fjord_seal::OsRng, &sealed, ring.private_keys(), &latest.public_key()) {
            Ok(rotated) => rotated,
            Err(e) => return Reply::text(409, format!("{}\n", crate::error_chain(&e))),
        };
        match to_json_pretty(&rotated) {
            Ok(json) => Reply { status: 200, content_type: "application/json", body: json },
            Err(e) => Reply::text(500, format!("{e}\n")),
        }
    }
}

fn one_sealed_secret(body: &[u8]) -> Result<SealedSecret, Reply> {
    let mut all = parse_sealed_secrets(body).map_err(|e| Reply::text(400, format!("{}\n", crate::error_chain(&e))))?;
    match (all.pop(), all.is_empty()) {
        (Some(sealed), true) => Ok(sealed),
        (None, _) => Err(Reply::text(400, "no SealedSecret in the request\n")),
        (Some(_), false) => Err(Reply::text(400, "exactly one SealedSecret is expected\n")),
    }
}

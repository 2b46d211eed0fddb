//! The hybrid scheme: RSA-OAEP(SHA-256) wraps a one-time AES-GCM key.
//!
//! Layout: 2-byte big-endian RSA block length, the RSA block, then GCM ciphertext and tag.
//! The GCM nonce is all zero; that is safe only because every value gets a fresh key.

use aes_gcm::aead::generic_array::typenum::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce};
use rand::{CryptoRng, RngCore};
use rsa::{Oaep, RsaPublicKey};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::PrivateKey;

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, U12>;

pub const SESSION_KEY_LEN: usize = 32;
pub const OAEP_SEED_LEN: usize = 32;
const NONCE: [u8; 12] = [0u8; 12];

/// Opened bytes; wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    pub fn new(bytes: Vec<u8>) -> Self {
        Plaintext(Zeroizing::new(bytes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<redacted {} bytes>)", self.0.len())
    }
}

/// An AES-256 key used for exactly one value.
pub struct SessionKey(Zeroizing<[u8; SESSION_KEY_LEN]>);

impl SessionKey {
    pub fn from_bytes(bytes: [u8; SESSION_KEY_LEN]) -> Self {
        SessionKey(Zeroizing::new(bytes))
    }
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut k = Zeroizing::new([0u8; SESSION_KEY_LEN]);
        rng.fill_bytes(k.as_mut());
        SessionKey(k)
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Seals one value with a fresh session key and OAEP seed.
pub fn hybrid_encrypt<R: RngCore + CryptoRng>(
    rng: &mut R,
    public_key: &RsaPublicKey,
    plaintext: &[u8],
    label: &str,
) -> Result<Vec<u8>> {
    let session_key = SessionKey::generate(rng);
    encrypt_with_rng(rng, public_key, plaintext, label, &session_key)
}

/// Deterministic sealing for known-answer tests: the caller supplies the session key and the
/// OAEP seed, so the output is fixed.
pub fn hybrid_encrypt_deterministic(
    public_key: &RsaPublicKey,
    plaintext: &[u8],
    label: &str,
    session_key: &SessionKey,
    oaep_seed: &[u8; OAEP_SEED_LEN],
) -> Result<Vec<u8>> {
    let mut rng = FixedSeed {
        seed: *oaep_seed,
        used: 0,
        overrun: false,
    };
    let out = encrypt_with_rng(&mut rng, public_key, plaintext, label, session_key)?;
    // OAEP with SHA-256 draws exactly one 32-byte seed; anything else means the output does not
    // correspond to the given seed.
    if rng.used != OAEP_SEED_LEN || rng.overrun {
        return Err(Error::Encrypt);
    }
    Ok(out)
}

fn encrypt_with_rng<R: RngCore + CryptoRng>(
    rng: &mut R,
    public_key: &RsaPublicKey,
    plaintext: &[u8],
    label: &str,
    session_key: &SessionKey,
) -> Result<Vec<u8>> {
    use rsa::traits::PublicKeyParts;
    let padding = Oaep::new_with_label::<Sha256, _>(label);
    let rsa_block = public_key
        .encrypt(rng, padding, session_key.0.as_ref())
        .map_err(|_| Error::Encrypt)?;
    let block_len = u16::try_from(rsa_block.len()).map_err(|_| Error::Encrypt)?;
    debug_assert_eq!(rsa_block.len(), public_key.size());
    let cipher = Aes256Gcm::new_from_slice(session_key.0.as_ref()).map_err(|_| Error::Encrypt)?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&NONCE), plaintext)
        .map_err(|_| Error::Encrypt)?;
    let mut out = Vec::with_capacity(2 + rsa_block.len() + sealed.len());
    out.extend_from_slice(&block_len.to_be_bytes());
    out.extend_from_slice(&rsa_block);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Tries every key; which one fails, and why, is deliberately not reported, as in the controller.
pub fn hybrid_decrypt(keys: &[PrivateKey], ciphertext: &[u8], label: &str) -> Result<Plaintext> {
    if ciphertext.len() < 2 {
        return Err(Error::TooShort);
    }
    let block_len = usize::from(u16::from_be_bytes([ciphertext[0], ciphertext[1]]));
    if ciphertext.len() < block_len + 2 {
        return Err(Error::TooShort);
    }
    let (rsa_block, sealed) = ciphertext[2..].split_at(block_len);
    for key in keys {
        if let Some(p) = single_decrypt(key, rsa_block, sealed, label) {
            return Ok(p);
        }
    }
    Err(Error::NoKeyCouldDecrypt)
}

fn single_decrypt(
    key: &PrivateKey,
    rsa_block: &[u8],
    sealed: &[u8],
    label: &str,
) -> Option<Plaintext> {
    let padding = Oaep::new_with_label::<Sha256, _>(label);
    let session_key = Zeroizing::new(
        key.inner()
            .decrypt_blinded(&mut rand::rngs::OsRng, padding, rsa_block)
            .ok()?,
    );
    let nonce = Nonce::from_slice(&NONCE);
    // Go's aes.NewCipher takes any AES key size, so a foreign sealer may have used 16 or 24 bytes.
    let opened = match session_key.len() {
        16 => Aes128Gcm::new_from_slice(&session_key)
            .ok()?
            .decrypt(nonce, sealed)
            .ok()?,
        24 => Aes192Gcm::new_from_slice(&session_key)
            .ok()?
            .decrypt(nonce, sealed)
            .ok()?,
        32 => Aes256Gcm::new_from_slice(&session_key)
            .ok()?
            .decrypt(nonce, sealed)
            .ok()?,
        _ => return None,
    };
    Some(Plaintext::new(opened))
}

/// Replays a fixed OAEP seed; records misuse instead of panicking so the caller can reject it.
struct FixedSeed {
    seed: [u8; OAEP_SEED_LEN],
    used: usize,
    overrun: bool,
}

impl RngCore for FixedSeed {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            if self.used < OAEP_SEED_LEN {
                *b = self.seed[self.used];
                self.used += 1;
            } else {
                self.overrun = true;
                *b = 0;
            }
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedSeed {}

//! The sealing keys: `kubernetes.io/tls` Secrets in the controller's
//! namespace labelled `sealedsecrets.bitnami.com/sealed-secrets-key: active`,
//! exactly as the upstream controller stores them, so keys move freely
//! between the two. The newest certificate seals; every key opens.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use fjord_seal::{PrivateKey, generate_key, parse_cert_pem, parse_private_keys};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
const ACTIVE: &str = "active";

#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// Where the key Secrets live: the controller's namespace.
    pub namespace: String,
    /// Names of new key Secrets start with this (`--key-prefix`); a Secret
    /// named exactly this is a legacy key and is loaded too.
    pub prefix: String,
    pub bits: usize,
    /// Subject of new certificates; empty gives an empty name, as upstream.
    pub common_name: String,
    pub ttl: Duration,
    /// A new key this long after the newest one; `None` never renews.
    pub renew_period: Option<Duration>,
    /// A key older than this is replaced at start (`--key-cutoff-time`).
    pub cutoff: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the sealing keys in namespace {namespace}")]
    List {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot store a new sealing key in namespace {namespace}")]
    Store {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot generate a sealing key")]
    Generate(#[source] fjord_seal::Error),
    #[error("key generation stopped before it finished")]
    Interrupted,
}

/// One key: the Secret it came from, the private key and its certificate.
pub struct SealingKey {
    pub secret: String,
    pub cert_pem: String,
    pub not_before: SystemTime,
}

/// The keys known at one moment, newest first.
#[derive(Default)]
pub struct KeyRing {
    keys: Vec<SealingKey>,
    private: Vec<PrivateKey>,
}

impl KeyRing {
    /// The key that seals: the newest certificate.
    pub fn latest(&self) -> Option<(&SealingKey, &PrivateKey)> {
        self.keys.first().zip(self.private.first())
    }

    /// Every key, newest first (the likeliest to open a value is tried first).
    pub fn private_keys(&self) -> &[PrivateKey] {
        &self.private
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.secret.as_str()).collect()
    }

    /// Reads every usable key; a Secret that cannot be read is skipped with
    /// a warning naming it (never its content).
    fn from_secrets(secrets: &[Secret]) -> KeyRing {
        let mut loaded: Vec<(SealingKey, PrivateKey)> = Vec::new();
        for secret in secrets {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let namespace = secret.metadata.namespace.clone().unwrap_or_default();
            let item = |key: &str| secret.data.as_ref().and_then(|d| d.get(key)).map(|b| b.0.as_slice());
            let source = format!("Secret {namespace}/{name} tls.key");
            let Some(key) = item("tls.key").and_then(|bytes| parse_private_keys(bytes, &source).ok()).and_then(|mut k| k.pop())
            else {
                tracing::warn!(secret = %name, "ignoring a key Secret whose tls.key is not an RSA private key");
                continue;
            };
            let cert_pem = item("tls.crt").map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            let Some(cert) = parse_cert_pem(cert_pem.as_bytes()).ok().filter(|c| c.public_key == key.public_key()) else {
                tracing::warn!(secret = %name, "ignoring a key Secret whose tls.crt is missing or does not match tls.key");
                continue;
            };
            loaded.push((SealingKey { secret: name, cert_pem, not_before: cert.not_before }, key));
        }
        // Newest NotBefore first (upstream's default key order); the name breaks ties so the
        // order is the same on every replica.
        loaded.sort_by(|(a, _), (b, _)| b.not_before.cmp(&a.not_before).then_with(|| b.secret.cmp(&a.secret)));
        let (keys, private) = loaded.into_iter().unzip();
        KeyRing { keys, private }
    }
}

pub struct Keys {
    api: Api<Secret>,
    config: KeyConfig,
    ring: RwLock<Arc<KeyRing>>,
}

impl Keys {
    /// Loads the keys there are and makes the first one if there is none.
    pub async fn load(client: kube::Client, config: KeyConfig) -> Result<Arc<Keys>, KeyError> {
        let keys = Arc::new(Keys {
            api: Api::namespaced(client, &config.namespace),
            config,
            ring: RwLock::new(Arc::new(KeyRing::default())),
        });
        keys.reload().await?;
        let stale = |ring: &KeyRing| match (ring.latest(), keys.config.cutoff) {
            (None, _) => true,
            (Some((latest, _)), Some(cutoff)) => latest.not_before < cutoff,
            (Some(_), None) => false,
        };
        if stale(&keys.ring()) {
            keys.generate().await?;
        }
        Ok(keys)
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Reads the key Secrets again; true when the set of keys changed.
    pub async fn reload(&self) -> Result<bool, KeyError> {
        let list_error = |source| KeyError::List { namespace: self.config.namespace.clone(), source };
        let labelled = self
            .api
            .list(&ListParams::default().labels(&format!("{KEY_LABEL}={ACTIVE}")))
            .await
            .map_err(list_error)?;
        let mut secrets = labelled.items;
        if !secrets.iter().any(|s| s.metadata.name.as_deref() == Some(self.config.prefix.as_str()))
            && let Some(legacy) = self.api.get_opt(&self.config.prefix).await.map_err(list_error)?
        {
            secrets.push(legacy);
        }
        let fresh = KeyRing::from_secrets(&secrets);
        let changed = fresh.names() != self.ring().names();
        if changed {
            tracing::info!(keys = fresh.len(), latest = fresh.latest().map(|(k, _)| k.secret.as_str()), "sealing keys loaded");
        }
        if let Ok(mut ring) = self.ring.write() {
            *ring = Arc::new(fresh);
        }
        Ok(changed)
    }

    /// Makes a key, stores it as a new Secret and returns that Secret's name.
    pub async fn generate(&self) -> Result<String, KeyError> {
        let (bits, cn, ttl) = (self.config.bits, self.config.common_name.clone(), self.config.ttl);
        let started = std::time::Instant::now();
        let generated = tokio::task::spawn_blocking(move || generate_key(&mut fjord_seal::OsRng, bits, &cn, ttl))
            .await
            .map_err(|_| KeyError::Interrupted)?
            .map_err(KeyError::Generate)?;
        let key_pem = generated.key.to_pkcs1_pem().map_err(KeyError::Generate)?;
        let secret = Secret {
            metadata: ObjectMeta {
                generate_name: Some(self.config.prefix.clone()),
                namespace: Some(self.config.namespace.clone()),
                labels: Some(BTreeMap::from([(KEY_LABEL.to_string(), ACTIVE.to_string())])),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            data: Some(BTreeMap::from([
                ("tls.crt".to_string(), ByteString(generated.cert_pem.into_bytes())),
                ("tls.key".to_string(), ByteString(key_pem.as_bytes().to_vec())),
            ])),
            ..Default::default()
        };
        let created = self
            .api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|source| KeyError::Store { namespace: self.config.namespace.clone(), source })?;
        let name = created.metadata.name.unwrap_or_default();
        tracing::info!(secret = %name, bits, took_ms = started.elapsed().as_millis() as u64, "new sealing key");
        self.reload().await?;
        Ok(name)
    }

    /// Makes a new key every renewal period, counted from the newest key's
    /// certificate, so a restart does not reset the clock; SIGUSR1 makes one
    /// at once, as upstream.
    pub async fn renew(self: Arc<Self>) {
        let period = self.config.renew_period.filter(|p| !p.is_zero());
        let mut usr1 = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGUSR1; keys renew on schedule only");
                None
            }
        };
        loop {
            let wait = period.map(|period| {
                let age = self
                    .ring()
                    .latest()
                    .and_then(|(k, _)| SystemTime::now().duration_since(k.not_before).ok())
                    .unwrap_or_default();
                period.saturating_sub(age)
            });
            let scheduled = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            let signalled = async {
                match usr1.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = scheduled => {}
                _ = signalled => tracing::info!("SIGUSR1: making a new sealing key"),
            }
            if let Err(e) = self.generate().await {
                tracing::warn!(error = %crate::error_chain(&e), "cannot renew the sealing key; trying again in a minute");
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    }
}

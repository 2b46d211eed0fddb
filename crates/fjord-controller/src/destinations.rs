//! Destination clusters: the one fjord runs in, and the others Argo CD
//! cluster Secrets describe (label `argocd.argoproj.io/secret-type:
//! cluster`, data `name`, `server` and `config`).
//!
//! Each other cluster gets its own connection and live cache, made when an
//! application first needs it, so a cluster no application targets costs
//! nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use fjord_engine::{Cluster, ClusterError};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

use crate::application::{DestinationSpec, IN_CLUSTER};
use crate::cache::LiveCache;

/// The destination name that means "the cluster fjord runs in".
pub const IN_CLUSTER_NAME: &str = "in-cluster";
/// The label value that marks an Argo CD cluster Secret.
pub const CLUSTER_SECRET_TYPE: &str = "cluster";

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("spec.destination needs server or name")]
    Missing,
    #[error("spec.destination names both server {server} and name {name}; give one of them")]
    Both { server: String, name: String },
    #[error("spec.destination {0}: no cluster Secret (label argocd.argoproj.io/secret-type: cluster) describes this cluster")]
    Unknown(String),
    #[error("cluster Secret {secret} for {server}: {problem}")]
    Invalid { secret: String, server: String, problem: String },
    #[error("cannot connect to destination {server} (cluster Secret {secret})")]
    Connect {
        server: String,
        secret: String,
        #[source]
        source: Box<ClusterError>,
    },
}

/// `config` of a cluster Secret, as Argo CD writes it.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfig {
    bearer_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    tls_client_config: TlsClientConfig,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    /// Base64 of PEM, as in a kubeconfig's `certificate-authority-data`.
    ca_data: Option<String>,
    cert_data: Option<String>,
    key_data: Option<String>,
    #[serde(default)]
    insecure: bool,
    server_name: Option<String>,
}

/// One cluster Secret. Its credentials never leave this type except into
/// the client that uses them; `Debug` shows none of them.
pub struct ClusterSecret {
    secret: String,
    name: String,
    server: String,
    config: ClusterConfig,
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSecret").field("secret", &self.secret).field("name", &self.name).field("server", &self.server).finish_non_exhaustive()
    }
}

impl ClusterSecret {
    /// Reads a cluster Secret's (decoded) data.
    pub fn parse(secret: &str, data: &BTreeMap<String, String>) -> Result<Self, DestinationError> {
        let server = data.get("server").map(|s| normalize_server(s)).unwrap_or_default();
        let invalid = |problem: String| DestinationError::Invalid { secret: secret.to_string(), server: server.clone(), problem };
        if server.is_empty() {
            return Err(invalid("data.server is missing".into()));
        }
        let config = match data.get("config").map(|c| c.trim()).filter(|c| !c.is_empty()) {
            // The serde error names the field and position, never a value.
            // Only the position: serde's message may quote the value, a credential.
            Some(text) => serde_json::from_str(text).map_err(|e| {
                invalid(format!("data.config is not the expected JSON (line {}, column {})", e.line(), e.column()))
            })?,
            None => ClusterConfig::default(),
        };
        let name = data.get("name").cloned().unwrap_or_else(|| server.clone());
        Ok(ClusterSecret { secret: secret.to_string(), name, server, config })
    }

    /// A kubeconfig for this cluster, which kube turns into a client
    /// configuration (PEM parsing, TLS options) as it does for files.
    fn kubeconfig(&self) -> Result<kube::config::Kubeconfig, DestinationError> {
        let invalid = |problem: String| DestinationError::Invalid { secret: self.secret.clone(), server: self.server.clone(), problem };
        let tls = &self.config.tls_client_config;
        let mut cluster = json!({"server": self.server, "insecure-skip-tls-verify": tls.insecure});
        if let Some(ca) = &tls.ca_data {
            cluster["certificate-authority-data"] = json!(ca);
        }
        if let Some(name) = &tls.server_name {
            cluster["tls-server-name"] = json!(name);
        }
        let mut user = json!({});
        for (field, value) in [
            ("token", &self.config.bearer_token),
            ("username", &self.config.username),
            ("password", &self.config.password),
            ("client-certificate-data", &tls.cert_data),
            ("client-key-data", &tls.key_data),
        ] {
            if let Some(value) = value {
                user[field] = json!(value);
            }
        }
        let kubeconfig = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "destination", "cluster": cluster}],
            "users": [{"name": "destination", "user": user}],
            "contexts": [{"name": "destination", "context": {"cluster": "destination", "user": "destination"}}],
            "current-context": "destination",
        });
        serde_json::from_value(kubeconfig).map_err(|_| invalid("cannot build a client configuration from data.config".into()))
    }
}

/// Servers compare without a trailing slash.
fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_string()
}

/// Where an application's objects go.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    InCluster,
    /// Another cluster, by its server URL.
    Server(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::InCluster => f.write_str(IN_CLUSTER),
            Target::Server(server) => f.write_str(server),
        }
    }
}

/// A destination cluster other than this one: its connection and its live
/// cache.
pub struct Destination {
    pub cluster: Mutex<Cluster>,
    pub cache: LiveCache,
}

/// The cluster Secrets, and the destinations made from them so far.
pub struct Destinations {
    secrets: RwLock<HashMap<String, ClusterSecret>>,
    connected: Mutex<HashMap<String, Arc<Destination>>>,
    drift: mpsc::UnboundedSender<String>,
}

impl Destinations {
    /// Destinations whose live caches report changed applications on `drift`.
    pub fn new(drift: mpsc::UnboundedSender<String>) -> Self {
        Destinations { secrets: Default::default(), connected: Default::default(), drift }
    }

    /// Records (or, with `None`, forgets) a cluster Secret. A destination
    /// already connected with its old contents is dropped, so the next use
    /// connects with the new ones.
    pub async fn set_secret(&self, secret: &str, data: Option<&BTreeMap<String, String>>) -> Result<(), DestinationError> {
        let parsed = data.map(|d| ClusterSecret::parse(secret, d)).transpose();
        let mut stale = Vec::new();
        let outcome = match self.secrets.write() {
            Ok(mut secrets) => {
                stale.extend(secrets.remove(secret).map(|s| s.server));
                match parsed {
                    Ok(Some(new)) => {
                        stale.push(new.server.clone());
                        secrets.insert(secret.to_string(), new);
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(_) => Ok(()),
        };
        let mut connected = self.connected.lock().await;
        for server in stale {
            connected.remove(&server);
        }
        outcome
    }

    /// Which cluster a destination means.
    pub fn resolve(&self, destination: &DestinationSpec) -> Result<Target, DestinationError> {
        let server = destination.server.as_deref().map(normalize_server).filter(|s| !s.is_empty());
        let name = destination.name.as_deref().filter(|n| !n.is_empty());
        let secrets = self.secrets.read().map_err(|_| DestinationError::Missing)?;
        let server = match (server, name) {
            (None, None) => return Err(DestinationError::Missing),
            (Some(server), Some(name)) => return Err(DestinationError::Both { server, name: name.to_string() }),
            (Some(server), None) => server,
            (None, Some(IN_CLUSTER_NAME)) => return Ok(Target::InCluster),
            (None, Some(name)) => match secrets.values().find(|s| s.name == name) {
                Some(secret) => secret.server.clone(),
                None => return Err(DestinationError::Unknown(format!("name {name}"))),
            },
        };
        if server == IN_CLUSTER {
            return Ok(Target::InCluster);
        }
        if secrets.values().any(|s| s.server == server) {
            Ok(Target::Server(server))
        } else {
            Err(DestinationError::Unknown(format!("server {server}")))
        }
    }

    /// The connection and live cache of another cluster, made on first use.
    pub async fn connect(&self, server: &str) -> Result<Arc<Destination>, DestinationError> {
        let mut connected = self.connected.lock().await;
        if let Some(existing) = connected.get(server) {
            return Ok(existing.clone());
        }
        let (secret, config) = {
            let found = self.secrets.read().ok().and_then(|secrets| {
                secrets.values().find(|s| s.server == server).map(|s| (s.secret.clone(), s.kubeconfig()))
            });
            match found {
                Some((secret, config)) => (secret, config),
                None => return Err(DestinationError::Unknown(format!("server {server}"))),
            }
        };
        let config = kube::Config::from_custom_kubeconfig(config?, &kube::config::KubeConfigOptions::default()).await.map_err(|e| {
            DestinationError::Invalid { secret: secret.clone(), server: server.to_string(), problem: format!("cannot build a client configuration: {e}") }
        })?;
        let cluster = Cluster::from_config(config)
            .await
            .map_err(|source| DestinationError::Connect { server: server.to_string(), secret: secret.clone(), source: Box::new(source) })?;
        tracing::info!(server, secret = %secret, "connected to destination cluster");
        let cache = LiveCache::new(cluster.client().clone(), self.drift.clone());
        let destination = Arc::new(Destination { cluster: Mutex::new(cluster), cache });
        connected.insert(server.to_string(), destination.clone());
        Ok(destination)
    }

    /// (requests, writes) sent to other clusters, for metrics.
    pub fn counters(&self) -> (usize, usize) {
        let Ok(connected) = self.connected.try_lock() else { return (0, 0) };
        connected.values().filter_map(|d| d.cluster.try_lock().ok().map(|c| (c.requests(), c.writes()))).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// Objects held in the live caches of other clusters, for metrics.
    pub fn cached_objects(&self) -> usize {
        self.connected.try_lock().map(|c| c.values().map(|d| d.cache.len()).sum()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn destination(server: Option<&str>, name: Option<&str>) -> DestinationSpec {
        DestinationSpec { server: server.map(Into::into), name: name.map(Into::into), namespace: None }
    }

    #[tokio::test]
    async fn destinations_resolve_by_server_or_name() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let destinations = Destinations::new(tx);
        let config = r#"{"bearerToken": "t0ken", "tlsClientConfig": {"insecure": false, "caData": "Q0E="}}"#;
        destinations
            .set_secret("prod", Some(&data(&[("name", "prod-oslo"), ("server", "https://prod.example:6443/"), ("config", config)])))
            .await
            .unwrap();
        let prod = Target::Server("https://prod.example:6443".into());
        assert_eq!(destinations.resolve(&destination(Some("https://prod.example:6443"), None)).unwrap(), prod);
        assert_eq!(destinations.resolve(&destination(None, Some("prod-oslo"))).unwrap(), prod);
        assert_eq!(destinations.resolve(&destination(Some(IN_CLUSTER), None)).unwrap(), Target::InCluster);
        assert_eq!(destinations.resolve(&destination(None, Some("in-cluster"))).unwrap(), Target::InCluster);
        let unknown = destinations.resolve(&destination(Some("https://staging.example:6443"), None)).unwrap_err();
        assert!(unknown.to_string().contains("https://staging.example:6443"), "{unknown}");
        let unknown = destinations.resolve(&destination(None, Some("staging-bergen"))).unwrap_err();
        assert!(unknown.to_string().contains("staging-bergen"), "{unknown}");
        assert!(matches!(destinations.resolve(&destination(None, None)), Err(DestinationError::Missing)));
        assert!(matches!(destinations.resolve(&destination(Some(IN_CLUSTER), Some("x"))), Err(DestinationError::Both { .. })));
        // A removed Secret takes its destination with it.
        destinations.set_secret("prod", None).await.unwrap();
        assert!(destinations.resolve(&destination(None, Some("prod-oslo"))).is_err());
    }

    #[test]
    fn secrets_never_show_their_credentials() {
        let config = r#"{"bearerToken": "s3cr3t-token", "tlsClientConfig": {"keyData": "a2V5"}}"#;
        let secret = ClusterSecret::parse("prod", &data(&[("server", "https://p:6443"), ("config", config)])).unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("a2V5"), "{shown}");
        let bad = ClusterSecret::parse("prod", &data(&[("server", "https://p:6443"), ("config", "{\"bearerToken\": 5}")])).unwrap_err();
        assert!(bad.to_string().contains("cluster Secret prod") && bad.to_string().contains("data.config"), "{bad}");
        let leaky = r#"{"tlsClientConfig": "s3cr3t-token"}"#;
        let bad = ClusterSecret::parse("prod", &data(&[("server", "https://p:6443"), ("config", leaky)])).unwrap_err();
        assert!(!bad.to_string().contains("s3cr3t"), "{bad}");
        assert!(ClusterSecret::parse("x", &data(&[("name", "x")])).is_err());
    }
}

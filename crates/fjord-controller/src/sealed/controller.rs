//! Watches SealedSecrets (and the Secrets they own, so a deleted one comes
//! back) and opens each into its Secret. A SealedSecret is worked on when
//! its spec changes, not when only its status does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::Duration;

use fjord_seal::{SealedSecret, UnsealOptions, unseal};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, PartialObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};

use super::keys::{KeyConfig, KeyError, Keys};
use super::secret::{Write, WriteError, plan};
use crate::events::{self, EventType};
use crate::queue::WorkQueue;

#[derive(Debug, Clone)]
pub struct SealedConfig {
    pub keys: KeyConfig,
    /// Namespaces whose SealedSecrets are opened; empty means all.
    pub namespaces: Vec<String>,
    pub workers: usize,
    /// Identity in events.
    pub identity: String,
    /// Attempts after a failure before waiting for the next change.
    pub max_retries: u32,
}

/// (uid, generation) of the last spec worked on.
type Seen = (String, i64);

pub struct SealedSecrets {
    client: kube::Client,
    config: SealedConfig,
    pub(crate) keys: Arc<Keys>,
    queue: Arc<WorkQueue>,
    store: RwLock<HashMap<String, Arc<DynamicObject>>>,
    attempted: StdMutex<HashMap<String, Seen>>,
    failures: StdMutex<HashMap<String, u32>>,
    unsealed: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
enum UnsealError {
    #[error("cannot read the SealedSecret: {0}")]
    Malformed(String),
    #[error(transparent)]
    Open(#[from] fjord_seal::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot write Secret {name:?}")]
    Api {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl UnsealError {
    fn reason(&self) -> &'static str {
        match self {
            UnsealError::Malformed(_) | UnsealError::Open(_) => "ErrUnsealFailed",
            UnsealError::Write(_) | UnsealError::Api { .. } => "ErrUpdateFailed",
        }
    }

    /// Waiting does not help an immutable Secret.
    fn retryable(&self) -> bool {
        !matches!(self, UnsealError::Write(WriteError::Immutable(_)))
    }
}

impl SealedSecrets {
    /// Loads the sealing keys, making the first one if there is none.
    pub async fn new(client: kube::Client, config: SealedConfig) -> Result<Arc<Self>, KeyError> {
        let keys = Keys::load(client.clone(), config.keys.clone()).await?;
        Ok(Arc::new(SealedSecrets {
            client,
            config,
            keys,
            queue: WorkQueue::new(),
            store: Default::default(),
            attempted: Default::default(),
            failures: Default::default(),
            unsealed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }))
    }

    /// Runs the watches, the workers and key renewal until the process ends.
    pub async fn run(self: Arc<Self>) {
        let this = self.clone();
        self.queue.spawn_workers(self.config.workers, move |key| {
            let this = this.clone();
            async move { this.work(&key).await }
        });
        tokio::spawn(self.keys.clone().renew());
        let scopes: Vec<Option<String>> = if self.config.namespaces.is_empty() {
            vec![None]
        } else {
            self.config.namespaces.iter().cloned().map(Some).collect()
        };
        let mut tasks = Vec::new();
        for namespace in scopes {
            let this = self.clone();
            let ns = namespace.clone();
            tasks.push(tokio::spawn(async move { this.watch_owned_secrets(ns).await }));
            let this = self.clone();
            tasks.push(tokio::spawn(async move { this.watch_sealed_secrets(namespace).await }));
        }
        futures::future::join_all(tasks).await;
    }

    fn sealed_api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = super::api_resource();
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    async fn watch_sealed_secrets(&self, namespace: Option<String>) {
        let mut stream = watcher::watcher(self.sealed_api(namespace.as_deref()), watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(obj) | Event::InitApply(obj)) => {
                    let Some(key) = key_of(&obj) else { continue };
                    let seen = seen_of(&obj);
                    if let Ok(mut store) = self.store.write() {
                        store.insert(key.clone(), Arc::new(obj));
                    }
                    let fresh = self.attempted.lock().map(|a| a.get(&key) != Some(&seen)).unwrap_or(true);
                    if fresh {
                        self.queue.enqueue(&key);
                    }
                }
                Ok(Event::Delete(obj)) => {
                    if let Some(key) = key_of(&obj) {
                        if let Ok(mut store) = self.store.write() {
                            store.remove(&key);
                        }
                        if let Ok(mut attempted) = self.attempted.lock() {
                            attempted.remove(&key);
                        }
                    }
                }
                Ok(Event::Init | Event::InitDone) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "watch of SealedSecrets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A Secret a SealedSecret controls that disappears is opened again.
    /// Only metadata is watched: Secret values never enter this process
    /// through the watch.
    async fn watch_owned_secrets(&self, namespace: Option<String>) {
        let api: Api<PartialObjectMeta<Secret>> = match namespace.as_deref() {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Delete(meta)) => {
                    let namespace = meta.metadata.namespace.clone().unwrap_or_default();
                    let owner = meta.metadata.owner_references.iter().flatten().find(|o| {
                        o.kind == super::KIND && o.api_version.starts_with(super::GROUP) && o.controller == Some(true)
                    });
                    if let Some(owner) = owner {
                        let key = format!("{namespace}/{}", owner.name);
                        if self.store.read().map(|s| s.contains_key(&key)).unwrap_or(false) {
                            tracing::info!(sealed_secret = %key, "owned Secret deleted; opening again");
                            self.queue.enqueue(&key);
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "watch of Secrets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn work(self: &Arc<Self>, key: &str) {
        let Some(obj) = self.store.read().ok().and_then(|s| s.get(key).cloned()) else { return };
        if let Ok(mut attempted) = self.attempted.lock() {
            attempted.insert(key.to_string(), seen_of(&obj));
        }
        let started = std::time::Instant::now();
        let result = self.open(&obj).await;
        let namespace = obj.metadata.namespace.as_deref().unwrap_or_default();
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        match &result {
            Ok(write) => {
                self.unsealed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut failures) = self.failures.lock() {
                    failures.remove(key);
                }
                tracing::info!(namespace, name, written = write, took_ms = started.elapsed().as_millis() as u64, "unsealed");
                if *write {
                    self.event(&obj, EventType::Normal, "Unsealed", "SealedSecret unsealed successfully").await;
                }
                self.set_status(&obj, None).await;
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let message = crate::error_chain(e);
                tracing::warn!(namespace, name, reason = e.reason(), error = %message, "cannot unseal");
                self.event(&obj, EventType::Warning, e.reason(), &message).await;
                self.set_status(&obj, Some((e.reason(), &message))).await;
                let attempt = self
                    .failures
                    .lock()
                    .map(|mut f| {
                        let n = f.entry(key.to_string()).or_insert(0);
                        *n += 1;
                        *n
                    })
                    .unwrap_or(u32::MAX);
                if e.retryable() && attempt <= self.config.max_retries {
                    // Rate-limited as upstream's queue: 5 ms doubling per failure.
                    self.queue.enqueue_after(key, Duration::from_millis(5u64 << attempt.min(16)));
                }
            }
        }
    }

    /// Opens the SealedSecret and writes its Secret; true when it wrote.
    async fn open(&self, obj: &DynamicObject) -> Result<bool, UnsealError> {
        let value = serde_json::to_value(obj).map_err(|e| UnsealError::Malformed(e.to_string()))?;
        let sealed: SealedSecret =
            serde_json::from_value(value).map_err(|e| UnsealError::Malformed(format!("line {} column {}", e.line(), e.column())))?;
        let opened = match unseal(&sealed, self.keys.ring().private_keys(), UnsealOptions::default()) {
            // Keys added since the last read (another replica's renewal, a
            // restored backup) open it without a restart.
            Err(_) if self.keys.reload().await.unwrap_or(false) => {
                unseal(&sealed, self.keys.ring().private_keys(), UnsealOptions::default())?
            }
            other => other?,
        };
        let name = opened.metadata.name.clone().unwrap_or_default();
        let namespace = opened.metadata.namespace.clone().unwrap_or_default();
        let desired: Secret = serde_json::to_value(&opened)
            .and_then(serde_json::from_value)
            // serde messages may quote the value, which is plaintext here.
            .map_err(|_| UnsealError::Malformed("the opened Secret is not a valid Secret".into()))?;
        drop(opened);
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let api_error = |source| UnsealError::Api { name: name.clone(), source };
        let existing = api.get_opt(&name).await.map_err(api_error)?;
        let owner_uid = obj.metadata.uid.as_deref().unwrap_or_default();
        match plan(desired, existing.as_ref(), owner_uid)? {
            Write::Create(secret) => api.create(&PostParams::default(), &secret).await.map(|_| true).map_err(api_error),
            Write::Replace(secret) => api.replace(&name, &PostParams::default(), &secret).await.map(|_| true).map_err(api_error),
            Write::Unchanged => Ok(false),
        }
    }

    /// Sets the `Synced` condition; writes only when something changed, and
    /// moves `lastTransitionTime` only when the status flips.
    async fn set_status(&self, obj: &DynamicObject, failure: Option<(&str, &str)>) {
        let (status, reason, message) = match failure {
            None => ("True", "Unsealed", ""),
            Some((reason, message)) => ("False", reason, message),
        };
        let generation = obj.metadata.generation.unwrap_or(0);
        let current = obj.data.get("status");
        let condition = current
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Synced")));
        let field = |name: &str| condition.and_then(|c| c.get(name)).and_then(Value::as_str).unwrap_or_default();
        let observed = current.and_then(|s| s.get("observedGeneration")).and_then(Value::as_i64);
        if field("status") == status && field("reason") == reason && field("message") == message && observed == Some(generation) {
            return;
        }
        let now = Timestamp::now().to_string();
        let transition = if field("status") == status && !field("lastTransitionTime").is_empty() {
            field("lastTransitionTime").to_string()
        } else {
            now.clone()
        };
        let patch = json!({"status": {
            "observedGeneration": generation,
            "conditions": [{
                "type": "Synced",
                "status": status,
                "reason": reason,
                "message": message,
                "lastUpdateTime": now,
                "lastTransitionTime": transition,
            }],
        }});
        let namespace = obj.metadata.namespace.as_deref().unwrap_or_default();
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        let api = self.sealed_api(Some(namespace));
        match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(updated) => {
                // Keep our own write, so the next run compares with it.
                if let (Some(key), Ok(mut store)) = (key_of(&updated), self.store.write()) {
                    store.insert(key, Arc::new(updated));
                }
            }
            Err(e) => tracing::warn!(namespace, name, error = %e, "cannot write the SealedSecret status"),
        }
    }

    async fn event(&self, obj: &DynamicObject, type_: EventType, reason: &str, note: &str) {
        let api_version = format!("{}/{}", super::GROUP, super::VERSION);
        let regarding = events::Regarding {
            api_version: &api_version,
            kind: super::KIND,
            namespace: obj.metadata.namespace.as_deref().unwrap_or_default(),
            name: obj.metadata.name.as_deref().unwrap_or_default(),
            uid: obj.metadata.uid.as_deref().unwrap_or_default(),
        };
        let reporter = events::Reporter { controller: "fjord.dev/sealed-secrets", instance: &self.config.identity };
        events::record(&self.client, reporter, regarding, events::Note { type_, reason, action: "Unseal", note }).await;
    }

    /// Metrics in the Prometheus text format.
    pub fn metrics(&self) -> String {
        format!(
            "# HELP fjord_sealed_secrets_unsealed_total SealedSecrets opened into their Secret.\n\
             # TYPE fjord_sealed_secrets_unsealed_total counter\nfjord_sealed_secrets_unsealed_total {}\n\
             # HELP fjord_sealed_secrets_errors_total SealedSecrets that could not be opened or written.\n\
             # TYPE fjord_sealed_secrets_errors_total counter\nfjord_sealed_secrets_errors_total {}\n\
             # HELP fjord_sealing_keys Sealing keys known to the controller.\n\
             # TYPE fjord_sealing_keys gauge\nfjord_sealing_keys {}\n",
            self.unsealed.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.keys.ring().len(),
        )
    }
}

fn key_of(obj: &DynamicObject) -> Option<String> {
    Some(format!("{}/{}", obj.metadata.namespace.as_deref()?, obj.metadata.name.as_deref()?))
}

fn seen_of(obj: &DynamicObject) -> Seen {
    (obj.metadata.uid.clone().unwrap_or_default(), obj.metadata.generation.unwrap_or(0))
}

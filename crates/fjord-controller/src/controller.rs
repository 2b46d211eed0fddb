//! The controller runtime: a store of Applications fed by a watch, a
//! de-duplicating work queue, workers, and the triggers that fill the queue
//! (Application changes, drift from the live cache, polling, webhooks).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::Duration;

use fjord_engine::cluster::Cluster;
use fjord_engine::manifest::Manifest;
use fjord_engine::ObjectId;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use crate::application;
use crate::cache::LiveCache;
use crate::destinations::{CLUSTER_SECRET_TYPE, Destinations};
use crate::reconcile::AppMemory;
use crate::repos::Repositories;

#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Where Applications live (Argo CD's `argocd` by default).
    pub namespace: String,
    pub repo_cache: PathBuf,
    pub poll_interval: Duration,
    /// Reconciles that run at once.
    pub workers: usize,
    /// Identity in events and the leader lease.
    pub identity: String,
}

/// (commit, source spec as JSON): a render is a pure function of these.
type RenderKey = (String, String);
/// The rendered manifests and the source type (Kustomize or Directory).
pub(crate) type RenderedSource = (Arc<Vec<Manifest>>, &'static str);

pub struct Controller {
    pub(crate) config: ControllerConfig,
    pub(crate) client: kube::Client,
    cluster: Mutex<Cluster>,
    pub(crate) cache: LiveCache,
    /// Clusters other than this one, from Argo CD cluster Secrets.
    pub(crate) destinations: Destinations,
    pub(crate) repos: Repositories,
    apps: RwLock<HashMap<String, Arc<Value>>>,
    pub(crate) renders: Mutex<HashMap<RenderKey, RenderedSource>>,
    /// (app, object) → (desired hash, live resourceVersion) last found in sync.
    pub(crate) memo: Mutex<HashMap<(String, ObjectId), (u64, String)>>,
    pub(crate) memory: StdMutex<HashMap<String, AppMemory>>,
    queue: mpsc::UnboundedSender<String>,
    queue_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    queued: StdMutex<HashSet<String>>,
    running: StdMutex<HashMap<String, bool>>,
    drift_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

impl Controller {
    pub async fn new(cluster: Cluster, config: ControllerConfig) -> Result<Arc<Self>, crate::repos::RepoError> {
        let client = cluster.client().clone();
        let (drift_tx, drift_rx) = mpsc::unbounded_channel();
        let (queue, queue_rx) = mpsc::unbounded_channel();
        Ok(Arc::new(Controller {
            repos: Repositories::new(config.repo_cache.clone(), config.poll_interval)?,
            cache: LiveCache::new(client.clone(), drift_tx.clone()),
            destinations: Destinations::new(drift_tx),
            cluster: Mutex::new(cluster),
            client,
            config,
            apps: Default::default(),
            renders: Default::default(),
            memo: Default::default(),
            memory: Default::default(),
            queue,
            queue_rx: Mutex::new(Some(queue_rx)),
            queued: Default::default(),
            running: Default::default(),
            drift_rx: Mutex::new(Some(drift_rx)),
        }))
    }

    /// Runs until the Application watch ends (it retries on its own).
    pub async fn run(self: Arc<Self>) {
        let workers = self.config.workers.max(1);
        let rx = Arc::new(Mutex::new(self.queue_rx.lock().await.take()));
        for _ in 0..workers {
            let this = self.clone();
            let rx = rx.clone();
            tokio::spawn(async move { this.work(rx).await });
        }
        if let Some(mut drift) = self.drift_rx.lock().await.take() {
            let this = self.clone();
            tokio::spawn(async move {
                while let Some(app) = drift.recv().await {
                    if this.app(&app).is_some() {
                        this.enqueue(&app);
                    }
                }
            });
        }
        let poller = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poller.config.poll_interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                for app in poller.app_names() {
                    poller.enqueue(&app);
                }
            }
        });
        let secrets = self.clone();
        tokio::spawn(async move { secrets.watch_repository_secrets().await });
        let clusters = self.clone();
        tokio::spawn(async move { clusters.watch_cluster_secrets().await });
        self.watch_applications().await;
    }

    /// Keeps repository credentials current from the Secrets labelled
    /// `argocd.argoproj.io/secret-type: repository|repo-creds`.
    async fn watch_repository_secrets(&self) {
        use k8s_openapi::api::core::v1::Secret;
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.config.namespace);
        let config = watcher::Config::default().labels("argocd.argoproj.io/secret-type in (repository,repo-creds)");
        let mut stream = watcher::watcher(api, config).boxed();
        let decode = |s: &Secret| -> std::collections::BTreeMap<String, String> {
            let mut data: std::collections::BTreeMap<String, String> = s
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).to_string()))
                .collect();
            data.extend(s.string_data.clone().unwrap_or_default());
            data
        };
        while let Some(event) = stream.next().await {
            let (secret, present) = match event {
                Ok(Event::Apply(s) | Event::InitApply(s)) => (s, true),
                Ok(Event::Delete(s)) => (s, false),
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "watch of repository Secrets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let name = secret.metadata.name.clone().unwrap_or_default();
            let labels = secret.metadata.labels.clone().unwrap_or_default();
            let data = present.then(|| decode(&secret));
            if let Some(problem) = self.repos.set_secret(&name, &labels, data.as_ref()) {
                tracing::warn!(secret = %name, problem, "ignoring a repository Secret");
            }
        }
    }

    /// Keeps the destination clusters current from the Secrets labelled
    /// `argocd.argoproj.io/secret-type: cluster`. A change wakes every
    /// application: one waiting for an unknown destination may now have it.
    async fn watch_cluster_secrets(&self) {
        use k8s_openapi::api::core::v1::Secret;
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.config.namespace);
        let config = watcher::Config::default().labels(&format!("argocd.argoproj.io/secret-type={CLUSTER_SECRET_TYPE}"));
        let mut stream = watcher::watcher(api, config).boxed();
        while let Some(event) = stream.next().await {
            let (secret, present) = match event {
                Ok(Event::Apply(s) | Event::InitApply(s)) => (s, true),
                Ok(Event::Delete(s)) => (s, false),
                Ok(Event::InitDone) => {
                    for app in self.app_names() {
                        self.enqueue(&app);
                    }
                    continue;
                }
                Ok(Event::Init) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "watch of cluster Secrets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let name = secret.metadata.name.clone().unwrap_or_default();
            let data = present.then(|| secret_data(&secret));
            if let Err(e) = self.destinations.set_secret(&name, data.as_ref()).await {
                tracing::warn!(secret = %name, error = %e, "ignoring a cluster Secret");
            }
            for app in self.app_names() {
                self.enqueue(&app);
            }
        }
    }

    async fn watch_applications(&self) {
        let api: Api<DynamicObject> = self.app_api();
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        let mut relist: Option<HashMap<String, Arc<Value>>> = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => relist = Some(HashMap::new()),
                Ok(Event::InitApply(obj)) => {
                    if let (Some(buffer), Some((name, value))) = (relist.as_mut(), named(obj)) {
                        buffer.insert(name, Arc::new(value));
                    }
                }
                Ok(Event::InitDone) => {
                    let fresh = relist.take().unwrap_or_default();
                    let names: Vec<String> = fresh.keys().cloned().collect();
                    if let Ok(mut apps) = self.apps.write() {
                        *apps = fresh;
                    }
                    for name in names {
                        self.enqueue(&name);
                    }
                }
                Ok(Event::Apply(obj)) => {
                    if let Some((name, value)) = named(obj) {
                        let changed = self.store_app(&name, value);
                        if changed {
                            self.enqueue(&name);
                        }
                    }
                }
                Ok(Event::Delete(obj)) => {
                    if let Some((name, _)) = named(obj)
                        && let Ok(mut apps) = self.apps.write() {
                            apps.remove(&name);
                        }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "watch of Applications failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Stores an Application; true when more than its status changed, so
    /// our own status writes do not wake it again.
    fn store_app(&self, name: &str, value: Value) -> bool {
        let Ok(mut apps) = self.apps.write() else { return true };
        let changed = apps.get(name).is_none_or(|old| without_status(old) != without_status(&value));
        if apps.get(name).is_none_or(|old| resource_version(old) <= resource_version(&value)) {
            apps.insert(name.to_string(), Arc::new(value));
        }
        changed
    }

    /// Stores our own write's result without waking the app.
    pub(crate) fn remember_app(&self, name: &str, value: Value) {
        if let Ok(mut apps) = self.apps.write() {
            let newer = apps.get(name).is_none_or(|old| resource_version(old) <= resource_version(&value));
            if newer {
                apps.insert(name.to_string(), Arc::new(value));
            }
        }
    }

    pub(crate) fn app(&self, name: &str) -> Option<Arc<Value>> {
        self.apps.read().ok()?.get(name).cloned()
    }

    pub(crate) fn apps_len(&self) -> usize {
        self.apps.read().map(|a| a.len()).unwrap_or(0)
    }

    fn app_names(&self) -> Vec<String> {
        self.apps.read().map(|a| a.keys().cloned().collect()).unwrap_or_default()
    }

    /// Queues a reconcile; a name already queued is not queued twice, and
    /// one that is running runs once more when it finishes.
    pub fn enqueue(&self, name: &str) {
        if let Ok(mut running) = self.running.lock()
            && let Some(again) = running.get_mut(name) {
                *again = true;
                return;
            }
        let fresh = self.queued.lock().map(|mut q| q.insert(name.to_string())).unwrap_or(true);
        if fresh {
            let _ = self.queue.send(name.to_string());
        }
    }

    pub(crate) fn requeue_after(&self, name: &str, after: Duration) {
        let queue = self.queue.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = queue.send(name);
        });
    }

    /// Marks every Application of a repository for an immediate refresh.
    pub async fn refresh_repository(&self, matches: impl Fn(&str) -> bool) -> usize {
        let mut woken = 0;
        let apps: Vec<(String, Arc<Value>)> =
            self.apps.read().map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        for (name, app) in apps {
            let spec = application::ApplicationSpec::from_object(&app).unwrap_or_default();
            if let Some(source) = spec.single_source()
                && matches(&source.repo_url) {
                    self.repos.invalidate(&source.repo_url).await;
                    self.enqueue(&name);
                    woken += 1;
                }
        }
        woken
    }

    async fn work(self: Arc<Self>, rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>) {
        loop {
            let next = {
                let mut guard = rx.lock().await;
                match guard.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => None,
                }
            };
            let Some(name) = next else { return };
            if let Ok(mut q) = self.queued.lock() {
                q.remove(&name);
            }
            let busy = self.running.lock().map(|mut r| {
                if let Some(again) = r.get_mut(&name) {
                    *again = true;
                    true
                } else {
                    r.insert(name.clone(), false);
                    false
                }
            });
            if busy.unwrap_or(true) {
                continue;
            }
            self.reconcile(&name).await;
            let again = self.running.lock().ok().and_then(|mut r| r.remove(&name)).unwrap_or(false);
            if again {
                self.enqueue(&name);
            }
        }
    }

    pub(crate) async fn cluster(&self) -> Cluster {
        self.cluster.lock().await.clone()
    }

    pub(crate) async fn set_cluster(&self, cluster: Cluster) {
        *self.cluster.lock().await = cluster;
    }

    /// Metrics in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let local = self.cluster.try_lock().map(|c| (c.requests(), c.writes())).unwrap_or((0, 0));
        let remote = self.destinations.counters();
        let cluster = (local.0 + remote.0, local.1 + remote.1);
        format!(
            "# HELP fjord_api_requests_total Requests sent to the API server, watches included.\n\
             # TYPE fjord_api_requests_total counter\nfjord_api_requests_total {}\n\
             # HELP fjord_api_writes_total Applies and deletes sent to the API server (dry runs excluded).\n\
             # TYPE fjord_api_writes_total counter\nfjord_api_writes_total {}\n\
             # HELP fjord_cached_objects Live objects held in the cache.\n\
             # TYPE fjord_cached_objects gauge\nfjord_cached_objects {}\n\
             # HELP fjord_applications Applications known to the controller.\n\
             # TYPE fjord_applications gauge\nfjord_applications {}\n",
            cluster.0,
            cluster.1,
            self.cache.len() + self.destinations.cached_objects(),
            self.apps_len()
        )
    }
}

/// A Secret's data, decoded, with `stringData` over it.
fn secret_data(secret: &k8s_openapi::api::core::v1::Secret) -> std::collections::BTreeMap<String, String> {
    let mut data: std::collections::BTreeMap<String, String> =
        secret.data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).to_string())).collect();
    data.extend(secret.string_data.clone().unwrap_or_default());
    data
}

fn named(obj: DynamicObject) -> Option<(String, Value)> {
    let name = obj.metadata.name.clone()?;
    Some((name, serde_json::to_value(obj).ok()?))
}

/// resourceVersions are opaque strings, but etcd's are increasing integers;
/// compare them as numbers where they are.
fn resource_version(v: &Value) -> u64 {
    v.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn without_status(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("managedFields");
        }
    }
    v
}

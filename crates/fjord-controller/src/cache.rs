//! The live cache: one watch per managed kind, shared by every application.
//!
//! A comparison reads memory, not the API server. Every change that arrives
//! on a watch is drift for the application whose tracking id the object
//! carries, and wakes exactly that application.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fjord_engine::ObjectId;
use fjord_engine::cluster::Kind;
use fjord_engine::tracking::{self, Owner};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, watch};

/// (group, kind): one watch per kind, whatever version manifests use.
type KindKey = (String, String);

#[derive(Default)]
struct State {
    objects: HashMap<ObjectId, Arc<Value>>,
    /// Application name → the ids it owns, by tracking annotation.
    owned: HashMap<String, HashMap<ObjectId, KindKey>>,
    kinds: HashMap<KindKey, Kind>,
}

impl State {
    fn insert(&mut self, id: ObjectId, object: Value) -> Option<String> {
        let app = match tracking::owner_of(&object) {
            Owner::App(app) => Some(app),
            Owner::Nobody => None,
        };
        if let Some(app) = &app {
            self.owned.entry(app.clone()).or_default().insert(id.clone(), (id.group.clone(), id.kind.clone()));
        }
        if let Some(previous) = self.objects.insert(id.clone(), Arc::new(object))
            && let Owner::App(old) = tracking::owner_of(&previous)
                && Some(&old) != app.as_ref() {
                    self.disown(&old, &id);
                }
        app
    }

    fn remove(&mut self, id: &ObjectId) -> Option<String> {
        let previous = self.objects.remove(id)?;
        match tracking::owner_of(&previous) {
            Owner::App(app) => {
                self.disown(&app, id);
                Some(app)
            }
            Owner::Nobody => None,
        }
    }

    fn disown(&mut self, app: &str, id: &ObjectId) {
        if let Some(ids) = self.owned.get_mut(app) {
            ids.remove(id);
            if ids.is_empty() {
                self.owned.remove(app);
            }
        }
    }
}

#[derive(Clone)]
pub struct LiveCache {
    client: kube::Client,
    state: Arc<RwLock<State>>,
    /// Kinds being watched; the receiver turns true once the first list is in.
    watches: Arc<Mutex<HashMap<KindKey, watch::Receiver<bool>>>>,
    drift: mpsc::UnboundedSender<String>,
}

impl LiveCache {
    /// A cache that reports the application owning each changed object on
    /// `drift`.
    pub fn new(client: kube::Client, drift: mpsc::UnboundedSender<String>) -> Self {
        LiveCache { client, state: Default::default(), watches: Default::default(), drift }
    }

    /// Starts watching a kind cluster-wide unless already watched, and waits
    /// until its first full list is in the cache.
    pub async fn ensure_watched(&self, kind: &Kind) {
        let key = (kind.resource.group.clone(), kind.resource.kind.clone());
        let mut ready = {
            let mut watches = self.watches.lock().await;
            match watches.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(false);
                    watches.insert(key.clone(), rx.clone());
                    if let Ok(mut state) = self.state.write() {
                        state.kinds.insert(key.clone(), kind.clone());
                    }
                    tokio::spawn(self.clone().run_watch(kind.clone(), tx));
                    rx
                }
            }
        };
        // A closed channel means the watch task ended; there is nothing to wait for.
        let _ = ready.wait_for(|r| *r).await;
    }

    pub fn get(&self, id: &ObjectId) -> Option<Arc<Value>> {
        self.state.read().ok()?.objects.get(id).cloned()
    }

    /// Every live object the application owns, with its kind.
    pub fn owned_by(&self, app: &str) -> Vec<(ObjectId, Kind)> {
        let Ok(state) = self.state.read() else { return Vec::new() };
        let Some(ids) = state.owned.get(app) else { return Vec::new() };
        let mut out: Vec<(ObjectId, Kind)> =
            ids.iter().filter_map(|(id, key)| state.kinds.get(key).map(|k| (id.clone(), k.clone()))).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Objects held, for metrics and tests.
    pub fn len(&self) -> usize {
        self.state.read().map(|s| s.objects.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn run_watch(self, kind: Kind, ready: watch::Sender<bool>) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &kind.resource);
        let group = kind.resource.group.clone();
        let kind_name = kind.resource.kind.clone();
        let mut stream = watcher::watcher(api, watcher::Config::default().any_semantic()).boxed();
        let mut relist: Option<HashMap<ObjectId, Value>> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    // The watcher retries on its own; note it and carry on.
                    tracing::warn!(group = %group, kind = %kind_name, error = %e, "watch error");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            match event {
                Event::Init => relist = Some(HashMap::new()),
                Event::InitApply(obj) => {
                    if let (Some(buffer), Some((id, value))) = (relist.as_mut(), identify(obj, &group, &kind_name)) {
                        buffer.insert(id, value);
                    }
                }
                Event::InitDone => {
                    let fresh = relist.take().unwrap_or_default();
                    let woken = self.replace_kind(&group, &kind_name, fresh);
                    for app in woken {
                        let _ = self.drift.send(app);
                    }
                    let _ = ready.send(true);
                }
                Event::Apply(obj) => {
                    if let Some((id, value)) = identify(obj, &group, &kind_name) {
                        let app = self.state.write().ok().and_then(|mut s| s.insert(id, value));
                        if let Some(app) = app {
                            let _ = self.drift.send(app);
                        }
                    }
                }
                Event::Delete(obj) => {
                    if let Some((id, _)) = identify(obj, &group, &kind_name) {
                        let app = self.state.write().ok().and_then(|mut s| s.remove(&id));
                        if let Some(app) = app {
                            let _ = self.drift.send(app);
                        }
                    }
                }
            }
        }
    }

    /// Swaps in a fresh list of one kind; returns the applications whose
    /// objects changed meanwhile.
    fn replace_kind(&self, group: &str, kind: &str, fresh: HashMap<ObjectId, Value>) -> Vec<String> {
        let Ok(mut state) = self.state.write() else { return Vec::new() };
        let stale: Vec<ObjectId> =
            state.objects.keys().filter(|id| id.group == group && id.kind == kind && !fresh.contains_key(*id)).cloned().collect();
        let mut woken = Vec::new();
        for id in stale {
            woken.extend(state.remove(&id));
        }
        for (id, value) in fresh {
            let unchanged = state.objects.get(&id).is_some_and(|old| resource_version(old) == resource_version(&value));
            if !unchanged {
                woken.extend(state.insert(id, value));
            }
        }
        woken.sort();
        woken.dedup();
        woken
    }
}

fn resource_version(v: &Value) -> Option<&str> {
    v.pointer("/metadata/resourceVersion").and_then(Value::as_str)
}

/// Turns a watched object into its id and a trimmed value. managedFields
/// are dropped: they are large and comparisons never read them.
fn identify(obj: DynamicObject, group: &str, kind: &str) -> Option<(ObjectId, Value)> {
    let name = obj.metadata.name.clone()?;
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let mut value = serde_json::to_value(obj).ok()?;
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    if let Some(map) = value.as_object_mut() {
        // Watch objects may lack their type; identity and tracking need it.
        map.entry("kind").or_insert_with(|| Value::String(kind.to_string()));
    }
    Some((ObjectId { group: group.to_string(), kind: kind.to_string(), namespace, name }, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, app: Option<&str>, rv: &str) -> (ObjectId, Value) {
        let id = ObjectId { group: "".into(), kind: "ConfigMap".into(), namespace: "p".into(), name: name.into() };
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "p", "resourceVersion": rv}});
        if let Some(app) = app {
            v["metadata"]["annotations"] = json!({tracking::TRACKING_ANNOTATION: tracking::tracking_id(app, &id)});
        }
        (id, v)
    }

    #[test]
    fn ownership_index_follows_inserts_and_removals() {
        let mut state = State::default();
        let (id, v) = cm("a", Some("shop"), "1");
        assert_eq!(state.insert(id.clone(), v), Some("shop".into()));
        assert!(state.owned["shop"].contains_key(&id));
        // Ownership moves: the old app no longer owns it.
        let (_, v) = cm("a", Some("other"), "2");
        state.insert(id.clone(), v);
        assert!(!state.owned.contains_key("shop"));
        assert_eq!(state.remove(&id), Some("other".into()));
        assert!(state.owned.is_empty());
        let (id, v) = cm("b", None, "1");
        assert_eq!(state.insert(id.clone(), v), None);
        assert_eq!(state.remove(&id), None);
    }
}

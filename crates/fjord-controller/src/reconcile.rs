//! One reconcile of one Application: source, render, compare with the live
//! cache, sync when the policy says so, then status, history and events.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_engine::cluster::{Cluster, Kind};
use fjord_engine::manifest::Manifest;
use fjord_engine::object::str_at;
use fjord_engine::sync::{self as engine_sync, Outcome, SyncError, SyncOptions};
use fjord_engine::{ObjectId, compare, tracking};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::application::{self, ApplicationSpec, IN_CLUSTER, RESOURCES_FINALIZER, SourceSpec};
use crate::controller::Controller;
use crate::drift;
use crate::events::{self, EventType};
use crate::health::{self, Health};
use crate::render;
use crate::status::{self, Condition, HealthStatus, ResourceStatus};

/// Annotation that asks for an immediate refresh from Git, as Argo CD's.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// Per-object sync options, as Argo CD's (`Prune=false`, `Delete=false`).
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";

/// Self-heal backoff when another writer keeps changing an object.
const HEAL_BACKOFF_BASE: Duration = Duration::from_secs(2);
const HEAL_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Heals closer together than this count as a fight.
const HEAL_FIGHT_WINDOW: Duration = Duration::from_secs(10);

/// What the controller remembers about an app between reconciles.
#[derive(Default)]
pub struct AppMemory {
    heals: u32,
    last_heal: Option<Instant>,
    retries: u32,
    next_retry: Option<Instant>,
}

/// Why a sync runs; recorded in history and events.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Trigger {
    Automated,
    SelfHeal,
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Automated => "automated",
            Trigger::SelfHeal => "self-heal",
            Trigger::Manual => "manual",
        }
    }
}

struct Desired {
    id: ObjectId,
    version: String,
    kind: Option<Kind>,
    object: Value,
    hash: u64,
}

struct Compared {
    resources: Vec<ResourceStatus>,
    out_of_sync: bool,
    prune: Vec<(ObjectId, Kind)>,
    conditions: Vec<Condition>,
}

impl Controller {
    pub(crate) async fn reconcile(&self, name: &str) {
        let Some(app) = self.app(name) else { return };
        let started = Instant::now();
        // Boxed as Send here, where the lifetimes are concrete, so the
        // workers can spawn it.
        let fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> =
            Box::pin(self.reconcile_app(name, &app));
        let outcome = fut.await;
        tracing::debug!(app = name, elapsed_ms = started.elapsed().as_millis() as u64, ?outcome, "reconciled");
    }

    async fn reconcile_app(&self, name: &str, app: &Value) -> Result<(), String> {
        let previous = app.get("status").cloned().unwrap_or_else(|| json!({}));
        if app.pointer("/metadata/deletionTimestamp").is_some() {
            return self.finalize(name, app).await;
        }
        let spec = match ApplicationSpec::from_object(app) {
            Ok(spec) => spec,
            Err(e) => {
                let c = Condition::new(status::INVALID_SPEC_ERROR, format!("spec: {e}"));
                return self.write_error_status(name, &previous, vec![c]).await;
            }
        };
        let mut conditions = Vec::new();
        let unsupported = spec.unsupported();
        if !unsupported.is_empty() {
            conditions.push(Condition::new(
                status::UNSUPPORTED_FIELD_WARNING,
                format!("kept but not acted on yet: {}", unsupported.join(", ")),
            ));
        }
        if let Some(problem) = destination_problem(&spec) {
            conditions.push(Condition::new(status::INVALID_SPEC_ERROR, problem));
            return self.write_error_status(name, &previous, conditions).await;
        }
        let Some(source) = spec.single_source().cloned() else {
            conditions.push(Condition::new(status::INVALID_SPEC_ERROR, "spec.source is required (several spec.sources are not supported yet)"));
            return self.write_error_status(name, &previous, conditions).await;
        };

        let refresh = app.pointer("/metadata/annotations").and_then(|a| a.get(REFRESH_ANNOTATION)).is_some();
        let operation = app.get("operation").filter(|o| !o.is_null()).cloned();
        let commit = match self.repos.resolve(&source.repo_url, source.revision(), refresh || operation.is_some()).await {
            Ok(c) => c,
            Err(e) => {
                conditions.push(Condition::new(status::COMPARISON_ERROR, e.to_string()));
                return self.write_error_status(name, &previous, conditions).await;
            }
        };
        if refresh {
            // A refresh is a one-off request, as in Argo CD: take it away once served.
            let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}});
            if let Ok(updated) = self.app_api().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await
                && let Ok(value) = serde_json::to_value(updated) {
                    self.remember_app(name, value);
                }
        }
        let (manifests, source_type) = match self.render(&source, &commit).await {
            Ok(r) => r,
            Err(e) => {
                conditions.push(Condition::new(status::COMPARISON_ERROR, format!("revision {}: {e}", short(&commit))));
                return self.write_error_status(name, &previous, conditions).await;
            }
        };

        let namespace = spec.destination.namespace.clone().unwrap_or_else(|| "default".to_string());
        let mut cluster = self.cluster().await;
        let desired = self.desired(&mut cluster, name, &manifests, &namespace).await;
        self.watch_previous_kinds(&cluster, &previous).await;
        let mut compared = self.compare(&cluster, name, &spec, &desired).await;
        conditions.append(&mut compared.conditions);

        // Sync when asked to, or when the policy says so.
        let synced_revision = previous.pointer("/operationState/syncResult/revision").and_then(Value::as_str).unwrap_or_default();
        let new_revision = synced_revision != commit;
        let trigger = if operation.is_some() {
            Some(Trigger::Manual)
        } else if let Some(auto) = spec.automated() {
            let needs = compared.out_of_sync || (auto.prune && !compared.prune.is_empty());
            match (needs, new_revision, auto.self_heal) {
                (false, _, _) => None,
                (true, true, _) => Some(Trigger::Automated),
                (true, false, true) => Some(Trigger::SelfHeal),
                (true, false, false) => None,
            }
        } else {
            None
        };

        let mut operation_state = previous.get("operationState").cloned();
        let mut history = previous.get("history").cloned();
        if let Some(trigger) = trigger {
            match self.heal_gate(name, trigger) {
                Some(wait) => conditions.push(Condition::new(
                    status::SELF_HEAL_BACKOFF,
                    format!("another writer keeps changing this application's objects; next self-heal in {} s", wait.as_secs()),
                )),
                None => {
                    let prune = match trigger {
                        Trigger::Manual => operation.as_ref().and_then(|o| o.pointer("/sync/prune")).and_then(Value::as_bool).unwrap_or(false)
                            || spec.automated().is_some_and(|a| a.prune),
                        _ => spec.automated().is_some_and(|a| a.prune),
                    };
                    let allow_empty = spec.automated().is_some_and(|a| a.allow_empty);
                    let result = if desired.is_empty() && !compared.prune.is_empty() && prune && !allow_empty {
                        Err("refusing to sync: the revision declares no objects and would delete everything (allowEmpty is false)".to_string())
                    } else {
                        self.sync(&mut cluster, name, &spec, &manifests, &namespace, if prune { &compared.prune } else { &[] }).await
                    };
                    let now = status::now();
                    let started_at = now.clone();
                    let initiated_by = match trigger {
                        Trigger::Manual => operation.as_ref().and_then(|o| o.get("initiatedBy")).cloned().unwrap_or_else(|| json!({"username": "unknown"})),
                        _ => json!({"automated": true}),
                    };
                    match result {
                        Ok(results) => {
                            self.forget_retries(name);
                            let wrote = results.iter().any(|(_, o, _)| *o != Outcome::Unchanged);
                            self.count_heal(name, trigger, wrote);
                            let message = format!("successfully synced (trigger: {})", trigger.as_str());
                            operation_state = Some(operation_state_value("Succeeded", &message, &started_at, &now, &commit, &source, &results, &initiated_by, operation.as_ref()));
                            let id = status::next_history_id(&previous);
                            let entry = status::history_entry(id, &commit, &now, &source, &started_at, &initiated_by);
                            history = Some(Value::Array(status::push_history(&previous, entry, spec.history_limit())));
                            self.event(app, EventType::Normal, "OperationCompleted", &format!(
                                "Sync to {} succeeded (trigger: {}): {}", short(&commit), trigger.as_str(), summarize(&results))).await;
                            // The objects now match Git; the watch events this sync caused will confirm it.
                            for r in &mut compared.resources {
                                if !r.requires_pruning {
                                    r.status = status::SYNCED.into();
                                }
                            }
                            if prune {
                                compared.resources.retain(|r| !r.requires_pruning);
                            }
                            compared.out_of_sync = compared.resources.iter().any(|r| r.status != status::SYNCED);
                        }
                        Err(message) => {
                            conditions.push(Condition::new(status::SYNC_ERROR, message.clone()));
                            operation_state = Some(operation_state_value("Failed", &message, &started_at, &now, &commit, &source, &[], &initiated_by, operation.as_ref()));
                            self.event(app, EventType::Warning, "OperationFailed", &format!(
                                "Sync to {} failed (trigger: {}): {message}", short(&commit), trigger.as_str())).await;
                            self.schedule_retry(name, &spec);
                        }
                    }
                    if operation.is_some() {
                        self.clear_operation(name).await;
                    }
                }
            }
        }

        let healths: Vec<Health> = desired
            .iter()
            .map(|d| health::assess(self.cache.get(&d.id).as_deref()).0)
            .collect();
        let app_health = health::aggregate(healths);
        let now = status::now();
        let mut new_status = json!({
            "sync": {
                "status": if compared.out_of_sync { status::OUT_OF_SYNC } else { status::SYNCED },
                "revision": commit,
                "comparedTo": {"source": source, "destination": spec.destination},
            },
            "health": {"status": app_health.as_str()},
            "resources": compared.resources,
            "sourceType": source_type,
            "conditions": status::stamp_conditions(conditions, &previous, &now),
            "reconciledAt": now,
        });
        if let Some(op) = operation_state {
            new_status["operationState"] = op;
        }
        if let Some(h) = history {
            new_status["history"] = h;
        }
        self.write_status(name, &previous, new_status).await
    }

    /// Renders a source at a commit; the result is cached by its inputs.
    async fn render(&self, source: &SourceSpec, commit: &str) -> Result<(Arc<Vec<Manifest>>, &'static str), String> {
        let key = (commit.to_string(), serde_json::to_string(source).unwrap_or_default());
        if let Some(hit) = self.renders.lock().await.get(&key) {
            return Ok(hit.clone());
        }
        let tree = self.repos.checkout(&source.repo_url, commit).await.map_err(|e| e.to_string())?;
        let source_owned = source.clone();
        let rendered = tokio::task::spawn_blocking(move || render::render(&tree, &source_owned))
            .await
            .map_err(|e| format!("render task failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let value = (Arc::new(rendered.manifests), rendered.source_type);
        let mut renders = self.renders.lock().await;
        // Old revisions are not needed once a newer one renders; keep the cache bounded.
        if renders.len() > 4 * self.apps_len().max(16) {
            renders.clear();
        }
        renders.insert(key, value.clone());
        Ok(value)
    }

    /// The objects as they will be applied, each with its kind watched.
    async fn desired(&self, cluster: &mut Cluster, app: &str, manifests: &[Manifest], namespace: &str) -> Vec<Desired> {
        let mut out = Vec::with_capacity(manifests.len());
        let mut rediscovered = false;
        for m in manifests {
            let api_version = str_at(&m.object, "/apiVersion");
            let kind_name = str_at(&m.object, "/kind");
            let mut kind = cluster.resolve(api_version, kind_name).cloned();
            if kind.is_none() && !rediscovered {
                // A CRD may have been added since the last discovery.
                rediscovered = true;
                if cluster.discover().await.is_ok() {
                    self.set_cluster(cluster.clone()).await;
                    kind = cluster.resolve(api_version, kind_name).cloned();
                }
            }
            let namespaced = kind.as_ref().map(|k| k.namespaced).unwrap_or(true);
            let mut object = m.object.clone();
            engine_sync::set_namespace(&mut object, namespaced, namespace);
            let id = ObjectId::from_object(&object);
            tracking::mark(&mut object, app, &id);
            compare::stamp_manifest_hash(&mut object);
            if let Some(kind) = &kind {
                self.cache.ensure_watched(kind).await;
            }
            let version = api_version.rsplit('/').next().unwrap_or(api_version).to_string();
            out.push(Desired { hash: hash_value(&object), id, version, kind, object });
        }
        out
    }

    /// Kinds this app managed before (from its last status) stay watched, so
    /// objects of a kind that left Git entirely are still found for pruning.
    async fn watch_previous_kinds(&self, cluster: &Cluster, previous: &Value) {
        let Some(resources) = previous.get("resources").and_then(Value::as_array) else { return };
        let mut seen = HashSet::new();
        for r in resources {
            let (group, version, kind) = (str_at(r, "/group"), str_at(r, "/version"), str_at(r, "/kind"));
            if !seen.insert((group, kind)) {
                continue;
            }
            let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            if let Some(k) = cluster.resolve(&api_version, kind) {
                self.cache.ensure_watched(k).await;
            }
        }
    }

    async fn compare(&self, cluster: &Cluster, app: &str, spec: &ApplicationSpec, desired: &[Desired]) -> Compared {
        let mut resources = Vec::with_capacity(desired.len());
        let mut conditions = Vec::new();
        let mut out_of_sync = false;
        let mut shared = Vec::new();
        for d in desired {
            let live = self.cache.get(&d.id);
            let ignored = ignored_pointers(spec, &d.id);
            let in_sync = match (&live, &d.kind) {
                (Some(live), Some(kind)) => {
                    if let Owner::Other(owner) = owner(live, app) {
                        shared.push(format!("{} is also managed by {owner}", d.id));
                    }
                    self.in_sync(cluster, app, d, kind, live, &ignored).await
                }
                _ => false,
            };
            out_of_sync |= !in_sync;
            let (h, message) = health::assess(live.as_deref());
            resources.push(ResourceStatus {
                group: d.id.group.clone(),
                version: d.version.clone(),
                kind: d.id.kind.clone(),
                namespace: d.id.namespace.clone(),
                name: d.id.name.clone(),
                status: if in_sync { status::SYNCED } else { status::OUT_OF_SYNC }.into(),
                health: HealthStatus { status: h.as_str().into(), message },
                requires_pruning: false,
            });
        }
        if !shared.is_empty() {
            conditions.push(Condition::new(status::SHARED_RESOURCE_WARNING, shared.join("; ")));
        }
        let wanted: HashSet<&ObjectId> = desired.iter().map(|d| &d.id).collect();
        let prune: Vec<(ObjectId, Kind)> = self
            .cache
            .owned_by(app)
            .into_iter()
            .filter(|(id, _)| !wanted.contains(id))
            .collect();
        for (id, kind) in &prune {
            resources.push(ResourceStatus {
                group: id.group.clone(),
                version: kind.resource.version.clone(),
                kind: id.kind.clone(),
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                status: status::OUT_OF_SYNC.into(),
                health: HealthStatus { status: Health::Healthy.as_str().into(), message: None },
                requires_pruning: true,
            });
        }
        out_of_sync |= !prune.is_empty();
        Compared { resources, out_of_sync, prune, conditions }
    }

    /// In sync when memory says so; a mismatch in memory is confirmed by a
    /// dry run, and a confirmed match is remembered until either side moves.
    async fn in_sync(&self, cluster: &Cluster, app: &str, d: &Desired, kind: &Kind, live: &Value, ignored: &[String]) -> bool {
        let rv = str_at(live, "/metadata/resourceVersion").to_string();
        let key = (app.to_string(), d.id.clone());
        if self.memo.lock().await.get(&key) == Some(&(d.hash, rv.clone())) {
            return true;
        }
        if compare::live_matches(&d.object, live, ignored) {
            self.memo.lock().await.insert(key, (d.hash, rv));
            return true;
        }
        let Ok(mut predicted) = cluster.apply(kind, &d.object, true).await else { return false };
        // The watch may not have delivered our own last write yet: when the
        // server's object is newer than the cached one, compare with it.
        let mut current = live.clone();
        if str_at(&predicted, "/metadata/resourceVersion") != rv
            && let Ok(Some(fresh)) = cluster.get(kind, &d.id.namespace, &d.id.name).await {
                current = fresh;
            }
        drift::remove_pointers(&mut current, ignored);
        drift::remove_pointers(&mut predicted, ignored);
        let matches = compare::is_unchanged(&current, &predicted);
        if matches {
            let rv = str_at(&current, "/metadata/resourceVersion").to_string();
            self.memo.lock().await.insert(key, (d.hash, rv));
        }
        matches
    }

    async fn sync(
        &self,
        cluster: &mut Cluster,
        app: &str,
        spec: &ApplicationSpec,
        manifests: &[Manifest],
        namespace: &str,
        prune: &[(ObjectId, Kind)],
    ) -> Result<Vec<(ObjectId, Outcome, Option<String>)>, String> {
        let options = SyncOptions {
            app: app.to_string(),
            namespace: namespace.to_string(),
            prune: false,
            force: false,
            create_namespace: spec.has_sync_option("CreateNamespace=true"),
            concurrency: 16,
        };
        let report = match engine_sync::sync(cluster, manifests.to_vec(), &options).await {
            Ok(report) => report,
            Err(SyncError::Rejected(rejections)) => {
                return Err(rejections.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; "));
            }
            Err(SyncError::Stopped { rejections, .. }) => {
                return Err(rejections.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; "));
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut results: Vec<(ObjectId, Outcome, Option<String>)> =
            report.objects.into_iter().map(|o| (o.id, o.result, o.message)).collect();
        for (id, kind) in prune {
            let keep = self.cache.get(id).is_some_and(|live| has_sync_option(&live, "Prune=false"));
            if keep {
                continue;
            }
            match cluster.delete(kind, &id.namespace, &id.name).await {
                Ok(()) => results.push((id.clone(), Outcome::Pruned, None)),
                Err(e) => results.push((id.clone(), Outcome::Failed, Some(e.server_message()))),
            }
        }
        if results.iter().any(|(_, o, _)| *o == Outcome::Failed) {
            let failed: Vec<String> = results
                .iter()
                .filter(|(_, o, _)| *o == Outcome::Failed)
                .map(|(id, _, m)| format!("{id}: {}", m.clone().unwrap_or_default()))
                .collect();
            return Err(failed.join("; "));
        }
        Ok(results)
    }

    /// `None` when a sync may run now; otherwise how long self-heal waits.
    fn heal_gate(&self, app: &str, trigger: Trigger) -> Option<Duration> {
        let Ok(mut memory) = self.memory.lock() else { return None };
        let m = memory.entry(app.to_string()).or_default();
        if let Some(at) = m.next_retry
            && Instant::now() < at && trigger != Trigger::Manual {
                return Some(at - Instant::now());
            }
        if trigger != Trigger::SelfHeal {
            m.heals = 0;
            return None;
        }
        let now = Instant::now();
        if let Some(last) = m.last_heal {
            if now.duration_since(last) > HEAL_FIGHT_WINDOW {
                m.heals = 0;
            } else if m.heals > 1 {
                // The first heal in a window is free; a second one is a fight.
                let wait = HEAL_BACKOFF_BASE.saturating_mul(3u32.saturating_pow(m.heals - 2)).min(HEAL_BACKOFF_MAX);
                let due = last + wait;
                if now < due {
                    self.requeue_after(app, due - now);
                    return Some(due - now);
                }
            }
        }
        None
    }

    /// Counts a self-heal that had to write: repeated ones mean another
    /// writer is fighting this application.
    fn count_heal(&self, app: &str, trigger: Trigger, wrote: bool) {
        if trigger != Trigger::SelfHeal || !wrote {
            return;
        }
        if let Ok(mut memory) = self.memory.lock() {
            let m = memory.entry(app.to_string()).or_default();
            m.heals += 1;
            m.last_heal = Some(Instant::now());
        }
    }

    fn schedule_retry(&self, app: &str, spec: &ApplicationSpec) {
        let Some(retry) = spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref()) else { return };
        let Ok(mut memory) = self.memory.lock() else { return };
        let m = memory.entry(app.to_string()).or_default();
        let limit = retry.limit.unwrap_or(0);
        if limit >= 0 && i64::from(m.retries) >= limit {
            return;
        }
        let backoff = retry.backoff.clone().unwrap_or_default();
        let base = backoff.duration.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(5));
        let factor = backoff.factor.unwrap_or(2).max(1) as u32;
        let max = backoff.max_duration.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(180));
        let wait = base.saturating_mul(factor.saturating_pow(m.retries)).min(max);
        m.retries += 1;
        m.next_retry = Some(Instant::now() + wait);
        drop(memory);
        self.requeue_after(app, wait);
    }

    fn forget_retries(&self, app: &str) {
        if let Ok(mut memory) = self.memory.lock()
            && let Some(m) = memory.get_mut(app) {
                m.retries = 0;
                m.next_retry = None;
            }
    }

    /// Deletion of an Application: with the resources finalizer, its objects
    /// go first (except those marked `Delete=false`), then the finalizer.
    async fn finalize(&self, name: &str, app: &Value) -> Result<(), String> {
        let finalizers: Vec<String> = app
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f == RESOURCES_FINALIZER) {
            return Ok(());
        }
        let cluster = self.cluster().await;
        let previous = app.get("status").cloned().unwrap_or_default();
        self.watch_previous_kinds(&cluster, &previous).await;
        let owned = self.cache.owned_by(name);
        let mut failures = Vec::new();
        for (id, kind) in &owned {
            if self.cache.get(id).is_some_and(|live| has_sync_option(&live, "Delete=false")) {
                continue;
            }
            if let Err(e) = cluster.delete(kind, &id.namespace, &id.name).await {
                failures.push(format!("{id}: {}", e.server_message()));
            }
        }
        if !failures.is_empty() {
            self.requeue_after(name, Duration::from_secs(5));
            return Err(failures.join("; "));
        }
        let remaining: Vec<&String> = finalizers.iter().filter(|f| *f != RESOURCES_FINALIZER).collect();
        let patch = json!({"metadata": {"finalizers": remaining, "resourceVersion": str_at(app, "/metadata/resourceVersion")}});
        self.app_api()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("cannot remove the finalizer: {e}"))?;
        self.event(app, EventType::Normal, "ResourceDeleted", &format!("deleted {} objects with the application", owned.len())).await;
        Ok(())
    }

    async fn write_error_status(&self, name: &str, previous: &Value, conditions: Vec<Condition>) -> Result<(), String> {
        let mut new_status = previous.clone();
        if !new_status.is_object() {
            new_status = json!({});
        }
        let now = status::now();
        new_status["conditions"] = serde_json::to_value(status::stamp_conditions(conditions, previous, &now)).unwrap_or_default();
        if new_status.pointer("/sync/status").is_none() {
            new_status["sync"] = json!({"status": status::UNKNOWN});
        } else {
            new_status["sync"]["status"] = json!(status::UNKNOWN);
        }
        new_status["reconciledAt"] = json!(now);
        self.write_status(name, previous, new_status).await
    }

    /// Writes the status only when something other than timestamps changed:
    /// a reconcile of an unchanged application sends no request.
    async fn write_status(&self, name: &str, previous: &Value, new_status: Value) -> Result<(), String> {
        if status::meaningful(previous) == status::meaningful(&new_status) {
            return Ok(());
        }
        // Every top-level status field is always written whole, so a merge
        // patch replaces them exactly.
        let patch = json!({"status": new_status});
        let updated = self
            .app_api()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("cannot write the status of {name}: {e}"))?;
        // The next reconcile must see this status even if the watch has not
        // delivered it yet, or it would act on the one before.
        if let Ok(value) = serde_json::to_value(updated) {
            self.remember_app(name, value);
        }
        Ok(())
    }

    async fn clear_operation(&self, name: &str) {
        let patch = json!({"operation": null});
        match self.app_api().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(updated) => {
                if let Ok(value) = serde_json::to_value(updated) {
                    self.remember_app(name, value);
                }
            }
            Err(e) => tracing::warn!(app = name, error = %e, "cannot clear the finished operation"),
        }
    }

    /// Records an Event on the Application: the audit trail of syncs and heals.
    async fn event(&self, app: &Value, type_: EventType, reason: &str, note: &str) {
        let api_version = format!("{}/{}", application::GROUP, application::VERSION);
        let regarding = events::Regarding {
            api_version: &api_version,
            kind: application::KIND,
            namespace: str_at(app, "/metadata/namespace"),
            name: str_at(app, "/metadata/name"),
            uid: str_at(app, "/metadata/uid"),
        };
        let reporter = events::Reporter { controller: "fjord.dev/controller", instance: &self.config.identity };
        events::record(&self.client, reporter, regarding, events::Note { type_, reason, action: "Sync", note }).await;
    }

    pub(crate) fn app_api(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.config.namespace, &application::api_resource())
    }
}

fn destination_problem(spec: &ApplicationSpec) -> Option<String> {
    let d = &spec.destination;
    let server_ok = d.server.as_deref().is_none_or(|s| s.trim_end_matches('/') == IN_CLUSTER);
    let name_ok = d.name.as_deref().is_none_or(|n| n == "in-cluster");
    if d.server.is_none() && d.name.is_none() {
        return Some("spec.destination needs server or name".into());
    }
    (!server_ok || !name_ok).then(|| {
        format!(
            "spec.destination {}: only the cluster fjord runs in ({IN_CLUSTER}, name in-cluster) is configured",
            d.server.as_deref().or(d.name.as_deref()).unwrap_or_default()
        )
    })
}

enum Owner {
    Us,
    Other(String),
}

fn owner(live: &Value, app: &str) -> Owner {
    match tracking::owner_of(live) {
        tracking::Owner::App(a) if a != app => Owner::Other(a),
        _ => Owner::Us,
    }
}

fn has_sync_option(live: &Value, option: &str) -> bool {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(SYNC_OPTIONS_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|v| v.split(',').any(|o| o.trim().eq_ignore_ascii_case(option)))
}

fn ignored_pointers(spec: &ApplicationSpec, id: &ObjectId) -> Vec<String> {
    spec.ignore_differences
        .iter()
        .filter(|d| d.kind == id.kind && d.group == id.group)
        .filter(|d| d.name.is_empty() || d.name == id.name)
        .filter(|d| d.namespace.is_empty() || d.namespace == id.namespace)
        .flat_map(|d| d.json_pointers.iter().cloned().chain(d.jq_path_expressions.iter().filter_map(|jq| drift::jq_path_to_pointer(jq))))
        .collect()
}

fn hash_value(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

fn summarize(results: &[(ObjectId, Outcome, Option<String>)]) -> String {
    let mut counts: HashMap<Outcome, usize> = HashMap::new();
    for (_, o, _) in results {
        *counts.entry(*o).or_default() += 1;
    }
    [Outcome::Created, Outcome::Configured, Outcome::Unchanged, Outcome::Pruned]
        .iter()
        .filter_map(|o| counts.get(o).map(|n| format!("{n} {o}")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[allow(clippy::too_many_arguments)]
fn operation_state_value(
    phase: &str,
    message: &str,
    started_at: &str,
    finished_at: &str,
    revision: &str,
    source: &SourceSpec,
    results: &[(ObjectId, Outcome, Option<String>)],
    initiated_by: &Value,
    requested: Option<&Value>,
) -> Value {
    let resources: Vec<Value> = results
        .iter()
        .map(|(id, outcome, message)| {
            json!({"group": id.group, "kind": id.kind, "namespace": id.namespace, "name": id.name,
                   "status": if *outcome == Outcome::Failed { "SyncFailed" } else if *outcome == Outcome::Pruned { "Pruned" } else { "Synced" },
                   "message": message.clone().unwrap_or_else(|| outcome.to_string())})
        })
        .collect();
    // A requested operation is recorded as it was asked for, so whoever
    // asked can find its outcome.
    let mut operation = requested.cloned().unwrap_or_else(|| json!({"initiatedBy": initiated_by}));
    operation["sync"]["revision"] = json!(revision);
    json!({
        "operation": operation,
        "phase": phase,
        "message": message,
        "startedAt": started_at,
        "finishedAt": finished_at,
        "syncResult": {"revision": revision, "source": source, "resources": resources},
    })
}

/// Go-style durations as Argo CD writes them: `5s`, `3m`, `1h`, `1m30s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return None,
            }
        };
        total += number.parse::<f64>().ok()? * unit;
        number.clear();
        any = true;
    }
    if !number.is_empty() {
        total += number.parse::<f64>().ok()?;
        any = true;
    }
    any.then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("3m"), Some(Duration::from_secs(180)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn destinations_other_than_this_cluster_are_reported() {
        let mut spec = ApplicationSpec::default();
        spec.destination.server = Some("https://kubernetes.default.svc".into());
        assert_eq!(destination_problem(&spec), None);
        spec.destination.server = Some("https://prod.example:6443".into());
        assert!(destination_problem(&spec).unwrap().contains("https://prod.example:6443"));
        spec.destination.server = None;
        spec.destination.name = Some("in-cluster".into());
        assert_eq!(destination_problem(&spec), None);
    }
}

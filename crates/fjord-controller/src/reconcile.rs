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

use crate::application::{self, ApplicationSpec, IgnoreDifference, RESOURCES_FINALIZER, RetrySpec, SourceSpec};
use crate::cache::LiveCache;
use crate::controller::Controller;
use crate::destinations::{Destination, DestinationError, Target};
use crate::drift;
use crate::events::{self, EventType};
use crate::health::{self, Health};
use crate::render;
use crate::status::{self, Condition, HealthStatus, ResourceStatus};

/// Annotation that asks for an immediate refresh from Git, as Argo CD's.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// Per-object sync options, as Argo CD's (`Prune=false`, `Delete=false`).
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";

/// `operationState.phase` of a failed sync, and of one waiting for a retry.
const PHASE_FAILED: &str = "Failed";
const PHASE_RUNNING: &str = "Running";

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
    /// When the pending retry of a failed sync is due.
    next_retry: Option<Instant>,
}

/// Why a sync runs; recorded in history and events.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Trigger {
    Automated,
    SelfHeal,
    Manual,
    /// `syncPolicy.retry`: the failed sync of this revision, again.
    Retry,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Automated => "automated",
            Trigger::SelfHeal => "self-heal",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
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

/// The cluster an application's objects live in: this one, or another
/// described by a cluster Secret, with the live cache of that cluster.
struct Place {
    remote: Option<Arc<Destination>>,
    cache: LiveCache,
}

impl Controller {
    async fn place(&self, target: &Target) -> Result<Place, DestinationError> {
        match target {
            Target::InCluster => Ok(Place { remote: None, cache: self.cache.clone() }),
            Target::Server(server) => {
                let destination = self.destinations.connect(server).await?;
                Ok(Place { cache: destination.cache.clone(), remote: Some(destination) })
            }
        }
    }

    async fn place_cluster(&self, place: &Place) -> Cluster {
        match &place.remote {
            Some(destination) => destination.cluster.lock().await.clone(),
            None => self.cluster().await,
        }
    }

    async fn set_place_cluster(&self, place: &Place, cluster: Cluster) {
        match &place.remote {
            Some(destination) => *destination.cluster.lock().await = cluster,
            None => self.set_cluster(cluster).await,
        }
    }

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
        let target = match self.destinations.resolve(&spec.destination) {
            Ok(target) => target,
            Err(e) => {
                conditions.push(Condition::new(status::INVALID_SPEC_ERROR, e.to_string()));
                return self.write_error_status(name, &previous, conditions).await;
            }
        };
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

        for (place, e) in drift::invalid_jq_expressions(&spec.ignore_differences) {
            conditions.push(Condition::new(status::INVALID_SPEC_ERROR, format!("{place}: {e}; it is not applied")));
        }

        let place = match self.place(&target).await {
            Ok(place) => place,
            Err(e) => {
                conditions.push(Condition::new(status::COMPARISON_ERROR, crate::error_chain(&e)));
                return self.write_error_status(name, &previous, conditions).await;
            }
        };
        let namespace = spec.destination.namespace.clone().unwrap_or_else(|| "default".to_string());
        let mut cluster = self.place_cluster(&place).await;
        let manifests = if spec.has_sync_option("Validate=false") {
            self.drop_undeclared_fields(&cluster, name, &manifests).await
        } else {
            manifests
        };
        let desired = self.desired(&place, &mut cluster, name, &manifests, &namespace).await;
        self.watch_previous_kinds(&place.cache, &cluster, &previous).await;
        let mut compared = self.compare(&place.cache, &cluster, name, &spec, &desired).await;
        conditions.append(&mut compared.conditions);

        // Sync when asked to, or when the policy says so.
        let synced_revision = previous.pointer("/operationState/syncResult/revision").and_then(Value::as_str).unwrap_or_default();
        let new_revision = synced_revision != commit;
        let last_operation = previous.get("operationState").cloned().unwrap_or_default();
        let last_phase = str_at(&last_operation, "/phase");
        // As in Argo CD: a revision whose sync failed is not synced again
        // automatically (self-heal included) unless a retry is pending;
        // "Running" is a failed attempt waiting for its retry.
        let failed_here = !new_revision && matches!(last_phase, PHASE_FAILED | PHASE_RUNNING);
        if new_revision || operation.is_some() {
            self.forget_retry(name);
        }
        let trigger = if operation.is_some() {
            Some(Trigger::Manual)
        } else if failed_here && last_phase == PHASE_RUNNING {
            self.retry_due(name).then_some(Trigger::Retry)
        } else if let Some(auto) = spec.automated() {
            let needs = compared.out_of_sync || (auto.prune && !compared.prune.is_empty());
            match (needs, new_revision, auto.self_heal && !failed_here) {
                (false, _, _) => None,
                (true, true, _) => Some(Trigger::Automated),
                (true, false, true) => Some(Trigger::SelfHeal),
                (true, false, false) => None,
            }
        } else {
            None
        };
        if trigger.is_none() && failed_here && compared.out_of_sync {
            // The failure stands until a retry, a new revision or a manual sync.
            conditions.push(Condition::new(status::SYNC_ERROR, str_at(&last_operation, "/message")));
        }
        // A retry carries on the operation that failed: same request, same
        // initiator, one more attempt.
        let retried_operation = (trigger == Some(Trigger::Retry)).then(|| last_operation.get("operation").cloned()).flatten();
        let retries_done = if trigger == Some(Trigger::Retry) { last_operation.get("retryCount").and_then(Value::as_i64).unwrap_or(0) } else { 0 };

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
                        Trigger::Retry => retried_operation.as_ref().and_then(|o| o.pointer("/sync/prune")).and_then(Value::as_bool).unwrap_or(false)
                            || spec.automated().is_some_and(|a| a.prune),
                        _ => spec.automated().is_some_and(|a| a.prune),
                    };
                    let allow_empty = spec.automated().is_some_and(|a| a.allow_empty);
                    let result = if desired.is_empty() && !compared.prune.is_empty() && prune && !allow_empty {
                        Err("refusing to sync: the revision declares no objects and would delete everything (allowEmpty is false)".to_string())
                    } else {
                        let manifests = self.without_fields_of_ignored_managers(&cluster, &spec, &manifests, &desired).await;
                        self.sync(&place.cache, &mut cluster, name, &spec, &manifests, &namespace, if prune { &compared.prune } else { &[] }).await
                    };
                    let now = status::now();
                    let started_at = now.clone();
                    let initiated_by = match trigger {
                        Trigger::Manual => operation.as_ref().and_then(|o| o.get("initiatedBy")).cloned().unwrap_or_else(|| json!({"username": "unknown"})),
                        Trigger::Retry => retried_operation.as_ref().and_then(|o| o.get("initiatedBy")).cloned().unwrap_or_else(|| json!({"automated": true})),
                        _ => json!({"automated": true}),
                    };
                    match result {
                        Ok(results) => {
                            self.forget_retry(name);
                            let wrote = results.iter().any(|(_, o, _)| *o != Outcome::Unchanged);
                            self.count_heal(name, trigger, wrote);
                            let message = format!("successfully synced (trigger: {})", trigger.as_str());
                            operation_state = Some(operation_state_value("Succeeded", &message, &started_at, &now, &commit, &source, &results, &initiated_by, operation.as_ref().or(retried_operation.as_ref())));
                            if retries_done > 0
                                && let Some(op) = operation_state.as_mut() {
                                    op["retryCount"] = json!(retries_done);
                                }
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
                        Err(error) => {
                            let retry = self.schedule_retry(name, &spec, retries_done);
                            let (phase, message, retry_count) = match retry {
                                Some(wait) => (PHASE_RUNNING, format!("{error} (retry {} in {} s)", retries_done + 1, wait.as_secs_f64().ceil()), retries_done + 1),
                                None => (PHASE_FAILED, error.clone(), retries_done),
                            };
                            conditions.push(Condition::new(status::SYNC_ERROR, message.clone()));
                            let mut state = operation_state_value(phase, &message, &started_at, &now, &commit, &source, &[], &initiated_by, operation.as_ref().or(retried_operation.as_ref()));
                            if retry_count > 0 {
                                state["retryCount"] = json!(retry_count);
                            }
                            operation_state = Some(state);
                            self.event(app, EventType::Warning, "OperationFailed", &format!(
                                "Sync to {} failed (trigger: {}): {message}", short(&commit), trigger.as_str())).await;
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
            .map(|d| health::assess(place.cache.get(&d.id).as_deref()).0)
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
    async fn desired(&self, place: &Place, cluster: &mut Cluster, app: &str, manifests: &[Manifest], namespace: &str) -> Vec<Desired> {
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
                    self.set_place_cluster(place, cluster.clone()).await;
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
                place.cache.ensure_watched(kind).await;
            }
            let version = api_version.rsplit('/').next().unwrap_or(api_version).to_string();
            out.push(Desired { hash: hash_value(&object), id, version, kind, object });
        }
        out
    }

    /// `Validate=false`: the fields each manifest's kind does not declare
    /// are dropped, as the server drops them from a create with
    /// `fieldValidation=Ignore` (a server-side apply would refuse them).
    /// Both the comparison and the sync then use what the server keeps, so
    /// a dropped field is not drift.
    async fn drop_undeclared_fields(&self, cluster: &Cluster, app: &str, manifests: &Arc<Vec<Manifest>>) -> Arc<Vec<Manifest>> {
        let mut out = Vec::with_capacity(manifests.len());
        for m in manifests.iter() {
            let mut m = m.clone();
            if let Some(kind) = cluster.resolve(str_at(&m.object, "/apiVersion"), str_at(&m.object, "/kind")) {
                match cluster.drop_undeclared_fields(kind, &mut m.object).await {
                    Ok(dropped) if !dropped.is_empty() => {
                        tracing::debug!(app, object = %ObjectId::from_object(&m.object), ?dropped, "Validate=false: dropped undeclared fields");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(app, object = %ObjectId::from_object(&m.object), error = %e, "Validate=false: cannot read the schema; applying the manifest as it is"),
                }
            }
            out.push(m);
        }
        Arc::new(out)
    }

    /// Fields owned by the managers an `ignoreDifferences` rule lists are
    /// left out of what a sync applies: with server-side apply, applying
    /// them would take them back (an HPA's replicas, say) and undo the
    /// other manager's change.
    async fn without_fields_of_ignored_managers(
        &self,
        cluster: &Cluster,
        spec: &ApplicationSpec,
        manifests: &Arc<Vec<Manifest>>,
        desired: &[Desired],
    ) -> Arc<Vec<Manifest>> {
        if spec.ignore_differences.iter().all(|r| r.managed_fields_managers.is_empty()) {
            return manifests.clone();
        }
        let mut out = Vec::with_capacity(manifests.len());
        // `desired` was built from `manifests`, one for one and in order.
        for (m, d) in manifests.iter().zip(desired) {
            let mut m = m.clone();
            let managers: Vec<String> = spec
                .ignore_differences
                .iter()
                .filter(|r| drift::rule_matches(r, &d.id))
                .flat_map(|r| r.managed_fields_managers.iter().cloned())
                .collect();
            if let (false, Some(kind)) = (managers.is_empty(), &d.kind)
                && let Ok(Some(live)) = cluster.get(kind, &d.id.namespace, &d.id.name).await
                && let Some(managed_fields) = live.pointer("/metadata/managedFields") {
                    let owned = drift::managed_field_pointers(managed_fields, &managers, &m.object);
                    drift::remove_pointers(&mut m.object, &owned);
                }
            out.push(m);
        }
        Arc::new(out)
    }

    /// Kinds this app managed before (from its last status) stay watched, so
    /// objects of a kind that left Git entirely are still found for pruning.
    async fn watch_previous_kinds(&self, cache: &LiveCache, cluster: &Cluster, previous: &Value) {
        let Some(resources) = previous.get("resources").and_then(Value::as_array) else { return };
        let mut seen = HashSet::new();
        for r in resources {
            let (group, version, kind) = (str_at(r, "/group"), str_at(r, "/version"), str_at(r, "/kind"));
            if !seen.insert((group, kind)) {
                continue;
            }
            let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            if let Some(k) = cluster.resolve(&api_version, kind) {
                cache.ensure_watched(k).await;
            }
        }
    }

    async fn compare(&self, cache: &LiveCache, cluster: &Cluster, app: &str, spec: &ApplicationSpec, desired: &[Desired]) -> Compared {
        let mut resources = Vec::with_capacity(desired.len());
        let mut conditions = Vec::new();
        let mut out_of_sync = false;
        let mut shared = Vec::new();
        for d in desired {
            let live = cache.get(&d.id);
            let rules: Vec<&IgnoreDifference> = spec.ignore_differences.iter().filter(|r| drift::rule_matches(r, &d.id)).collect();
            let in_sync = match (&live, &d.kind) {
                (Some(live), Some(kind)) => {
                    if let Owner::Other(owner) = owner(live, app) {
                        shared.push(format!("{} is also managed by {owner}", d.id));
                    }
                    self.in_sync(cluster, app, d, kind, live, &rules).await
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
        let prune: Vec<(ObjectId, Kind)> = cache
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
    async fn in_sync(&self, cluster: &Cluster, app: &str, d: &Desired, kind: &Kind, live: &Value, rules: &[&IgnoreDifference]) -> bool {
        let rv = str_at(live, "/metadata/resourceVersion").to_string();
        let key = (app.to_string(), d.id.clone());
        // The rules are part of what was found in sync: changing them must
        // compare again.
        let hash = d.hash ^ hash_value(&Value::String(format!("{rules:?}")));
        if self.memo.lock().await.get(&key) == Some(&(hash, rv.clone())) {
            return true;
        }
        // The live cache drops managedFields; rules that ignore what other
        // managers own need the object as the server has it.
        let mut live = live.clone();
        let wants_managers = rules.iter().any(|r| !r.managed_fields_managers.is_empty());
        if wants_managers {
            match cluster.get(kind, &d.id.namespace, &d.id.name).await {
                Ok(Some(fresh)) => live = fresh,
                Ok(None) => return false,
                Err(e) => tracing::warn!(app, object = %d.id, error = %e, "cannot read managedFields; comparing without them"),
            }
        }
        let ignored = drift::ignored_pointers(rules, &[&live, &d.object], live.pointer("/metadata/managedFields"));
        if compare::live_matches(&d.object, &live, &ignored) {
            let rv = str_at(&live, "/metadata/resourceVersion").to_string();
            self.memo.lock().await.insert(key, (hash, rv));
            return true;
        }
        let Ok(mut predicted) = cluster.apply(kind, &d.object, true).await else { return false };
        // The watch may not have delivered our own last write yet: when the
        // server's object is newer than the cached one, compare with it.
        let mut current = live;
        if str_at(&predicted, "/metadata/resourceVersion") != str_at(&current, "/metadata/resourceVersion")
            && let Ok(Some(fresh)) = cluster.get(kind, &d.id.namespace, &d.id.name).await {
                current = fresh;
            }
        let rv = str_at(&current, "/metadata/resourceVersion").to_string();
        let ignored = drift::ignored_pointers(rules, &[&current, &predicted], current.pointer("/metadata/managedFields"));
        drift::remove_pointers(&mut current, &ignored);
        drift::remove_pointers(&mut predicted, &ignored);
        let matches = compare::is_unchanged(&current, &predicted);
        if matches {
            self.memo.lock().await.insert(key, (hash, rv));
        }
        matches
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync(
        &self,
        cache: &LiveCache,
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
            let keep = cache.get(id).is_some_and(|live| has_sync_option(&live, "Prune=false"));
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

    /// After a failed sync: when `syncPolicy.retry` allows another attempt
    /// (`limit` retries, a negative limit meaning no end), schedules it after
    /// the backoff (`duration` × `factor`ⁿ, at most `maxDuration`) and says
    /// how long that is.
    fn schedule_retry(&self, app: &str, spec: &ApplicationSpec, retries_done: i64) -> Option<Duration> {
        let retry = spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref())?;
        let limit = retry.limit.unwrap_or(0);
        if limit >= 0 && retries_done >= limit {
            return None;
        }
        let wait = retry_backoff(retry, retries_done);
        let mut memory = self.memory.lock().ok()?;
        memory.entry(app.to_string()).or_default().next_retry = Some(Instant::now() + wait);
        drop(memory);
        self.requeue_after(app, wait);
        Some(wait)
    }

    /// Whether a pending retry may run now. With nothing remembered (the
    /// controller restarted meanwhile) it may.
    fn retry_due(&self, app: &str) -> bool {
        let Ok(memory) = self.memory.lock() else { return true };
        memory.get(app).and_then(|m| m.next_retry).is_none_or(|at| Instant::now() >= at)
    }

    fn forget_retry(&self, app: &str) {
        if let Ok(mut memory) = self.memory.lock()
            && let Some(m) = memory.get_mut(app) {
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
        // The objects are in the application's destination; one that cannot
        // be reached keeps the finalizer until it can.
        let spec = ApplicationSpec::from_object(app).unwrap_or_default();
        let place = match self.destinations.resolve(&spec.destination) {
            Ok(target) => self.place(&target).await.map_err(|e| crate::error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        let place = match place {
            Ok(place) => place,
            Err(problem) => {
                self.requeue_after(name, Duration::from_secs(5));
                return Err(format!("cannot delete the objects of {name}: {problem}"));
            }
        };
        let cluster = self.place_cluster(&place).await;
        let previous = app.get("status").cloned().unwrap_or_default();
        self.watch_previous_kinds(&place.cache, &cluster, &previous).await;
        let owned = place.cache.owned_by(name);
        let mut failures = Vec::new();
        for (id, kind) in &owned {
            if place.cache.get(id).is_some_and(|live| has_sync_option(&live, "Delete=false")) {
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

/// The wait before retry number `retries_done + 1`, with Argo CD's
/// defaults (5 s, factor 2, at most 3 minutes).
fn retry_backoff(retry: &RetrySpec, retries_done: i64) -> Duration {
    let backoff = retry.backoff.clone().unwrap_or_default();
    let base = backoff.duration.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(5));
    let factor = backoff.factor.unwrap_or(2).clamp(1, 1000) as u32;
    let max = backoff.max_duration.as_deref().and_then(parse_duration).unwrap_or(Duration::from_secs(180));
    let exponent = u32::try_from(retries_done.max(0)).unwrap_or(u32::MAX);
    base.saturating_mul(factor.saturating_pow(exponent)).min(max)
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
    fn retry_backoff_grows_by_the_factor_up_to_the_maximum() {
        let retry = RetrySpec {
            limit: Some(5),
            backoff: Some(crate::application::BackoffSpec { duration: Some("1s".into()), factor: Some(3), max_duration: Some("20s".into()) }),
        };
        let waits: Vec<u64> = (0..5).map(|n| retry_backoff(&retry, n).as_secs()).collect();
        assert_eq!(waits, [1, 3, 9, 20, 20]);
        assert_eq!(retry_backoff(&RetrySpec::default(), 0), Duration::from_secs(5));
        assert_eq!(retry_backoff(&RetrySpec::default(), 40), Duration::from_secs(180));
    }
}

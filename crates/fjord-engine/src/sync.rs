//! Sync: make the cluster equal to a set of manifests.
//!
//! It runs in two steps so that bad input changes nothing:
//! 1. [`plan`] resolves every object's kind, reads the live objects, checks
//!    ownership and sends every object to the server as a server-side apply
//!    dry run with strict field validation. Any rejection ends the sync here.
//! 2. [`execute`] applies what differs, phase by phase (namespaces, CRDs,
//!    cluster RBAC, other cluster-scoped objects, namespaced objects), then
//!    prunes what this app owns and no longer declares, in reverse order.
//!
//! Objects that cannot be dry-run before an earlier phase exists (those in a
//! namespace created by this sync, custom resources whose CRD comes with
//! them) are validated as soon as that phase is applied, before any of them
//! is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError, Kind};
use crate::compare;
use crate::manifest::{Manifest, Source};
use crate::object::{ObjectId, Phase, apply_order, group_of, phase_of, str_at};
use crate::tracking::{self, Owner};

/// How long a new CRD may take to become Established.
const CRD_ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The owner identity written into the tracking annotation.
    pub app: String,
    /// Namespace for namespaced objects that name none.
    pub namespace: String,
    pub prune: bool,
    /// Take over objects owned by another app or by nobody.
    pub force: bool,
    /// Create `namespace` when it does not exist.
    pub create_namespace: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Pruned,
    Failed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Pruned => "pruned",
            Outcome::Failed => "failed",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectResult {
    #[serde(flatten)]
    pub id: ObjectId,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub objects: Vec<ObjectResult>,
    /// Write requests sent (applies and deletes; dry runs excluded).
    pub writes: usize,
}

impl SyncReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.objects.iter().filter(|o| o.result == outcome).count()
    }
}

/// An object the server (or fjord's own checks) refused.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub file: Option<String>,
    pub document: Option<usize>,
    #[serde(flatten)]
    pub id: ObjectId,
    pub message: String,
}

impl Rejection {
    fn new(source: Option<&Source>, id: &ObjectId, message: impl Into<String>) -> Self {
        Rejection {
            file: source.map(|s| s.file.display().to_string()),
            document: source.map(|s| s.document),
            id: id.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(file), Some(doc)) = (&self.file, self.document) {
            write!(f, "{file} (document {doc}): ")?;
        }
        write!(f, "{}: {}", self.id, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{} rejected, nothing was applied:\n{}", plural(.0.len(), "object"), list(.0))]
    Rejected(Vec<Rejection>),
    #[error("sync stopped after a failure; objects before it were applied:\n{}", list(.rejections))]
    Stopped { report: SyncReport, rejections: Vec<Rejection> },
    #[error("CustomResourceDefinition {name} did not become Established within {seconds} s")]
    CrdNotEstablished { name: String, seconds: u64 },
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn list(rejections: &[Rejection]) -> String {
    rejections.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n")
}

/// Why an object could not be dry-run while planning.
#[derive(Debug, Clone, PartialEq)]
enum Deferred {
    /// Its namespace is created by this sync.
    Namespace,
    /// Its kind is defined by a CRD in this sync.
    Crd,
}

/// One desired object and what the cluster says about it.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    pub id: ObjectId,
    pub source: Option<Source>,
    /// The manifest as it will be applied (namespace and tracking set).
    pub desired: Value,
    pub live: Option<Value>,
    /// The server's dry-run result: the object as it would be after apply.
    pub predicted: Option<Value>,
    kind: Option<Kind>,
    namespaced: bool,
    deferred: Option<Deferred>,
    order: (Phase, usize, usize),
}

impl PlannedObject {
    pub fn phase(&self) -> Phase {
        self.order.0
    }

    /// True when the live object already equals the dry-run result.
    pub fn is_unchanged(&self) -> bool {
        matches!((&self.live, &self.predicted), (Some(live), Some(predicted)) if compare::is_unchanged(live, predicted))
    }

    /// The unified diff from live to desired (empty when in sync).
    pub fn diff(&self) -> String {
        let label = self.id.to_string();
        let target = self.predicted.as_ref().unwrap_or(&self.desired);
        compare::unified_diff(self.live.as_ref(), Some(target), &label)
    }
}

/// A live object this app owns that no manifest declares any more.
#[derive(Debug, Clone)]
pub struct PruneCandidate {
    pub id: ObjectId,
    pub live: Value,
    kind: Kind,
}

impl PruneCandidate {
    pub fn diff(&self) -> String {
        compare::unified_diff(Some(&self.live), None, &self.id.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub objects: Vec<PlannedObject>,
    pub prune: Vec<PruneCandidate>,
    /// The default namespace, when this sync must create it.
    pub create_namespace: Option<String>,
}

/// Resolves, reads and validates; changes nothing in the cluster.
pub async fn plan(cluster: &Cluster, manifests: Vec<Manifest>, options: &SyncOptions) -> Result<Plan, SyncError> {
    let mut rejections = Vec::new();
    let crds = crds_in(&manifests);
    let mut objects = Vec::with_capacity(manifests.len());
    let mut seen: HashMap<ObjectId, Option<Source>> = HashMap::new();

    for (index, manifest) in manifests.into_iter().enumerate() {
        let Manifest { source, object } = manifest;
        let api_version = str_at(&object, "/apiVersion").to_string();
        let kind_name = str_at(&object, "/kind").to_string();
        let (kind, namespaced, deferred) = match cluster.resolve(&api_version, &kind_name) {
            Some(kind) => (Some(kind.clone()), kind.namespaced, None),
            None => match crds.get(&(group_of(&api_version).to_string(), kind_name.clone())) {
                Some(crd) if crd.versions.iter().any(|v| api_version.ends_with(&format!("/{v}"))) => {
                    (None, crd.namespaced, Some(Deferred::Crd))
                }
                _ => {
                    let id = ObjectId::from_object(&object);
                    let group = group_of(&api_version);
                    let group = if group.is_empty() { "core".to_string() } else { group.to_string() };
                    rejections.push(Rejection::new(
                        Some(&source),
                        &id,
                        format!(
                            "unknown kind {kind_name} in group {group} (apiVersion {api_version}): the server does not serve it and no CustomResourceDefinition in PATH defines it"
                        ),
                    ));
                    continue;
                }
            },
        };
        let mut desired = object;
        set_namespace(&mut desired, namespaced, &options.namespace);
        let id = ObjectId::from_object(&desired);
        tracking::mark(&mut desired, &options.app, &id);
        compare::stamp_manifest_hash(&mut desired);
        if let Some(first) = seen.insert(id.clone(), Some(source.clone())) {
            let first = first.map(|s| s.to_string()).unwrap_or_default();
            rejections.push(Rejection::new(Some(&source), &id, format!("declared twice; first in {first}")));
            continue;
        }
        let order = apply_order(&id, namespaced, index);
        objects.push(PlannedObject {
            id,
            source: Some(source),
            desired,
            live: None,
            predicted: None,
            kind,
            namespaced,
            deferred,
            order,
        });
    }
    objects.sort_by_key(|o| o.order);

    read_live(cluster, &mut objects, options.concurrency).await?;

    // Namespaces: those that exist, those this sync creates, and the rest.
    let declared_namespaces: HashSet<String> =
        objects.iter().filter(|o| o.id.group.is_empty() && o.id.kind == "Namespace").map(|o| o.id.name.clone()).collect();
    let existing_namespaces = existing_namespaces(cluster).await?;
    let create_namespace = (options.create_namespace
        && !existing_namespaces.contains(&options.namespace)
        && !declared_namespaces.contains(&options.namespace))
    .then(|| options.namespace.clone());

    for object in &mut objects {
        if !object.namespaced {
            continue;
        }
        let ns = &object.id.namespace;
        if existing_namespaces.contains(ns) {
            continue;
        }
        if declared_namespaces.contains(ns) || create_namespace.as_ref() == Some(ns) {
            object.deferred.get_or_insert(Deferred::Namespace);
        } else {
            rejections.push(Rejection::new(
                object.source.as_ref(),
                &object.id,
                format!("namespace {ns} does not exist (declare it in PATH or pass --create-namespace)"),
            ));
        }
    }

    for object in &objects {
        if let Some(problem) = ownership_problem(object, options) {
            rejections.push(Rejection::new(object.source.as_ref(), &object.id, problem));
        }
    }

    let ready: Vec<usize> = (0..objects.len()).filter(|&i| objects[i].deferred.is_none()).collect();
    rejections.extend(dry_run(cluster, &mut objects, &ready, options.concurrency).await);

    if !rejections.is_empty() {
        return Err(SyncError::Rejected(rejections));
    }

    let prune = if options.prune { prune_candidates(cluster, &objects, options).await? } else { Vec::new() };
    Ok(Plan { objects, prune, create_namespace })
}

/// Applies a plan: phase by phase, writing only what differs, then prunes.
pub async fn execute(cluster: &mut Cluster, mut plan: Plan, options: &SyncOptions) -> Result<SyncReport, SyncError> {
    let writes_before = cluster.writes();
    let mut results: Vec<ObjectResult> = Vec::new();

    if let Some(ns) = &plan.create_namespace {
        let kind = cluster.resolve("v1", "Namespace").cloned();
        if let Some(kind) = kind {
            let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            cluster.apply(&kind, &namespace, false).await?;
            results.push(ObjectResult { id: ObjectId::from_object(&namespace), result: Outcome::Created, message: None });
        }
    }

    let phases: Vec<Phase> = {
        let mut p: Vec<Phase> = plan.objects.iter().map(PlannedObject::phase).collect();
        p.dedup();
        p
    };
    for phase in phases {
        let indices: Vec<usize> = (0..plan.objects.len()).filter(|&i| plan.objects[i].phase() == phase).collect();
        if phase > Phase::CustomResourceDefinitions && plan.objects.iter().any(|o| o.deferred == Some(Deferred::Crd)) {
            resolve_deferred_kinds(cluster, &mut plan.objects).await?;
        }
        let deferred: Vec<usize> = indices.iter().copied().filter(|&i| plan.objects[i].predicted.is_none()).collect();
        let rejections = dry_run(cluster, &mut plan.objects, &deferred, options.concurrency).await;
        if !rejections.is_empty() {
            return Err(SyncError::Stopped { report: finish(results, cluster, writes_before), rejections });
        }

        let outcomes = apply_all(cluster, &plan.objects, &indices, options.concurrency).await;
        let mut failures = Vec::new();
        for (i, outcome) in indices.iter().zip(outcomes) {
            let object = &plan.objects[*i];
            match outcome {
                Ok(result) => results.push(ObjectResult { id: object.id.clone(), result, message: None }),
                Err(e) => {
                    let message = e.server_message();
                    failures.push(Rejection::new(object.source.as_ref(), &object.id, message.clone()));
                    results.push(ObjectResult { id: object.id.clone(), result: Outcome::Failed, message: Some(message) });
                }
            }
        }
        if !failures.is_empty() {
            return Err(SyncError::Stopped { report: finish(results, cluster, writes_before), rejections: failures });
        }
        if phase == Phase::CustomResourceDefinitions {
            for &i in &indices {
                wait_established(cluster, &plan.objects[i].id.name).await?;
            }
        }
    }

    // Prune in reverse dependency order: namespaced objects first,
    // namespaces last, so nothing is deleted out from under its dependents.
    plan.prune.sort_by_key(|c| std::cmp::Reverse(apply_order(&c.id, c.kind.namespaced, 0)));
    let mut by_phase: BTreeMap<std::cmp::Reverse<Phase>, Vec<&PruneCandidate>> = BTreeMap::new();
    for c in &plan.prune {
        by_phase.entry(std::cmp::Reverse(phase_of(&c.id, c.kind.namespaced))).or_default().push(c);
    }
    for candidates in by_phase.values() {
        let mut deletes = Vec::with_capacity(candidates.len());
        for c in candidates.iter() {
            deletes.push(cluster.delete(&c.kind, &c.id.namespace, &c.id.name));
        }
        let deleted: Vec<Result<(), ClusterError>> = stream::iter(deletes).buffered(options.concurrency.max(1)).collect().await;
        for (c, outcome) in candidates.iter().zip(deleted) {
            let (result, message) = match outcome {
                Ok(()) => (Outcome::Pruned, None),
                Err(e) => (Outcome::Failed, Some(e.server_message())),
            };
            results.push(ObjectResult { id: c.id.clone(), result, message });
        }
    }
    Ok(finish(results, cluster, writes_before))
}

/// Plans and executes in one go.
pub async fn sync(cluster: &mut Cluster, manifests: Vec<Manifest>, options: &SyncOptions) -> Result<SyncReport, SyncError> {
    let plan = plan(cluster, manifests, options).await?;
    execute(cluster, plan, options).await
}

fn finish(objects: Vec<ObjectResult>, cluster: &Cluster, writes_before: usize) -> SyncReport {
    SyncReport { objects, writes: cluster.writes() - writes_before }
}

/// Gives a namespaced object the default namespace when it names none, and
/// takes it away from cluster-scoped ones.
pub fn set_namespace(object: &mut Value, namespaced: bool, default_namespace: &str) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if namespaced {
        let has = metadata.get("namespace").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        if !has {
            metadata.insert("namespace".into(), Value::String(default_namespace.to_string()));
        }
    } else {
        // The server ignores a namespace on cluster-scoped objects; drop it so
        // identities and tracking ids match what the server reports.
        metadata.remove("namespace");
    }
}

fn ownership_problem(object: &PlannedObject, options: &SyncOptions) -> Option<String> {
    let live = object.live.as_ref()?;
    if options.force {
        return None;
    }
    match tracking::owner_of(live) {
        Owner::App(app) if app == options.app => None,
        Owner::App(app) => Some(format!("already exists and belongs to app {app:?}; pass --force to take it over")),
        Owner::Nobody => Some(format!(
            "already exists and is not managed by fjord (no {} annotation); pass --force to take it over",
            tracking::TRACKING_ANNOTATION
        )),
    }
}

/// Reads the live objects with one list per kind and namespace rather than
/// one get per object.
async fn read_live(cluster: &Cluster, objects: &mut [PlannedObject], concurrency: usize) -> Result<(), ClusterError> {
    let mut groups: BTreeMap<(String, String, String), (Kind, Vec<usize>)> = BTreeMap::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(kind) = &o.kind else { continue };
        let key = (kind.resource.api_version.clone(), kind.resource.plural.clone(), o.id.namespace.clone());
        groups.entry(key).or_insert_with(|| (kind.clone(), Vec::new())).1.push(i);
    }
    let mut requests = Vec::with_capacity(groups.len());
    for ((_, _, namespace), (kind, indices)) in groups {
        requests.push(async move {
            let items = cluster.list(&kind, &namespace).await?;
            Ok::<_, ClusterError>((indices, items))
        });
    }
    let lists: Vec<(Vec<usize>, Vec<Value>)> = stream::iter(requests).buffer_unordered(concurrency.max(1)).try_collect().await?;
    for (indices, items) in lists {
        let mut by_name: HashMap<String, Value> =
            items.into_iter().map(|v| (str_at(&v, "/metadata/name").to_string(), v)).collect();
        for i in indices {
            objects[i].live = by_name.remove(&objects[i].id.name);
        }
    }
    Ok(())
}

async fn existing_namespaces(cluster: &Cluster) -> Result<HashSet<String>, ClusterError> {
    let Some(kind) = cluster.resolve("v1", "Namespace") else { return Ok(HashSet::new()) };
    Ok(cluster.list(kind, "").await?.iter().map(|n| str_at(n, "/metadata/name").to_string()).collect())
}

/// Dry-runs the given objects; stores each prediction, returns rejections.
async fn dry_run(cluster: &Cluster, objects: &mut [PlannedObject], indices: &[usize], concurrency: usize) -> Vec<Rejection> {
    let mut requests = Vec::with_capacity(indices.len());
    for &i in indices {
        let object = &objects[i];
        requests.push(async move {
            if let Some(live) = object.live.as_ref().filter(|live| compare::known_unchanged(&object.desired, live)) {
                // Applied before from this exact manifest and untouched since:
                // the server already accepted it, no need to ask again.
                return (i, Ok(live.clone()));
            }
            let outcome = match &object.kind {
                Some(kind) => cluster.apply(kind, &object.desired, true).await.map_err(|e| e.server_message()),
                None => Err("its kind is still unknown to the server after its CustomResourceDefinition was applied".into()),
            };
            (i, outcome)
        });
    }
    let results: Vec<(usize, Result<Value, String>)> = stream::iter(requests).buffer_unordered(concurrency.max(1)).collect().await;
    let mut rejections = Vec::new();
    for (i, outcome) in results {
        match outcome {
            Ok(predicted) => objects[i].predicted = Some(predicted),
            Err(message) => rejections.push((i, Rejection::new(objects[i].source.as_ref(), &objects[i].id, message))),
        }
    }
    rejections.sort_by_key(|(i, _)| *i);
    rejections.into_iter().map(|(_, r)| r).collect()
}

async fn apply_all(
    cluster: &Cluster,
    objects: &[PlannedObject],
    indices: &[usize],
    concurrency: usize,
) -> Vec<Result<Outcome, ClusterError>> {
    let mut requests = Vec::with_capacity(indices.len());
    for &i in indices {
        let object = &objects[i];
        requests.push(async move {
            if object.is_unchanged() {
                return Ok(Outcome::Unchanged);
            }
            let Some(kind) = &object.kind else {
                return Err(ClusterError::Request {
                    operation: "apply",
                    what: object.id.to_string(),
                    cause: "its kind is unknown to the server".into(),
                });
            };
            cluster.apply(kind, &object.desired, false).await?;
            Ok(if object.live.is_some() { Outcome::Configured } else { Outcome::Created })
        });
    }
    stream::iter(requests).buffered(concurrency.max(1)).collect().await
}

/// After CRDs are applied: rediscover and give the custom resources their kind.
async fn resolve_deferred_kinds(cluster: &mut Cluster, objects: &mut [PlannedObject]) -> Result<(), ClusterError> {
    cluster.discover().await?;
    for object in objects.iter_mut().filter(|o| o.deferred == Some(Deferred::Crd)) {
        let api_version = str_at(&object.desired, "/apiVersion").to_string();
        object.kind = cluster.resolve(&api_version, &object.id.kind).cloned();
        object.deferred = None;
    }
    Ok(())
}

async fn wait_established(cluster: &Cluster, name: &str) -> Result<(), SyncError> {
    let Some(kind) = cluster.resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition").cloned() else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + CRD_ESTABLISH_TIMEOUT;
    loop {
        if let Some(crd) = cluster.get(&kind, "", name).await? {
            let established = crd
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
            if established {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(SyncError::CrdNotEstablished { name: name.to_string(), seconds: CRD_ESTABLISH_TIMEOUT.as_secs() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn prune_candidates(
    cluster: &Cluster,
    objects: &[PlannedObject],
    options: &SyncOptions,
) -> Result<Vec<PruneCandidate>, ClusterError> {
    let desired: HashSet<&ObjectId> = objects.iter().map(|o| &o.id).collect();
    let mut requests = Vec::new();
    for kind in cluster.listable_kinds().iter().cloned() {
        requests.push(async move {
            let items = cluster.list_metadata(&kind).await?;
            Ok::<_, ClusterError>((kind, items))
        });
    }
    let lists: Vec<(Kind, Vec<Value>)> = stream::iter(requests).buffer_unordered(options.concurrency.max(1)).try_collect().await?;
    let mut candidates = Vec::new();
    for (kind, items) in lists {
        for live in items {
            if tracking::owner_of(&live) != Owner::App(options.app.clone()) {
                continue;
            }
            let id = ObjectId::from_object(&live);
            if !desired.contains(&id) {
                candidates.push(PruneCandidate { id, live, kind: kind.clone() });
            }
        }
    }
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(candidates)
}

/// What a CRD in the manifests defines: enough to plan its custom resources.
struct CrdInfo {
    namespaced: bool,
    versions: Vec<String>,
}

fn crds_in(manifests: &[Manifest]) -> HashMap<(String, String), CrdInfo> {
    manifests
        .iter()
        .filter(|m| {
            group_of(str_at(&m.object, "/apiVersion")) == "apiextensions.k8s.io"
                && str_at(&m.object, "/kind") == "CustomResourceDefinition"
        })
        .map(|m| {
            let spec = &m.object["spec"];
            let versions = spec["versions"]
                .as_array()
                .map(|vs| vs.iter().filter_map(|v| v["name"].as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let info = CrdInfo { namespaced: spec["scope"].as_str() != Some("Cluster"), versions };
            ((str_at(spec, "/group").to_string(), str_at(spec, "/names/kind").to_string()), info)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_defaulted_only_for_namespaced_kinds() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        set_namespace(&mut cm, true, "prod");
        assert_eq!(cm["metadata"]["namespace"], "prod");
        let mut keep = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "other"}});
        set_namespace(&mut keep, true, "prod");
        assert_eq!(keep["metadata"]["namespace"], "other");
        let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "x"}});
        set_namespace(&mut role, false, "prod");
        assert!(role["metadata"].get("namespace").is_none());
    }

    #[test]
    fn crds_in_manifests_define_kinds_and_scope() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"},
                     "versions": [{"name": "v1"}, {"name": "v2"}]}});
        let manifests = vec![Manifest { source: Source { file: "crd.yaml".into(), document: 0 }, object: crd }];
        let crds = crds_in(&manifests);
        let info = crds.get(&("example.com".to_string(), "Widget".to_string())).unwrap();
        assert!(!info.namespaced);
        assert_eq!(info.versions, ["v1", "v2"]);
    }

    #[test]
    fn rejections_name_file_document_object_and_cause() {
        let id = ObjectId { group: "apps".into(), kind: "Deployment".into(), namespace: "p".into(), name: "web".into() };
        let r = Rejection::new(Some(&Source { file: "apps/web.yaml".into(), document: 2 }), &id, "bad memory");
        assert_eq!(r.to_string(), "apps/web.yaml (document 2): apps/Deployment p/web: bad memory");
    }
}

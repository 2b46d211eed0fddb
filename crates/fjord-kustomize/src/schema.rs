//! Merge keys of the Kubernetes built-in types, for strategic merge.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::error::Result;

use crate::patch::strategic_merge::{ListStrategy, Schema};

const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "extensions",
    "resource.k8s.io",
];

pub struct Builtin {
    pub known_type: bool,
    /// Merge keys from a kustomization's `openapi:` schema, by field name.
    pub custom: Vec<(String, ListStrategy)>,
}

/// The resource types of the OpenAPI data kustomize v5.5 embeds
/// (Kubernetes 1.21), by apiVersion: only these have merge keys; lists of
/// any other type (custom resources, removed API versions) are replaced.
const BUILTIN_TYPES: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "NodeProxyOptions",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodAttachOptions",
            "PodExecOptions",
            "PodPortForwardOptions",
            "PodProxyOptions",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceProxyOptions",
        ],
    ),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("autoscaling/v1", &["HorizontalPodAutoscaler", "Scale"]),
    ("autoscaling/v2beta1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2beta2", &["HorizontalPodAutoscaler"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("batch/v1beta1", &["CronJob"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("coordination.k8s.io/v1beta1", &["Lease"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("discovery.k8s.io/v1beta1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    ("events.k8s.io/v1beta1", &["Event"]),
    ("extensions/v1beta1", &["Ingress"]),
    (
        "networking.k8s.io/v1",
        &["Ingress", "IngressClass", "NetworkPolicy"],
    ),
    ("networking.k8s.io/v1beta1", &["Ingress", "IngressClass"]),
    ("policy/v1", &["PodDisruptionBudget"]),
    (
        "policy/v1beta1",
        &["PodDisruptionBudget", "PodSecurityPolicy"],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "storage.k8s.io/v1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    ),
    (
        "storage.k8s.io/v1beta1",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    (
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
    ),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("apiregistration.k8s.io/v1beta1", &["APIService"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    (
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("node.k8s.io/v1beta1", &["RuntimeClass"]),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("scheduling.k8s.io/v1beta1", &["PriorityClass"]),
];

/// Whether the built-in schema (Kubernetes 1.21) defines this type.
pub fn is_builtin_type(api_version: &str, kind: &str) -> bool {
    BUILTIN_TYPES
        .iter()
        .any(|(av, kinds)| *av == api_version && kinds.contains(&kind))
}

impl Builtin {
    /// The built-in schema's view of one type.
    pub fn for_type(api_version: &str, kind: &str) -> Self {
        Builtin {
            known_type: is_builtin_type(api_version, kind),
            custom: Vec::new(),
        }
    }

    /// Every type of a built-in group taken as known (for tests and tools
    /// that have no apiVersion at hand).
    pub fn for_group(group: &str, custom: Vec<(String, ListStrategy)>) -> Self {
        Builtin {
            known_type: BUILTIN_GROUPS.contains(&group),
            custom,
        }
    }
}

fn keys(k: &[&str]) -> ListStrategy {
    ListStrategy::Keys(k.iter().map(|s| s.to_string()).collect())
}

impl Schema for Builtin {
    fn list_strategy(&self, path: &[&str], _dest: &[Value], _patch: &[Value]) -> ListStrategy {
        let field = path.last().copied().unwrap_or("");
        if let Some((_, s)) = self.custom.iter().find(|(f, _)| f == field) {
            return s.clone();
        }
        if !self.known_type {
            // kustomize merges without inferring keys: without a schema a
            // list is replaced.
            return ListStrategy::Replace;
        }
        let parent = if path.len() >= 2 {
            path[path.len() - 2]
        } else {
            ""
        };
        match field {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "webhooks" => keys(&["name"]),
            "secrets" if parent.is_empty() => keys(&["name"]),
            "volumeMounts" => keys(&["mountPath"]),
            "volumeDevices" => keys(&["devicePath"]),
            "hostAliases" => keys(&["ip"]),
            "topologySpreadConstraints" => keys(&["topologyKey", "whenUnsatisfiable"]),
            "ports"
                if matches!(
                    parent,
                    "containers" | "initContainers" | "ephemeralContainers"
                ) =>
            {
                keys(&["containerPort", "protocol"])
            }
            "ports" if parent == "spec" => keys(&["port", "protocol"]),
            "conditions" => keys(&["type"]),
            "ownerReferences" => keys(&["uid"]),
            "finalizers" if parent == "metadata" => ListStrategy::Primitive,
            _ => ListStrategy::Replace,
        }
    }
}

/// A custom OpenAPI schema (`openapi: {path: ...}`): Swagger definitions,
/// types found by their `x-kubernetes-group-version-kind`. While one is in
/// use, kustomize looks every type up in it alone.
#[derive(Debug, Default)]
pub struct CustomSchema {
    defs: Map<String, Value>,
    /// (apiVersion, kind) to the name of its definition.
    by_type: HashMap<(String, String), String>,
}

impl CustomSchema {
    /// Reads a schema file, JSON or YAML.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let v = crate::yaml::parse_one(text, path)?;
        let defs = v
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut by_type = HashMap::new();
        for (name, d) in &defs {
            let Some(Value::Array(gvks)) = d.get("x-kubernetes-group-version-kind") else {
                continue;
            };
            for g in gvks {
                let field = |f: &str| g.get(f).and_then(Value::as_str).unwrap_or("");
                let (group, version, kind) = (field("group"), field("version"), field("kind"));
                let api = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                by_type
                    .entry((api, kind.to_string()))
                    .or_insert_with(|| name.clone());
            }
        }
        Ok(CustomSchema { defs, by_type })
    }

    /// Whether the schema defines this type.
    pub fn defines(&self, api_version: &str, kind: &str) -> bool {
        self.by_type
            .contains_key(&(api_version.to_string(), kind.to_string()))
    }

    pub fn for_type(&self, api_version: &str, kind: &str) -> TypeSchema<'_> {
        let root = self
            .by_type
            .get(&(api_version.to_string(), kind.to_string()))
            .and_then(|n| self.defs.get(n));
        TypeSchema { schema: self, root }
    }

    /// Follows `$ref`s (bounded, as references may loop).
    fn resolve<'a>(&'a self, mut s: &'a Value) -> Option<&'a Value> {
        for _ in 0..64 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => s = self.defs.get(r.strip_prefix("#/definitions/")?)?,
                None => return Some(s),
            }
        }
        None
    }
}

/// kustomize's OpenAPI state during one build. kustomize keeps a single
/// global schema: definitions are added as they are parsed and never taken
/// out; the built-in ones are parsed lazily, on the first strategic merge,
/// or when a custom schema is parsed after an object of a kind the built-in
/// list does not name was read; and the first kustomization to name a
/// schema sets it. So which types a strategic merge knows depends on the
/// order things happened in: a custom schema named by a component, chosen
/// after a custom resource was read, is used together with the built-in
/// types, while one named by a base before any such read replaces them.
/// This replays that order.
#[derive(Debug, Default)]
pub struct OpenApi {
    state: RefCell<OpenApiState>,
}

#[derive(Debug, Default)]
struct OpenApiState {
    custom: Option<Rc<CustomSchema>>,
    initialised: bool,
    custom_parsed: bool,
    builtin: BuiltinParse,
    /// The built-in definitions were added after the custom ones, so they
    /// win for a type both define.
    builtin_last: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum BuiltinParse {
    #[default]
    NotParsed,
    /// Asked for before a custom schema was chosen: parsed with it.
    Delayed,
    Parsed,
}

impl OpenApiState {
    fn initialise(&mut self) {
        if self.initialised {
            return;
        }
        self.initialised = true;
        if self.custom.is_some() {
            self.custom_parsed = true;
            self.builtin_last = false;
        } else {
            self.builtin = BuiltinParse::Parsed;
            self.builtin_last = true;
        }
        if self.builtin == BuiltinParse::Delayed {
            self.builtin = BuiltinParse::Parsed;
            self.builtin_last = true;
        }
    }
}

/// The schema a strategic merge uses for one type.
pub enum TypeView {
    Custom(Rc<CustomSchema>),
    Builtin(Builtin),
}

impl OpenApi {
    pub fn choose_custom(&self, schema: CustomSchema) {
        let mut s = self.state.borrow_mut();
        s.custom = Some(Rc::new(schema));
        s.initialised = false;
    }

    pub fn choose_builtin(&self) {
        let mut s = self.state.borrow_mut();
        s.custom = None;
        s.initialised = false;
    }

    /// An object (or patch) of this type was read: kustomize asks whether
    /// it is namespaced, which for a type outside the built-in list needs
    /// the schema.
    pub fn note_type(&self, api_version: &str, kind: &str) {
        if is_builtin_type(api_version, kind) {
            return;
        }
        let mut s = self.state.borrow_mut();
        if s.initialised {
            return;
        }
        if s.custom.is_some() {
            s.initialise();
        } else if s.builtin == BuiltinParse::NotParsed {
            s.builtin = BuiltinParse::Delayed;
        }
    }

    /// The schema a strategic merge into this type uses now.
    pub fn view(&self, api_version: &str, kind: &str) -> TypeView {
        let mut s = self.state.borrow_mut();
        s.initialise();
        let builtin_knows = s.builtin == BuiltinParse::Parsed && is_builtin_type(api_version, kind);
        let custom = s
            .custom
            .clone()
            .filter(|c| s.custom_parsed && c.defines(api_version, kind));
        match custom {
            Some(c) if !(builtin_knows && s.builtin_last) => TypeView::Custom(c),
            _ => TypeView::Builtin(Builtin {
                known_type: builtin_knows,
                custom: Vec::new(),
            }),
        }
    }
}

/// One type's view of a [`CustomSchema`].
pub struct TypeSchema<'a> {
    schema: &'a CustomSchema,
    root: Option<&'a Value>,
}

impl TypeSchema<'_> {
    fn lookup(&self, path: &[&str]) -> Option<&Value> {
        let mut cur = self.schema.resolve(self.root?)?;
        for field in path {
            // The path skips sequence steps: walk into the items.
            for _ in 0..64 {
                if cur.get("type").and_then(Value::as_str) != Some("array") {
                    break;
                }
                cur = self.schema.resolve(cur.get("items")?)?;
            }
            let next = cur
                .get("properties")
                .and_then(|p| p.get(*field))
                .or_else(|| cur.get("additionalProperties").filter(|a| a.is_object()))?;
            cur = self.schema.resolve(next)?;
        }
        Some(cur)
    }
}

impl Schema for TypeSchema<'_> {
    fn list_strategy(&self, path: &[&str], _dest: &[Value], _patch: &[Value]) -> ListStrategy {
        let Some(s) = self.lookup(path) else {
            return ListStrategy::Replace;
        };
        let merges = s
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .is_some_and(|p| p.split(',').any(|x| x == "merge"));
        if !merges {
            return ListStrategy::Replace;
        }
        let keys: Vec<String> = match s.get("x-kubernetes-list-map-keys") {
            Some(Value::Array(ks)) => ks
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => s
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .map(|k| vec![k.to_string()])
                .unwrap_or_default(),
        };
        if keys.is_empty() {
            ListStrategy::Primitive
        } else {
            ListStrategy::Keys(keys)
        }
    }
}

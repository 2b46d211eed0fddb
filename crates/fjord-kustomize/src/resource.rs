//! The resource model: one Kubernetes object plus what the build remembers
//! about it (earlier ids, applied prefixes and suffixes, generator flags).

use std::fmt;

use serde_json::{Map, Value};

/// Group, version and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Empty selector fields match anything.
    pub fn is_selected_by(&self, group: &str, version: &str, kind: &str) -> bool {
        (group.is_empty() || group == self.group)
            && (version.is_empty() || version == self.version)
            && (kind.is_empty() || kind == self.kind)
    }

    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped_gvk(&self.group, &self.version, &self.kind)
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or = |s: &str, d: &'static str| {
            if s.is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        write!(
            f,
            "{}.{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]")
        )
    }
}

/// Whether objects of this group, version and kind are served without a
/// namespace. As in kustomize v5.5 this is known only for the built-in
/// types of the OpenAPI data it embeds (Kubernetes 1.21), by exact group
/// and version; anything else, custom resources included, is namespaced.
pub fn is_cluster_scoped_gvk(group: &str, version: &str, kind: &str) -> bool {
    const CLUSTER_SCOPED: &[(&str, &[&str], &str)] = &[
        (
            "admissionregistration.k8s.io",
            &["v1", "v1beta1"],
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            &["v1", "v1beta1"],
            "ValidatingWebhookConfiguration",
        ),
        (
            "apiextensions.k8s.io",
            &["v1", "v1beta1"],
            "CustomResourceDefinition",
        ),
        ("apiregistration.k8s.io", &["v1", "v1beta1"], "APIService"),
        (
            "certificates.k8s.io",
            &["v1", "v1beta1"],
            "CertificateSigningRequest",
        ),
        ("flowcontrol.apiserver.k8s.io", &["v1beta1"], "FlowSchema"),
        (
            "flowcontrol.apiserver.k8s.io",
            &["v1beta1"],
            "PriorityLevelConfiguration",
        ),
        ("networking.k8s.io", &["v1", "v1beta1"], "IngressClass"),
        ("node.k8s.io", &["v1", "v1beta1"], "RuntimeClass"),
        ("policy", &["v1beta1"], "PodSecurityPolicy"),
        (
            "rbac.authorization.k8s.io",
            &["v1", "v1beta1"],
            "ClusterRole",
        ),
        (
            "rbac.authorization.k8s.io",
            &["v1", "v1beta1"],
            "ClusterRoleBinding",
        ),
        ("scheduling.k8s.io", &["v1", "v1beta1"], "PriorityClass"),
        ("storage.k8s.io", &["v1", "v1beta1"], "CSIDriver"),
        ("storage.k8s.io", &["v1", "v1beta1"], "CSINode"),
        ("storage.k8s.io", &["v1", "v1beta1"], "StorageClass"),
        ("storage.k8s.io", &["v1", "v1beta1"], "VolumeAttachment"),
        ("", &["v1"], "ComponentStatus"),
        ("", &["v1"], "Namespace"),
        ("", &["v1"], "Node"),
        ("", &["v1"], "NodeProxyOptions"),
        ("", &["v1"], "PersistentVolume"),
    ];
    CLUSTER_SCOPED
        .iter()
        .any(|(g, vs, k)| *k == kind && *g == group && vs.contains(&version))
}

pub const DEFAULT_NAMESPACE: &str = "default";
pub const CLUSTER_SCOPE: &str = "_non_namespaceable_";

/// Identity of an object: group/version/kind, name and namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            CLUSTER_SCOPE
        } else if self.namespace.is_empty() {
            DEFAULT_NAMESPACE
        } else {
            &self.namespace
        }
    }

    /// Equality as kustomize defines it: "" and "default" are the same
    /// namespace.
    pub fn same_as(&self, o: &ResId) -> bool {
        self.gvk == o.gvk
            && self.name == o.name
            && self.effective_namespace() == o.effective_namespace()
    }

    /// A key such that `a.same_as(b)` iff `a.key() == b.key()`.
    pub fn key(&self) -> (Gvk, String, String) {
        (
            self.gvk.clone(),
            self.name.clone(),
            self.effective_namespace().to_string(),
        )
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "[noName]"
        } else {
            &self.name
        };
        write!(f, "{}/{}.{}", self.gvk, name, ns)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// Build-time facts about a resource that kustomize keeps in internal
/// annotations; here they live beside the object and never reach output.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    /// Earlier (kind, name, effective namespace) triples, oldest first.
    pub prev: Vec<(String, String, String)>,
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    pub needs_hash: bool,
    pub behavior: Behavior,
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
    /// Set once a name-reference has been resolved to this object.
    pub referenced: bool,
    /// Names of the vars whose values are read from this object.
    pub ref_vars: Vec<String>,
    /// A mapping key the object's source repeats (first one found).
    pub duplicate_key: Option<String>,
    /// Label and annotation values kustomize would hold as one shared node.
    pub shared: crate::shared_values::SharedValues,
}

impl BuildInfo {
    /// Whether `other` was given the same name decorations; with
    /// `allow_empty`, an undecorated side matches anything.
    pub fn decorations_equal(&self, other: &BuildInfo, allow_empty: bool) -> bool {
        let same_end = |a: &[String], b: &[String]| {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            if short.is_empty() {
                return long.is_empty();
            }
            long[long.len() - short.len()..] == *short
        };
        let pre = (allow_empty && (self.prefixes.is_empty() || other.prefixes.is_empty()))
            || same_end(&self.prefixes, &other.prefixes);
        let suf = (allow_empty && (self.suffixes.is_empty() || other.suffixes.is_empty()))
            || same_end(&self.suffixes, &other.suffixes);
        pre && suf
    }
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub obj: Map<String, Value>,
    pub build: BuildInfo,
}

impl Resource {
    pub fn new(obj: Map<String, Value>) -> Self {
        Resource {
            obj,
            build: BuildInfo::default(),
        }
    }

    fn str_at(&self, a: &str) -> &str {
        self.obj.get(a).and_then(Value::as_str).unwrap_or("")
    }

    fn meta_str(&self, a: &str) -> &str {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(a))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.str_at("kind")
    }

    pub fn api_version(&self) -> &str {
        self.str_at("apiVersion")
    }

    pub fn name(&self) -> &str {
        self.meta_str("name")
    }

    pub fn namespace(&self) -> &str {
        self.meta_str("namespace")
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn cur_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// A hash of the current id such that ids that are the same (in
    /// kustomize's sense, see [`ResId::same_as`]) hash alike; computed
    /// without allocating.
    pub fn id_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let (group, version) = match self.api_version().rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version()),
        };
        let kind = self.kind();
        let ns = if is_cluster_scoped_gvk(group, version, kind) {
            CLUSTER_SCOPE
        } else if self.namespace().is_empty() {
            DEFAULT_NAMESPACE
        } else {
            self.namespace()
        };
        (group, version, kind, self.name(), ns).hash(&mut h);
        h.finish()
    }

    pub fn prev_ids(&self) -> Vec<ResId> {
        let base = self.gvk();
        self.build
            .prev
            .iter()
            .map(|(k, n, ns)| ResId {
                gvk: Gvk {
                    kind: k.clone(),
                    ..base.clone()
                },
                name: n.clone(),
                namespace: ns.clone(),
            })
            .collect()
    }

    pub fn org_id(&self) -> ResId {
        self.prev_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.cur_id())
    }

    pub fn store_previous_id(&mut self) {
        let id = self.cur_id();
        let ns = id.effective_namespace().to_string();
        self.build.prev.push((id.gvk.kind, id.name, ns));
    }

    /// Lends the object as a `Value`, for code that walks field paths.
    pub fn with_value<R>(&mut self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut v = Value::Object(std::mem::take(&mut self.obj));
        let out = f(&mut v);
        if let Value::Object(m) = v {
            self.obj = m;
        }
        out
    }

    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let m = self
            .obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        match m {
            Value::Object(m) => m,
            _ => unreachable!("metadata was just made a mapping"),
        }
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.into()));
    }

    pub fn set_namespace(&mut self, ns: &str) {
        if ns.is_empty() {
            self.metadata_mut().remove("namespace");
        } else {
            self.metadata_mut()
                .insert("namespace".into(), Value::String(ns.into()));
        }
    }

    pub fn string_map(&self, field: &str) -> Map<String, Value> {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub fn labels(&self) -> Map<String, Value> {
        self.string_map("labels")
    }

    pub fn annotations(&self) -> Map<String, Value> {
        self.string_map("annotations")
    }

    pub fn set_annotation(&mut self, k: &str, v: &str) {
        let meta = self.metadata_mut();
        let a = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(a) = a {
            a.insert(k.into(), Value::String(v.into()));
        }
    }

    /// Whether `other` was given the same name decorations; with
    /// `allow_empty`, an undecorated side matches anything.
    pub fn prefixes_suffixes_equal(&self, other: &BuildInfo, allow_empty: bool) -> bool {
        self.build.decorations_equal(other, allow_empty)
    }

    /// The group, version and kind the object started with (earlier ids
    /// share the current group and version).
    pub fn org_gvk(&self) -> Gvk {
        let mut g = self.gvk();
        if let Some((kind, _, _)) = self.build.prev.first() {
            g.kind.clone_from(kind);
        }
        g
    }

    pub fn describe(&self) -> String {
        self.cur_id().to_string()
    }
}

//! Object identity and the order in which objects are applied.

use std::fmt;

use serde_json::Value;

/// The identity of an object in a cluster: group, kind, namespace, name.
/// The version is deliberately absent: the same object is served under
/// every version of its group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ObjectId {
    pub group: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    pub fn from_object(object: &Value) -> Self {
        let api_version = str_at(object, "/apiVersion");
        ObjectId {
            group: group_of(api_version).to_string(),
            kind: str_at(object, "/kind").to_string(),
            namespace: str_at(object, "/metadata/namespace").to_string(),
            name: str_at(object, "/metadata/name").to_string(),
        }
    }

    /// `group/kind` as Argo CD prints it (`/kind` for the core group is
    /// written as just `kind`).
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}/{}", self.group, self.kind) }
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn namespaced_name(&self) -> String {
        if self.namespace.is_empty() { self.name.clone() } else { format!("{}/{}", self.namespace, self.name) }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.group_kind(), self.namespaced_name())
    }
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// The phase an object is applied in. Earlier phases are applied (and, for
/// CRDs, established) before later ones start; pruning runs in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Namespaces,
    CustomResourceDefinitions,
    ClusterRbac,
    ClusterScoped,
    Namespaced,
}

pub fn phase_of(id: &ObjectId, namespaced: bool) -> Phase {
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "Namespace") => Phase::Namespaces,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Phase::CustomResourceDefinitions,
        ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding") => Phase::ClusterRbac,
        _ if !namespaced => Phase::ClusterScoped,
        _ => Phase::Namespaced,
    }
}

/// Within the namespaced phase, kinds that others depend on go first
/// (accounts and configuration before the workloads that mount them), as
/// Helm and Argo CD order them. Unknown kinds come last.
pub fn kind_rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget", "ServiceAccount", "Secret",
        "ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding", "Service", "DaemonSet", "Pod",
        "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
        "CronJob", "Ingress",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// The full apply order key: phase, then kind rank, then load order.
pub fn apply_order(id: &ObjectId, namespaced: bool, load_index: usize) -> (Phase, usize, usize) {
    (phase_of(id, namespaced), kind_rank(&id.kind), load_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectId {
        ObjectId::from_object(&json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}}))
    }

    #[test]
    fn identity_drops_the_version() {
        let a = id("apps/v1", "Deployment", "prod", "web");
        assert_eq!(a.group, "apps");
        assert_eq!(a.group_kind(), "apps/Deployment");
        assert_eq!(a.to_string(), "apps/Deployment prod/web");
        assert_eq!(id("v1", "Namespace", "", "prod").to_string(), "Namespace prod");
    }

    #[test]
    fn namespaces_then_crds_then_cluster_rbac_then_cluster_then_namespaced() {
        let mut objects = vec![
            (id("apps/v1", "Deployment", "p", "web"), true),
            (id("v1", "ConfigMap", "p", "cfg"), true),
            (id("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r"), false),
            (id("storage.k8s.io/v1", "StorageClass", "", "fast"), false),
            (id("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "x.example.com"), false),
            (id("v1", "Namespace", "", "p"), false),
            (id("example.com/v1", "Widget", "p", "w"), true),
            (id("v1", "ServiceAccount", "p", "sa"), true),
        ];
        objects.sort_by_key(|(id, namespaced)| apply_order(id, *namespaced, 0));
        let kinds: Vec<_> = objects.iter().map(|(id, _)| id.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["Namespace", "CustomResourceDefinition", "ClusterRole", "StorageClass", "ServiceAccount", "ConfigMap", "Deployment", "Widget"]
        );
    }
}

//! Merge keys of the Kubernetes built-in types, for strategic merge.

use serde_json::Value;

use crate::patch::strategic_merge::{ListStrategy, Schema, inferred_strategy};

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

impl Builtin {
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
    fn list_strategy(&self, path: &[&str], dest: &[Value], patch: &[Value]) -> ListStrategy {
        let field = path.last().copied().unwrap_or("");
        if let Some((_, s)) = self.custom.iter().find(|(f, _)| f == field) {
            return s.clone();
        }
        if !self.known_type {
            return inferred_strategy(dest, patch);
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
            | "resourceClaims"
            | "schedulingGates"
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

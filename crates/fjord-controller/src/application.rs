//! The Argo CD `Application` (`argoproj.io/v1alpha1`) as fjord reads it.
//!
//! Fields fjord does not support yet are kept (the CRD preserves unknown
//! fields) and reported by [`ApplicationSpec::unsupported`], never dropped.

use std::collections::BTreeMap;

use kube::discovery::ApiResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "Application";
pub const PLURAL: &str = "applications";
/// Deleting an Application with this finalizer deletes its objects too.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
/// The destination server that means "the cluster fjord runs in".
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

pub fn api_resource() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.into(),
        plural: PLURAL.into(),
    }
}

type Extra = BTreeMap<String, Value>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(default)]
    pub project: String,
    pub source: Option<SourceSpec>,
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    #[serde(default)]
    pub destination: DestinationSpec,
    pub sync_policy: Option<SyncPolicy>,
    #[serde(default)]
    pub ignore_differences: Vec<IgnoreDifference>,
    pub revision_history_limit: Option<i64>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeSpec>,
    #[serde(flatten)]
    pub other: Extra,
}

impl SourceSpec {
    pub fn revision(&self) -> &str {
        match self.target_revision.as_deref() {
            None | Some("") => "HEAD",
            Some(r) => r,
        }
    }

    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or(".")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySpec {
    #[serde(default)]
    pub recurse: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DestinationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: Option<Automated>,
    #[serde(default)]
    pub sync_options: Vec<String>,
    pub retry: Option<RetrySpec>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub self_heal: bool,
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetrySpec {
    pub limit: Option<i64>,
    pub backoff: Option<BackoffSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackoffSpec {
    pub duration: Option<String>,
    pub factor: Option<i64>,
    pub max_duration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub json_pointers: Vec<String>,
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// The sync options fjord acts on; others are reported as unsupported.
const KNOWN_SYNC_OPTIONS: &[&str] = &[
    "CreateNamespace=true",
    "CreateNamespace=false",
    "PruneLast=true",
    "ApplyOutOfSyncOnly=true",
    "Validate=true",
    "Validate=false",
    "ServerSideApply=true",
];

impl ApplicationSpec {
    pub fn from_object(object: &Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(object.get("spec").cloned().unwrap_or(Value::Null))
    }

    /// The one source this application renders. Several `sources` are not
    /// supported yet.
    pub fn single_source(&self) -> Option<&SourceSpec> {
        self.source.as_ref().or_else(|| if self.sources.len() == 1 { self.sources.first() } else { None })
    }

    pub fn automated(&self) -> Option<&Automated> {
        self.sync_policy.as_ref().and_then(|p| p.automated.as_ref())
    }

    pub fn has_sync_option(&self, option: &str) -> bool {
        self.sync_policy.as_ref().is_some_and(|p| p.sync_options.iter().any(|o| o.eq_ignore_ascii_case(option)))
    }

    pub fn history_limit(&self) -> usize {
        self.revision_history_limit.map(|n| n.clamp(0, 1000) as usize).unwrap_or(10)
    }

    /// Dotted paths of fields present in the spec that fjord does not act
    /// on yet.
    pub fn unsupported(&self) -> Vec<String> {
        let mut out: Vec<String> = self.other.keys().map(|k| format!("spec.{k}")).collect();
        if self.sources.len() > 1 {
            out.push("spec.sources (more than one source)".into());
        }
        if let Some(source) = self.single_source() {
            out.extend(source.other.keys().map(|k| format!("spec.source.{k}")));
            if let Some(d) = &source.directory {
                out.extend(d.other.keys().map(|k| format!("spec.source.directory.{k}")));
            }
            if let Some(k) = &source.kustomize {
                out.extend(k.other.keys().map(|f| format!("spec.source.kustomize.{f}")));
            }
        }
        if let Some(policy) = &self.sync_policy {
            out.extend(policy.other.keys().map(|k| format!("spec.syncPolicy.{k}")));
            for option in &policy.sync_options {
                if !KNOWN_SYNC_OPTIONS.iter().any(|k| k.eq_ignore_ascii_case(option)) {
                    out.push(format!("spec.syncPolicy.syncOptions {option}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scenario_application_parses_with_nothing_unsupported() {
        let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "payments", "namespace": "argocd"},
            "spec": {"project": "default",
                "source": {"repoURL": "git@host:org/infra-repo.git", "targetRevision": "HEAD", "path": "apps/overlays/production"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "payments"},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}});
        let spec = ApplicationSpec::from_object(&app).unwrap();
        assert_eq!(spec.single_source().unwrap().repo_url, "git@host:org/infra-repo.git");
        assert!(spec.automated().unwrap().self_heal);
        assert!(spec.has_sync_option("CreateNamespace=true"));
        assert!(spec.unsupported().is_empty(), "{:?}", spec.unsupported());
        assert_eq!(spec.history_limit(), 10);
    }

    #[test]
    fn unknown_fields_are_kept_and_reported() {
        let app = json!({"spec": {"source": {"repoURL": "r", "helm": {"valueFiles": ["v.yaml"]}},
            "destination": {}, "syncPolicy": {"syncOptions": ["Replace=true"], "managedNamespaceMetadata": {}},
            "info": [{"name": "a", "value": "b"}]}});
        let spec = ApplicationSpec::from_object(&app).unwrap();
        let unsupported = spec.unsupported();
        for expected in ["spec.info", "spec.source.helm", "spec.syncPolicy.managedNamespaceMetadata", "spec.syncPolicy.syncOptions Replace=true"] {
            assert!(unsupported.iter().any(|u| u == expected), "{expected} missing from {unsupported:?}");
        }
    }
}

//! Scopes decide the OAEP label, which binds a sealed value to where it may be opened.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub const ANNOTATION_NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
pub const ANNOTATION_CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Strict,
    NamespaceWide,
    ClusterWide,
}

impl Scope {
    /// Only the exact string "true" counts, and cluster-wide wins over namespace-wide, as in the
    /// controller; anything looser would derive a different label and fail to open.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Scope {
        let is_true = |k: &str| annotations.get(k).is_some_and(|v| v == "true");
        if is_true(ANNOTATION_CLUSTER_WIDE) {
            Scope::ClusterWide
        } else if is_true(ANNOTATION_NAMESPACE_WIDE) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    pub fn label(self, namespace: &str, name: &str) -> String {
        match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_string(),
            Scope::ClusterWide => String::new(),
        }
    }

    /// Drops both scope annotations and sets the one for this scope, like kubeseal does for a
    /// non-default `--scope`.
    pub fn apply_to_annotations(self, annotations: &mut BTreeMap<String, String>) {
        annotations.remove(ANNOTATION_NAMESPACE_WIDE);
        annotations.remove(ANNOTATION_CLUSTER_WIDE);
        match self {
            Scope::Strict => {}
            Scope::NamespaceWide => {
                annotations.insert(ANNOTATION_NAMESPACE_WIDE.into(), "true".into());
            }
            Scope::ClusterWide => {
                annotations.insert(ANNOTATION_CLUSTER_WIDE.into(), "true".into());
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            other => Err(format!(
                "unknown scope {other:?} (strict, namespace-wide, cluster-wide)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(Scope::Strict.label("myns", "myname"), "myns/myname");
        assert_eq!(Scope::NamespaceWide.label("myns", "myname"), "myns");
        assert_eq!(Scope::ClusterWide.label("myns", "myname"), "");
    }

    #[test]
    fn annotations_must_be_exactly_true_and_cluster_wide_wins() {
        let mut a = BTreeMap::new();
        a.insert(ANNOTATION_CLUSTER_WIDE.to_string(), "True".to_string());
        assert_eq!(Scope::from_annotations(&a), Scope::Strict);
        a.insert(ANNOTATION_NAMESPACE_WIDE.to_string(), "true".to_string());
        assert_eq!(Scope::from_annotations(&a), Scope::NamespaceWide);
        a.insert(ANNOTATION_CLUSTER_WIDE.to_string(), "true".to_string());
        assert_eq!(Scope::from_annotations(&a), Scope::ClusterWide);
        Scope::Strict.apply_to_annotations(&mut a);
        assert!(a.is_empty());
    }
}

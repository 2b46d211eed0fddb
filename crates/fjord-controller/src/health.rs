//! Health of live objects, as Argo CD reports it: Healthy, Progressing,
//! Degraded, Missing.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Healthy,
    Progressing,
    Missing,
    Degraded,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Degraded => "Degraded",
            Health::Missing => "Missing",
        }
    }
}

/// Health of one object; `None` when it does not exist.
pub fn assess(live: Option<&Value>) -> (Health, Option<String>) {
    let Some(live) = live else { return (Health::Missing, None) };
    let kind = live.get("kind").and_then(Value::as_str).unwrap_or_default();
    let int = |p: &str| live.pointer(p).and_then(Value::as_i64);
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = int("/status/observedGeneration").unwrap_or(0);
    match kind {
        "Deployment" | "StatefulSet" => {
            if let Some(reason) = failed_progress(live) {
                return (Health::Degraded, Some(reason));
            }
            let wanted = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let ready = if kind == "Deployment" { int("/status/availableReplicas") } else { int("/status/readyReplicas") }.unwrap_or(0);
            if observed < generation {
                (Health::Progressing, Some("waiting for the rollout to be observed".into()))
            } else if updated < wanted || ready < wanted {
                (Health::Progressing, Some(format!("{ready} of {wanted} replicas ready, {updated} updated")))
            } else {
                (Health::Healthy, None)
            }
        }
        "DaemonSet" => {
            let wanted = int("/status/desiredNumberScheduled").unwrap_or(0);
            let updated = int("/status/updatedNumberScheduled").unwrap_or(0);
            let available = int("/status/numberAvailable").unwrap_or(0);
            if observed < generation || updated < wanted || available < wanted {
                (Health::Progressing, Some(format!("{available} of {wanted} pods available")))
            } else {
                (Health::Healthy, None)
            }
        }
        "SealedSecret" if live.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("bitnami.com/")) => {
            sealed_secret(live)
        }
        _ => (Health::Healthy, None),
    }
}

/// As Argo CD's built-in check: the `Synced` condition decides, and until
/// the controller has written one the SealedSecret is still being opened.
fn sealed_secret(live: &Value) -> (Health, Option<String>) {
    let synced = live
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Synced"));
    let message = synced.and_then(|c| c["message"].as_str()).filter(|m| !m.is_empty()).map(str::to_string);
    match synced.and_then(|c| c["status"].as_str()) {
        Some("True") => (Health::Healthy, message),
        Some("False") => (Health::Degraded, message),
        _ => (Health::Progressing, Some("waiting for the SealedSecret to be opened".into())),
    }
}

fn failed_progress(live: &Value) -> Option<String> {
    let conditions = live.pointer("/status/conditions")?.as_array()?;
    conditions.iter().find_map(|c| {
        let failed = c["type"] == "Progressing" && c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded";
        failed.then(|| c["message"].as_str().unwrap_or("progress deadline exceeded").to_string())
    })
}

/// The application's health: the worst of its objects'.
pub fn aggregate(healths: impl IntoIterator<Item = Health>) -> Health {
    healths.into_iter().max().unwrap_or(Health::Healthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments_are_healthy_once_rolled_out() {
        let rolling = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 1}});
        assert_eq!(assess(Some(&rolling)).0, Health::Progressing);
        let done = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
        assert_eq!(assess(Some(&done)).0, Health::Healthy);
        let stale = json!({"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
        assert_eq!(assess(Some(&stale)).0, Health::Progressing);
        let stuck = json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(assess(Some(&stuck)).0, Health::Degraded);
        assert_eq!(assess(None).0, Health::Missing);
        assert_eq!(aggregate([Health::Healthy, Health::Missing, Health::Progressing]), Health::Missing);
    }

    #[test]
    fn sealed_secrets_follow_their_synced_condition() {
        let sealed = |status: Value| json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "status": status});
        assert_eq!(assess(Some(&sealed(json!(null)))).0, Health::Progressing);
        let opened = sealed(json!({"conditions": [{"type": "Synced", "status": "True"}]}));
        assert_eq!(assess(Some(&opened)), (Health::Healthy, None));
        let failed = sealed(json!({"conditions": [{"type": "Synced", "status": "False", "message": "no key could decrypt secret"}]}));
        assert_eq!(assess(Some(&failed)), (Health::Degraded, Some("no key could decrypt secret".into())));
    }
}

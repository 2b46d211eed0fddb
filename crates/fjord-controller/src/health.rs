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
        _ => (Health::Healthy, None),
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
}

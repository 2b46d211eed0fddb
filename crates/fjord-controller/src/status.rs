//! The Application status in Argo CD's shape, and the bookkeeping around
//! it: conditions, history, operation state.

use serde::Serialize;
use serde_json::{Value, json};

use crate::application::SourceSpec;

pub const SYNCED: &str = "Synced";
pub const OUT_OF_SYNC: &str = "OutOfSync";
pub const UNKNOWN: &str = "Unknown";

pub const COMPARISON_ERROR: &str = "ComparisonError";
pub const SYNC_ERROR: &str = "SyncError";
pub const INVALID_SPEC_ERROR: &str = "InvalidSpecError";
pub const SHARED_RESOURCE_WARNING: &str = "SharedResourceWarning";
pub const UNSUPPORTED_FIELD_WARNING: &str = "UnsupportedFieldWarning";
pub const SELF_HEAL_BACKOFF: &str = "SelfHealBackoff";

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    pub status: String,
    pub health: HealthStatus,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthStatus {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl Condition {
    pub fn new(type_: &str, message: impl Into<String>) -> Self {
        Condition { type_: type_.into(), message: message.into(), last_transition_time: None }
    }
}

/// Carries over the transition time of conditions that were already set,
/// so an unchanged condition does not rewrite the status.
pub fn stamp_conditions(mut conditions: Vec<Condition>, previous: &Value, now: &str) -> Vec<Condition> {
    let old = previous.pointer("/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    for c in &mut conditions {
        let same = old.iter().find(|o| o["type"] == c.type_.as_str() && o["message"] == c.message.as_str());
        c.last_transition_time = Some(
            same.and_then(|o| o["lastTransitionTime"].as_str()).map(str::to_string).unwrap_or_else(|| now.to_string()),
        );
    }
    conditions
}

/// One entry of `status.history`.
pub fn history_entry(id: i64, revision: &str, deployed_at: &str, source: &SourceSpec, started_at: &str, initiated_by: &Value) -> Value {
    json!({
        "id": id,
        "revision": revision,
        "deployedAt": deployed_at,
        "deployStartedAt": started_at,
        "source": source,
        "initiatedBy": initiated_by,
    })
}

/// Appends to the history, keeping the newest `limit` entries.
pub fn push_history(previous: &Value, entry: Value, limit: usize) -> Vec<Value> {
    let mut history = previous.pointer("/history").and_then(Value::as_array).cloned().unwrap_or_default();
    history.push(entry);
    let excess = history.len().saturating_sub(limit.max(1));
    history.drain(..excess);
    history
}

/// The next history id: one more than the largest so far.
pub fn next_history_id(previous: &Value) -> i64 {
    previous
        .pointer("/history")
        .and_then(Value::as_array)
        .map(|h| h.iter().filter_map(|e| e["id"].as_i64()).max().unwrap_or(-1) + 1)
        .unwrap_or(0)
}

/// Status fields compared to decide whether a write is needed; the
/// reconcile timestamp alone never justifies one.
pub fn meaningful(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(map) = s.as_object_mut() {
        map.remove("reconciledAt");
        map.remove("observedAt");
    }
    s
}

pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_capped_and_ids_increase() {
        let mut status = json!({});
        let source = SourceSpec::default();
        for i in 0..5 {
            let id = next_history_id(&status);
            assert_eq!(id, i);
            let entry = history_entry(id, &format!("rev{i}"), "t", &source, "t", &json!({"automated": true}));
            status = json!({"history": push_history(&status, entry, 3)});
        }
        let revisions: Vec<&str> = status["history"].as_array().unwrap().iter().map(|e| e["revision"].as_str().unwrap()).collect();
        assert_eq!(revisions, ["rev2", "rev3", "rev4"]);
    }

    #[test]
    fn unchanged_conditions_keep_their_time() {
        let previous = json!({"conditions": [{"type": "SyncError", "message": "m", "lastTransitionTime": "old"}]});
        let stamped = stamp_conditions(vec![Condition::new("SyncError", "m"), Condition::new("ComparisonError", "x")], &previous, "new");
        assert_eq!(stamped[0].last_transition_time.as_deref(), Some("old"));
        assert_eq!(stamped[1].last_transition_time.as_deref(), Some("new"));
    }
}

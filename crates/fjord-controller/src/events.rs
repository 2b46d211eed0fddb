//! Kubernetes Events (`events.k8s.io/v1`) about the objects fjord acts on.
//! Each gets an Event of its own, never aggregated into a series: they are
//! the audit trail. Notes must never hold secret values.

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// The object an Event is about.
pub struct Regarding<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// Who reports: the controller's name and this replica's identity.
pub struct Reporter<'a> {
    pub controller: &'a str,
    pub instance: &'a str,
}

pub struct Note<'a> {
    pub type_: EventType,
    pub reason: &'a str,
    pub action: &'a str,
    pub note: &'a str,
}

/// Records an Event; a failure is logged, never fatal to the caller.
pub async fn record(client: &kube::Client, reporter: Reporter<'_>, regarding: Regarding<'_>, note: Note<'_>) {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let event = json!({
        // Named as Kubernetes names events: the object, then a unique suffix.
        "metadata": {"name": format!("{}.{:x}", regarding.name, now.0.as_nanosecond()), "namespace": regarding.namespace},
        "eventTime": now,
        "type": match note.type_ { EventType::Normal => "Normal", EventType::Warning => "Warning" },
        "reason": note.reason,
        "action": note.action,
        "note": note.note,
        "reportingController": reporter.controller,
        "reportingInstance": reporter.instance,
        "regarding": {
            "apiVersion": regarding.api_version,
            "kind": regarding.kind,
            "name": regarding.name,
            "namespace": regarding.namespace,
            "uid": regarding.uid,
        },
    });
    let event = match serde_json::from_value::<Event>(event) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(object = regarding.name, error = %e, "cannot build an event");
            return;
        }
    };
    let api: Api<Event> = Api::namespaced(client.clone(), regarding.namespace);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(object = regarding.name, reason = note.reason, error = %e, "cannot record an event");
    }
}

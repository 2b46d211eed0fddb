//! Leader election on a `coordination.k8s.io` Lease, so two replicas can
//! run safely: only the holder reconciles.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use serde_json::json;

pub const LEASE_NAME: &str = "fjord-controller";
const LEASE_DURATION: Duration = Duration::from_secs(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Blocks until this replica holds the lease; then keeps renewing it in the
/// background and calls `lost` if it ever cannot.
pub async fn acquire(client: kube::Client, namespace: &str, identity: &str, lost: impl FnOnce() + Send + 'static) {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    loop {
        match try_hold(&api, identity).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "leader election: cannot read or write the lease"),
        }
        tokio::time::sleep(RENEW_EVERY).await;
    }
    tracing::info!(identity, "leader election: this replica leads");
    let identity = identity.to_string();
    tokio::spawn(async move {
        let mut failures = 0;
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match try_hold(&api, &identity).await {
                Ok(true) => failures = 0,
                Ok(false) => break,
                Err(_) => {
                    failures += 1;
                    if RENEW_EVERY * failures >= LEASE_DURATION {
                        break;
                    }
                }
            }
        }
        tracing::error!("leader election: lost the lease");
        lost();
    });
}

/// Takes or renews the lease; false when another live holder has it.
async fn try_hold(api: &Api<Lease>, identity: &str) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let spec = json!({
        "holderIdentity": identity,
        "leaseDurationSeconds": LEASE_DURATION.as_secs(),
        "renewTime": MicroTime(now),
    });
    let Some(lease) = api.get_opt(LEASE_NAME).await? else {
        let mut spec = spec;
        spec["acquireTime"] = serde_json::to_value(MicroTime(now)).unwrap_or_default();
        let lease: Lease = serde_json::from_value(json!({"metadata": {"name": LEASE_NAME}, "spec": spec}))
            .map_err(kube::Error::SerdeError)?;
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let current = lease.spec.clone().unwrap_or_default();
    let holder = current.holder_identity.clone().unwrap_or_default();
    let expired = current.renew_time.as_ref().is_none_or(|t| {
        let duration = current.lease_duration_seconds.unwrap_or(LEASE_DURATION.as_secs() as i32);
        t.0.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(duration))).is_ok_and(|end| end < now)
    });
    if holder != identity && !expired && !holder.is_empty() {
        return Ok(false);
    }
    let mut updated = lease.clone();
    let mut new_spec = current;
    if holder != identity {
        new_spec.acquire_time = Some(MicroTime(now));
        new_spec.lease_transitions = Some(new_spec.lease_transitions.unwrap_or(0) + 1);
    }
    new_spec.holder_identity = Some(identity.to_string());
    new_spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
    new_spec.renew_time = Some(MicroTime(now));
    updated.spec = Some(new_spec);
    // The resourceVersion in `updated` makes this a compare-and-swap.
    match api.replace(LEASE_NAME, &PostParams::default(), &updated).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

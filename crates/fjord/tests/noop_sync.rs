//! A no-op sync sends no writes. Its own test binary, so that no other
//! test applies objects while it reads the server's request counters.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use support::{Fjord, configmap, deployment_and_service};
use testenv::{TestEnv, write_tree};

#[tokio::test]
async fn create_then_resync_sends_no_writes() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("create").await;
    let tree = write_tree(&[
        ("cm.yaml", &configmap("settings", "LEVEL", "info")),
        ("web.yaml", &deployment_and_service("web")),
    ]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);

    let first = fjord.sync_json(tree.path(), &[]);
    let results: Vec<(&str, &str)> = first["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("ConfigMap", "created"),
            ("Service", "created"),
            ("Deployment", "created")
        ]
    );

    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns.name);
    // Controllers keep writing the Deployment's status, so its resourceVersion
    // moves; its generation and fjord's managedFields entry must not.
    let fjord_entry = |d: Deployment| {
        let entry = d
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.manager.as_deref() == Some("fjord"));
        (d.metadata.generation, entry.and_then(|m| m.time))
    };
    let before = fjord_entry(deployments.get("web").await.unwrap());
    assert!(before.1.is_some(), "fjord manages the Deployment");
    let applies_before = support::server_applies(&env).await;

    let second = fjord.sync_json(tree.path(), &[]);
    assert_eq!(second["summary"]["unchanged"], 3, "{second}");
    assert_eq!(second["writes"], 0, "{second}");
    // The server agrees: no apply reached it, nothing changed.
    assert_eq!(support::server_applies(&env).await, applies_before);
    assert_eq!(fjord_entry(deployments.get("web").await.unwrap()), before);
    ns.delete().await;
}

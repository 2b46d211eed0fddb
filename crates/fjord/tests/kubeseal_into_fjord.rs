//! The other direction of interop: values sealed by the real upstream
//! `kubeseal` open in fjord's controller, and keys made by the upstream
//! controller serve fjord's controller unchanged.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use support::fjord_sealed::{SealedController, apply_sealed, secret_items};
use support::upstream_sealed::{UpstreamController, kubeseal};
use testenv::{TestEnv, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn secret_yaml(name: &str, namespace: &str, annotations: &str, password: &str) -> Vec<u8> {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n{annotations}\
         type: Opaque\nstringData:\n  password: {password}\n  user: app\n"
    )
    .into_bytes()
}

fn sealed_by_kubeseal(env: &TestEnv, args: &[&str], secret: &[u8]) -> Vec<u8> {
    let out = kubeseal(env, args, secret);
    assert!(
        out.status.success(),
        "kubeseal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn wait_opened(env: &TestEnv, ns: &str, name: &str, password: &str) {
    let want: std::collections::BTreeMap<String, Vec<u8>> =
        [("password", password), ("user", "app")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
    wait_until(
        WAIT,
        &format!("Secret {ns}/{name} opened by fjord"),
        || async { secret_items(env, ns, name).await.as_ref() == Some(&want) },
    )
    .await;
}

#[tokio::test]
async fn values_sealed_by_kubeseal_open_in_fjords_controller() {
    let env = TestEnv::connect().await;
    let keys = env.namespace("kubeseal-keys").await;
    let apps = env.namespace("kubeseal-apps").await;
    let ns = apps.name.as_str();
    let controller = SealedController::start(&env, &keys.name, ns, &["--key-size", "2048"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, controller.cert_pem().await).unwrap();
    let cert = cert.to_str().unwrap();

    // Strict scope, certificate from a file, JSON output (kubeseal's default).
    let strict = sealed_by_kubeseal(
        &env,
        &["--cert", cert],
        &secret_yaml("strict", ns, "", "k1-strict"),
    );
    apply_sealed(&env, ns, &strict).await;
    // Namespace-wide, YAML output.
    let wide = sealed_by_kubeseal(
        &env,
        &["--cert", cert, "--scope", "namespace-wide", "-o", "yaml"],
        &secret_yaml("wide", ns, "", "k1-wide"),
    );
    apply_sealed(&env, ns, &wide).await;
    // Cluster-wide, with the certificate fetched by kubeseal from fjord's endpoint.
    let url = format!("{}/v1/cert.pem", controller.url);
    let cluster = sealed_by_kubeseal(
        &env,
        &["--cert", &url, "--scope", "cluster-wide"],
        &secret_yaml("everywhere", ns, "", "k1-cluster"),
    );
    apply_sealed(&env, ns, &cluster).await;

    wait_opened(&env, ns, "strict", "k1-strict").await;
    wait_opened(&env, ns, "wide", "k1-wide").await;
    wait_opened(&env, ns, "everywhere", "k1-cluster").await;

    // A strict value moved to another name does not open.
    let mut renamed: serde_json::Value = serde_json::from_slice(&strict).unwrap();
    renamed["metadata"]["name"] = "renamed".into();
    apply_sealed(
        &env,
        ns,
        serde_json::to_string(&renamed).unwrap().as_bytes(),
    )
    .await;
    wait_until(WAIT, "renamed refused", || async {
        support::fjord_sealed::synced(&env, ns, "renamed")
            .await
            .is_some_and(|c| c.0 == "False")
    })
    .await;
    assert!(
        secret_items(&env, ns, "renamed").await.is_none(),
        "a strict value must not open under another name"
    );

    drop(controller);
    keys.delete().await;
    apps.delete().await;
}

#[tokio::test]
async fn keys_made_by_the_upstream_controller_serve_fjords_controller() {
    let env = TestEnv::connect().await;
    let upstream_ns = env.namespace("upstream-keys").await;
    let keys = env.namespace("fjord-keys").await;
    let apps = env.namespace("moved-apps").await;
    let ns = apps.name.as_str();

    // The upstream controller makes its key; its Secret is copied as a backup would be restored.
    let upstream = UpstreamController::start(&env, &upstream_ns.name).await;
    let upstream_cert = upstream.cert_pem();
    let originals = upstream.key_secrets().await;
    assert!(!originals.is_empty());
    let restore: Api<Secret> = Api::namespaced(env.client.clone(), &keys.name);
    for original in &originals {
        let copy = Secret {
            metadata: ObjectMeta {
                name: original.metadata.name.clone(),
                labels: original.metadata.labels.clone(),
                ..Default::default()
            },
            type_: original.type_.clone(),
            data: original.data.clone(),
            ..Default::default()
        };
        restore.create(&PostParams::default(), &copy).await.unwrap();
    }
    drop(upstream);

    let controller = SealedController::start(&env, &keys.name, ns, &[]);
    assert_eq!(
        controller.cert_pem().await,
        upstream_cert,
        "fjord serves the upstream key's certificate"
    );
    let stored = restore.list(&Default::default()).await.unwrap().items;
    assert_eq!(
        stored.len(),
        originals.len(),
        "no new key when an upstream key is there"
    );

    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("upstream.pem");
    std::fs::write(&cert, &upstream_cert).unwrap();
    let sealed = sealed_by_kubeseal(
        &env,
        &["--cert", cert.to_str().unwrap()],
        &secret_yaml("moved", ns, "", "k2-moved"),
    );
    apply_sealed(&env, ns, &sealed).await;
    wait_opened(&env, ns, "moved", "k2-moved").await;

    drop(controller);
    upstream_ns.delete().await;
    keys.delete().await;
    apps.delete().await;
}

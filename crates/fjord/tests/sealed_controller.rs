//! fjord's SealedSecret controller against the local control plane: keys,
//! opening into Secrets, ownership, failures, renewal and the kubeseal
//! endpoints.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use support::fjord_sealed::{
    SealedController, apply_sealed, seal, seal_output, secret_items, synced,
};
use testenv::{TestEnv, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn secret_yaml(name: &str, namespace: &str, items: &[(&str, &str)]) -> Vec<u8> {
    let items: String = items.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    app: shop\n\
         type: kubernetes.io/basic-auth\nstringData:\n{items}"
    )
    .into_bytes()
}

async fn key_secrets(env: &TestEnv, namespace: &str) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), namespace);
    let mut keys = api
        .list(&ListParams::default().labels("sealedsecrets.bitnami.com/sealed-secrets-key=active"))
        .await
        .expect("list key Secrets")
        .items;
    keys.sort_by_key(|s| s.metadata.creation_timestamp.clone());
    keys
}

fn item(secret: &Secret, key: &str) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .unwrap_or_default()
}

async fn wait_items(env: &TestEnv, ns: &str, name: &str, expected: &[(&str, &str)]) {
    let expected: std::collections::BTreeMap<String, Vec<u8>> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    wait_until(
        WAIT,
        &format!("Secret {ns}/{name} with the sealed items"),
        || async { secret_items(env, ns, name).await.as_ref() == Some(&expected) },
    )
    .await;
}

#[tokio::test]
async fn first_start_makes_a_key_serves_its_certificate_and_a_restart_reuses_it() {
    let env = TestEnv::connect().await;
    let keys_ns = env.namespace("sealed-keys").await;
    let apps_ns = env.namespace("sealed-apps").await;

    let controller = SealedController::start(&env, &keys_ns.name, &apps_ns.name, &[]);
    let served = controller.cert_pem().await;
    let keys = key_secrets(&env, &keys_ns.name).await;
    assert_eq!(keys.len(), 1, "one key on first start");
    let key = &keys[0];
    assert_eq!(key.type_.as_deref(), Some("kubernetes.io/tls"));
    assert!(
        key.metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .starts_with("sealed-secrets-key")
    );
    assert!(
        item(key, "tls.key").starts_with(b"-----BEGIN RSA PRIVATE KEY-----"),
        "tls.key is PKCS#1 PEM"
    );
    assert_eq!(
        String::from_utf8(item(key, "tls.crt")).unwrap(),
        served,
        "the served certificate is the key's"
    );
    let private = fjord_seal::parse_private_keys(&item(key, "tls.key"), "tls.key").unwrap();
    let cert = fjord_seal::parse_cert_pem(served.as_bytes()).unwrap();
    assert_eq!(private[0].public_key(), cert.public_key);
    assert_eq!(private[0].bits(), 4096, "RSA-4096 by default");

    let fetched = seal(&["--fetch-cert", "--controller-url", &controller.url], b"");
    assert_eq!(
        String::from_utf8(fetched).unwrap(),
        served,
        "--fetch-cert prints the served certificate"
    );

    drop(controller);
    let again = SealedController::start(&env, &keys_ns.name, &apps_ns.name, &[]);
    assert_eq!(again.cert_pem().await, served, "a restart keeps the key");
    assert_eq!(
        key_secrets(&env, &keys_ns.name).await.len(),
        1,
        "a restart makes no new key"
    );
    drop(again);

    // After a leak: a cutoff later than the key makes a new one at start, SIGUSR1 another.
    let now = k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(1);
    let cutoff = k8s_openapi::jiff::fmt::rfc2822::to_string(
        &now.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let renewed = SealedController::start(
        &env,
        &keys_ns.name,
        &apps_ns.name,
        &["--key-size", "2048", "--key-cutoff-time", &cutoff],
    );
    assert_ne!(
        renewed.cert_pem().await,
        served,
        "a key older than the cutoff is replaced"
    );
    assert_eq!(
        key_secrets(&env, &keys_ns.name).await.len(),
        2,
        "the old key is kept for opening"
    );
    renewed.signal("USR1");
    wait_until(WAIT, "a key made on SIGUSR1", || async {
        key_secrets(&env, &keys_ns.name).await.len() == 3
    })
    .await;

    drop(renewed);
    keys_ns.delete().await;
    apps_ns.delete().await;
}

#[tokio::test]
async fn sealed_secret_becomes_its_secret_and_stays_so() {
    let env = TestEnv::connect().await;
    let keys_ns = env.namespace("sealed-keys").await;
    let apps = env.namespace("sealed-apps").await;
    let ns = apps.name.as_str();
    let controller = SealedController::start(&env, &keys_ns.name, ns, &["--key-size", "2048"]);
    controller.cert_pem().await;
    let url = controller.url.as_str();

    // Sealed with the certificate fetched from the controller, opened into the Secret.
    let sealed = seal(
        &["--controller-url", url, "-o", "yaml"],
        &secret_yaml("db", ns, &[("user", "admin"), ("password", "hunter2")]),
    );
    let applied = apply_sealed(&env, ns, &sealed).await;
    wait_items(
        &env,
        ns,
        "db",
        &[("user", "admin"), ("password", "hunter2")],
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    let secret = secrets.get("db").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(
        secret
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app"))
            .map(String::as_str),
        Some("shop")
    );
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].kind.as_str(), owners[0].controller),
        ("SealedSecret", Some(true))
    );
    assert_eq!(owners[0].uid, applied.metadata.uid.clone().unwrap());
    wait_until(WAIT, "Synced=True", || async {
        synced(&env, ns, "db").await.is_some_and(|c| c.0 == "True")
    })
    .await;
    let events: Api<Event> = Api::namespaced(env.client.clone(), ns);
    let listed = events.list(&ListParams::default()).await.unwrap().items;
    assert!(
        listed
            .iter()
            .any(|e| e.reason.as_deref() == Some("Unsealed")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("db")),
        "an Unsealed event on the SealedSecret"
    );

    // A deleted Secret comes back.
    secrets
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    wait_until(WAIT, "Secret db deleted", || async {
        secret_items(&env, ns, "db").await.is_none()
    })
    .await;
    wait_items(
        &env,
        ns,
        "db",
        &[("user", "admin"), ("password", "hunter2")],
    )
    .await;

    // A new item merged into the file reaches the Secret.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &sealed).unwrap();
    let path = file.path().to_str().unwrap();
    seal(
        &["--controller-url", url, "--merge-into", path],
        &secret_yaml("db", ns, &[("token", "t0k3n")]),
    );
    apply_sealed(&env, ns, &std::fs::read(file.path()).unwrap()).await;
    wait_items(
        &env,
        ns,
        "db",
        &[
            ("user", "admin"),
            ("password", "hunter2"),
            ("token", "t0k3n"),
        ],
    )
    .await;

    // A tampered value: the Secret stays as it was and the status says why.
    let mut tampered: serde_json::Value =
        serde_yaml::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    let value = tampered["spec"]["encryptedData"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if value.as_bytes()[40] == b'A' {
        'B'
    } else {
        'A'
    };
    let broken = format!("{}{flipped}{}", &value[..40], &value[41..]);
    tampered["spec"]["encryptedData"]["password"] = broken.into();
    apply_sealed(
        &env,
        ns,
        serde_json::to_string(&tampered).unwrap().as_bytes(),
    )
    .await;
    wait_until(WAIT, "Synced=False after tampering", || async {
        synced(&env, ns, "db").await.is_some_and(|c| c.0 == "False")
    })
    .await;
    let (_, reason, message) = synced(&env, ns, "db").await.unwrap();
    assert_eq!(reason, "ErrUnsealFailed");
    assert!(
        message.contains("password"),
        "the message names the item: {message}"
    );
    wait_items(
        &env,
        ns,
        "db",
        &[
            ("user", "admin"),
            ("password", "hunter2"),
            ("token", "t0k3n"),
        ],
    )
    .await;

    // A Secret someone else made is not overwritten; one marked managed is taken over.
    let foreign =
        serde_json::json!({"metadata": {"name": "foreign"}, "stringData": {"password": "theirs"}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(foreign).unwrap(),
        )
        .await
        .unwrap();
    let handed = serde_json::json!({"metadata": {"name": "handed", "annotations": {"sealedsecrets.bitnami.com/managed": "true"}}, "type": "kubernetes.io/basic-auth", "stringData": {"password": "old"}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(handed).unwrap(),
        )
        .await
        .unwrap();
    for name in ["foreign", "handed"] {
        let sealed = seal(
            &["--controller-url", url],
            &secret_yaml(name, ns, &[("password", "ours")]),
        );
        apply_sealed(&env, ns, &sealed).await;
    }
    wait_items(&env, ns, "handed", &[("password", "ours")]).await;
    wait_until(WAIT, "Synced=False for foreign", || async {
        synced(&env, ns, "foreign")
            .await
            .is_some_and(|c| c.0 == "False")
    })
    .await;
    let (_, reason, message) = synced(&env, ns, "foreign").await.unwrap();
    assert_eq!(reason, "ErrUpdateFailed");
    assert!(message.contains("not managed"), "{message}");
    wait_items(&env, ns, "foreign", &[("password", "theirs")]).await;

    // Deleting the SealedSecret deletes its Secret (garbage collection via the owner reference).
    support::fjord_sealed::sealed_secrets(&env, ns)
        .delete("handed", &DeleteParams::foreground())
        .await
        .unwrap();
    wait_until(WAIT, "Secret handed collected", || async {
        secret_items(&env, ns, "handed").await.is_none()
    })
    .await;

    let log = controller.log();
    for value in ["hunter2", "t0k3n", "theirs"] {
        assert!(
            !log.contains(value),
            "a secret value reached the controller log"
        );
    }
    assert!(
        !log.contains("PRIVATE KEY"),
        "a private key reached the controller log"
    );
    drop(controller);
    keys_ns.delete().await;
    apps.delete().await;
}

#[tokio::test]
async fn keys_renew_old_values_still_open_and_re_encrypt_moves_to_the_newest() {
    let env = TestEnv::connect().await;
    let keys_ns = env.namespace("sealed-keys").await;
    let apps = env.namespace("sealed-apps").await;
    let ns = apps.name.as_str();
    let controller = SealedController::start(
        &env,
        &keys_ns.name,
        ns,
        &["--key-size", "2048", "--key-renew-period", "3s"],
    );
    let first = controller.cert_pem().await;
    let dir = tempfile::tempdir().unwrap();
    let first_cert = dir.path().join("first.pem");
    std::fs::write(&first_cert, &first).unwrap();

    wait_until(WAIT, "a renewed key", || async {
        key_secrets(&env, &keys_ns.name).await.len() >= 2
    })
    .await;
    let newest = controller.cert_pem().await;
    assert_ne!(
        newest, first,
        "the newest key's certificate is served after renewal"
    );

    // Sealed for the first key, opened after renewal.
    let old = seal(
        &["--cert", first_cert.to_str().unwrap(), "-o", "yaml"],
        &secret_yaml("old", ns, &[("password", "s3cret")]),
    );
    apply_sealed(&env, ns, &old).await;
    wait_items(&env, ns, "old", &[("password", "s3cret")]).await;

    // Re-encrypted by the controller: only the newest key opens it now.
    let input = dir.path().join("old.yaml");
    std::fs::write(&input, &old).unwrap();
    let rotated = seal(
        &[
            "--re-encrypt",
            "--controller-url",
            &controller.url,
            "-f",
            input.to_str().unwrap(),
        ],
        b"",
    );
    let rotated_file = dir.path().join("rotated.json");
    std::fs::write(&rotated_file, &rotated).unwrap();
    // Keys keep renewing every 3 s, so the one that re-encrypted is any key but the first.
    let keys = key_secrets(&env, &keys_ns.name).await;
    let unseal_with = |key: &Secret, name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, item(key, "tls.key")).unwrap();
        seal_output(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                path.to_str().unwrap(),
                "-f",
                rotated_file.to_str().unwrap(),
            ],
            b"",
        )
    };
    let (first_key, later_keys): (Vec<&Secret>, Vec<&Secret>) = keys
        .iter()
        .partition(|k| String::from_utf8_lossy(&item(k, "tls.crt")) == first);
    assert_eq!(first_key.len(), 1, "the first key is kept");
    assert!(
        !unseal_with(first_key[0], "first.key").status.success(),
        "the first key no longer opens it"
    );
    let opened = later_keys
        .iter()
        .enumerate()
        .map(|(i, k)| unseal_with(k, &format!("later-{i}.key")))
        .find(|out| out.status.success())
        .expect("a newer key opens the re-encrypted value");
    let opened: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    assert_eq!(
        opened["data"]["password"], "czNjcmV0",
        "same value after re-encryption"
    );

    drop(controller);
    keys_ns.delete().await;
    apps.delete().await;
}

//! Wire compatibility with the upstream Sealed Secrets tools, on the local control plane.
//!
//! - SealedSecrets made by `fjord seal` with the certificate of a running upstream
//!   controller are opened by that controller (each scope, `--raw`, `--merge-into`).
//! - SealedSecrets made by the upstream `kubeseal` are opened by `fjord seal
//!   --recovery-unseal` with the controller's exported key Secrets, and refused
//!   when their scope does not match where they are used.
//!
//! The upstream binaries come from `testenv/build-sealed-secrets.sh` (run here
//! when they are not cached). Values are compared byte for byte; failures name
//! items and lengths, never values.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};
use support::upstream_sealed::{
    UpstreamController, assert_same_data, fjord_seal, kubeseal, sealed_secrets_api, secret_data,
};
use testenv::TestEnv;

const NS_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";

type Data = BTreeMap<String, Vec<u8>>;

/// Items that exercise the encoding: binary bytes, multi-line text, UTF-8, an
/// empty value and a long one.
fn sample_data(seed: &str) -> Data {
    let mut d = Data::new();
    d.insert(
        "binary".into(),
        (0..=255u8).rev().chain(0..=255u8).collect(),
    );
    d.insert(
        "config.yaml".into(),
        format!("user: {seed}\npassword: \"p@ss:{seed}\"\n").into_bytes(),
    );
    d.insert("utf8".into(), format!("grüße-{seed}-ключ-🔑").into_bytes());
    d.insert("empty".into(), Vec::new());
    d.insert("long".into(), seed.repeat(400).into_bytes());
    d
}

fn b64(bytes: &[u8]) -> Value {
    serde_json::to_value(ByteString(bytes.to_vec())).expect("base64")
}

/// A Secret as JSON. `string_data` items go to `stringData`, the rest to `data`.
fn secret_json(
    namespace: Option<&str>,
    name: &str,
    type_: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
    data: &Data,
    string_data: &[(&str, &str)],
) -> Vec<u8> {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    metadata["labels"] = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if !annotations.is_empty() {
        metadata["annotations"] = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
    }
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": type_,
        "data": data.iter().map(|(k, v)| (k.clone(), b64(v))).collect::<serde_json::Map<_, _>>(),
    });
    if !string_data.is_empty() {
        secret["stringData"] = string_data
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
    }
    serde_json::to_vec_pretty(&secret).expect("json")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn with_string_data(mut d: Data, string_data: &[(&str, &str)]) -> Data {
    for (k, v) in string_data {
        d.insert(k.to_string(), v.as_bytes().to_vec());
    }
    d
}

/// stdout of a command that must succeed; on failure shows stderr only (stdout may hold
/// secrets).
fn ok(what: &str, out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn parse(bytes: &[u8]) -> Value {
    serde_yaml::from_slice(bytes).expect("JSON or YAML output")
}

/// Creates the SealedSecret `object` in `namespace`; returns its uid.
async fn apply(env: &TestEnv, namespace: &str, mut object: Value) -> String {
    object["metadata"]["namespace"] = json!(namespace);
    let obj: DynamicObject = serde_json::from_value(object).expect("SealedSecret object");
    let name = obj.metadata.name.clone().unwrap_or_default();
    let created = sealed_secrets_api(env, namespace)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create SealedSecret {namespace}/{name}: {e}"));
    created.metadata.uid.expect("uid")
}

/// The `Synced` condition of a SealedSecret: (status, message).
async fn synced(env: &TestEnv, namespace: &str, name: &str) -> Option<(String, String)> {
    let ss = sealed_secrets_api(env, namespace).get(name).await.ok()?;
    let conditions = ss
        .data
        .get("status")?
        .get("conditions")?
        .as_array()?
        .clone();
    conditions.iter().find(|c| c["type"] == "Synced").map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Waits for the Secret the controller makes from SealedSecret `name`.
async fn opened_secret(env: &TestEnv, ctrl: &UpstreamController, name: &str) -> Secret {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), &ctrl.namespace);
    let start = Instant::now();
    loop {
        if let Some(s) = api.get_opt(name).await.expect("get Secret") {
            return s;
        }
        if start.elapsed() > Duration::from_secs(90) {
            panic!(
                "no Secret {}/{name} from the upstream controller after 90 s; SealedSecret Synced: {:?}\ncontroller log:\n{}",
                ctrl.namespace,
                synced(env, &ctrl.namespace, name).await,
                ctrl.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks the Secret the upstream controller produced: values, type, labels,
/// annotations and its owner.
#[allow(clippy::too_many_arguments)]
async fn check_opened(
    env: &TestEnv,
    ctrl: &UpstreamController,
    name: &str,
    uid: &str,
    want_data: &Data,
    want_type: &str,
    want_labels: &BTreeMap<String, String>,
    want_annotations: &BTreeMap<String, String>,
) {
    let secret = opened_secret(env, ctrl, name).await;
    let what = format!(
        "Secret {}/{name} opened by the upstream controller",
        ctrl.namespace
    );
    assert_same_data(&secret_data(&secret), want_data, &what);
    assert_eq!(secret.type_.as_deref(), Some(want_type), "{what}: type");
    assert_eq!(
        secret.metadata.labels.clone().unwrap_or_default(),
        *want_labels,
        "{what}: labels"
    );
    assert_eq!(
        secret.metadata.annotations.clone().unwrap_or_default(),
        *want_annotations,
        "{what}: annotations"
    );
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{what}: ownerReferences");
    assert_eq!(
        (
            owners[0].kind.as_str(),
            owners[0].name.as_str(),
            owners[0].uid.as_str(),
            owners[0].controller
        ),
        ("SealedSecret", name, uid, Some(true)),
        "{what}: owner"
    );
}

/// The upstream controller refuses SealedSecret `name`: Synced turns False with
/// its decryption error, and no Secret appears.
async fn check_refused(env: &TestEnv, ctrl: &UpstreamController, name: &str) {
    let start = Instant::now();
    let condition = loop {
        match synced(env, &ctrl.namespace, name).await {
            Some((status, message)) if status == "False" => break message,
            Some((status, _)) if status == "True" => {
                panic!("SealedSecret {name} was opened; it must not be")
            }
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no Synced condition on SealedSecret {name} after 90 s\ncontroller log:\n{}",
            ctrl.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        condition.contains("no key could decrypt secret"),
        "Synced message of {name}: {condition}"
    );
    let api: Api<Secret> = Api::namespaced(env.client.clone(), &ctrl.namespace);
    assert!(
        api.get_opt(name).await.expect("get Secret").is_none(),
        "Secret {name} exists though refused"
    );
}

struct Setup {
    env: TestEnv,
    ns: testenv::TestNamespace,
    ctrl: UpstreamController,
    dir: tempfile::TempDir,
    cert: String,
}

async fn setup(prefix: &str) -> Setup {
    let env = TestEnv::connect().await;
    let ns = env.namespace(prefix).await;
    let ctrl = UpstreamController::start(&env, &ns.name).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = ctrl
        .write_cert(&dir.path().join("cert.pem"))
        .to_string_lossy()
        .into_owned();
    Setup {
        env,
        ns,
        ctrl,
        dir,
        cert,
    }
}

impl Setup {
    async fn finish(self) {
        drop(self.ctrl);
        self.ns.delete().await;
    }
}

// ---------------------------------------------------------------------------
// fjord seal → upstream controller

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_scope_sealed_by_fjord_opens_in_upstream_controller() {
    let s = setup("interop-strict").await;
    let ns = s.ns.name.as_str();
    let data = sample_data("strict");
    let string_data = [("from-string-data", "plain text item")];
    let input = secret_json(
        Some(ns),
        "db",
        "example.com/custom",
        &[("app", "demo"), ("tier", "db")],
        &[("example.com/note", "kept")],
        &data,
        &string_data,
    );
    let sealed = parse(&ok("fjord seal", fjord_seal(&["--cert", &s.cert], &input)));
    assert!(
        sealed["metadata"].get("annotations").is_none(),
        "strict: no scope annotation"
    );
    let uid = apply(&s.env, ns, sealed.clone()).await;
    check_opened(
        &s.env,
        &s.ctrl,
        "db",
        &uid,
        &with_string_data(data, &string_data),
        "example.com/custom",
        &labels(&[("app", "demo"), ("tier", "db")]),
        &labels(&[("example.com/note", "kept")]),
    )
    .await;

    // Strict values are bound to the name: renamed, the controller refuses them.
    let mut renamed = sealed;
    renamed["metadata"]["name"] = json!("db-renamed");
    apply(&s.env, ns, renamed).await;
    check_refused(&s.env, &s.ctrl, "db-renamed").await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_wide_scope_sealed_by_fjord_opens_in_upstream_controller() {
    let s = setup("interop-nswide").await;
    let ns = s.ns.name.as_str();
    let data = sample_data("namespace-wide");
    let input = secret_json(
        Some(ns),
        "original",
        "Opaque",
        &[("app", "nswide")],
        &[],
        &data,
        &[],
    );
    let sealed = parse(&ok(
        "fjord seal --scope namespace-wide",
        fjord_seal(
            &["--cert", &s.cert, "--scope", "namespace-wide", "-o", "yaml"],
            &input,
        ),
    ));
    assert_eq!(sealed["metadata"]["annotations"][NS_WIDE], "true");
    // Namespace-wide values open under any name in the namespace.
    let mut renamed = sealed;
    renamed["metadata"]["name"] = json!("renamed");
    let uid = apply(&s.env, ns, renamed).await;
    check_opened(
        &s.env,
        &s.ctrl,
        "renamed",
        &uid,
        &data,
        "Opaque",
        &labels(&[("app", "nswide")]),
        &labels(&[(NS_WIDE, "true")]),
    )
    .await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wide_scope_sealed_by_fjord_opens_in_upstream_controller() {
    let s = setup("interop-clusterwide").await;
    let ns = s.ns.name.as_str();
    let data = sample_data("cluster-wide");
    // Sealed for another namespace and name, used here under a third name.
    let input = secret_json(
        Some("somewhere-else"),
        "original",
        "kubernetes.io/basic-auth",
        &[("app", "cw")],
        &[],
        &data,
        &[("username", "admin"), ("password", "cluster-wide-pw")],
    );
    let sealed = parse(&ok(
        "fjord seal --scope cluster-wide",
        fjord_seal(&["--cert", &s.cert, "--scope", "cluster-wide"], &input),
    ));
    assert_eq!(sealed["metadata"]["annotations"][CLUSTER_WIDE], "true");
    let mut moved = sealed;
    moved["metadata"]["name"] = json!("moved");
    let uid = apply(&s.env, ns, moved).await;
    check_opened(
        &s.env,
        &s.ctrl,
        "moved",
        &uid,
        &with_string_data(
            data,
            &[("username", "admin"), ("password", "cluster-wide-pw")],
        ),
        "kubernetes.io/basic-auth",
        &labels(&[("app", "cw")]),
        &labels(&[(CLUSTER_WIDE, "true")]),
    )
    .await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_values_sealed_by_fjord_open_in_upstream_controller() {
    let s = setup("interop-raw").await;
    let ns = s.ns.name.as_str();
    let value_file = s.dir.path().join("value.bin");
    let file_value: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&value_file, &file_value).expect("write value");
    let stdin_value = b"raw value\nwith a newline and no trailing one".to_vec();
    let value_path = value_file.to_string_lossy().into_owned();

    // (name, scope, annotation): each SealedSecret holds two raw values.
    for (name, scope, annotation) in [
        ("raw-strict", "strict", None),
        ("raw-nswide", "namespace-wide", Some(NS_WIDE)),
        ("raw-cw", "cluster-wide", Some(CLUSTER_WIDE)),
    ] {
        let mut common = vec!["--cert", s.cert.as_str(), "--raw", "--scope", scope];
        if scope != "cluster-wide" {
            common.extend(["--namespace", ns]);
        }
        // The strict label is namespace/name; the others ignore --name, so seal them
        // for a different one to show that.
        let seal_name = if scope == "strict" {
            name
        } else {
            "not-this-name"
        };
        common.extend(["--name", seal_name]);
        let from_file = String::from_utf8(ok(
            "fjord seal --raw --from-file",
            fjord_seal(
                &[common.clone(), vec!["--from-file", &value_path]].concat(),
                b"",
            ),
        ))
        .expect("base64 text");
        let from_stdin =
            String::from_utf8(ok("fjord seal --raw", fjord_seal(&common, &stdin_value)))
                .expect("base64 text");
        assert!(
            !from_file.ends_with('\n') && !from_stdin.ends_with('\n'),
            "--raw prints no trailing newline"
        );
        let mut metadata = json!({"name": name});
        let mut template_metadata = json!({"labels": {"raw": scope}});
        if let Some(a) = annotation {
            metadata["annotations"] = json!({a: "true"});
            template_metadata["annotations"] = json!({a: "true"});
        }
        let object = json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": metadata,
            "spec": {
                "template": {"metadata": template_metadata, "type": "Opaque"},
                "encryptedData": {"file.bin": from_file, "stdin.txt": from_stdin},
            }
        });
        let uid = apply(&s.env, ns, object).await;
        let want: Data = [
            ("file.bin".to_string(), file_value.clone()),
            ("stdin.txt".to_string(), stdin_value.clone()),
        ]
        .into();
        let want_annotations = annotation
            .map(|a| labels(&[(a, "true")]))
            .unwrap_or_default();
        check_opened(
            &s.env,
            &s.ctrl,
            name,
            &uid,
            &want,
            "Opaque",
            &labels(&[("raw", scope)]),
            &want_annotations,
        )
        .await;
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_into_by_fjord_opens_in_upstream_controller() {
    let s = setup("interop-merge").await;
    let ns = s.ns.name.as_str();
    let first = sample_data("first");
    let second: Data = [
        ("added".to_string(), b"added later".to_vec()),
        ("utf8".to_string(), b"replaced".to_vec()),
    ]
    .into();
    let base_input = secret_json(
        Some(ns),
        "PLACEHOLDER",
        "Opaque",
        &[("app", "merge")],
        &[("example.com/a", "1")],
        &first,
        &[],
    );
    let update_input = secret_json(
        Some(ns),
        "ignored",
        "Opaque",
        &[("extra", "yes")],
        &[("example.com/b", "2")],
        &second,
        &[],
    );
    let mut want = first.clone();
    want.extend(second.clone());

    // The file to merge into made by fjord (YAML) and by the upstream kubeseal (JSON).
    for (name, by_kubeseal) in [("merged-fjord", false), ("merged-kubeseal", true)] {
        let base = String::from_utf8(base_input.clone())
            .expect("utf-8")
            .replace("PLACEHOLDER", name);
        let file = s.dir.path().join(if by_kubeseal {
            format!("{name}.json")
        } else {
            format!("{name}.yaml")
        });
        let file_arg = file.to_string_lossy().into_owned();
        if by_kubeseal {
            ok(
                "kubeseal",
                kubeseal(
                    &s.env,
                    &["--cert", &s.cert, "-w", &file_arg],
                    base.as_bytes(),
                ),
            );
        } else {
            ok(
                "fjord seal -w",
                fjord_seal(&["--cert", &s.cert, "-w", &file_arg], base.as_bytes()),
            );
        }
        ok(
            "fjord seal --merge-into",
            fjord_seal(
                &["--cert", &s.cert, "--merge-into", &file_arg],
                &update_input,
            ),
        );
        let merged = parse(&std::fs::read(&file).expect("read merged file"));
        assert_eq!(
            merged["metadata"]["name"], name,
            "--merge-into keeps the file's name"
        );
        let uid = apply(&s.env, ns, merged).await;
        check_opened(
            &s.env,
            &s.ctrl,
            name,
            &uid,
            &want,
            "Opaque",
            &labels(&[("app", "merge"), ("extra", "yes")]),
            &labels(&[("example.com/a", "1"), ("example.com/b", "2")]),
        )
        .await;
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------
// kubeseal → fjord seal --recovery-unseal

/// `fjord seal --recovery-unseal` of `sealed` with `keys`: the Secret it prints.
fn recover(sealed: &[u8], keys: &str) -> Value {
    parse(&ok(
        "fjord seal --recovery-unseal",
        fjord_seal(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                keys,
                "-o",
                "json",
            ],
            sealed,
        ),
    ))
}

fn value_data(secret: &Value) -> Data {
    let s: Secret = serde_json::from_value(secret.clone()).expect("a Secret");
    secret_data(&s)
}

fn export_pem_key(keys_file: &Path, out: &Path) {
    let list: Value =
        serde_json::from_slice(&std::fs::read(keys_file).expect("read keys")).expect("key list");
    let key = list["items"][0]["data"]["tls.key"].clone();
    let bytes: ByteString = serde_json::from_value(key).expect("tls.key");
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .expect("create key file");
    std::io::Write::write_all(&mut f, &bytes.0).expect("write key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeseal_sealed_secrets_open_with_fjord_recovery_unseal() {
    let s = setup("interop-recovery").await;
    let ns = s.ns.name.as_str();
    let keys = s.dir.path().join("keys.json");
    assert_eq!(s.ctrl.export_keys(&keys).await, 1, "one active key in {ns}");
    let keys_arg = keys.to_string_lossy().into_owned();
    let pem = s.dir.path().join("key.pem");
    export_pem_key(&keys, &pem);
    let pem_arg = pem.to_string_lossy().into_owned();

    let data = sample_data("kubeseal");
    let string_data = [("token", "from-string-data")];
    let want = with_string_data(data.clone(), &string_data);
    for (scope, format) in [
        ("strict", "json"),
        ("namespace-wide", "yaml"),
        ("cluster-wide", "json"),
    ] {
        let input = secret_json(
            Some(ns),
            &format!("ks-{scope}"),
            "example.com/kubeseal",
            &[("scope", scope)],
            &[],
            &data,
            &string_data,
        );
        // kubeseal takes the certificate from a file, or as a URL from the running controller.
        let cert = if scope == "strict" {
            s.ctrl.cert_url()
        } else {
            s.cert.clone()
        };
        let sealed = ok(
            &format!("kubeseal --scope {scope} --cert {cert}"),
            kubeseal(
                &s.env,
                &["--cert", &cert, "--scope", scope, "-o", format],
                &input,
            ),
        );
        for key_file in [&keys_arg, &pem_arg] {
            let secret = recover(&sealed, key_file);
            let what = format!(
                "kubeseal {scope} opened by fjord with {}",
                Path::new(key_file).display()
            );
            assert_same_data(&value_data(&secret), &want, &what);
            assert_eq!(secret["type"], "example.com/kubeseal", "{what}: type");
            assert_eq!(
                secret["metadata"]["name"],
                format!("ks-{scope}"),
                "{what}: name"
            );
            assert_eq!(secret["metadata"]["namespace"], ns, "{what}: namespace");
            assert_eq!(
                secret["metadata"]["labels"],
                json!({"scope": scope}),
                "{what}: labels"
            );
        }
        // The same object is what the upstream controller opens.
        let uid = apply(&s.env, ns, parse(&sealed)).await;
        let want_annotations = match scope {
            "namespace-wide" => labels(&[(NS_WIDE, "true")]),
            "cluster-wide" => labels(&[(CLUSTER_WIDE, "true")]),
            _ => BTreeMap::new(),
        };
        check_opened(
            &s.env,
            &s.ctrl,
            &format!("ks-{scope}"),
            &uid,
            &want,
            "example.com/kubeseal",
            &labels(&[("scope", scope)]),
            &want_annotations,
        )
        .await;
    }

    // kubeseal --raw values put into a SealedSecret by hand.
    let raw = String::from_utf8(ok(
        "kubeseal --raw",
        kubeseal(
            &s.env,
            &[
                "--cert",
                &s.cert,
                "--raw",
                "--namespace",
                ns,
                "--name",
                "ks-raw",
            ],
            b"raw-by-kubeseal",
        ),
    ))
    .expect("base64 text");
    let object = json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "ks-raw", "namespace": ns},
        "spec": {"template": {"metadata": null, "type": "Opaque"}, "encryptedData": {"v": raw}},
    });
    let secret = recover(&serde_json::to_vec(&object).expect("json"), &keys_arg);
    assert_same_data(
        &value_data(&secret),
        &[("v".to_string(), b"raw-by-kubeseal".to_vec())].into(),
        "kubeseal --raw",
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeseal_values_in_the_wrong_scope_are_refused_by_fjord() {
    let s = setup("interop-refused").await;
    let ns = s.ns.name.as_str();
    let keys = s.dir.path().join("keys.json");
    s.ctrl.export_keys(&keys).await;
    let keys_arg = keys.to_string_lossy().into_owned();
    let secret_value = "refused-value-4f1c9a";
    let input = |name: &str| {
        secret_json(
            Some(ns),
            name,
            "Opaque",
            &[],
            &[],
            &Data::new(),
            &[("item", secret_value)],
        )
    };
    let seal = |scope: &str, name: &str| -> Value {
        parse(&ok(
            "kubeseal",
            kubeseal(
                &s.env,
                &["--cert", &s.cert, "--scope", scope, "-o", "json"],
                &input(name),
            ),
        ))
    };

    let strict = seal("strict", "app");
    let nswide = seal("namespace-wide", "app");
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut v = strict.clone();
    v["metadata"]["name"] = json!("other");
    cases.push(("strict, renamed", v));
    let mut v = strict.clone();
    v["metadata"]["namespace"] = json!("other-namespace");
    cases.push(("strict, other namespace", v));
    let mut v = strict.clone();
    v["metadata"]["annotations"] = json!({NS_WIDE: "true"});
    cases.push(("strict, annotated namespace-wide", v));
    let mut v = strict.clone();
    v["metadata"]["annotations"] = json!({CLUSTER_WIDE: "true"});
    cases.push(("strict, annotated cluster-wide", v));
    let mut v = nswide.clone();
    v["metadata"]["namespace"] = json!("other-namespace");
    cases.push(("namespace-wide, other namespace", v));
    let mut v = nswide.clone();
    v["metadata"]["annotations"] = json!({});
    cases.push(("namespace-wide, annotation removed", v));

    // The unmodified objects open, so a refusal below is the scope's doing.
    for (what, good) in [("strict", &strict), ("namespace-wide", &nswide)] {
        let secret = recover(&serde_json::to_vec(good).expect("json"), &keys_arg);
        assert_same_data(
            &value_data(&secret),
            &[("item".to_string(), secret_value.as_bytes().to_vec())].into(),
            what,
        );
    }
    for (what, sealed) in cases {
        let out = fjord_seal(
            &["--recovery-unseal", "--recovery-private-key", &keys_arg],
            &serde_json::to_vec(&sealed).expect("json"),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: fjord opened it");
        assert!(
            out.stdout.is_empty(),
            "{what}: fjord printed {} bytes on stdout",
            out.stdout.len()
        );
        assert!(
            stderr.contains("no key could decrypt secret"),
            "{what}: unexpected error: {stderr}"
        );
        assert!(
            stderr.contains("unsealing SealedSecret"),
            "{what}: the error names no SealedSecret: {stderr}"
        );
        assert!(
            !stderr.contains(secret_value),
            "{what}: the error output holds the secret value"
        );
    }
    s.finish().await;
}

/// The upstream CRD shipped with the binaries is what `ensure_crd` installs on a
/// cluster that has none; it must read as a CRD for SealedSecrets with a status
/// subresource.
#[test]
fn upstream_crd_is_the_sealed_secret_crd() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let path = support::upstream_sealed::crd_file();
    let crd: CustomResourceDefinition =
        serde_yaml::from_slice(&std::fs::read(&path).expect("read CRD"))
            .expect("a CustomResourceDefinition");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some(support::upstream_sealed::CRD_NAME)
    );
    assert_eq!(
        (crd.spec.group.as_str(), crd.spec.names.kind.as_str()),
        ("bitnami.com", "SealedSecret")
    );
    let v1alpha1 = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == "v1alpha1")
        .expect("v1alpha1");
    assert!(v1alpha1.served && v1alpha1.storage);
    assert!(
        v1alpha1
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some(),
        "status subresource"
    );
}

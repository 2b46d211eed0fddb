//! fjord's SealedSecret controller as a process beside the control plane,
//! with the flags the installed Deployment uses, and the calls tests make
//! around it.

use super::free_port;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fjord_controller::sealed::client::ControllerClient;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use testenv::TestEnv;

pub struct SealedController {
    child: Child,
    pub url: String,
    pub key_namespace: String,
    log: PathBuf,
}

impl SealedController {
    /// Installs the CRDs, then runs `fjord controller --controllers sealed-secrets`
    /// keeping its keys in `key_namespace` and opening SealedSecrets in `watched`.
    pub fn start(env: &TestEnv, key_namespace: &str, watched: &str, extra: &[&str]) -> Self {
        super::install(env, key_namespace);
        let port = free_port();
        let log = std::env::temp_dir().join(format!("fjord-sealed-{key_namespace}-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_fjord"))
            .args([
                "controller",
                "--controllers",
                "sealed-secrets",
                "--namespace",
                key_namespace,
            ])
            .args([
                "--sealed-secrets-namespaces",
                watched,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .arg("--kubeconfig")
            .arg(&env.kubeconfig)
            // Debug logs too must never show a value.
            .env(
                "FJORD_LOG",
                "debug,kube_client=off,hyper=off,tower=off,rustls=off",
            )
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start fjord controller");
        SealedController {
            child,
            url: format!("http://127.0.0.1:{port}"),
            key_namespace: key_namespace.into(),
            log,
        }
    }

    /// Waits until the controller serves its certificate and returns it.
    pub async fn cert_pem(&self) -> String {
        let client = ControllerClient::for_url(&self.url).expect("controller URL");
        let started = std::time::Instant::now();
        loop {
            if let Ok(pem) = client.cert_pem().await {
                return pem;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no certificate at {} after 90 s; log:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends the controller a signal, e.g. "USR1".
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SealedController {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fjord seal ARGS` with `stdin`; must succeed. Returns stdout.
pub fn seal(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = seal_output(args, stdin);
    assert!(
        out.status.success(),
        "fjord seal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn seal_output(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("seal")
        .args(args)
        .env_remove("SEALED_SECRETS_CERT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fjord seal");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("fjord seal output")
}

pub fn sealed_secrets(env: &TestEnv, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        namespace,
        &fjord_controller::sealed::api_resource(),
    )
}

/// Creates the SealedSecret in `text` (YAML or JSON), or replaces it if it exists.
pub async fn apply_sealed(env: &TestEnv, namespace: &str, text: &[u8]) -> DynamicObject {
    let mut obj: DynamicObject = serde_yaml::from_slice(text).expect("a SealedSecret");
    let api = sealed_secrets(env, namespace);
    let name = obj.metadata.name.clone().expect("a name");
    match api.get_opt(&name).await.expect("read SealedSecret") {
        Some(live) => {
            obj.metadata.resource_version = live.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &obj)
                .await
                .expect("replace SealedSecret")
        }
        None => api
            .create(&PostParams::default(), &obj)
            .await
            .expect("create SealedSecret"),
    }
}

/// The Secret's items, decoded; None when there is no such Secret.
pub async fn secret_items(
    env: &TestEnv,
    namespace: &str,
    name: &str,
) -> Option<BTreeMap<String, Vec<u8>>> {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), namespace);
    let secret = api.get_opt(name).await.expect("read Secret")?;
    Some(
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect(),
    )
}

/// The SealedSecret's `Synced` condition: (status, reason, message).
pub async fn synced(
    env: &TestEnv,
    namespace: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let obj = sealed_secrets(env, namespace).get_opt(name).await.ok()??;
    let conditions = obj.data.pointer("/status/conditions")?.as_array()?.clone();
    let c = conditions.iter().find(|c| c["type"] == "Synced")?;
    let field = |k: &str| {
        c.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Some((field("status"), field("reason"), field("message")))
}

//! The upstream Sealed Secrets tools (Bitnami's `kubeseal` and controller), built by
//! `testenv/build-sealed-secrets.sh`, run against the local control plane.
//!
//! The upstream controller only knows the in-cluster configuration: it reads
//! `KUBERNETES_SERVICE_HOST`/`_PORT` and the token and CA files under
//! `/var/run/secrets/kubernetes.io/serviceaccount/`. Each controller therefore
//! runs in its own mount namespace (`unshare --mount`, plus `--map-root-user`
//! when not root) where a tmpfs over `/var/run` holds a token of a ServiceAccount
//! that only has a Role in the test's namespace. With `POD_NAMESPACE` set and
//! `--all-namespaces=false`, its keys and the SealedSecrets it watches are in
//! that one namespace, and RBAC forbids it anything else.
//!
//! Secret values and private keys never reach test output: failures name keys
//! and lengths only.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::{Value, json};
use testenv::TestEnv;

pub const CRD_NAME: &str = "sealedsecrets.bitnami.com";
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
const SERVICE_ACCOUNT: &str = "sealed-secrets-controller";
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The directory holding `kubeseal`, `controller` and `sealedsecrets-crd.yaml`.
/// Builds them with `testenv/build-sealed-secrets.sh` when they are not cached
/// (a no-op when they are), once per test process.
pub fn tools_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testenv/build-sealed-secrets.sh");
        let out = Command::new(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}): the upstream sealed-secrets tools could not be built; it needs Go and the Go \
             module proxy (see its output above)",
            script.display(),
            out.status
        );
        let dir = PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim());
        for f in ["kubeseal", "controller", "sealedsecrets-crd.yaml"] {
            assert!(dir.join(f).is_file(), "{} printed {} but {f} is not in it", script.display(), dir.display());
        }
        dir.to_path_buf()
    })
}

pub fn kubeseal_bin() -> PathBuf {
    tools_dir().join("kubeseal")
}

pub fn controller_bin() -> PathBuf {
    tools_dir().join("controller")
}

pub fn crd_file() -> PathBuf {
    tools_dir().join("sealedsecrets-crd.yaml")
}

/// `bitnami.com/v1alpha1` `SealedSecret`.
pub fn sealed_secret_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret"),
        "sealedsecrets",
    )
}

pub fn sealed_secrets_api(env: &TestEnv, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(env.client.clone(), namespace, &sealed_secret_resource())
}

/// Installs the upstream SealedSecret CRD unless a CRD of that name exists
/// (whoever installed it), then waits until it is Established.
pub async fn ensure_crd(env: &TestEnv) {
    let api: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    let existing = api
        .get_opt(CRD_NAME)
        .await
        .unwrap_or_else(|e| panic!("get CRD {CRD_NAME}: {e}"));
    if existing.is_none() {
        let text = std::fs::read_to_string(crd_file())
            .unwrap_or_else(|e| panic!("read {}: {e}", crd_file().display()));
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("parse {}: {e}", crd_file().display()));
        match api.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {} // created meanwhile by someone else
            Err(e) => panic!("create CRD {CRD_NAME}: {e}"),
        }
    }
    testenv::wait_until(
        Duration::from_secs(60),
        &format!("CRD {CRD_NAME} to be Established"),
        || async {
            let Ok(crd) = api.get(CRD_NAME).await else {
                return false;
            };
            crd.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        },
    )
    .await;
}

/// One upstream controller process confined to one namespace; killed on drop.
pub struct UpstreamController {
    pub namespace: String,
    /// `--listen-addr` port: `/v1/cert.pem`, `/v1/verify`, `/v1/rotate`, `/healthz`.
    pub port: u16,
    /// `--listen-metrics-addr` port: `/metrics`.
    pub metrics_port: u16,
    child: Child,
    dir: tempfile::TempDir,
    client: kube::Client,
}

impl UpstreamController {
    /// Installs the CRD if needed, gives a ServiceAccount in `namespace` the
    /// upstream controller's permissions there (a Role, nothing cluster-wide),
    /// starts the controller and waits until it serves its certificate.
    pub async fn start(env: &TestEnv, namespace: &str) -> UpstreamController {
        let bin = controller_bin();
        ensure_crd(env).await;
        grant_namespace_role(env, namespace).await;
        let token = service_account_token(env, namespace).await;

        let dir = tempfile::Builder::new()
            .prefix("fjord-upstream-sealed-")
            .tempdir()
            .expect("temp dir");
        let sa = dir.path().join("serviceaccount");
        std::fs::create_dir(&sa).expect("mkdir serviceaccount");
        write_private(&sa.join("token"), token.as_bytes());
        write_private(&sa.join("ca.crt"), &cluster_ca(env));
        std::fs::write(sa.join("namespace"), namespace).expect("write namespace");
        let (host, api_port) = host_port(&env.server);

        let mut last_error = String::new();
        for _attempt in 0..2 {
            let (port, metrics_port) = (free_port(), free_port());
            let log = dir.path().join(format!("controller-{port}.log"));
            let log_file = std::fs::File::create(&log).expect("create controller log");
            let mut cmd = Command::new("unshare");
            cmd.arg("--mount");
            if !is_root() {
                cmd.arg("--map-root-user");
            }
            cmd.args(["--", "sh", "-c", IN_CLUSTER_SHIM, "sh"])
                .arg(&sa)
                .arg(&bin)
                .args(controller_args(port, metrics_port))
                .env("KUBERNETES_SERVICE_HOST", &host)
                .env("KUBERNETES_SERVICE_PORT", api_port.to_string())
                .env("POD_NAMESPACE", namespace)
                .env_remove("KUBECONFIG")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log fd"))
                .stderr(log_file);
            let mut child = cmd.spawn().unwrap_or_else(|e| {
                panic!("cannot run unshare (util-linux) for {}: {e}", bin.display())
            });
            match wait_serving(&mut child, port, &log).await {
                Ok(()) => {
                    return UpstreamController {
                        namespace: namespace.to_string(),
                        port,
                        metrics_port,
                        child,
                        dir,
                        client: env.client.clone(),
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = e;
                    // A port taken between the check and the bind: try once more.
                    if !last_error.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!(
            "the upstream sealed-secrets controller did not start in namespace {namespace} (it runs \
             under `unshare --mount`, which as non-root needs unprivileged user namespaces): \
             {last_error}"
        )
    }

    /// The last lines of the controller's log (it never logs secret values).
    pub fn log_tail(&self) -> String {
        tail(
            &self
                .dir
                .path()
                .join(format!("controller-{}.log", self.port)),
        )
    }

    pub fn cert_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/cert.pem", self.port)
    }

    /// The PEM certificate served on `/v1/cert.pem`.
    pub fn cert_pem(&self) -> String {
        let (status, body) = http_get(self.port, "/v1/cert.pem")
            .unwrap_or_else(|e| panic!("GET {}: {e}", self.cert_url()));
        assert_eq!(status, 200, "GET {}", self.cert_url());
        String::from_utf8(body).expect("PEM is text")
    }

    /// Writes the served certificate to `path` and returns the path.
    pub fn write_cert(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.cert_pem())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// The controller's active key Secrets in its namespace (the label it loads keys by).
    pub async fn key_secrets(&self) -> Vec<Secret> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = api
            .list(&ListParams::default().labels(&format!("{KEY_LABEL}=active")))
            .await
            .unwrap_or_else(|e| panic!("list key Secrets in {}: {e}", self.namespace));
        list.items
    }

    /// Exports the key Secrets as a `v1` `List`, the backup format `kubeseal
    /// --recovery-private-key` reads, into a file only the owner can read.
    pub async fn export_keys(&self, path: &Path) -> usize {
        let keys = self.key_secrets().await;
        assert!(
            !keys.is_empty(),
            "no key Secret labelled {KEY_LABEL}=active in {}",
            self.namespace
        );
        let items: Vec<Value> = keys
            .iter()
            .map(|s| {
                json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": s.metadata.name, "namespace": s.metadata.namespace, "labels": s.metadata.labels},
                    "type": s.type_,
                    "data": s.data,
                })
            })
            .collect();
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        write_private(path, &serde_json::to_vec_pretty(&list).expect("serialize"));
        keys.len()
    }
}

impl Drop for UpstreamController {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_serving(child: &mut Child, port: u16, log: &Path) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited ({status}); its log:\n{}", tail(log)));
        }
        if let Ok((200, body)) = http_get(port, "/v1/cert.pem") {
            if body.starts_with(b"-----BEGIN CERTIFICATE-----") {
                return Ok(());
            }
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(format!(
                "no certificate on /v1/cert.pem after {START_TIMEOUT:?}; its log:\n{}",
                tail(log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs in the controller's fresh mount namespace: a private tmpfs over
/// /var/run holds the ServiceAccount files the in-cluster config reads.
const IN_CLUSTER_SHIM: &str = r#"set -e
mount -t tmpfs -o mode=0755 fjord-upstream-sealed /var/run
d=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$d"
cp "$1/token" "$1/ca.crt" "$1/namespace" "$d/"
shift
exec "$@"
"#;

/// Flags of the upstream controller under test: one namespace, loopback ports,
/// no key rotation during a test.
pub fn controller_args(port: u16, metrics_port: u16) -> Vec<String> {
    vec![
        "--all-namespaces=false".into(),
        format!("--listen-addr=127.0.0.1:{port}"),
        format!("--listen-metrics-addr=127.0.0.1:{metrics_port}"),
        "--key-renew-period=0".into(),
        "--log-format=text".into(),
    ]
}

/// A ServiceAccount with the upstream ClusterRole's rules (and its key-Secret
/// Role's), granted as a Role in `namespace` only.
async fn grant_namespace_role(env: &TestEnv, namespace: &str) {
    let pp = PostParams::default();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": SERVICE_ACCOUNT}}))
        .expect("ServiceAccount");
    create_or_exists(
        Api::<ServiceAccount>::namespaced(env.client.clone(), namespace)
            .create(&pp, &sa)
            .await,
        "ServiceAccount",
    );
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": SERVICE_ACCOUNT},
        "rules": [
            {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets/status"], "verbs": ["update"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "delete", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ]
    }))
    .expect("Role");
    create_or_exists(
        Api::<Role>::namespaced(env.client.clone(), namespace)
            .create(&pp, &role)
            .await,
        "Role",
    );
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": SERVICE_ACCOUNT},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SERVICE_ACCOUNT},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}]
    }))
    .expect("RoleBinding");
    create_or_exists(
        Api::<RoleBinding>::namespaced(env.client.clone(), namespace)
            .create(&pp, &binding)
            .await,
        "RoleBinding",
    );
}

fn create_or_exists<T>(result: kube::Result<T>, what: &str) {
    match result {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create {what}: {e}"),
    }
}

async fn service_account_token(env: &TestEnv, namespace: &str) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(env.client.clone(), namespace);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
            .expect("TokenRequest");
    let issued = api
        .create_token_request(SERVICE_ACCOUNT, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{SERVICE_ACCOUNT}: {e}"));
    issued
        .status
        .and_then(|s| s.token)
        .filter(|t| !t.is_empty())
        .expect("TokenRequest returned no token")
}

/// The CA bundle of the test kubeconfig's cluster.
fn cluster_ca(env: &TestEnv) -> Vec<u8> {
    let kc = kube::config::Kubeconfig::read_from(&env.kubeconfig).expect("read kubeconfig");
    let cluster = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .expect("a cluster in the kubeconfig");
    if let Some(data) = &cluster.certificate_authority_data {
        // ByteString reads standard base64, as the kubeconfig stores it.
        let bytes: ByteString =
            serde_json::from_value(Value::String(data.clone())).expect("base64 CA data");
        return bytes.0;
    }
    let file = cluster
        .certificate_authority
        .as_ref()
        .expect("the kubeconfig names no CA");
    std::fs::read(file).unwrap_or_else(|e| panic!("read {file}: {e}"))
}

fn host_port(server: &str) -> (String, u16) {
    let authority = server
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .expect("the API server URL has a port");
    (
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port.parse().expect("port"),
    )
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn write_private(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(bytes)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A plain HTTP/1.0 GET on 127.0.0.1: (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    Ok((status, buf[split + 4..].to_vec()))
}

/// Runs the upstream `kubeseal` with `args` and `stdin`. It gets the test
/// kubeconfig (loopback only) and no `SEALED_SECRETS_*` settings from the
/// environment.
pub fn kubeseal(env: &TestEnv, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(kubeseal_bin());
    cmd.arg("--kubeconfig").arg(&env.kubeconfig).args(args);
    run_with_stdin(clean_env(&mut cmd), stdin)
}

/// Runs the fjord binary's `seal` subcommand with `args` and `stdin`.
pub fn fjord_seal(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fjord"));
    cmd.arg("seal").args(args).env("NO_COLOR", "1");
    run_with_stdin(clean_env(&mut cmd), stdin)
}

fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SEALED_SECRETS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("KUBECONFIG")
}

fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

/// Secret data as bytes; `stringData` folded in the way the API server does.
pub fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in secret.string_data.clone().unwrap_or_default() {
        out.insert(k, v.into_bytes());
    }
    out
}

/// Panics unless `actual` and `want` hold the same items with the same bytes.
/// The message names items and lengths, never values.
pub fn assert_same_data(
    actual: &BTreeMap<String, Vec<u8>>,
    want: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    if actual == want {
        return;
    }
    let describe = |m: &BTreeMap<String, Vec<u8>>| -> String {
        m.iter()
            .map(|(k, v)| format!("{k} ({} bytes)", v.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let differing: Vec<&String> = want
        .keys()
        .chain(actual.keys())
        .filter(|k| actual.get(*k) != want.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    panic!(
        "{what}: the data differs in items {differing:?}\n  got:  {}\n  want: {}",
        describe(actual),
        describe(want)
    );
}

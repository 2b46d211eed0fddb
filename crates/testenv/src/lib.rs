//! Test support for the local control plane started by `testenv/cluster.sh up`.
//!
//! The kubeconfig comes from `FJORD_TEST_KUBECONFIG`, never from
//! `KUBECONFIG`, and any API server that is not on loopback is refused, so a
//! test can never touch a real cluster. Each test gets its own namespace.
//!
//! This is test code: failures panic with a message saying what to do.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub const KUBECONFIG_VAR: &str = "FJORD_TEST_KUBECONFIG";

/// The local control plane as a test sees it.
#[derive(Clone)]
pub struct TestEnv {
    pub client: Client,
    pub kubeconfig: PathBuf,
    pub server: String,
}

impl TestEnv {
    /// Connects to the local control plane, refusing anything not on loopback.
    pub async fn connect() -> TestEnv {
        let kubeconfig = kubeconfig_path();
        let kc = Kubeconfig::read_from(&kubeconfig)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", kubeconfig.display()));
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("invalid kubeconfig {}: {e}", kubeconfig.display()));
        let server = config.cluster_url.to_string();
        assert_loopback(&server);
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a client for {server}: {e}"));
        TestEnv { client, kubeconfig, server }
    }

    /// Creates a namespace with a unique name derived from `prefix`.
    pub async fn namespace(&self, prefix: &str) -> TestNamespace {
        let name = unique_name(prefix);
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
            .unwrap_or_else(|e| panic!("namespace object: {e}"));
        api.create(&PostParams::default(), &ns).await.unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
        TestNamespace { name, client: self.client.clone() }
    }
}

/// A namespace that belongs to one test.
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl TestNamespace {
    /// Waits for the `default` ServiceAccount, which Pods need.
    pub async fn wait_default_service_account(&self) {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.name);
        wait_until(Duration::from_secs(60), &format!("ServiceAccount {}/default", self.name), || async {
            api.get_opt("default").await.ok().flatten().is_some()
        })
        .await;
    }

    /// Deletes the namespace; called at the end of a test that passed, so a
    /// failed test leaves its objects to look at.
    pub async fn delete(self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = api.delete(&self.name, &DeleteParams::background()).await;
    }
}

/// Polls `check` until it returns true, panicking after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The kubeconfig of the local control plane.
pub fn kubeconfig_path() -> PathBuf {
    match std::env::var_os(KUBECONFIG_VAR) {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "{KUBECONFIG_VAR} is not set: start the local control plane with `testenv/cluster.sh up` and \
             `eval \"$(testenv/cluster.sh env)\"`, or run the tests with `scripts/test`"
        ),
    }
}

/// Panics unless `server` is an https URL on 127.0.0.1, ::1 or localhost.
pub fn assert_loopback(server: &str) {
    assert!(is_loopback(server), "refusing API server {server}: tests only run against a control plane on loopback");
}

pub fn is_loopback(server: &str) -> bool {
    let Some(rest) = server.strip_prefix("https://").or_else(|| server.strip_prefix("http://")) else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority),
    };
    matches!(host, "127.0.0.1" | "::1" | "localhost")
}

/// A name unique within this test run: prefix, process id and a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let prefix: String =
        prefix.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(30).collect();
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Writes files into a fresh temporary directory: `(relative path, content)`.
pub fn write_tree(files: &[(&str, &str)]) -> tempfile_dir::TempTree {
    tempfile_dir::TempTree::new(files)
}

pub mod tempfile_dir {
    use super::*;

    /// A directory removed when dropped.
    pub struct TempTree {
        pub path: PathBuf,
    }

    impl TempTree {
        pub fn new(files: &[(&str, &str)]) -> Self {
            let path = std::env::temp_dir().join(unique_name("fjord-tree"));
            std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
            let tree = TempTree { path };
            tree.write(files);
            tree
        }

        pub fn write(&self, files: &[(&str, &str)]) {
            for (rel, content) in files {
                let file = self.path.join(rel);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
                }
                std::fs::write(&file, content).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
            }
        }

        pub fn remove(&self, rel: &str) {
            std::fs::remove_file(self.path.join(rel)).unwrap_or_else(|e| panic!("rm {rel}: {e}"));
        }

        pub fn path(&self) -> &Path {
            &self.path
        }
    }

    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_are_accepted() {
        assert!(is_loopback("https://127.0.0.1:6443"));
        assert!(is_loopback("https://127.0.0.1:6443/"));
        assert!(is_loopback("https://[::1]:6443"));
        assert!(is_loopback("https://localhost:1"));
        assert!(!is_loopback("https://10.0.0.1:6443"));
        assert!(!is_loopback("https://127.0.0.1.example.com:6443"));
        assert!(!is_loopback("https://prod.example.com"));
        assert!(!is_loopback("127.0.0.1:6443"));
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("a"), unique_name("a"));
        assert!(unique_name("My_Test").starts_with("my-test-"));
    }
}

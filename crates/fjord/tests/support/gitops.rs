//! The controller as the integration tests run it: Git repositories to
//! commit in, the controller as a process, and Applications.

use super::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};
use testenv::{TestEnv, wait_until};

pub const WAIT: Duration = Duration::from_secs(90);

/// A Git repository: a work tree to commit in, and a bare repository that
/// the controller fetches from.
pub struct Repo {
    pub work: PathBuf,
    pub bare: PathBuf,
    _dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work");
        let bare = dir.path().join("infra-repo.git");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(&work, &["init", "-q", "-b", "main"]);
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                bare.to_str().expect("utf-8"),
            ],
        );
        git(
            &work,
            &["remote", "add", "origin", bare.to_str().expect("utf-8")],
        );
        Repo {
            work,
            bare,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.work.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    pub fn commit(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "-m",
                message,
            ],
        );
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The controller as a process beside the control plane, with the flags the
/// installed Deployment uses.
pub struct ControllerProcess {
    child: Child,
    pub port: u16,
}

impl ControllerProcess {
    pub fn start(env: &TestEnv, namespace: &str, cache: &Path) -> Self {
        Self::start_with(env, namespace, cache, &["--poll-interval", "2s"])
    }

    pub fn start_with(env: &TestEnv, namespace: &str, cache: &Path, extra: &[&str]) -> Self {
        super::install(env, namespace);
        let log = std::fs::File::create(cache.with_extension("log")).expect("log file");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_fjord"))
            .args([
                "controller",
                "--controllers",
                "applications",
                "--namespace",
                namespace,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .arg("--repo-cache")
            .arg(cache)
            .arg("--kubeconfig")
            .arg(&env.kubeconfig)
            .env("FJORD_LOG", "info")
            .stderr(log)
            .spawn()
            .expect("start fjord controller");
        ControllerProcess { child, port }
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn applications(env: &TestEnv, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        namespace,
        &fjord_controller::application::api_resource(),
    )
}

pub fn application(
    name: &str,
    namespace: &str,
    repo: &str,
    path: &str,
    destination: &str,
    finalizer: bool,
) -> String {
    let finalizers = if finalizer {
        "\n  finalizers:\n  - resources-finalizer.argocd.argoproj.io"
    } else {
        ""
    };
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: {namespace}{finalizers}
spec:
  project: default
  source:
    repoURL: {repo}
    targetRevision: HEAD
    path: {path}
  destination:
    server: https://kubernetes.default.svc
    namespace: {destination}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
"#
    )
}

pub async fn app_status(apps: &Api<DynamicObject>, name: &str) -> Value {
    apps.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|a| a.data.get("status").cloned())
        .unwrap_or(Value::Null)
}

pub async fn wait_synced_healthy(apps: &Api<DynamicObject>, name: &str, revision: &str) {
    wait_until(
        WAIT,
        &format!("{name} Synced and Healthy at {revision}"),
        || async {
            let s = app_status(apps, name).await;
            s.pointer("/sync/status") == Some(&json!("Synced"))
                && s.pointer("/health/status") == Some(&json!("Healthy"))
                && s.pointer("/sync/revision") == Some(&json!(revision))
        },
    )
    .await;
}

//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

pub mod fjord_sealed;
pub mod gitops;
pub mod upstream_sealed;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use testenv::TestEnv;

/// Runs the fjord binary against the local control plane as one app.
pub struct Fjord {
    kubeconfig: String,
    namespace: String,
    app: String,
}

impl Fjord {
    pub fn new(env: &TestEnv, namespace: &str, app: &str) -> Self {
        Fjord {
            kubeconfig: env.kubeconfig.display().to_string(),
            namespace: namespace.into(),
            app: app.into(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fjord"))
            .args(args)
            .args([
                "--kubeconfig",
                &self.kubeconfig,
                "--namespace",
                &self.namespace,
                "--app",
                &self.app,
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("run fjord")
    }

    /// `fjord sync -o json`, which must succeed; returns its report.
    pub fn sync_json(&self, path: &Path, extra: &[&str]) -> Value {
        let mut args = vec!["sync", path.to_str().expect("utf-8 path"), "-o", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "fjord sync failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("sync -o json prints JSON")
    }
}

pub fn configmap(name: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {key}: \"{value}\"\n"
    )
}

/// A Deployment and a Service, whose fields the server defaults heavily.
pub fn deployment_and_service(name: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: app
        image: registry.example/{name}:1.0
        ports: [{{containerPort: 8080}}]
        resources:
          requests: {{memory: 64Mi, cpu: 10m}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    )
}

/// How many non-dry-run server-side applies the API server has served,
/// read from its own metrics.
pub async fn server_applies(env: &TestEnv) -> u64 {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = env
        .client
        .request_text(request)
        .await
        .expect("read /metrics");
    text.lines()
        .filter(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains("verb=\"APPLY\"")
                && l.contains("dry_run=\"\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A port nothing listens on right now, for a controller's HTTP endpoint.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `fjord install --apply --no-deployment`: the CRDs, the namespace and RBAC
/// a controller process beside the control plane needs.
pub fn install(env: &TestEnv, namespace: &str) {
    let install = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .args([
            "install",
            "--apply",
            "--no-deployment",
            "--namespace",
            namespace,
            "--kubeconfig",
        ])
        .arg(&env.kubeconfig)
        .output()
        .expect("run fjord install");
    assert!(
        install.status.success(),
        "fjord install: {}",
        String::from_utf8_lossy(&install.stderr)
    );
}

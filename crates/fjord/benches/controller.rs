//! The controller at scale on the local control plane: N Applications of 20
//! objects each from one repository. Measures the time from creating them to
//! all Synced and Healthy, the controller's memory, drift-to-heal latency
//! over many manual changes, and API requests per minute when idle.
//!
//!   FJORD_TEST_KUBECONFIG=… cargo bench -p fjord --bench controller
//!   (FJORD_BENCH_APPS=100, FJORD_BENCH_DRIFTS=200, FJORD_BENCH_IDLE_SECS=60)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testenv::{TestEnv, unique_name};

mod common;
use common::{Kill, env_usize, percentile, rss_kib};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn app_manifests(i: usize) -> String {
    let mut text = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web-{i}}}}}
  template:
    metadata: {{labels: {{app: web-{i}}}}}
    spec:
      containers:
      - name: web
        image: registry.example/web:{i}
        resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {{app: web-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    );
    for c in 0..18 {
        text.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{c:02}\ndata:\n  KEY: \"value-{i}-{c}\"\n"));
    }
    text
}

async fn metric(port: u16, name: &str) -> f64 {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let apps_n = env_usize("FJORD_BENCH_APPS", 100);
    let drifts = env_usize("FJORD_BENCH_DRIFTS", 200);
    let idle = env_usize("FJORD_BENCH_IDLE_SECS", 60);
    let env = TestEnv::connect().await;
    let run = unique_name("bench");
    let apps_ns = format!("{run}-apps");

    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    let bare = dir.path().join("repo.git");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    for i in 0..apps_n {
        let app_dir = work.join(format!("apps/app-{i:03}"));
        std::fs::create_dir_all(&app_dir).expect("mkdir");
        std::fs::write(app_dir.join("manifests.yaml"), app_manifests(i)).expect("write");
    }
    git(&work, &["add", "-A"]);
    git(
        &work,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@example.invalid",
            "commit",
            "-q",
            "-m",
            "bench",
        ],
    );
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
    );

    let fjord = env!("CARGO_BIN_EXE_fjord");
    let install = Command::new(fjord)
        .args([
            "install",
            "--apply",
            "--no-deployment",
            "--namespace",
            &apps_ns,
            "--kubeconfig",
        ])
        .arg(&env.kubeconfig)
        .output()
        .expect("install");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let controller = Kill(
        Command::new(fjord)
            .args([
                "controller",
                "--controllers",
                "applications",
                "--namespace",
                &apps_ns,
                "--poll-interval",
                "3m",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--repo-cache")
            .arg(dir.path().join("cache"))
            .arg("--kubeconfig")
            .arg(&env.kubeconfig)
            .stderr(Stdio::null())
            .spawn()
            .expect("controller"),
    );
    let pid = controller.0.id();

    let apps: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &apps_ns,
        &fjord_controller::application::api_resource(),
    );
    let repo_url = format!("file://{}", bare.display());
    let started = Instant::now();
    for i in 0..apps_n {
        let app: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("{run}-{i:03}"), "namespace": apps_ns},
            "spec": {"project": "default",
                "source": {"repoURL": repo_url, "targetRevision": "HEAD", "path": format!("apps/app-{i:03}")},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("{run}-{i:03}")},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}
        }))
        .expect("app");
        apps.create(&PostParams::default(), &app)
            .await
            .expect("create app");
    }
    loop {
        let list = apps.list(&ListParams::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|a| {
                let s = a.data.get("status");
                s.and_then(|s| s.pointer("/sync/status")) == Some(&json!("Synced"))
                    && s.and_then(|s| s.pointer("/health/status")) == Some(&json!("Healthy"))
            })
            .count();
        if ready == apps_n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {ready} of {apps_n} applications became Synced and Healthy"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let to_healthy = started.elapsed();
    let rss_after_sync = rss_kib(pid, "VmRSS:");

    // Drift: change a ConfigMap by hand, time until the controller puts it back.
    let mut latencies = Vec::with_capacity(drifts);
    for k in 0..drifts {
        let i = k % apps_n;
        let c = (k / apps_n) % 18;
        let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &format!("{run}-{i:03}"));
        let name = format!("cfg-{c:02}");
        let want = format!("value-{i}-{c}");
        let patch = json!({"data": {"KEY": format!("drift-{k}")}});
        cms.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("drift");
        let t = Instant::now();
        loop {
            let cm = cms.get(&name).await.expect("get");
            if cm.data.as_ref().and_then(|d| d.get("KEY")) == Some(&want) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "drift {k} was not healed"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();

    // Idle: nothing changes; count the controller's requests.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = metric(port, "fjord_api_requests_total").await;
    tokio::time::sleep(Duration::from_secs(idle as u64)).await;
    let after = metric(port, "fjord_api_requests_total").await;
    let per_minute = (after - before) * 60.0 / idle as f64;
    let cached = metric(port, "fjord_cached_objects").await;

    println!("controller benchmark: {apps_n} applications x 20 objects");
    println!(
        "  created to all Synced+Healthy  {:>8.2} s",
        to_healthy.as_secs_f64()
    );
    println!(
        "  controller RSS after sync      {:>8.1} MiB (peak {:.1} MiB)",
        rss_after_sync as f64 / 1024.0,
        rss_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    println!("  objects in the live cache      {cached:>8}");
    println!(
        "  drift-to-heal p50              {:>8.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0
    );
    println!(
        "  drift-to-heal p99              {:>8.1} ms  ({} changes)",
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.len()
    );
    println!("  API requests per minute, idle  {per_minute:>8.1}  (over {idle} s)");
    drop(controller);
}

//! Sealed Secrets: values sealed and opened per second with a 4096-bit key,
//! and, on the local control plane, the time from a SealedSecret created to
//! its Secret present (fjord's controller as a process, one at a time, the
//! Secret seen through a watch).
//!
//!   FJORD_TEST_KUBECONFIG=… cargo bench -p fjord --bench sealed
//!   (FJORD_BENCH_VALUES=200, FJORD_BENCH_SEALED=200)

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fjord_seal::{
    OsRng, Scope, SealOptions, Secret, SecretValue, generate_key, open_value, seal_raw, seal_secret,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::watcher::{self, Event};
use testenv::{TestEnv, unique_name};
use tokio::sync::mpsc;

mod common;
use common::{Kill, env_usize, percentile};

fn crypto(values: usize) {
    let key = generate_key(
        &mut OsRng,
        fjord_seal::DEFAULT_KEY_BITS,
        "",
        fjord_seal::DEFAULT_CERT_TTL,
    )
    .expect("key");
    let public = key.key.public_key();
    let label = Scope::Strict.label("bench", "db");
    let started = Instant::now();
    let sealed: Vec<String> = (0..values)
        .map(|i| {
            seal_raw(
                &mut OsRng,
                &public,
                format!("value-{i}").as_bytes(),
                Scope::Strict,
                Some("bench"),
                Some("db"),
            )
            .expect("seal")
        })
        .collect();
    let seal_rate = values as f64 / started.elapsed().as_secs_f64();
    let keys = [key.key];
    let started = Instant::now();
    for (i, value) in sealed.iter().enumerate() {
        let opened = open_value(&keys, value, &label).expect("open");
        assert_eq!(opened.as_bytes(), format!("value-{i}").as_bytes());
    }
    let open_rate = values as f64 / started.elapsed().as_secs_f64();
    println!(
        "crypto (RSA-4096, {values} values): sealed {seal_rate:.0}/s, opened {open_rate:.0}/s"
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    crypto(env_usize("FJORD_BENCH_VALUES", 200));

    let count = env_usize("FJORD_BENCH_SEALED", 200);
    let env = TestEnv::connect().await;
    let run = unique_name("bench-sealed");
    let fjord = env!("CARGO_BIN_EXE_fjord");
    let install = Command::new(fjord)
        .args([
            "install",
            "--apply",
            "--no-deployment",
            "--namespace",
            &run,
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
    let _controller = Kill(
        Command::new(fjord)
            .args([
                "controller",
                "--controllers",
                "sealed-secrets",
                "--namespace",
                &run,
                "--sealed-secrets-namespaces",
                &run,
            ])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--kubeconfig"])
            .arg(&env.kubeconfig)
            .stderr(Stdio::null())
            .spawn()
            .expect("controller"),
    );
    let client = fjord_controller::sealed::client::ControllerClient::for_url(&format!(
        "http://127.0.0.1:{port}"
    ))
    .expect("url");
    let started = Instant::now();
    let pem = loop {
        if let Ok(pem) = client.cert_pem().await {
            break pem;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the controller never served its certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let public = fjord_seal::parse_cert_pem(pem.as_bytes())
        .expect("certificate")
        .public_key;

    // Secrets as they appear, with the time the watch saw them.
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let secrets: Api<KubeSecret> = Api::namespaced(env.client.clone(), &run);
    tokio::spawn(async move {
        let mut stream = watcher::watcher(secrets, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(Event::Apply(s) | Event::InitApply(s)) = event {
                let _ = seen_tx.send((s.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });
    let sealed_api: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &run,
        &fjord_controller::sealed::api_resource(),
    );
    let mut latencies = Vec::with_capacity(count);
    let mut early: HashMap<String, Instant> = HashMap::new();
    for i in 0..count {
        let name = format!("db-{i:04}");
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.clone());
        secret.metadata.namespace = Some(run.clone());
        secret.data.insert(
            "password".into(),
            SecretValue::new(format!("pw-{i}").into_bytes()),
        );
        let sealed =
            seal_secret(&mut OsRng, &public, &secret, &SealOptions::default()).expect("seal");
        let obj: DynamicObject =
            serde_json::from_value(serde_json::to_value(&sealed).expect("json")).expect("object");
        let created = Instant::now();
        sealed_api
            .create(&PostParams::default(), &obj)
            .await
            .expect("create SealedSecret");
        let seen = loop {
            if let Some(at) = early.remove(&name) {
                break at;
            }
            let (got, at) = tokio::time::timeout(Duration::from_secs(30), seen_rx.recv())
                .await
                .expect("the Secret within 30 s")
                .expect("watch running");
            if got == name {
                break at;
            }
            early.insert(got, at);
        };
        latencies.push(seen.saturating_duration_since(created));
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "SealedSecret created → Secret present ({count}, one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1])
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    let _ = namespaces.delete(&run, &Default::default()).await;
}

//! The controller's Argo CD options against the local control plane and
//! real Git: `Validate=false`, `ignoreDifferences` (jq expressions and field
//! managers), destinations from cluster Secrets, and `syncPolicy.retry`.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::gitops::{
    ControllerProcess, Repo, WAIT, app_status, application, applications, wait_synced_healthy,
};
use testenv::{TestEnv, unique_name, wait_until};

/// An Application as `application` writes it, with `change` applied to its
/// spec.
fn application_with(
    name: &str,
    apps_ns: &str,
    repo: &Repo,
    destination: &str,
    change: impl FnOnce(&mut Value),
) -> DynamicObject {
    let text = application(name, apps_ns, &repo.url(), "manifests", destination, false);
    let mut app: Value = serde_yaml::from_str(&text).expect("application YAML");
    change(&mut app["spec"]);
    serde_json::from_value(app).expect("application object")
}

fn conditions(status: &Value) -> Vec<(String, String)> {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

const DEPLOYMENT_WITH_UNKNOWN_FIELDS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  notAField: true
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/web:1.0
        alsoNotAField: {x: 1}
      - name: proxy
        image: registry.example/proxy:1.0
"#;

#[tokio::test]
async fn validate_false_and_ignored_differences() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("options");
    let apps_ns = format!("{prefix}-apps");
    let repo = Repo::new();
    repo.write("manifests/web.yaml", DEPLOYMENT_WITH_UNKNOWN_FIELDS);
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "info"),
    );
    let first = repo.commit("initial");
    let cache = tempfile::tempdir().expect("cache");
    let _controller = ControllerProcess::start(&env, &apps_ns, &cache.path().join("repos"));
    let apps = applications(&env, &apps_ns);
    let name = format!("{prefix}-web");
    let app = application_with(&name, &apps_ns, &repo, &prefix, |spec| {
        spec["syncPolicy"]["syncOptions"] = json!(["CreateNamespace=true", "Validate=false"]);
        spec["ignoreDifferences"] = json!([
            {"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["manual-scaler"]},
            {"group": "apps", "kind": "Deployment", "name": "web",
             "jqPathExpressions": [".spec.template.spec.containers[] | select(.name == \"app\") | .image"]},
            {"kind": "ConfigMap", "jqPathExpressions": [".metadata.annotations[\"team.example/owner\"]", ".data | select("]},
        ]);
    });
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");

    // Unknown fields are dropped, as `kubectl apply --validate=false` drops
    // them, and are not drift.
    wait_synced_healthy(&apps, &name, &first).await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &prefix);
    let web =
        serde_json::to_value(deployments.get("web").await.expect("Deployment web")).expect("json");
    assert!(web["spec"].get("notAField").is_none(), "{web}");
    assert!(
        web.pointer("/spec/template/spec/containers/0/alsoNotAField")
            .is_none(),
        "{web}"
    );
    let status = app_status(&apps, &name).await;
    let found = conditions(&status);
    assert!(
        !found
            .iter()
            .any(|(t, m)| t == "UnsupportedFieldWarning" && m.contains("Validate")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(t, m)| t == "InvalidSpecError"
            && m.contains("spec.ignoreDifferences[2].jqPathExpressions[1]")
            && m.contains(".data | select(")),
        "an expression that does not parse is named: {found:?}"
    );

    // A change nothing ignores is healed: the controller is watching. (A
    // heal syncs the whole application, as Argo CD's does.)
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client.clone(), &prefix);
    configmaps
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"LEVEL": "debug"}})),
        )
        .await
        .expect("edit");
    wait_until(WAIT, "the ConfigMap edit to be healed", || async {
        configmaps
            .get("settings")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("LEVEL").cloned())
            .as_deref()
            == Some("info")
    })
    .await;

    // Changes in ignored fields stay: replicas owned by another manager, the
    // image a jq expression selects, an annotation by key.
    let scale = PatchParams {
        field_manager: Some("manual-scaler".into()),
        ..Default::default()
    };
    deployments
        .patch(
            "web",
            &scale,
            &Patch::Merge(&json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("scale");
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/web:hotfix"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&image))
        .await
        .expect("set image");
    let owner = json!({"metadata": {"annotations": {"team.example/owner": "payments"}}});
    configmaps
        .patch("settings", &PatchParams::default(), &Patch::Merge(&owner))
        .await
        .expect("annotate");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let web = deployments.get("web").await.expect("Deployment web");
    assert_eq!(
        web.spec.replicas,
        Some(4),
        "replicas owned by manual-scaler stay"
    );
    let images: Vec<String> = web
        .spec
        .template
        .spec
        .map(|p| {
            p.containers
                .iter()
                .map(|c| c.image.clone().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        images,
        ["registry.example/web:hotfix", "registry.example/proxy:1.0"]
    );
    let settings = configmaps.get("settings").await.expect("ConfigMap");
    assert_eq!(
        settings
            .metadata
            .annotations
            .unwrap_or_default()
            .get("team.example/owner")
            .map(String::as_str),
        Some("payments")
    );
    let status = app_status(&apps, &name).await;
    assert_eq!(
        status.pointer("/sync/status"),
        Some(&json!("Synced")),
        "{status}"
    );

    // A new revision syncs without taking back the replicas another
    // manager owns.
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "warn"),
    );
    let second = repo.commit("warn level");
    wait_synced_healthy(&apps, &name, &second).await;
    let level = configmaps
        .get("settings")
        .await
        .ok()
        .and_then(|c| c.data)
        .and_then(|d| d.get("LEVEL").cloned());
    assert_eq!(level.as_deref(), Some("warn"));
    assert_eq!(
        deployments
            .get("web")
            .await
            .expect("Deployment")
            .spec
            .replicas,
        Some(4)
    );
}

/// The server, CA and token of the local control plane, from its kubeconfig.
fn loopback_credentials(env: &TestEnv) -> (String, String, String) {
    let text = std::fs::read_to_string(&env.kubeconfig).expect("read kubeconfig");
    let kubeconfig: Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
    let server = kubeconfig
        .pointer("/clusters/0/cluster/server")
        .and_then(Value::as_str)
        .expect("server")
        .trim_end_matches('/')
        .to_string();
    let ca = kubeconfig
        .pointer("/clusters/0/cluster/certificate-authority-data")
        .and_then(Value::as_str)
        .expect("CA data")
        .to_string();
    let token = kubeconfig
        .pointer("/users/0/user/token")
        .and_then(Value::as_str)
        .expect("token")
        .to_string();
    (server, ca, token)
}

#[tokio::test]
async fn destinations_from_cluster_secrets() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("dest");
    let apps_ns = format!("{prefix}-apps");
    let repo = Repo::new();
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "info"),
    );
    let first = repo.commit("initial");
    let cache = tempfile::tempdir().expect("cache");
    let _controller = ControllerProcess::start(&env, &apps_ns, &cache.path().join("repos"));
    let apps = applications(&env, &apps_ns);
    let (server, ca, token) = loopback_credentials(&env);
    assert_ne!(server, "https://kubernetes.default.svc");

    // By server, before any cluster Secret describes it: an error naming it.
    let by_server = format!("{prefix}-by-server");
    let app = application_with(
        &by_server,
        &apps_ns,
        &repo,
        &format!("{prefix}-a"),
        |spec| {
            spec["destination"] = json!({"server": server, "namespace": format!("{prefix}-a")});
        },
    );
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    wait_until(
        WAIT,
        "an InvalidSpecError naming the destination",
        || async {
            conditions(&app_status(&apps, &by_server).await)
                .iter()
                .any(|(t, m)| t == "InvalidSpecError" && m.contains(&server))
        },
    )
    .await;

    // The cluster Secret, as Argo CD stores one.
    let config =
        json!({"bearerToken": token, "tlsClientConfig": {"insecure": false, "caData": ca}});
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "loopback", "namespace": apps_ns, "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "loopback", "server": server, "config": config.to_string()},
    }))
    .expect("Secret");
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &apps_ns);
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create cluster Secret");
    wait_synced_healthy(&apps, &by_server, &first).await;

    // By name.
    let by_name = format!("{prefix}-by-name");
    let app = application_with(&by_name, &apps_ns, &repo, &format!("{prefix}-b"), |spec| {
        spec["destination"] = json!({"name": "loopback", "namespace": format!("{prefix}-b")});
    });
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    wait_synced_healthy(&apps, &by_name, &first).await;
    for ns in ["a", "b"] {
        let configmaps: Api<ConfigMap> =
            Api::namespaced(env.client.clone(), &format!("{prefix}-{ns}"));
        assert!(
            configmaps.get_opt("settings").await.expect("get").is_some(),
            "ConfigMap in {prefix}-{ns}"
        );
    }

    // The destination's own live cache sees drift there and heals it.
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client.clone(), &format!("{prefix}-a"));
    configmaps
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"LEVEL": "debug"}})),
        )
        .await
        .expect("edit");
    wait_until(WAIT, "the edit on the destination to be healed", || async {
        configmaps
            .get("settings")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("LEVEL").cloned())
            .as_deref()
            == Some("info")
    })
    .await;

    // An unknown name is an error naming it.
    let unknown = format!("{prefix}-unknown");
    let app = application_with(&unknown, &apps_ns, &repo, &format!("{prefix}-c"), |spec| {
        spec["destination"] = json!({"name": "staging-bergen", "namespace": format!("{prefix}-c")});
    });
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    wait_until(
        WAIT,
        "an InvalidSpecError naming staging-bergen",
        || async {
            conditions(&app_status(&apps, &unknown).await)
                .iter()
                .any(|(t, m)| t == "InvalidSpecError" && m.contains("staging-bergen"))
        },
    )
    .await;
    let status = app_status(&apps, &by_server).await;
    let shown = status.to_string();
    assert!(!shown.contains(&token), "the token never shows in status");
}

#[tokio::test]
async fn retries_until_the_cause_is_gone_and_stops_at_the_limit() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("retry");
    let apps_ns = format!("{prefix}-apps");
    let repo = Repo::new();
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "info"),
    );
    let first = repo.commit("initial");
    let cache = tempfile::tempdir().expect("cache");
    let _controller = ControllerProcess::start_with(
        &env,
        &apps_ns,
        &cache.path().join("repos"),
        &["--poll-interval", "1m"],
    );
    let apps = applications(&env, &apps_ns);

    // The destination namespace does not exist and is not created: the sync
    // fails until someone creates it.
    let late = format!("{prefix}-late");
    let patient = format!("{prefix}-patient");
    let app = application_with(&patient, &apps_ns, &repo, &late, |spec| {
        spec["syncPolicy"]["syncOptions"] = json!([]);
        spec["syncPolicy"]["retry"] =
            json!({"limit": 20, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3s"}});
    });
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    let hasty = format!("{prefix}-hasty");
    let never = format!("{prefix}-never");
    let app = application_with(&hasty, &apps_ns, &repo, &never, |spec| {
        spec["syncPolicy"]["syncOptions"] = json!([]);
        spec["syncPolicy"]["retry"] =
            json!({"limit": 2, "backoff": {"duration": "1s", "factor": 1}});
    });
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");

    wait_until(WAIT, "two retries, the error shown", || async {
        let s = app_status(&apps, &patient).await;
        s.pointer("/operationState/phase") == Some(&json!("Running"))
            && s.pointer("/operationState/retryCount")
                .and_then(Value::as_i64)
                .is_some_and(|n| n >= 2)
            && conditions(&s).iter().any(|(t, m)| {
                t == "SyncError" && m.contains(&format!("namespace {late} does not exist"))
            })
    })
    .await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": late}})).expect("Namespace");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    wait_synced_healthy(&apps, &patient, &first).await;
    let status = app_status(&apps, &patient).await;
    assert_eq!(
        status.pointer("/operationState/phase"),
        Some(&json!("Succeeded")),
        "{status}"
    );
    assert!(
        status
            .pointer("/operationState/retryCount")
            .and_then(Value::as_i64)
            .is_some_and(|n| n >= 2),
        "{status}"
    );
    assert!(
        !conditions(&status).iter().any(|(t, _)| t == "SyncError"),
        "{status}"
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client.clone(), &late);
    assert!(configmaps.get_opt("settings").await.expect("get").is_some());

    // With the limit spent, the sync stays failed and is not tried again.
    wait_until(WAIT, "the retries to run out", || async {
        let s = app_status(&apps, &hasty).await;
        s.pointer("/operationState/phase") == Some(&json!("Failed"))
            && s.pointer("/operationState/retryCount") == Some(&json!(2))
    })
    .await;
    let before = app_status(&apps, &hasty).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = app_status(&apps, &hasty).await;
    assert_eq!(
        before["operationState"], after["operationState"],
        "no attempt after the last retry"
    );
    assert_eq!(
        after.pointer("/sync/status"),
        Some(&json!("OutOfSync")),
        "{after}"
    );
    assert!(
        conditions(&after)
            .iter()
            .any(|(t, m)| t == "SyncError"
                && m.contains(&format!("namespace {never} does not exist"))),
        "{after}"
    );
}

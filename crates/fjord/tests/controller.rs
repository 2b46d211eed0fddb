//! The controller against the local control plane and real Git
//! repositories: app of apps, rollouts, prune, self-heal, bad revisions,
//! unreachable repositories, cascading deletion.

mod support;

use support::free_port;
use support::gitops::{
    ControllerProcess, Repo, WAIT, app_status, application, applications, wait_synced_healthy,
};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testenv::{TestEnv, unique_name, wait_until};

fn image_of(d: &Deployment) -> String {
    d.spec
        .template
        .spec
        .as_ref()
        .map(|p| p.containers[0].image.clone().unwrap_or_default())
        .unwrap_or_default()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config-repo")
}

/// The configuration repository of the bundled example, with names made
/// unique to this test run.
fn scenario_repo(prefix: &str, apps_namespace: &str) -> Repo {
    let repo = Repo::new();
    for dir in [
        "apps/base",
        "apps/overlays/production",
        "apps/overlays/staging",
        "cluster-config",
    ] {
        for entry in std::fs::read_dir(examples().join(dir)).expect("examples") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read example");
            let text = text
                .replace("payments-read-only", &format!("{prefix}-read-only"))
                .replace("platform-tools", &format!("{prefix}-tools"));
            repo.write(
                &format!(
                    "{dir}/{}",
                    path.file_name().expect("name").to_string_lossy()
                ),
                &text,
            );
        }
    }
    let url = repo.url();
    for (name, path, destination) in [
        (
            "production",
            "apps/overlays/production",
            format!("{prefix}-payments"),
        ),
        (
            "staging",
            "apps/overlays/staging",
            format!("{prefix}-payments-staging"),
        ),
        ("cluster-config", "cluster-config", "default".to_string()),
    ] {
        let app = application(
            &format!("{prefix}-{name}"),
            apps_namespace,
            &url,
            path,
            &destination,
            true,
        );
        repo.write(&format!("argocd-apps/{name}.yaml"), &app);
    }
    repo
}

#[tokio::test]
async fn app_of_apps_rollout_prune_heal_and_failures() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("gitops");
    let apps_ns = format!("{prefix}-apps");
    let repo = scenario_repo(&prefix, &apps_ns);
    let first = repo.commit("initial");
    let cache = tempfile::tempdir().expect("cache");
    let _controller = ControllerProcess::start(&env, &apps_ns, &cache.path().join("repos"));
    let apps = applications(&env, &apps_ns);

    let root = application(
        &format!("{prefix}-root"),
        &apps_ns,
        &repo.url(),
        "argocd-apps",
        &apps_ns,
        false,
    );
    let root: DynamicObject = serde_yaml::from_str(&root).expect("root app");
    apps.create(&PostParams::default(), &root)
        .await
        .expect("create root");
    for app in ["root", "production", "staging", "cluster-config"] {
        wait_synced_healthy(&apps, &format!("{prefix}-{app}"), &first).await;
    }
    let payments = format!("{prefix}-payments");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &payments);
    let services: Api<Service> = Api::namespaced(env.client.clone(), &payments);
    let prod = deployments
        .get("prod-my-app")
        .await
        .expect("production Deployment");
    assert_eq!(image_of(&prod), "registry.example/my-app:v2.4.1");
    assert_eq!(prod.spec.replicas, Some(3));
    let status = app_status(&apps, &format!("{prefix}-production")).await;
    assert_eq!(
        status["history"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    assert_eq!(status["history"][0]["revision"], json!(first));
    assert_eq!(status["sourceType"], "Kustomize");

    // A commit that changes the image tag rolls out.
    let overlay = std::fs::read_to_string(
        repo.work
            .join("apps/overlays/production/kustomization.yaml"),
    )
    .expect("read");
    repo.write(
        "apps/overlays/production/kustomization.yaml",
        &overlay.replace("v2.4.1", "v2.4.2"),
    );
    let second = repo.commit("production: my-app v2.4.2");
    wait_synced_healthy(&apps, &format!("{prefix}-production"), &second).await;
    assert_eq!(
        image_of(&deployments.get("prod-my-app").await.expect("Deployment")),
        "registry.example/my-app:v2.4.2"
    );

    // A manual scale and a deletion are healed.
    let patch = json!({"spec": {"replicas": 9}});
    let scaled_at = Instant::now();
    deployments
        .patch(
            "prod-my-app",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("scale");
    wait_until(WAIT, "the scale to be reverted", || async {
        deployments
            .get("prod-my-app")
            .await
            .ok()
            .and_then(|d| d.spec.replicas)
            == Some(3)
    })
    .await;
    let heal = scaled_at.elapsed();
    assert!(heal < Duration::from_secs(5), "self-heal took {heal:?}");
    deployments
        .delete("prod-my-app", &DeleteParams::default())
        .await
        .expect("delete");
    wait_until(WAIT, "the deleted Deployment to come back", || async {
        deployments
            .get_opt("prod-my-app")
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d.metadata.deletion_timestamp.is_none())
    })
    .await;

    // A commit that removes an object prunes it.
    repo.write("apps/base/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n");
    let third = repo.commit("base: drop the Service");
    wait_synced_healthy(&apps, &format!("{prefix}-production"), &third).await;
    wait_until(WAIT, "the Service to be pruned", || async {
        services
            .get_opt("prod-my-app")
            .await
            .ok()
            .flatten()
            .is_none()
    })
    .await;

    // An invalid manifest: the sync fails, naming the object; the cluster stays on the last good revision.
    let patch_file = std::fs::read_to_string(
        repo.work
            .join("apps/overlays/production/patch-resources.yaml"),
    )
    .expect("read");
    repo.write(
        "apps/overlays/production/patch-resources.yaml",
        &patch_file.replace("memory: 512Mi", "memory: 200Mb"),
    );
    repo.write(
        "apps/overlays/production/kustomization.yaml",
        &overlay.replace("v2.4.1", "v2.5.0"),
    );
    let bad = repo.commit("production: a typo in the memory limit");
    wait_until(WAIT, "a SyncError naming the Deployment", || async {
        let s = app_status(&apps, &format!("{prefix}-production")).await;
        s.pointer("/sync/revision") == Some(&json!(bad))
            && s["conditions"].as_array().into_iter().flatten().any(|c| {
                c["type"] == "SyncError"
                    && c["message"].as_str().is_some_and(|m| {
                        m.contains("prod-my-app") && m.contains("quantities must match")
                    })
            })
    })
    .await;
    assert_eq!(
        image_of(&deployments.get("prod-my-app").await.expect("Deployment")),
        "registry.example/my-app:v2.4.2"
    );

    // An unreachable repository: ComparisonError, and the objects stay.
    let production = format!("{prefix}-production");
    let unreachable =
        json!({"spec": {"source": {"repoURL": "file:///nonexistent/infra-repo.git"}}});
    // The root app would put the source back; detach the child from it first.
    let root_name = format!("{prefix}-root");
    apps.patch(
        &root_name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"syncPolicy": null}})),
    )
    .await
    .expect("pause root");
    apps.patch(
        &production,
        &PatchParams::default(),
        &Patch::Merge(&unreachable),
    )
    .await
    .expect("point at nothing");
    wait_until(WAIT, "a ComparisonError", || async {
        let s = app_status(&apps, &production).await;
        s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "ComparisonError")
    })
    .await;
    assert!(
        deployments
            .get_opt("prod-my-app")
            .await
            .expect("get")
            .is_some()
    );

    // Deleting an Application with the finalizer deletes its objects.
    let staging = format!("{prefix}-staging");
    let staging_deployments: Api<Deployment> =
        Api::namespaced(env.client.clone(), &format!("{prefix}-payments-staging"));
    assert!(
        staging_deployments
            .get_opt("staging-my-app")
            .await
            .expect("get")
            .is_some()
    );
    apps.delete(&staging, &DeleteParams::default())
        .await
        .expect("delete staging app");
    wait_until(
        WAIT,
        "the staging objects and Application to be gone",
        || async {
            staging_deployments
                .get_opt("staging-my-app")
                .await
                .ok()
                .flatten()
                .is_none()
                && apps.get_opt(&staging).await.ok().flatten().is_none()
        },
    )
    .await;
}

#[tokio::test]
async fn plain_directory_over_git_daemon() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("daemon");
    let apps_ns = format!("{prefix}-apps");
    let repo = Repo::new();
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "info"),
    );
    repo.write(
        "manifests/nested/ignored.yaml",
        &support::configmap("nested", "K", "v"),
    );
    let first = repo.commit("initial");
    let port = free_port();
    let base = repo.bare.parent().expect("parent").to_path_buf();
    let mut daemon = Command::new("git")
        .args([
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .arg(format!("--base-path={}", base.display()))
        .spawn()
        .expect("start git daemon");
    let url = format!("git://127.0.0.1:{port}/infra-repo.git");
    let cache = tempfile::tempdir().expect("cache");
    // Polling is slow here: only the webhook can make the second commit show up in time.
    let controller = ControllerProcess::start_with(
        &env,
        &apps_ns,
        &cache.path().join("repos"),
        &["--poll-interval", "10m"],
    );
    let apps = applications(&env, &apps_ns);
    let name = format!("{prefix}-app");
    let app: DynamicObject = serde_yaml::from_str(&application(
        &name,
        &apps_ns,
        &url,
        "manifests",
        &prefix,
        false,
    ))
    .expect("app");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    wait_synced_healthy(&apps, &name, &first).await;
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(env.client.clone(), &prefix);
    assert!(configmaps.get_opt("settings").await.expect("get").is_some());
    assert!(
        configmaps.get_opt("nested").await.expect("get").is_none(),
        "directories do not recurse unless asked"
    );
    let status = app_status(&apps, &name).await;
    assert_eq!(status["sourceType"], "Directory");

    // A push webhook (GitHub's format) refreshes the application at once.
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "debug"),
    );
    let second = repo.commit("debug logging");
    let webhook = |before: &str, after: &str| {
        let payload = json!({"ref": "refs/heads/main", "before": before, "after": after,
            "repository": {"clone_url": url, "html_url": url, "default_branch": "main", "full_name": "org/infra-repo"}});
        let out = Command::new("curl")
            .args([
                "-sf",
                "-X",
                "POST",
                "-H",
                "X-GitHub-Event: push",
                "-H",
                "Content-Type: application/json",
                "--data",
            ])
            .arg(payload.to_string())
            .arg(format!("http://127.0.0.1:{}/api/webhook", controller.port))
            .output()
            .expect("curl");
        let answer = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && answer.contains("refreshed 1 applications"),
            "webhook refused: {answer}"
        );
    };
    webhook(&first, &second);
    wait_synced_healthy(&apps, &name, &second).await;
    let level = configmaps
        .get("settings")
        .await
        .expect("get")
        .data
        .unwrap_or_default()
        .get("LEVEL")
        .cloned();
    assert_eq!(level.as_deref(), Some("debug"));

    // The audit trail: history and an Event per sync, naming revision and trigger.
    let fjord = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fjord"))
            .args(args)
            .args(["--namespace", &apps_ns, "--kubeconfig"])
            .arg(&env.kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .expect("run fjord app");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, list, _) = fjord(&["app", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        list.lines().any(|l| l.starts_with(&name)
            && l.contains("Synced")
            && l.contains("Healthy")
            && l.contains(&second[..7])),
        "{list}"
    );
    let (_, history, _) = fjord(&["app", "history", &name]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(revisions, [first.as_str(), second.as_str()], "{history}");
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(env.client.clone(), &apps_ns);
    let notes: Vec<String> = events
        .list(&kube::api::ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str()))
        .filter_map(|e| e.note)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&second[..7]) && n.contains("trigger: automated")),
        "{notes:?}"
    );

    // A manual sync through the CLI, recorded as such.
    let (code, out, err) = fjord(&["app", "sync", &name, "--timeout", "60"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Succeeded"), "{out}");
    let (_, json_text, _) = fjord(&["app", "get", &name, "-o", "json"]);
    let app: Value = serde_json::from_str(&json_text).expect("app get -o json");
    assert!(
        app.pointer("/status/history/2/initiatedBy/username")
            .is_some(),
        "{}",
        app["status"]["history"]
    );
    let (code, diff, _) = fjord(&["app", "diff", &name]);
    assert_eq!(
        code,
        Some(0),
        "an application in sync shows no diff: {diff}"
    );

    let _ = daemon.kill();
    let _ = daemon.wait();
}

#[tokio::test]
async fn two_replicas_one_leader_and_failover() {
    let env = TestEnv::connect().await;
    let prefix = unique_name("leader");
    let apps_ns = format!("{prefix}-apps");
    let repo = Repo::new();
    repo.write(
        "manifests/cm.yaml",
        &support::configmap("settings", "LEVEL", "info"),
    );
    let first = repo.commit("initial");
    let cache = tempfile::tempdir().expect("cache");
    let start = |id: &str| {
        ControllerProcess::start_with(
            &env,
            &apps_ns,
            &cache.path().join(id),
            &["--leader-elect", "--identity", id, "--poll-interval", "2s"],
        )
    };
    let a = start("replica-a");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = start("replica-b");
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), &apps_ns);
    let holder = || async {
        leases
            .get_opt("fjord-controller")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    };
    wait_until(WAIT, "a leader", || async { holder().await.is_some() }).await;
    assert_eq!(holder().await.as_deref(), Some("replica-a"));

    let apps = applications(&env, &apps_ns);
    let app: DynamicObject = serde_yaml::from_str(&application(
        &format!("{prefix}-one"),
        &apps_ns,
        &repo.url(),
        "manifests",
        &prefix,
        false,
    ))
    .expect("app");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create");
    wait_synced_healthy(&apps, &format!("{prefix}-one"), &first).await;

    // The leader goes away; the other replica takes the lease and carries on.
    drop(a);
    wait_until(Duration::from_secs(60), "replica-b to lead", || async {
        holder().await.as_deref() == Some("replica-b")
    })
    .await;
    let app: DynamicObject = serde_yaml::from_str(&application(
        &format!("{prefix}-two"),
        &apps_ns,
        &repo.url(),
        "manifests",
        &format!("{prefix}-2"),
        false,
    ))
    .expect("app");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create");
    wait_synced_healthy(&apps, &format!("{prefix}-two"), &first).await;
    drop(b);
}

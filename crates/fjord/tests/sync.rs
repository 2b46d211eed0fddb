//! `fjord sync` and `fjord diff` against the local control plane.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use support::{Fjord, configmap, deployment_and_service};
use testenv::{TestEnv, write_tree};

#[tokio::test]
async fn changed_manifest_is_configured_and_others_untouched() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("update").await;
    let tree = write_tree(&[
        ("a.yaml", &configmap("a", "K", "1")),
        ("b.yaml", &configmap("b", "K", "1")),
    ]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);
    fjord.sync_json(tree.path(), &[]);

    tree.write(&[("a.yaml", &configmap("a", "K", "2"))]);
    let report = fjord.sync_json(tree.path(), &[]);
    assert_eq!(report["objects"][0]["name"], "a");
    assert_eq!(report["objects"][0]["result"], "configured");
    assert_eq!(report["objects"][1]["result"], "unchanged");
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &ns.name);
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["K"], "2");
    ns.delete().await;
}

#[tokio::test]
async fn prune_deletes_only_what_this_app_owns() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("prune").await;
    let tree = write_tree(&[
        ("keep.yaml", &configmap("keep", "K", "1")),
        ("gone.yaml", &configmap("gone", "K", "1")),
    ]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);
    fjord.sync_json(tree.path(), &[]);
    // Another app's object and an unmanaged one in the same namespace.
    let other_tree = write_tree(&[("other.yaml", &configmap("other-app", "K", "1"))]);
    Fjord::new(&env, &ns.name, &format!("{}-other", ns.name)).sync_json(other_tree.path(), &[]);
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &ns.name);
    let unmanaged: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "unmanaged"}})).unwrap();
    cms.create(&PostParams::default(), &unmanaged)
        .await
        .unwrap();

    tree.remove("gone.yaml");
    let without = fjord.sync_json(tree.path(), &[]);
    assert_eq!(without["summary"]["pruned"], 0);
    assert!(
        cms.get_opt("gone").await.unwrap().is_some(),
        "without --prune nothing is deleted"
    );

    let with = fjord.sync_json(tree.path(), &["--prune"]);
    let pruned: Vec<&str> = with["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["result"] == "pruned")
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(pruned, ["gone"]);
    assert!(cms.get_opt("gone").await.unwrap().is_none());
    for survivor in ["keep", "other-app", "unmanaged"] {
        assert!(
            cms.get_opt(survivor).await.unwrap().is_some(),
            "{survivor} must survive the prune"
        );
    }
    ns.delete().await;
}

#[tokio::test]
async fn invalid_object_is_rejected_and_nothing_is_applied() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("invalid").await;
    let bad = deployment_and_service("web").replace("memory: 64Mi", "memory: 200Mb");
    let tree = write_tree(&[
        ("a-valid.yaml", &configmap("valid", "K", "1")),
        ("web.yaml", &bad),
        (
            "z-unknown-field.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata: {}\nbogus: true\n",
        ),
    ]);
    let out = Fjord::new(&env, &ns.name, &ns.name).run(&["sync", tree.path().to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 objects rejected, nothing was applied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("web.yaml (document 0): apps/Deployment"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}/web", ns.name)) && stderr.contains("quantities must match"),
        "{stderr}"
    );
    assert!(
        stderr.contains("z-unknown-field.yaml (document 0): ConfigMap")
            && stderr.contains(".bogus: field not declared"),
        "{stderr}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &ns.name);
    assert!(
        cms.get_opt("valid").await.unwrap().is_none(),
        "a rejected sync must not apply the valid objects"
    );
    let services: Api<Service> = Api::namespaced(env.client.clone(), &ns.name);
    assert!(services.get_opt("web").await.unwrap().is_none());
    ns.delete().await;
}

#[tokio::test]
async fn crd_and_custom_resource_in_one_path() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("crd").await;
    let group = format!("{}.fjord.test", ns.name);
    let crd = format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
"#
    );
    let cr =
        format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n");
    // The custom resource sorts before its CRD on disk: order must come from kinds, not files.
    let tree = write_tree(&[("a-widget.yaml", &cr), ("b-crd.yaml", &crd)]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);
    let report = fjord.sync_json(tree.path(), &[]);
    let kinds: Vec<(&str, &str)> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("CustomResourceDefinition", "created"),
            ("Widget", "created")
        ]
    );
    let again = fjord.sync_json(tree.path(), &[]);
    assert_eq!(again["summary"]["unchanged"], 2, "{again}");

    // A custom resource whose CRD is neither installed nor in PATH.
    let orphan = write_tree(&[(
        "g.yaml",
        "apiVersion: gadgets.fjord.test/v1\nkind: Gadget\nmetadata:\n  name: g\n",
    )]);
    let out = fjord.run(&["sync", orphan.path().to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown kind Gadget in group gadgets.fjord.test"),
        "{stderr}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn existing_object_of_another_owner_is_a_conflict_unless_forced() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("owner").await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &ns.name);
    let theirs: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "shared"}, "data": {"K": "theirs"}}))
            .unwrap();
    cms.create(&PostParams::default(), &theirs).await.unwrap();
    let tree = write_tree(&[("cm.yaml", &configmap("shared", "K", "ours"))]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);

    let out = fjord.run(&["sync", tree.path().to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already exists and is not managed by fjord"),
        "{stderr}"
    );
    assert_eq!(
        cms.get("shared").await.unwrap().data.unwrap()["K"],
        "theirs"
    );

    let report = fjord.sync_json(tree.path(), &["--force"]);
    assert_eq!(report["objects"][0]["result"], "configured");
    assert_eq!(cms.get("shared").await.unwrap().data.unwrap()["K"], "ours");

    // Now it is ours; another app may not take it.
    let out = Fjord::new(&env, &ns.name, &format!("{}-intruder", ns.name))
        .run(&["sync", tree.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("belongs to app {:?}", ns.name)),
        "{stderr}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn diff_masks_secret_values_but_shows_changes() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("diff").await;
    let secret = |v: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: {v}\n  user: admin-user\n"
        )
    };
    let tree = write_tree(&[
        ("s.yaml", &secret("first-s3cret")),
        ("cm.yaml", &configmap("c", "K", "1")),
    ]);
    let fjord = Fjord::new(&env, &ns.name, &ns.name);

    let out = fjord.run(&["diff", tree.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing object is a difference"
    );
    let before_sync = String::from_utf8_lossy(&out.stdout);
    assert!(
        before_sync.contains("+  password: ++++++++"),
        "{before_sync}"
    );

    fjord.sync_json(tree.path(), &[]);
    let out = fjord.run(&["diff", tree.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "an unchanged app shows no diff");

    tree.write(&[("s.yaml", &secret("second-s3cret"))]);
    let out = fjord.run(&["diff", tree.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("-  password: ++++++++\n")
            && stdout.contains("+  password: ++++++++++++++++\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("-  user") && !stdout.contains("+  user"),
        "an unchanged value is not part of the change: {stdout}"
    );
    for leak in [
        "first-s3cret",
        "second-s3cret",
        "admin-user",
        "Zmlyc3QtczNjcmV0",
        "c2Vjb25kLXMzY3JldA",
        "YWRtaW4tdXNlcg",
    ] {
        assert!(
            !stdout.contains(leak),
            "{leak} leaked into the diff: {stdout}"
        );
    }
    ns.delete().await;
}

#[tokio::test]
async fn bad_input_gets_one_clear_error() {
    let env = TestEnv::connect().await;
    let ns = env.namespace("badinput").await;
    let fjord = Fjord::new(&env, &ns.name, &ns.name);
    let tree = write_tree(&[(
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: [x\n",
    )]);
    let out = fjord.run(&["sync", tree.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.yaml:6:1: invalid YAML") || stderr.contains("broken.yaml:5:"),
        "{stderr}"
    );

    let tree = write_tree(&[(
        "noname.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
    )]);
    let stderr =
        String::from_utf8_lossy(&fjord.run(&["sync", tree.path().to_str().unwrap()]).stderr)
            .to_string();
    assert!(
        stderr.contains("noname.yaml (document 0): ConfigMap has no metadata.name"),
        "{stderr}"
    );

    // An API server that does not answer: one line naming it.
    let dead = tree.path().join("dead-kubeconfig");
    let text = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let port = env
        .server
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(
        &dead,
        text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:1"),
    )
    .unwrap();
    let good = write_tree(&[("cm.yaml", &configmap("c", "K", "1"))]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fjord"))
        .args([
            "sync",
            good.path().to_str().unwrap(),
            "--kubeconfig",
            dead.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: cannot reach the API server at https://127.0.0.1:1: Connection refused (os error 111)"
    );

    // Credentials the server refuses: one line saying so.
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("token in kubeconfig");
    let wrong = tree.path().join("wrong-kubeconfig");
    std::fs::write(&wrong, text.replace(token, "not-a-valid-token")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fjord"))
        .args([
            "sync",
            good.path().to_str().unwrap(),
            "--kubeconfig",
            wrong.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the API server at {} rejected the credentials (HTTP 401)",
            env.server.trim_end_matches('/')
        )),
        "{stderr}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn bundled_example_syncs_and_becomes_available() {
    let env = TestEnv::connect().await;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
    let fjord = Fjord::new(&env, "default", "shop");
    let report = fjord.sync_json(&example, &[]);
    assert_eq!(report["summary"]["failed"], 0, "{report}");
    assert_eq!(report["objects"].as_array().unwrap().len(), 6);
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "shop");
    testenv::wait_until(
        std::time::Duration::from_secs(60),
        "shop/web to become available",
        || async {
            deployments
                .get("web")
                .await
                .ok()
                .and_then(|d| d.status)
                .is_some_and(|s| s.available_replicas == Some(2))
        },
    )
    .await;
    let again: Value = fjord.sync_json(&example, &[]);
    assert_eq!(again["summary"]["unchanged"], 6, "{again}");
}

//! `fjord seal` end to end: seal with a test controller certificate, open again with the
//! matching private key through `--recovery-unseal`, and compare with the expected Secrets.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fjord-seal/tests/vectors")
}

fn v(rel: &str) -> String {
    vectors().join(rel).to_string_lossy().into_owned()
}

fn fjord(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("seal")
        .args(args)
        .env_remove("SEALED_SECRETS_CERT")
        .env_remove("SEALED_SECRETS_SCOPE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = fjord(args, stdin);
    assert!(
        out.status.success(),
        "fjord seal {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn yaml(bytes: &[u8]) -> Value {
    serde_yaml::from_slice(bytes).unwrap()
}

fn unseal(sealed: &[u8], key: &str) -> Value {
    yaml(&ok(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &v(key),
            "-o",
            "yaml",
        ],
        sealed,
    ))
}

#[test]
fn seal_then_recovery_unseal_gives_the_expected_secret() {
    for case in [
        "strict-basic",
        "edge-values",
        "string-data",
        "skip-owner-references",
    ] {
        let input = std::fs::read(v(&format!("input/{case}.secret.yaml"))).unwrap();
        let sealed = ok(&["--cert", &v("keys/key-new.cert.pem")], &input);
        // Default output is JSON, in kubeseal's field order.
        let text = String::from_utf8(sealed.clone()).unwrap();
        assert!(
            text.starts_with(
                "{\n  \"kind\": \"SealedSecret\",\n  \"apiVersion\": \"bitnami.com/v1alpha1\""
            ),
            "{text}"
        );
        assert!(
            !text.contains("last-applied-configuration"),
            "{case}: last-applied leaked into the template"
        );
        let want = yaml(&std::fs::read(v(&format!("expected/{case}.secret.yaml"))).unwrap());
        assert_eq!(unseal(&sealed, "keys/key-new.key.pem"), want, "{case}");
        // Only the matching key opens it.
        let wrong = fjord(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                &v("keys/key-old.key.pem"),
            ],
            &sealed,
        );
        assert!(!wrong.status.success(), "{case}: opened with the wrong key");
    }
}

#[test]
fn scope_flag_and_input_annotations() {
    let input = std::fs::read(v("input/cluster-wide.secret.yaml")).unwrap();
    let sealed = ok(
        &[
            "--cert",
            &v("keys/key-new.cert.pem"),
            "--scope",
            "cluster-wide",
            "-o",
            "yaml",
        ],
        &input,
    );
    let ss = yaml(&sealed);
    assert_eq!(
        ss["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"],
        "true"
    );
    assert_eq!(
        ss["spec"]["template"]["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"],
        "true"
    );
    // Cluster-wide values still open after a move and rename.
    let moved = String::from_utf8(sealed)
        .unwrap()
        .replace("namespace: demo", "namespace: elsewhere")
        .replace("name: cluster-wide", "name: moved");
    let secret = unseal(moved.as_bytes(), "keys/key-new.key.pem");
    assert_eq!(secret["metadata"]["namespace"], "elsewhere");
    assert_eq!(secret["metadata"]["name"], "moved");

    // Both annotations on the input: cluster-wide wins.
    let input = std::fs::read(v("input/annotation-precedence.secret.yaml")).unwrap();
    let ss = yaml(&ok(
        &["--cert", &v("keys/key-new.cert.pem"), "-o", "yaml"],
        &input,
    ));
    let outer = ss["metadata"]["annotations"].as_object().unwrap();
    assert_eq!(outer.len(), 1);
    assert_eq!(outer["sealedsecrets.bitnami.com/cluster-wide"], "true");

    // A strict value does not open once renamed.
    let input = std::fs::read(v("input/strict-basic.secret.yaml")).unwrap();
    let sealed = String::from_utf8(ok(
        &["--cert", &v("keys/key-new.cert.pem"), "-o", "yaml"],
        &input,
    ))
    .unwrap();
    let renamed = sealed.replacen("  name: db-credentials\n", "  name: other\n", 1);
    let out = fjord(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &v("keys/key-new.key.pem"),
        ],
        renamed.as_bytes(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no key could decrypt"), "{stderr}");
    assert!(
        !stderr.contains("9VMNafgZKVHB8PMnljE8kmtc") && !stderr.contains("admin"),
        "{stderr}"
    );
}

#[test]
fn recovery_unseal_vectors_with_key_backup_and_repeated_keys() {
    let backup = v("keys/controller-keys.secret-list.yaml");
    for case in [
        "old-key",
        "mixed-keys",
        "namespace-wide-renamed",
        "cluster-wide-moved",
        "creation-timestamp-null",
    ] {
        let sealed = std::fs::read(v(&format!("sealed/{case}.sealedsecret.json"))).unwrap();
        let want = yaml(&std::fs::read(v(&format!("expected/{case}.secret.yaml"))).unwrap());
        assert_eq!(
            unseal(&sealed, "keys/controller-keys.secret-list.yaml"),
            want,
            "{case} with {backup}"
        );
        let both = format!(
            "{},{}",
            v("keys/key-new.key.pem"),
            v("keys/key-old.key.pem")
        );
        let out = ok(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                &both,
                "-o",
                "yaml",
            ],
            &sealed,
        );
        assert_eq!(yaml(&out), want, "{case} with two PEM keys");
    }
    // Recovery refuses the deprecated spec.data, like kubeseal.
    let legacy = std::fs::read(v("sealed/legacy-v1-data.sealedsecret.yaml")).unwrap();
    let out = fjord(
        &["--recovery-unseal", "--recovery-private-key", &backup],
        &legacy,
    );
    assert!(!out.status.success());
}

#[test]
fn raw_values() {
    let dir = tempfile::tempdir().unwrap();
    let value = dir.path().join("value");
    std::fs::write(&value, b"s3cr3t").unwrap();
    let cert = v("keys/key-new.cert.pem");
    let out = ok(
        &[
            "--raw",
            "--cert",
            &cert,
            "-n",
            "demo",
            "--name",
            "x",
            "--from-file",
            &value.to_string_lossy(),
        ],
        b"",
    );
    let text = String::from_utf8(out).unwrap();
    assert!(!text.ends_with('\n') && text.starts_with("Ag"), "{text:?}");
    let keys =
        fjord_seal::parse_private_keys(&std::fs::read(v("keys/key-new.key.pem")).unwrap(), "k")
            .unwrap();
    assert_eq!(
        fjord_seal::open_value(&keys, &text, "demo/x")
            .unwrap()
            .as_bytes(),
        b"s3cr3t"
    );
    assert!(fjord_seal::open_value(&keys, &text, "demo/y").is_err());

    let out = ok(
        &[
            "--raw",
            "--cert",
            &cert,
            "-n",
            "demo",
            "--scope",
            "namespace-wide",
        ],
        b"from stdin",
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        fjord_seal::open_value(&keys, &text, "demo")
            .unwrap()
            .as_bytes(),
        b"from stdin"
    );

    // Strict needs a name; non-cluster-wide needs a namespace.
    assert!(
        !fjord(&["--raw", "--cert", &cert, "-n", "demo"], b"x")
            .status
            .success()
    );
    assert!(
        !fjord(&["--raw", "--cert", &cert, "--name", "x"], b"x")
            .status
            .success()
    );
    assert!(
        fjord(&["--raw", "--cert", &cert, "--scope", "cluster-wide"], b"x")
            .status
            .success()
    );
}

#[test]
fn merge_into_adds_items_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ss.yaml");
    std::fs::copy(v("sealed/strict-basic.sealedsecret.yaml"), &target).unwrap();
    let update = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ignored\n  labels: {tier: db}\nstringData:\n  extra: added\n";
    ok(
        &[
            "--cert",
            &v("keys/key-new.cert.pem"),
            "--merge-into",
            &target.to_string_lossy(),
        ],
        update,
    );
    let merged = std::fs::read(&target).unwrap();
    let ss = yaml(&merged);
    assert_eq!(ss["metadata"]["name"], "db-credentials");
    assert_eq!(ss["spec"]["template"]["metadata"]["labels"]["tier"], "db");
    let secret = unseal(&merged, "keys/controller-keys.secret-list.yaml");
    assert_eq!(secret["data"]["extra"], "YWRkZWQ=");
    assert_eq!(secret["data"]["username"], "YWRtaW4=");
}

#[test]
fn unreachable_certificate_sources_are_clear_errors() {
    let input = std::fs::read(v("input/strict-basic.secret.yaml")).unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["--kubeconfig", "/nonexistent/kubeconfig"], "--cert FILE"),
        (
            &["--fetch-cert", "--controller-url", "http://127.0.0.1:1"],
            "http://127.0.0.1:1",
        ),
        (
            &["--cert", "http://127.0.0.1:1/v1/cert.pem"],
            "http://127.0.0.1:1",
        ),
    ];
    for (args, named) in cases {
        let out = fjord(args, &input);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed something");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(named),
            "{args:?}: {stderr}"
        );
    }
    // A Secret with nothing to seal is refused unless allowed.
    let empty = b"apiVersion: v1\nkind: Secret\nmetadata: {name: e, namespace: demo}\n";
    assert!(
        !fjord(&["--cert", &v("keys/key-new.cert.pem")], empty)
            .status
            .success()
    );
    assert!(
        fjord(
            &["--cert", &v("keys/key-new.cert.pem"), "--allow-empty-data"],
            empty
        )
        .status
        .success()
    );
}

//! Every case in tests/vectors/manifest.json, plus raw values, known-answer tests and the
//! upstream data files. Prints `N passed, M failed` and fails on any failure not listed in GAPS.

use base64::Engine;
use fjord_seal::crypto::{SessionKey, hybrid_encrypt_deterministic};
use fjord_seal::open::label_for;
use fjord_seal::{PrivateKey, SealOptions, SealedSecret, Secret, UnsealOptions};
use rsa::RsaPublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Cases we knowingly do not pass, with the reason: none.
const GAPS: &[(&str, &str)] = &[];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(dir().join(rel)).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Keys {
    private: BTreeMap<String, PrivateKey>,
    public: BTreeMap<String, RsaPublicKey>,
}

fn load_keys(manifest: &Value) -> Keys {
    let mut private = BTreeMap::new();
    let mut public = BTreeMap::new();
    for (id, k) in manifest["keys"].as_object().unwrap() {
        let path = k["private_key"].as_str().unwrap();
        let mut keys = fjord_seal::parse_private_keys(read(path).as_bytes(), path).unwrap();
        assert_eq!(keys.len(), 1);
        let cert =
            fjord_seal::parse_cert_pem(read(k["cert"].as_str().unwrap()).as_bytes()).unwrap();
        assert_eq!(
            cert.public_key,
            keys[0].public_key(),
            "{id}: cert and key differ"
        );
        assert_eq!(
            cert.public_key.size() * 8,
            k["modulus_bits"].as_u64().unwrap() as usize
        );
        private.insert(id.clone(), keys.remove(0));
        public.insert(id.clone(), cert.public_key);
    }
    Keys { private, public }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    gaps: Vec<String>,
}

impl Tally {
    fn check(&mut self, id: &str, what: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.passed += 1,
            Err(e) => {
                let line = format!("{id} [{what}]: {e}");
                eprintln!("FAIL {line}");
                if GAPS.iter().any(|(g, _)| *g == id) {
                    self.gaps.push(line);
                } else {
                    self.failed.push(line);
                }
            }
        }
    }
}

/// Pins why each negative case fails, so a parse error cannot pass for a crypto failure.
fn expected_error(id: &str) -> &'static str {
    match id {
        "neg-too-short" => "too short",
        // The 513-byte RSA block fits in the value but is no RSA-4096 ciphertext.
        "neg-bad-length-prefix" => "no key could decrypt secret",
        "neg-invalid-base64" => "not valid base64",
        "neg-data-and-encrypteddata" => "both spec.data and spec.encryptedData",
        _ => "no key could decrypt secret",
    }
}

fn check_case(case: &Value, keys: &Keys, sealed: &SealedSecret) -> Result<(), String> {
    let label = label_for(sealed);
    if label != case["oaep_label"].as_str().unwrap() {
        return Err(format!("derived label {label:?}"));
    }
    let held: Vec<PrivateKey> = case["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| keys.private[k.as_str().unwrap()].clone())
        .collect();
    let result = fjord_seal::unseal(sealed, &held, UnsealOptions::default());
    match case["expect"].as_str().unwrap() {
        "error" => match result {
            Err(e) => {
                let want = expected_error(case["id"].as_str().unwrap());
                if e.to_string().contains(want) {
                    Ok(())
                } else {
                    Err(format!("failed with {e:?}, want {want:?}"))
                }
            }
            Ok(_) => Err("opened, but must fail".into()),
        },
        _ => {
            let secret = result.map_err(|e| e.to_string())?;
            for (item, want) in case["plaintext_b64"].as_object().unwrap() {
                let got = secret
                    .data
                    .get(item)
                    .ok_or(format!("item {item} missing"))?;
                if got.as_bytes() != b64(want.as_str().unwrap()) {
                    return Err(format!("item {item} differs"));
                }
            }
            let expected: Value =
                serde_yaml::from_str(&read(case["expected_secret"].as_str().unwrap())).unwrap();
            let got = to_json(&secret);
            if got != expected {
                return Err(format!("Secret differs:\n got {got}\nwant {expected}"));
            }
            Ok(())
        }
    }
}

/// Seals the input with the newest certificate and checks the SealedSecret has the vector's
/// shape (everything but the randomised values), then opens it again.
fn check_reseal(case: &Value, keys: &Keys, reference: &SealedSecret) -> Result<(), String> {
    let input: Secret =
        serde_yaml::from_str(&read(case["input_secret"].as_str().unwrap())).unwrap();
    // The vectors were sealed with `--scope`, except the one testing the input's annotations.
    let from_annotation = case["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "scope-from-input-annotation");
    let opts = SealOptions {
        scope: (!from_annotation).then(|| case["scope"].as_str().unwrap().parse().unwrap()),
        ..Default::default()
    };
    let mut rng = rand::thread_rng();
    let sealed = fjord_seal::seal_secret(&mut rng, &keys.public["key-new"], &input, &opts)
        .map_err(|e| e.to_string())?;
    let mut shape = to_json(&sealed);
    let mut want = to_json(reference);
    for v in [&mut shape, &mut want] {
        for item in v["spec"]["encryptedData"]
            .as_object_mut()
            .unwrap()
            .values_mut()
        {
            *item = Value::Null;
        }
    }
    if shape != want {
        return Err(format!("sealed shape differs:\n got {shape}\nwant {want}"));
    }
    let all: Vec<PrivateKey> = keys.private.values().cloned().collect();
    let opened =
        fjord_seal::unseal(&sealed, &all, UnsealOptions::default()).map_err(|e| e.to_string())?;
    let expected: Value =
        serde_yaml::from_str(&read(case["expected_secret"].as_str().unwrap())).unwrap();
    if to_json(&opened) != expected {
        return Err("re-sealed Secret opens to something else".into());
    }
    Ok(())
}

#[test]
fn all_vectors() {
    let manifest: Value = serde_json::from_str(&read("manifest.json")).unwrap();
    let keys = load_keys(&manifest);
    let mut tally = Tally::default();

    for case in manifest["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let features: Vec<&str> = case["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let yaml: SealedSecret =
            serde_yaml::from_str(&read(case["sealed_yaml"].as_str().unwrap())).unwrap();
        let json: SealedSecret =
            serde_json::from_str(&read(case["sealed_json"].as_str().unwrap())).unwrap();
        tally.check(
            id,
            "yaml==json",
            if yaml == json {
                Ok(())
            } else {
                Err("YAML and JSON differ".into())
            },
        );
        tally.check(id, "open", check_case(case, &keys, &yaml));
        let reseal = case["expect"] == "ok"
            && case.get("input_secret").is_some()
            && !features.contains(&"legacy-v1-data")
            && !features.contains(&"template-data")
            && !features.contains(&"multi-key");
        if reseal {
            tally.check(id, "reseal", check_reseal(case, &keys, &yaml));
        }
    }

    let raw: Value = serde_json::from_str(&read("raw/raw.json")).unwrap();
    for (i, r) in raw.as_array().unwrap().iter().enumerate() {
        let id = format!("raw-{i}-{}", r["scope"].as_str().unwrap());
        let key = keys.private[r["key"].as_str().unwrap()].clone();
        let result = fjord_seal::open_value(
            &[key],
            r["sealed"].as_str().unwrap(),
            r["oaep_label"].as_str().unwrap(),
        )
        .map_err(|e| e.to_string())
        .and_then(|p| {
            if p.as_bytes() == b64(r["plaintext_b64"].as_str().unwrap()) {
                Ok(())
            } else {
                Err("differs".into())
            }
        });
        tally.check(&id, "open", result);
    }

    let kat: Value = serde_json::from_str(&read("kat/kat.json")).unwrap();
    for (i, k) in kat.as_array().unwrap().iter().enumerate() {
        let id = format!("kat-{i}-{}", k["scope"].as_str().unwrap());
        let label = String::from_utf8(hex(k["oaep_label_hex"].as_str().unwrap())).unwrap();
        let session_key = SessionKey::from_bytes(
            hex(k["session_key_hex"].as_str().unwrap())
                .try_into()
                .unwrap(),
        );
        let seed: [u8; 32] = hex(k["oaep_seed_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let public = &keys.public[k["key"].as_str().unwrap()];
        let plaintext = hex(k["plaintext_hex"].as_str().unwrap());
        let result = hybrid_encrypt_deterministic(public, &plaintext, &label, &session_key, &seed)
            .map_err(|e| e.to_string())
            .and_then(|out| {
                let rsa_ct = hex(k["rsa_ciphertext_hex"].as_str().unwrap());
                if out[2..2 + rsa_ct.len()] != rsa_ct[..] {
                    return Err("RSA block differs".into());
                }
                if out[2 + rsa_ct.len()..] != hex(k["aes_gcm_output_hex"].as_str().unwrap())[..] {
                    return Err("GCM output differs".into());
                }
                let b = base64::engine::general_purpose::STANDARD.encode(&out);
                if b != k["sealed_b64"].as_str().unwrap() {
                    Err("base64 differs".into())
                } else {
                    Ok(())
                }
            });
        tally.check(&id, "kat", result);
    }

    println!(
        "vectors: {} passed, {} failed",
        tally.passed,
        tally.failed.len() + tally.gaps.len()
    );
    for (g, why) in GAPS {
        println!("known gap: {g}: {why}");
    }
    assert!(
        tally.failed.is_empty(),
        "unexpected failures:\n{}",
        tally.failed.join("\n")
    );
    assert!(tally.passed > 60, "too few checks ran: {}", tally.passed);
}

#[test]
fn controller_key_backup_holds_both_controller_keys() {
    let keys = fjord_seal::parse_private_keys(
        read("keys/controller-keys.secret-list.yaml").as_bytes(),
        "backup",
    )
    .unwrap();
    assert_eq!(keys.len(), 2);
    let new = fjord_seal::parse_cert_pem(read("keys/key-new.cert.pem").as_bytes()).unwrap();
    let old = fjord_seal::parse_cert_pem(read("keys/key-old.cert.pem").as_bytes()).unwrap();
    let publics: Vec<RsaPublicKey> = keys.iter().map(|k| k.public_key()).collect();
    assert!(publics.contains(&new.public_key) && publics.contains(&old.public_key));
}

#[test]
fn upstream_cert_with_encipher_only_key_usage_parses() {
    let cert = fjord_seal::parse_cert_pem(read("from-upstream/kubeseal-test-cert.pem").as_bytes())
        .unwrap();
    assert_eq!(cert.public_key.size(), 512);
    assert_eq!(cert.public_key.e(), &rsa::BigUint::from(65537u32));
}

#[test]
fn upstream_legacy_blob_parses_as_rsa4096_layout_but_no_key_opens_it() {
    let blob = read("from-upstream/kube-libsonnet-legacy-v1-blob.txt");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(
            blob.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        )
        .unwrap();
    assert_eq!(raw.len(), 833);
    assert_eq!(&raw[..2], &[0x02, 0x00]);
    let keys =
        fjord_seal::parse_private_keys(read("keys/key-new.key.pem").as_bytes(), "k").unwrap();
    let err = fjord_seal::open_value(&keys, &blob, "").unwrap_err();
    assert!(matches!(err, fjord_seal::Error::NoKeyCouldDecrypt), "{err}");

    let list: Value = serde_json::from_str(&read(
        "from-upstream/kube-libsonnet-legacy-v1-sealedsecret.json",
    ))
    .unwrap();
    let ss: SealedSecret = serde_json::from_value(list["items"][0].clone()).unwrap();
    assert!(ss.spec.data.is_some() && ss.spec.encrypted_data.is_empty());
}

#[test]
fn errors_do_not_leak_plaintext() {
    const SECRET: &str = "hunter2-very-secret-value";
    let keys =
        fjord_seal::parse_private_keys(read("keys/key-new.key.pem").as_bytes(), "k").unwrap();
    let public = keys[0].public_key();
    let mut rng = rand::thread_rng();
    let sealed = fjord_seal::seal_raw(
        &mut rng,
        &public,
        SECRET.as_bytes(),
        fjord_seal::Scope::Strict,
        Some("ns"),
        Some("n"),
    )
    .unwrap();

    let mut messages = Vec::new();
    // Wrong label.
    messages.push(
        fjord_seal::open_value(&keys, &sealed, "ns/other")
            .unwrap_err()
            .to_string(),
    );
    // Secret whose data item is not base64, and one whose stringData has the wrong shape.
    for doc in [
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\ndata: {{k: '{SECRET}!'}}\n"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\nstringData: {{k: [\"{SECRET}\"]}}\n"
        ),
    ] {
        let e = serde_yaml::from_str::<Secret>(&doc).unwrap_err();
        messages.push(e.to_string());
        messages.push(
            fjord_seal::types::parse_secrets(doc.as_bytes())
                .unwrap_err()
                .to_string(),
        );
    }
    // A SealedSecret whose item opens with no key.
    let ss: SealedSecret = serde_yaml::from_str(&format!(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {{name: n, namespace: other}}\nspec:\n  encryptedData: {{k: '{sealed}'}}\n"
    ))
    .unwrap();
    let e = fjord_seal::unseal(&ss, &keys, UnsealOptions::default()).unwrap_err();
    messages.push(e.to_string());
    messages.push(format!("{e:?}"));
    // Debug of holders.
    let opened = fjord_seal::open_value(&keys, &sealed, "ns/n").unwrap();
    assert_eq!(opened.as_bytes(), SECRET.as_bytes());
    messages.push(format!("{opened:?} {:?}", keys[0]));
    let secret: Secret = serde_yaml::from_str(&format!(
        "metadata: {{name: x}}\nstringData: {{k: {SECRET}}}\n"
    ))
    .unwrap();
    messages.push(format!("{secret:?}"));

    let der_hint = "MII"; // start of any base64 DER key
    for m in &messages {
        assert!(!m.contains(SECRET), "leaks plaintext: {m}");
        assert!(!m.contains(der_hint), "leaks key material: {m}");
    }
}

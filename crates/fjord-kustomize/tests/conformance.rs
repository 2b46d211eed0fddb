//! Runs two corpora of kustomize cases against the library:
//! - tests/conformance/cases: kustomize's own krusty test cases, compared
//!   semantically (same documents in the same order);
//! - tests/differential/cases: inputs taken from kustomize's transformer and
//!   filter tests, whose expected.yaml is what the kustomize v5.5.0 binary
//!   printed; fjord's output must match it byte for byte.
//!
//! Cases that are known to fail are listed, with a reason, in the corpus's
//! known-gaps.txt; the test fails on any other failure and on any listed
//! case that now passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// How a case's output is held against its expected.yaml.
#[derive(Clone, Copy)]
enum Compare {
    /// The same documents in the same order; key order and quoting aside.
    Semantic,
    /// The very same bytes.
    Bytes,
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn read_list(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, r) = l.split_once('\t').unwrap_or((l, ""));
            (n.trim().to_string(), r.trim().to_string())
        })
        .collect()
}

fn parse(text: &str) -> Result<Vec<Value>, String> {
    fjord_kustomize::yaml::parse_documents(text, Path::new("output")).map_err(|e| e.to_string())
}

/// Runs one case; `Err` carries a one-line reason.
fn run_case(case: &Path, compare: Compare) -> Result<(), String> {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(case.join("meta.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let input = case
        .join("input")
        .canonicalize()
        .map_err(|e| e.to_string())?;
    let dir = input.join(meta["dir"].as_str().unwrap_or("."));
    let result =
        std::panic::catch_unwind(|| fjord_kustomize::build_yaml(&dir, &Default::default()))
            .map_err(|_| "panicked".to_string())?;
    let expected_err = case.join("expected-error.txt");
    if expected_err.exists() {
        let msg = match result {
            Ok(_) => return Err("build succeeded, an error was expected".into()),
            Err(e) => e.to_string().replace(&input.display().to_string(), ""),
        };
        let want = std::fs::read_to_string(&expected_err).map_err(|e| e.to_string())?;
        for line in want.lines().filter(|l| !l.trim().is_empty()) {
            if !msg.contains(line) {
                return Err(format!("error {msg:?} lacks {line:?}"));
            }
        }
        return Ok(());
    }
    let out = result.map_err(|e| {
        format!(
            "build failed: {}",
            e.to_string().replace(&input.display().to_string(), "")
        )
    })?;
    let want_text =
        std::fs::read_to_string(case.join("expected.yaml")).map_err(|e| e.to_string())?;
    if let Compare::Bytes = compare {
        if out == want_text {
            return Ok(());
        }
        let line = out
            .lines()
            .zip(want_text.lines())
            .position(|(g, w)| g != w)
            .unwrap_or_else(|| out.lines().count().min(want_text.lines().count()));
        return Err(format!(
            "output differs from line {}: got {:?} want {:?}",
            line + 1,
            out.lines().nth(line).unwrap_or("<end>"),
            want_text.lines().nth(line).unwrap_or("<end>")
        ));
    }
    let got = parse(&out).map_err(|e| format!("output does not parse: {e}"))?;
    let want = parse(&want_text)?;
    if got.len() != want.len() {
        return Err(format!("{} documents, expected {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            return Err(format!("document {i} differs: {}", first_diff(g, w, "")));
        }
    }
    Ok(())
}

fn first_diff(a: &Value, b: &Value, path: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p != q => {
                        return first_diff(p, q, &format!("{path}/{k}"));
                    }
                    (None, Some(_)) => return format!("{path}/{k} missing in actual"),
                    (Some(_), None) => return format!("{path}/{k} unexpected in actual"),
                    _ => {}
                }
            }
            String::new()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return first_diff(p, q, &format!("{path}[{i}]"));
                }
            }
            String::new()
        }
        _ => format!("{path}: got {a} want {b}"),
    }
}

#[test]
fn conformance() {
    run_corpus("conformance", Compare::Semantic);
}

#[test]
fn differential() {
    run_corpus("differential", Compare::Bytes);
}

fn run_corpus(corpus: &str, compare: Compare) {
    let root = corpus_dir(corpus).join("cases");
    let quarantine = read_list(&root.join("quarantine.txt"));
    let gaps = read_list(
        &root
            .parent()
            .map(|p| p.join("known-gaps.txt"))
            .unwrap_or_default(),
    );
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("meta.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert!(
        !names.is_empty(),
        "no {corpus} cases found under {}",
        root.display()
    );
    let (mut passed, mut failed) = (0, 0);
    let mut problems = Vec::new();
    for name in names.iter().filter(|n| !quarantine.contains_key(*n)) {
        match run_case(&root.join(name), compare) {
            Ok(()) => {
                passed += 1;
                if gaps.contains_key(name) {
                    problems.push(format!("{name}: passes but is listed in known-gaps.txt"));
                }
            }
            Err(reason) => {
                failed += 1;
                println!(
                    "FAIL {name}: {}",
                    reason.chars().take(400).collect::<String>()
                );
                if !gaps.contains_key(name) {
                    problems.push(format!(
                        "{name}: {}",
                        reason.chars().take(400).collect::<String>()
                    ));
                }
            }
        }
    }
    for g in gaps.keys() {
        if !names.contains(g) {
            problems.push(format!("{g}: listed in known-gaps.txt but no such case"));
        }
    }
    println!("{corpus}: {passed} passed, {failed} failed");
    assert!(
        problems.is_empty(),
        "{corpus} regressions:\n{}",
        problems.join("\n")
    );
}

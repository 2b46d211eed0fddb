//! `fjord build` as a drop-in for `kustomize build`: output on stdout, the
//! error on stderr with a non-zero exit, `-o`, and the load restriction with
//! both its fjord and its kustomize spelling.

use std::path::Path;
use std::process::{Command, Output};

fn fjord_build(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("build")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run fjord build")
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create directory");
    }
    std::fs::write(path, text).expect("write file");
}

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

/// A tree whose overlay reads a file beside its root, through a symlink.
fn tree_with_escape() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("outside/cm.yaml"), CONFIG_MAP);
    write(
        &dir.path().join("app/kustomization.yaml"),
        "namePrefix: prod-\nresources:\n- cm.yaml\n",
    );
    std::os::unix::fs::symlink("../outside/cm.yaml", dir.path().join("app/cm.yaml"))
        .expect("symlink");
    dir
}

#[test]
fn renders_to_stdout_and_to_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("cm.yaml"), CONFIG_MAP);
    write(
        &dir.path().join("kustomization.yaml"),
        "namespace: team\nresources:\n- cm.yaml\n",
    );
    let out = fjord_build(&[], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "apiVersion: v1\ndata:\n  mode: fast\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\n"
    );

    let out = fjord_build(&[".", "-o", "rendered.yaml"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(dir.path().join("rendered.yaml")).expect("output file");
    assert!(written.contains("namespace: team"), "{written}");
}

#[test]
fn an_error_goes_to_stderr_with_a_failing_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("kustomization.yaml"),
        "resources:\n- missing.yaml\n",
    );
    let out = fjord_build(&[], dir.path());
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("missing.yaml"), "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
}

#[test]
fn a_symlink_out_of_the_root_is_refused_unless_restrictions_are_lifted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_with_escape();
    let app = tree.path().join("app");
    let app = app.to_str().expect("utf-8 path");

    let out = fjord_build(&[app], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("security; file"), "{err}");
    assert!(err.contains("is not in or below"), "{err}");

    for lifted in [
        &["--no-load-restrictions"][..],
        &["--load-restrictor", "LoadRestrictionsNone"][..],
    ] {
        let out = fjord_build(&[lifted, &[app]].concat(), dir.path());
        assert!(
            out.status.success(),
            "{lifted:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("name: prod-settings"));
    }

    let out = fjord_build(
        &["--load-restrictor", "LoadRestrictionsRootOnly", app],
        dir.path(),
    );
    assert!(!out.status.success());
}

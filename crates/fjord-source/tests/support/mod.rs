//! Real git repositories and servers for the tests: repositories made with
//! the git CLI, `git daemon`, `git http-backend` behind basic auth, sshd.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs git for fixtures, with a clean configuration; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
            "-c",
            "tag.gpgSign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn write(dir: &Path, rel: &str, contents: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, contents).expect("write");
}

/// A working repository with history:
/// - `main`: c1 (app/deploy.yaml image v1) → c2 (image v2)
/// - `release` branch at c1, with its own commit c3 (release.txt)
/// - annotated tag `v1.0` on c1, lightweight tag `light` on c2
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub c1: String,
    pub c2: String,
    pub c3: String,
    pub annotated_tag_object: String,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        git(p, &["init", "-q"]);
        write(p, "app/deploy.yaml", "image: web:v1\n");
        write(p, "README.md", "apps\n");
        git(p, &["add", "."]);
        git(p, &["commit", "-q", "-m", "first"]);
        let c1 = git(p, &["rev-parse", "HEAD"]);
        git(p, &["tag", "-a", "v1.0", "-m", "release 1.0"]);
        let annotated_tag_object = git(p, &["rev-parse", "v1.0"]);
        git(p, &["checkout", "-q", "-b", "release"]);
        write(p, "release.txt", "release branch\n");
        git(p, &["add", "."]);
        git(p, &["commit", "-q", "-m", "release work"]);
        let c3 = git(p, &["rev-parse", "HEAD"]);
        git(p, &["checkout", "-q", "main"]);
        write(p, "app/deploy.yaml", "image: web:v2\n");
        git(p, &["commit", "-q", "-am", "second"]);
        let c2 = git(p, &["rev-parse", "HEAD"]);
        git(p, &["tag", "light"]);
        Fixture {
            dir,
            c1,
            c2,
            c3,
            annotated_tag_object,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Commits a change to `file` on the current branch and returns its id.
    pub fn commit(&self, file: &str, contents: &str, message: &str) -> String {
        write(self.path(), file, contents);
        git(self.path(), &["add", "."]);
        git(self.path(), &["commit", "-q", "-m", message]);
        git(self.path(), &["rev-parse", "HEAD"])
    }

    /// A bare copy named `name` under `root`, as a server would hold it.
    pub fn bare_copy(&self, root: &Path, name: &str) -> PathBuf {
        let target = root.join(name);
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                self.path().to_str().expect("utf-8 path"),
                name,
            ],
        );
        target
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not listen on {port}");
}

/// A server process killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git daemon` exporting every repository under `base`.
pub fn git_daemon(base: &Path) -> Server {
    let port = free_port();
    let mut child = Command::new("git")
        .args([
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
            &base.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon starts");
    wait_for_port(port, &mut child);
    Server {
        child,
        port,
        _dir: None,
    }
}

/// `git http-backend` for the repositories under `root`, requiring basic
/// auth as `user`/`password` (or the bearer token, if given).
pub fn git_http(root: &Path, user: &str, password: &str, bearer: Option<&str>) -> Server {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/git_http.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(root).arg(user).arg(password);
    if let Some(token) = bearer {
        cmd.arg(token);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line.trim().parse().expect("port number");
    wait_for_port(port, &mut child);
    Server {
        child,
        port,
        _dir: None,
    }
}

pub const SSHD: &str = "/usr/sbin/sshd";

/// An sshd on 127.0.0.1 that lets the current user in with `client_key`.
/// Returns the server and the `known_hosts` line for it.
pub fn sshd(client_public_key: &str) -> (Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let host_key = d.join("host_key");
    keygen(&host_key);
    std::fs::write(d.join("authorized_keys"), client_public_key).expect("authorized_keys");
    let port = free_port();
    let config = format!(
        "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\n\
         StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nPrintMotd no\nLogLevel ERROR\n",
        hk = host_key.display(),
        ak = d.join("authorized_keys").display(),
        pid = d.join("sshd.pid").display(),
    );
    std::fs::write(d.join("sshd_config"), config).expect("config");
    // Where sshd drops privileges to; made by the service unit normally.
    let _ = std::fs::create_dir_all("/run/sshd");
    // The readiness probe's bare connection makes sshd complain; its log
    // goes to a file beside its config instead of the test output.
    let log = std::fs::File::create(d.join("sshd.log")).expect("sshd log");
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd starts");
    wait_for_port(port, &mut child);
    let host_pub = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
    let mut parts = host_pub.split_whitespace();
    let known = format!(
        "[127.0.0.1]:{port} {} {}\n",
        parts.next().expect("key type"),
        parts.next().expect("key")
    );
    (
        Server {
            child,
            port,
            _dir: Some(dir),
        },
        known,
    )
}

/// Makes an ed25519 key pair at `path` and `path.pub`.
pub fn keygen(path: &Path) -> (String, String) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(path).expect("private key"),
        std::fs::read_to_string(path.with_extension("pub")).expect("public key"),
    )
}

pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

//! A repository as git will reach it: URL plus whatever authentication the
//! transport needs, turned into the environment of a git process.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;

use crate::credentials::RepoCredentials;
use crate::error::SourceError;
use crate::secret::SecretString;
use crate::url::{RepoUrl, Transport, redact_url};

/// A repository to fetch from. `Debug` never shows a secret, not even one
/// written into the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Repo {
    url: String,
    username: Option<String>,
    password: Option<SecretString>,
    bearer_token: Option<SecretString>,
    ssh_private_key: Option<SecretString>,
    insecure: bool,
    known_hosts: Option<String>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("url", &self.redacted_url())
            .field("username", &self.username)
            .field("password", &self.password)
            .field("bearer_token", &self.bearer_token)
            .field("ssh_private_key", &self.ssh_private_key)
            .field("insecure", &self.insecure)
            .field(
                "known_hosts",
                &self.known_hosts.as_ref().map(|k| k.lines().count()),
            )
            .finish()
    }
}

impl Repo {
    /// A repository reached without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into().trim().to_string(),
            username: None,
            password: None,
            bearer_token: None,
            ssh_private_key: None,
            insecure: false,
            known_hosts: None,
        }
    }

    /// Uses the credentials and `insecure` flag of a repository Secret (the
    /// Secret's URL is not used: a template's URL is only a prefix).
    pub fn with_credentials(mut self, creds: &RepoCredentials) -> Self {
        self.username = creds.username.clone();
        self.password = creds.password.clone();
        self.bearer_token = creds.bearer_token.clone();
        self.ssh_private_key = creds.ssh_private_key.clone();
        self.insecure = creds.insecure;
        self
    }

    /// Uses the credentials Argo CD would pick for this URL from the
    /// `repository` and `repo-creds` Secrets (see [`credentials_for`]);
    /// none match, no credentials.
    ///
    /// [`credentials_for`]: crate::credentials_for
    pub fn with_credentials_from(
        self,
        repositories: &[RepoCredentials],
        templates: &[RepoCredentials],
    ) -> Self {
        match crate::credentials::credentials_for(&self.url, repositories, templates) {
            Some(creds) => self.with_credentials(&creds),
            None => self,
        }
    }

    /// HTTP basic authentication (a token goes in `password`).
    pub fn with_basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    pub fn with_ssh_key(mut self, private_key: impl Into<SecretString>) -> Self {
        self.ssh_private_key = Some(private_key.into());
        self
    }

    /// Skip TLS verification (HTTPS) and host key checking (SSH).
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// `known_hosts` lines SSH accepts for this repository's host (Argo CD
    /// keeps them in the `argocd-ssh-known-hosts-cm` ConfigMap).
    pub fn with_known_hosts(mut self, known_hosts: impl Into<String>) -> Self {
        self.known_hosts = Some(known_hosts.into());
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL fit for logs and messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    pub(crate) fn parsed(&self) -> Result<RepoUrl, SourceError> {
        RepoUrl::parse(&self.url).map_err(|reason| SourceError::InvalidUrl {
            url: self.redacted_url(),
            reason,
        })
    }

    /// Every secret this repository could make git print, for scrubbing.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in [&self.password, &self.bearer_token, &self.ssh_private_key]
            .into_iter()
            .flatten()
        {
            out.push(s.expose().to_string());
        }
        if let (Some(user), Some(pw)) = (&self.username, &self.password) {
            out.push(
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", pw.expose())),
            );
        }
        if let Ok(parsed) = RepoUrl::parse(&self.url)
            && let Some(pw) = parsed.password
        {
            out.push(pw);
        }
        out
    }

    /// Writes what the transport needs (askpass helper, key, known_hosts)
    /// into `scratch`, a private directory that lives as long as the git
    /// process, and returns the environment that points git at it.
    pub(crate) fn auth_env(&self, scratch: &Path) -> Result<Vec<(String, String)>, SourceError> {
        let parsed = self.parsed()?;
        let mut env = Vec::new();
        let mut config: Vec<(&str, String)> = Vec::new();
        match parsed.transport {
            Transport::Http => {
                if self.insecure {
                    config.push(("http.sslVerify", "false".into()));
                }
                if let Some(token) = &self.bearer_token {
                    config.push((
                        "http.extraHeader",
                        format!("Authorization: Bearer {}", token.expose()),
                    ));
                }
                if let Some(password) = &self.password {
                    // Git asks the helper only after a 401, and only through
                    // a file it runs; the secret itself stays in the
                    // environment of this one process tree.
                    let askpass = scratch.join("askpass.sh");
                    write_private(&askpass, ASKPASS.as_bytes(), 0o700)?;
                    let username = self
                        .username
                        .clone()
                        .unwrap_or_else(|| DEFAULT_TOKEN_USER.into());
                    env.push(("GIT_ASKPASS".into(), path_str(&askpass)?));
                    env.push(("FJORD_GIT_USERNAME".into(), username));
                    env.push(("FJORD_GIT_PASSWORD".into(), password.expose().to_string()));
                }
            }
            Transport::Ssh => {
                env.push(("GIT_SSH_COMMAND".into(), self.ssh_command(scratch)?));
                env.push(("GIT_SSH_VARIANT".into(), "ssh".into()));
            }
            Transport::Local | Transport::Git => {}
        }
        if !config.is_empty() {
            env.push(("GIT_CONFIG_COUNT".into(), config.len().to_string()));
            for (i, (key, value)) in config.into_iter().enumerate() {
                env.push((format!("GIT_CONFIG_KEY_{i}"), key.to_string()));
                env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
            }
        }
        Ok(env)
    }

    /// The `GIT_SSH_COMMAND` for this repository. Git runs it through a
    /// shell, so every path in it is quoted.
    pub(crate) fn ssh_command(&self, scratch: &Path) -> Result<String, SourceError> {
        let mut cmd = vec![
            "ssh".to_string(),
            "-F".into(),
            "/dev/null".into(),
            "-o".into(),
            "BatchMode=yes".into(),
        ];
        if let Some(key) = &self.ssh_private_key {
            let path = scratch.join("id_key");
            let mut bytes = key.expose().as_bytes().to_vec();
            // OpenSSH rejects a key whose last line has no newline, and a
            // Secret edited by hand often lacks one.
            if !bytes.ends_with(b"\n") {
                bytes.push(b'\n');
            }
            write_private(&path, &bytes, 0o600)?;
            cmd.extend([
                "-i".into(),
                shell_quote(&path_str(&path)?),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ]);
        }
        if self.insecure {
            cmd.extend([
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
            ]);
        } else {
            let path = scratch.join("known_hosts");
            write_private(
                &path,
                self.known_hosts.as_deref().unwrap_or("").as_bytes(),
                0o600,
            )?;
            cmd.extend([
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
                "-o".into(),
                shell_quote(&format!("UserKnownHostsFile={}", path_str(&path)?)),
            ]);
        }
        Ok(cmd.join(" "))
    }
}

/// GitHub, GitLab and Gitea all accept a token as the password with this
/// user; git needs some user to send one.
const DEFAULT_TOKEN_USER: &str = "x-access-token";

const ASKPASS: &str = "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$FJORD_GIT_USERNAME\" ;;\n  *) printf '%s\\n' \"$FJORD_GIT_PASSWORD\" ;;\nesac\n";

fn write_private(path: &Path, contents: &[u8], mode: u32) -> Result<(), SourceError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| SourceError::io("create", path, e))?;
    file.write_all(contents)
        .map_err(|e| SourceError::io("write", path, e))
}

fn path_str(path: &Path) -> Result<String, SourceError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| SourceError::Io {
            action: "use",
            path: path.display().to_string(),
            message: "path is not valid UTF-8".into(),
        })
}

pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn ssh_command_with_key_and_known_hosts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo::new("git@github.com:org/repo.git")
            .with_ssh_key("-----BEGIN KEY-----\nAAAA\n-----END KEY-----")
            .with_known_hosts("github.com ssh-ed25519 AAAAC3Nz\n");
        let cmd = repo.ssh_command(dir.path()).expect("command");
        let key = dir.path().join("id_key");
        let kh = dir.path().join("known_hosts");
        assert!(
            cmd.starts_with("ssh -F /dev/null -o BatchMode=yes"),
            "{cmd}"
        );
        assert!(
            cmd.contains(&format!("-i '{}' -o IdentitiesOnly=yes", key.display())),
            "{cmd}"
        );
        assert!(cmd.contains("-o StrictHostKeyChecking=yes"), "{cmd}");
        assert!(
            cmd.contains(&format!("'UserKnownHostsFile={}'", kh.display())),
            "{cmd}"
        );
        assert!(
            !cmd.contains("AAAA"),
            "the key itself never goes on the command line: {cmd}"
        );
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let written = std::fs::read_to_string(&key).expect("key");
        assert!(written.ends_with("-----END KEY-----\n"));
        assert_eq!(
            std::fs::read_to_string(&kh).expect("kh"),
            "github.com ssh-ed25519 AAAAC3Nz\n"
        );
    }

    #[test]
    fn insecure_ssh_skips_host_key_checking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = Repo::new("ssh://git@h/r")
            .insecure(true)
            .ssh_command(dir.path())
            .expect("command");
        assert!(
            cmd.contains("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"),
            "{cmd}"
        );
        assert!(!cmd.contains("-i "), "{cmd}");
    }

    #[test]
    fn debug_hides_credentials_in_the_url() {
        let repo = Repo::new("https://bot:hunter2@h/r.git").with_basic_auth("bot", "pw-123");
        let shown = format!("{repo:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw-123"),
            "{shown}"
        );
        assert!(shown.contains("https://***@h/r.git"), "{shown}");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn http_auth_env_keeps_secrets_out_of_config_and_args() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Repo::new("https://h/r.git")
            .with_basic_auth("bot", "pa55")
            .insecure(true)
            .auth_env(dir.path())
            .expect("env");
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("FJORD_GIT_USERNAME"), Some("bot"));
        assert_eq!(get("FJORD_GIT_PASSWORD"), Some("pa55"));
        assert_eq!(get("GIT_CONFIG_KEY_0"), Some("http.sslVerify"));
        let askpass = get("GIT_ASKPASS").expect("askpass");
        assert!(
            !std::fs::read_to_string(askpass)
                .expect("script")
                .contains("pa55")
        );
    }

    #[test]
    fn a_token_without_a_user_goes_as_the_token_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = RepoCredentials {
            url: "https://h/r".into(),
            password: Some("ghp_abc".into()),
            ..Default::default()
        };
        let env = Repo::new("https://h/r")
            .with_credentials(&creds)
            .auth_env(dir.path())
            .expect("env");
        assert!(env.contains(&("FJORD_GIT_USERNAME".into(), DEFAULT_TOKEN_USER.into())));
        assert!(!env.iter().any(|(k, _)| k == "GIT_CONFIG_COUNT"));
    }

    #[test]
    fn credentials_picked_from_secrets() {
        let template = RepoCredentials {
            url: "git@github.com:acme".into(),
            ssh_private_key: Some("KEY".into()),
            insecure: true,
            ..Default::default()
        };
        let repo = Repo::new("git@github.com:acme/apps.git")
            .with_credentials_from(&[], std::slice::from_ref(&template));
        assert_eq!(
            repo.ssh_private_key.as_ref().map(SecretString::expose),
            Some("KEY")
        );
        assert!(repo.insecure);
        let other =
            Repo::new("https://github.com/acme/apps").with_credentials_from(&[], &[template]);
        assert_eq!(other, Repo::new("https://github.com/acme/apps"));
    }

    #[test]
    fn secrets_include_basic_header_form() {
        let repo = Repo::new("https://h/r").with_basic_auth("u", "p");
        let secrets = repo.secrets();
        assert!(secrets.contains(&"p".to_string()));
        assert!(secrets.contains(&"dTpw".to_string()));
    }
}

//! Repository credentials from Argo CD-style Secrets: `repository` Secrets
//! name one repository, `repo-creds` Secrets are templates for every
//! repository whose URL starts with theirs.

use std::collections::BTreeMap;

use crate::secret::SecretString;
use crate::url::normalize_url;

/// The label that marks a Secret as repository configuration.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// What a labelled Secret configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `repository`: one repository, credentials optional.
    Repository,
    /// `repo-creds`: a credential template for a URL prefix.
    RepoCreds,
}

impl SecretKind {
    /// The kind a Secret's labels declare, if any.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        match labels.get(SECRET_TYPE_LABEL).map(String::as_str) {
            Some("repository") => Some(Self::Repository),
            Some("repo-creds") => Some(Self::RepoCreds),
            _ => None,
        }
    }
}

/// Credentials and options for a repository (or, for a template, for a URL
/// prefix). `Debug` never shows a secret, not even one written into the URL.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RepoCredentials {
    /// The repository URL, or the prefix of a template.
    pub url: String,
    pub name: Option<String>,
    pub project: Option<String>,
    /// `git` unless the Secret says otherwise (Argo CD also knows `helm`).
    pub repo_type: String,
    pub username: Option<String>,
    /// Password or access token for HTTP basic authentication.
    pub password: Option<SecretString>,
    /// Sent as `Authorization: Bearer …` (Bitbucket Data Center tokens).
    pub bearer_token: Option<SecretString>,
    pub ssh_private_key: Option<SecretString>,
    /// Skip TLS verification for HTTPS and host key checking for SSH.
    pub insecure: bool,
    /// Keys the Secret sets that fjord does not act on yet (GitHub App,
    /// TLS client certificates, …), so they can be reported, not dropped.
    pub unsupported: Vec<String>,
}

impl std::fmt::Debug for RepoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoCredentials")
            .field("url", &crate::url::redact_url(&self.url))
            .field("name", &self.name)
            .field("project", &self.project)
            .field("repo_type", &self.repo_type)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("bearer_token", &self.bearer_token)
            .field("ssh_private_key", &self.ssh_private_key)
            .field("insecure", &self.insecure)
            .field("unsupported", &self.unsupported)
            .finish()
    }
}

/// Why a Secret's data cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("repository secret has no `url`")]
    MissingUrl,
    #[error(
        "repository secret field `{field}` has an invalid value {value:?} (want true or false)"
    )]
    InvalidBool { field: &'static str, value: String },
}

const KNOWN_KEYS: &[&str] = &[
    "url",
    "name",
    "project",
    "type",
    "username",
    "password",
    "bearerToken",
    "sshPrivateKey",
    "insecure",
    // Acting on it needs nothing from us: git-lfs is off unless asked.
    "enableLfs",
];

impl RepoCredentials {
    /// Reads a `repository` or `repo-creds` Secret's decoded string data.
    pub fn from_secret_data(data: &BTreeMap<String, String>) -> Result<Self, CredentialsError> {
        let text = |key: &str| {
            data.get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let secret = |key: &str| {
            data.get(key).filter(|v| !v.trim().is_empty()).map(|v| {
                SecretString::new(if key == "sshPrivateKey" {
                    v.clone()
                } else {
                    v.trim().to_string()
                })
            })
        };
        let url = text("url").ok_or(CredentialsError::MissingUrl)?;
        let insecure = match data.get("insecure").map(|v| v.trim()) {
            None | Some("") => false,
            Some(v) => parse_bool(v).ok_or_else(|| CredentialsError::InvalidBool {
                field: "insecure",
                value: v.to_string(),
            })?,
        };
        let mut unsupported: Vec<String> = data
            .iter()
            .filter(|(k, v)| !KNOWN_KEYS.contains(&k.as_str()) && !v.trim().is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        unsupported.sort();
        Ok(Self {
            url,
            name: text("name"),
            project: text("project"),
            repo_type: text("type").unwrap_or_else(|| "git".into()),
            username: text("username"),
            password: secret("password"),
            bearer_token: secret("bearerToken"),
            ssh_private_key: secret("sshPrivateKey"),
            insecure,
            unsupported,
        })
    }

    /// Whether any credential is set (not just options).
    pub fn has_credentials(&self) -> bool {
        self.password.is_some() || self.bearer_token.is_some() || self.ssh_private_key.is_some()
    }

    /// Takes the credentials of `template` for a repository that has none,
    /// as Argo CD does; the repository's own URL, name and project stay.
    pub fn inherit(&mut self, template: &RepoCredentials) {
        if self.has_credentials() {
            return;
        }
        self.username = template.username.clone();
        self.password = template.password.clone();
        self.bearer_token = template.bearer_token.clone();
        self.ssh_private_key = template.ssh_private_key.clone();
        self.insecure = self.insecure || template.insecure;
        for key in &template.unsupported {
            if !self.unsupported.contains(key) {
                self.unsupported.push(key.clone());
            }
        }
    }
}

/// Argo CD reads booleans with Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The template whose URL is the longest prefix of `repo_url` (both in
/// normal form, case-insensitively, as Argo CD compares them).
pub fn matching_template<'a>(
    repo_url: &str,
    templates: &'a [RepoCredentials],
) -> Option<&'a RepoCredentials> {
    let url = normalize_url(repo_url).to_ascii_lowercase();
    templates
        .iter()
        .map(|t| (normalize_url(&t.url).to_ascii_lowercase(), t))
        .filter(|(prefix, _)| !prefix.is_empty() && url.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, t)| t)
}

/// The credentials for `repo_url`: its `repository` Secret if one names it,
/// filled in from the longest matching template when it has no credentials
/// of its own; otherwise the template alone, with the URL set to `repo_url`.
pub fn credentials_for(
    repo_url: &str,
    repositories: &[RepoCredentials],
    templates: &[RepoCredentials],
) -> Option<RepoCredentials> {
    let template = matching_template(repo_url, templates);
    let repository = repositories
        .iter()
        .find(|r| crate::url::same_repository(&r.url, repo_url));
    match (repository, template) {
        (Some(repo), Some(template)) => {
            let mut repo = repo.clone();
            repo.inherit(template);
            Some(repo)
        }
        (Some(repo), None) => Some(repo.clone()),
        (None, Some(template)) => Some(RepoCredentials {
            url: repo_url.to_string(),
            ..template.clone()
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_an_https_repository_secret() {
        let c = RepoCredentials::from_secret_data(&data(&[
            ("url", "https://git.example.com/team/apps.git"),
            ("type", "git"),
            ("project", "default"),
            ("name", "apps"),
            ("username", "bot"),
            ("password", "s3cret\n"),
            ("insecure", "true"),
        ]))
        .expect("valid secret");
        assert_eq!(c.url, "https://git.example.com/team/apps.git");
        assert_eq!(c.username.as_deref(), Some("bot"));
        assert_eq!(
            c.password.as_ref().map(SecretString::expose),
            Some("s3cret")
        );
        assert!(c.insecure);
        assert_eq!(c.project.as_deref(), Some("default"));
        assert!(c.unsupported.is_empty());
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn keeps_the_ssh_key_verbatim_and_reports_unsupported_keys() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
        let c = RepoCredentials::from_secret_data(&data(&[
            ("url", "git@github.com:org/repo.git"),
            ("sshPrivateKey", key),
            ("githubAppID", "12"),
        ]))
        .expect("valid secret");
        assert_eq!(
            c.ssh_private_key.as_ref().map(SecretString::expose),
            Some(key)
        );
        assert_eq!(c.unsupported, vec!["githubAppID".to_string()]);
        assert_eq!(c.repo_type, "git");
        assert!(!c.insecure);
        assert!(!format!("{c:?}").contains("abc"));
    }

    #[test]
    fn rejects_missing_url_and_bad_bool() {
        assert_eq!(
            RepoCredentials::from_secret_data(&data(&[("password", "x")])),
            Err(CredentialsError::MissingUrl)
        );
        assert!(matches!(
            RepoCredentials::from_secret_data(&data(&[
                ("url", "https://h/r"),
                ("insecure", "yes")
            ])),
            Err(CredentialsError::InvalidBool {
                field: "insecure",
                ..
            })
        ));
    }

    #[test]
    fn secret_kind_from_labels() {
        let labels = data(&[(SECRET_TYPE_LABEL, "repo-creds")]);
        assert_eq!(
            SecretKind::from_labels(&labels),
            Some(SecretKind::RepoCreds)
        );
        let labels = data(&[(SECRET_TYPE_LABEL, "repository")]);
        assert_eq!(
            SecretKind::from_labels(&labels),
            Some(SecretKind::Repository)
        );
        assert_eq!(SecretKind::from_labels(&data(&[("app", "x")])), None);
    }

    fn template(url: &str, user: &str) -> RepoCredentials {
        RepoCredentials {
            url: url.into(),
            username: Some(user.into()),
            password: Some("pw".into()),
            ..Default::default()
        }
    }

    #[test]
    fn longest_prefix_template_wins() {
        let templates = vec![
            template("https://github.com", "any"),
            template("https://github.com/acme/", "acme"),
            template("https://github.com/acme/platform", "platform"),
            template("git@github.com:acme", "ssh"),
        ];
        let pick = |url: &str| matching_template(url, &templates).and_then(|t| t.username.clone());
        assert_eq!(
            pick("https://github.com/acme/platform-apps.git").as_deref(),
            Some("platform")
        );
        assert_eq!(pick("https://GitHub.com/acme/web").as_deref(), Some("acme"));
        assert_eq!(pick("https://github.com/other/web").as_deref(), Some("any"));
        assert_eq!(
            pick("ssh://git@github.com/acme/web").as_deref(),
            Some("ssh")
        );
        assert_eq!(pick("https://gitlab.com/acme/web"), None);
    }

    #[test]
    fn repository_without_credentials_inherits_from_template() {
        let repos = vec![RepoCredentials {
            url: "https://github.com/acme/web.git".into(),
            name: Some("web".into()),
            ..Default::default()
        }];
        let templates = vec![template("https://github.com/acme", "acme")];
        let c = credentials_for("https://github.com/acme/web", &repos, &templates).expect("found");
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.username.as_deref(), Some("acme"));

        let own = vec![template("https://github.com/acme/web", "own")];
        let c = credentials_for("https://github.com/acme/web", &own, &templates).expect("found");
        assert_eq!(c.username.as_deref(), Some("own"));

        let c =
            credentials_for("https://github.com/acme/api", &repos, &templates).expect("template");
        assert_eq!(c.url, "https://github.com/acme/api");
        assert!(credentials_for("https://gitlab.com/x/y", &repos, &templates).is_none());
    }
}

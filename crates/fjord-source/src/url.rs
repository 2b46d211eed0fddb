//! Repository URLs: the forms git accepts, a normal form for matching and
//! caching, and redaction for messages.

use crate::secret::scrub;

/// How git reaches a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `file://` or a plain path.
    Local,
    /// `git://`, the git daemon.
    Git,
    /// `http://` or `https://`.
    Http,
    /// `ssh://` or the SCP-like `user@host:path`.
    Ssh,
}

/// A repository URL split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    pub transport: Transport,
    /// Lowercase scheme as written (`https`, `ssh`, `file`, …).
    pub scheme: String,
    pub user: Option<String>,
    pub(crate) password: Option<String>,
    /// Lowercase host; empty for local repositories.
    pub host: String,
    pub port: Option<u16>,
    /// The path, beginning with `/` for remote repositories.
    pub path: String,
}

impl RepoUrl {
    /// Parses `url`, or says why it is not a repository URL git can use.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("empty URL".into());
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            return parse_with_scheme(scheme, rest);
        }
        if let Some(scp) = parse_scp_like(url) {
            return Ok(scp);
        }
        if url.starts_with('-') {
            return Err("a URL may not begin with '-'".into());
        }
        Ok(RepoUrl {
            transport: Transport::Local,
            scheme: "file".into(),
            user: None,
            password: None,
            host: String::new(),
            port: None,
            path: url.to_string(),
        })
    }

    fn default_port(&self) -> Option<u16> {
        match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            "git" => Some(9418),
            "ssh" | "git+ssh" | "ssh+git" => Some(22),
            _ => None,
        }
    }

    /// The URL in its normal form: see [`normalize_url`].
    pub fn normalized(&self) -> String {
        let mut path = self.path.trim_end_matches('/');
        path = path.strip_suffix(".git").unwrap_or(path);
        path = path.trim_end_matches('/');
        if self.transport == Transport::Local {
            return format!("file://{path}");
        }
        let scheme = if self.transport == Transport::Ssh {
            "ssh"
        } else {
            self.scheme.as_str()
        };
        // Only an ssh user is part of a repository's identity (`git@`); an
        // HTTP user is a credential.
        let user = match (&self.user, self.transport) {
            (Some(user), Transport::Ssh) => format!("{user}@"),
            _ => String::new(),
        };
        let port = match self.port {
            Some(port) if Some(port) != self.default_port() => format!(":{port}"),
            _ => String::new(),
        };
        format!("{scheme}://{user}{}{port}{path}", self.host)
    }
}

fn parse_with_scheme(scheme: &str, rest: &str) -> Result<RepoUrl, String> {
    let scheme = scheme.to_ascii_lowercase();
    let transport = match scheme.as_str() {
        "file" => Transport::Local,
        "git" => Transport::Git,
        "http" | "https" => Transport::Http,
        "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
        other => return Err(format!("unsupported scheme {other:?}")),
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(info.to_string()), None),
        },
        None => (None, None),
    };
    let (host, port) = split_host_port(hostport)?;
    if transport != Transport::Local && host.is_empty() {
        return Err("no host".into());
    }
    if host.starts_with('-') {
        return Err("a host may not begin with '-'".into());
    }
    Ok(RepoUrl {
        transport,
        scheme,
        user: user.filter(|u| !u.is_empty()),
        password,
        host: host.to_ascii_lowercase(),
        port,
        path: path.to_string(),
    })
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
        let host = &hostport[..end + 2];
        let after = &hostport[end + 2..];
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some("") | None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("invalid port {p:?}"))?,
        ),
    };
    Ok((host, port))
}

/// `[user@]host:path`, as git reads it: a colon before any slash, and
/// something before the colon that is not a Windows drive letter.
fn parse_scp_like(url: &str) -> Option<RepoUrl> {
    let colon = url.find(':')?;
    if url[..colon].contains('/') || colon < 2 {
        return None;
    }
    let (userhost, path) = (&url[..colon], &url[colon + 1..]);
    let (user, host) = match userhost.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, userhost),
    };
    if host.is_empty() || host.starts_with('-') {
        return None;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(RepoUrl {
        transport: Transport::Ssh,
        scheme: "ssh".into(),
        user: user.filter(|u| !u.is_empty()),
        password: None,
        host: host.to_ascii_lowercase(),
        port: None,
        path: format!("/{}", path.trim_start_matches('/')),
    })
}

/// The normal form of a repository URL, used to key the cache and to match
/// webhook payloads with Applications: scheme and host in lowercase, default
/// port dropped, HTTP userinfo dropped, trailing `/` and `.git` stripped, and
/// `git@host:org/repo` written as `ssh://git@host/org/repo`. A string that
/// does not parse comes back trimmed.
pub fn normalize_url(url: &str) -> String {
    match RepoUrl::parse(url) {
        Ok(parsed) => parsed.normalized(),
        Err(_) => url.trim().to_string(),
    }
}

/// Whether two URLs name the same repository. Like Argo CD, the comparison
/// ignores case throughout, since the big forges treat paths that way and
/// a webhook payload spells the path as the forge does, not as the
/// Application does.
pub fn same_repository(a: &str, b: &str) -> bool {
    normalize_url(a).eq_ignore_ascii_case(&normalize_url(b))
}

/// `url` fit for a message: any userinfo that can hold a secret is masked.
pub fn redact_url(url: &str) -> String {
    scrub(url, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_and_ssh_forms_are_one_repository() {
        let a = normalize_url("git@GitHub.com:org/repo.git");
        let b = normalize_url("ssh://git@github.com/org/repo");
        let c = normalize_url("ssh://git@github.com:22/org/repo.git/");
        assert_eq!(a, "ssh://git@github.com/org/repo");
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn http_forms_normalise() {
        assert_eq!(
            normalize_url("https://GitHub.com/Org/Repo.git/"),
            "https://github.com/Org/Repo"
        );
        assert_eq!(
            normalize_url("https://user:pw@example.com:443/r"),
            "https://example.com/r"
        );
        assert_eq!(
            normalize_url("http://example.com:8080/r.git"),
            "http://example.com:8080/r"
        );
        assert!(same_repository(
            "https://github.com/Org/Repo",
            "https://github.com/org/repo.git"
        ));
        assert!(!same_repository(
            "https://github.com/org/a",
            "https://github.com/org/b"
        ));
        assert!(!same_repository(
            "https://github.com/org/repo",
            "ssh://git@github.com/org/repo"
        ));
    }

    #[test]
    fn local_paths_and_file_urls() {
        assert_eq!(normalize_url("/srv/git/repo.git"), "file:///srv/git/repo");
        assert_eq!(
            normalize_url("file:///srv/git/repo/"),
            "file:///srv/git/repo"
        );
        assert_eq!(
            RepoUrl::parse("/srv/x").map(|u| u.transport),
            Ok(Transport::Local)
        );
        assert_eq!(
            RepoUrl::parse("C:/x").map(|u| u.transport),
            Ok(Transport::Local)
        );
    }

    #[test]
    fn transports() {
        let t = |u: &str| RepoUrl::parse(u).map(|p| p.transport);
        assert_eq!(t("git://127.0.0.1:9418/repo"), Ok(Transport::Git));
        assert_eq!(t("https://h/r"), Ok(Transport::Http));
        assert_eq!(t("git@h:r"), Ok(Transport::Ssh));
        assert_eq!(t("ssh://h/r"), Ok(Transport::Ssh));
        assert!(t("ftp://h/r").is_err());
        assert!(t("ssh://-oProxyCommand=x/r").is_err());
        assert!(t("--upload-pack=x").is_err());
        assert!(t("https://h:notaport/r").is_err());
    }

    #[test]
    fn ipv6_host_and_port() {
        let u = RepoUrl::parse("ssh://git@[::1]:2222/r.git").expect("parses");
        assert_eq!(u.host, "[::1]");
        assert_eq!(u.port, Some(2222));
        assert_eq!(u.normalized(), "ssh://git@[::1]:2222/r");
    }

    #[test]
    fn redaction_hides_passwords_and_tokens() {
        assert_eq!(redact_url("https://alice:pw@h/r"), "https://***@h/r");
        assert_eq!(redact_url("https://ghp_token@h/r"), "https://***@h/r");
        assert_eq!(redact_url("git@h:org/r"), "git@h:org/r");
        assert_eq!(redact_url("https://h/r"), "https://h/r");
    }
}

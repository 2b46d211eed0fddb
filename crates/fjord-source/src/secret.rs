//! Secret values and the scrubbing of text that may carry them.

use std::fmt;

/// A credential value. It prints as `<redacted>` in `Debug` and has no
/// `Display`, so it cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that hands it to git.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

pub(crate) const MASK: &str = "***";

/// Removes every known secret and every `scheme://user:password@` userinfo
/// from `text`. Git echoes URLs (with whatever userinfo they carry) in its
/// messages, and a remote may echo a header back, so both are scrubbed.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, MASK);
        }
    }
    scrub_userinfo(&out)
}

fn scrub_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '\'' | '"' | '<' | '>'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            // A bare user (ssh's `git@`) names no secret; a password does.
            Some(at) if authority[..at].contains(':') || !is_ssh_scheme(head) => {
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn is_ssh_scheme(head: &str) -> bool {
    let before = head.strip_suffix("://").unwrap_or(head);
    let mut scheme: Vec<char> = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .collect();
    scheme.reverse();
    let scheme: String = scheme.into_iter().collect::<String>().to_ascii_lowercase();
    matches!(scheme.as_str(), "ssh" | "git+ssh" | "ssh+git")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn scrubs_known_secrets_and_url_userinfo() {
        let text = "fatal: unable to access 'https://alice:s3cret@example.com/r.git/': token tok123 rejected";
        let out = scrub(text, &["tok123", ""]);
        assert!(!out.contains("s3cret"), "{out}");
        assert!(!out.contains("alice"), "{out}");
        assert!(!out.contains("tok123"), "{out}");
        assert!(out.contains("https://***@example.com/r.git/"), "{out}");
    }

    #[test]
    fn keeps_the_ssh_user_but_not_a_password() {
        assert_eq!(scrub("ssh://git@host/repo", &[]), "ssh://git@host/repo");
        assert_eq!(scrub("ssh://git:pw@host/repo", &[]), "ssh://***@host/repo");
        assert_eq!(
            scrub("https://tokenonly@host/repo", &[]),
            "https://***@host/repo"
        );
    }

    #[test]
    fn survives_multibyte_text_before_a_scheme() {
        assert_eq!(scrub("é://u:p@h/r ü", &[]), "é://***@h/r ü");
    }

    #[test]
    fn longer_secret_masked_whole() {
        assert_eq!(scrub("abcdef", &["abc", "abcdef"]), MASK);
    }
}

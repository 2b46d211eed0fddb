//! Revisions as Applications write them (`targetRevision`): what is a valid
//! one, and how each maps onto refs.

use std::collections::BTreeMap;

/// A full commit id (SHA-1, or SHA-256 for repositories that use it).
pub fn is_commit_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Something that could be an abbreviated commit id.
pub(crate) fn is_abbreviated_id(s: &str) -> bool {
    (4..64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `revision` means the remote's default branch.
pub fn is_head(revision: &str) -> bool {
    let r = revision.trim();
    r.is_empty() || r == "HEAD"
}

/// Why `revision` cannot name a branch, tag or commit. Git's revision
/// syntax (`main~2`, `@{yesterday}`, `:/text`) is refused on purpose: a
/// targetRevision names a ref or a commit, nothing git would compute.
pub(crate) fn check(revision: &str) -> Result<(), String> {
    let r = revision.trim();
    if r.starts_with('-') {
        return Err("may not begin with '-'".into());
    }
    if r.contains("..")
        || r.contains("@{")
        || r.contains("//")
        || r.ends_with('/')
        || r.ends_with(".lock")
    {
        return Err("not a valid ref name".into());
    }
    if let Some(c) = r.chars().find(|c| {
        c.is_control() || c.is_whitespace() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Err(format!("may not contain {c:?}"));
    }
    Ok(())
}

/// The refs to try, in order, for `revision` in a local mirror. A branch
/// wins over a tag of the same name, as in Argo CD (whose `ls-remote` lists
/// heads before tags).
pub(crate) fn local_candidates(revision: &str) -> Vec<String> {
    let r = revision.trim();
    if is_head(r) {
        return vec![LOCAL_HEAD.to_string()];
    }
    if r.starts_with("refs/") {
        return vec![r.to_string()];
    }
    let mut out = vec![format!("refs/heads/{r}"), format!("refs/tags/{r}")];
    if is_abbreviated_id(r) || is_commit_id(r) {
        out.push(r.to_string());
    }
    out
}

/// Where the mirror records the remote's HEAD as last resolved.
pub(crate) const LOCAL_HEAD: &str = "refs/fjord/HEAD";

/// The refs a remote advertises (`git ls-remote`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteRefs {
    /// The branch HEAD points to (`refs/heads/main`), if the server says.
    pub head_branch: Option<String>,
    /// Ref name → commit id; annotated tags map to the commit they peel to.
    pub refs: BTreeMap<String, String>,
}

impl RemoteRefs {
    /// Parses `git ls-remote --symref` output. Lines it does not understand
    /// are skipped rather than trusted.
    pub fn parse(output: &str) -> Self {
        let mut head_branch = None;
        let mut direct = BTreeMap::new();
        let mut peeled = BTreeMap::new();
        for line in output.lines() {
            let Some((left, name)) = line.split_once('\t') else {
                continue;
            };
            if let Some(target) = left.strip_prefix("ref: ") {
                if name == "HEAD" {
                    head_branch = Some(target.trim().to_string());
                }
                continue;
            }
            let id = left.trim();
            if !is_commit_id(id) {
                continue;
            }
            match name.strip_suffix("^{}") {
                Some(tag) => peeled.insert(tag.to_string(), id.to_string()),
                None => direct.insert(name.to_string(), id.to_string()),
            };
        }
        for (name, id) in peeled {
            direct.insert(name, id);
        }
        Self {
            head_branch,
            refs: direct,
        }
    }

    /// The commit `revision` names, if the advertised refs decide it. A full
    /// commit id resolves to itself; an abbreviated one needs the objects.
    pub fn resolve(&self, revision: &str) -> Option<String> {
        let r = revision.trim();
        if is_head(r) {
            return self.refs.get("HEAD").cloned();
        }
        if r.starts_with("refs/") {
            return self.refs.get(r).cloned();
        }
        if let Some(id) = self
            .refs
            .get(&format!("refs/heads/{r}"))
            .or_else(|| self.refs.get(&format!("refs/tags/{r}")))
        {
            return Some(id.clone());
        }
        is_commit_id(r).then(|| r.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = "ref: refs/heads/main\tHEAD\n\
        1111111111111111111111111111111111111111\tHEAD\n\
        1111111111111111111111111111111111111111\trefs/heads/main\n\
        2222222222222222222222222222222222222222\trefs/heads/release\n\
        3333333333333333333333333333333333333333\trefs/tags/v1.0\n\
        4444444444444444444444444444444444444444\trefs/tags/v1.0^{}\n\
        5555555555555555555555555555555555555555\trefs/tags/light\n\
        6666666666666666666666666666666666666666\trefs/tags/release\n\
        garbage line\n";

    #[test]
    fn parses_ls_remote_and_peels_tags() {
        let refs = RemoteRefs::parse(LS);
        assert_eq!(refs.head_branch.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            refs.resolve("HEAD").as_deref(),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(
            refs.resolve("").as_deref(),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(
            refs.resolve("v1.0").as_deref(),
            Some("4444444444444444444444444444444444444444")
        );
        assert_eq!(
            refs.resolve("light").as_deref(),
            Some("5555555555555555555555555555555555555555")
        );
        assert_eq!(
            refs.resolve("release").as_deref(),
            Some("2222222222222222222222222222222222222222")
        );
        assert_eq!(
            refs.resolve("refs/tags/release").as_deref(),
            Some("6666666666666666666666666666666666666666")
        );
        assert_eq!(refs.resolve("nope"), None);
        assert_eq!(refs.resolve("abcdef1"), None);
        let full = "ABCDEF0123456789abcdef0123456789abcdef01";
        assert_eq!(refs.resolve(full), Some(full.to_ascii_lowercase()));
    }

    #[test]
    fn refuses_revision_syntax() {
        assert!(check("main").is_ok());
        assert!(check("feature/x-1").is_ok());
        assert!(check("v1.2.3").is_ok());
        for bad in [
            "-x", "main~1", "main^", "HEAD@{1}", ":/msg", "a..b", "a b", "x.lock", "a\\b",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_candidates_order() {
        assert_eq!(local_candidates("HEAD"), vec![LOCAL_HEAD.to_string()]);
        assert_eq!(
            local_candidates("main"),
            vec!["refs/heads/main", "refs/tags/main"]
        );
        assert_eq!(
            local_candidates("abc1234"),
            vec!["refs/heads/abc1234", "refs/tags/abc1234", "abc1234"]
        );
    }
}

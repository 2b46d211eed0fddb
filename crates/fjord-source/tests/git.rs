//! The repository cache against real repositories over file://, git://,
//! HTTP (git http-backend behind basic auth) and SSH (sshd).

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use fjord_source::{CacheOptions, GitFailure, Repo, RepoCache, RepoCredentials, SourceError};
use support::{Fixture, git};

fn new_cache() -> (tempfile::TempDir, RepoCache) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = RepoCache::new(dir.path().join("cache")).expect("cache");
    (dir, cache)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

#[tokio::test]
async fn file_resolves_every_kind_of_revision() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    let resolve = |rev: &'static str| {
        let cache = &cache;
        let repo = &repo;
        async move {
            cache
                .resolve(repo, rev)
                .await
                .unwrap_or_else(|e| panic!("{rev}: {e}"))
        }
    };
    let advertised = cache.ls_remote(&repo).await.expect("ls-remote");
    assert_eq!(advertised.head_branch.as_deref(), Some("refs/heads/main"));
    assert_eq!(advertised.resolve("release"), Some(fx.c3.clone()));
    assert!(
        !cache.mirror_dir(&repo).exists(),
        "ls-remote transfers nothing"
    );
    assert_eq!(resolve("HEAD").await, fx.c2);
    assert_eq!(resolve("").await, fx.c2);
    assert_eq!(resolve("main").await, fx.c2);
    assert_eq!(resolve("release").await, fx.c3);
    assert_eq!(resolve("refs/heads/release").await, fx.c3);
    // The annotated tag resolves to its commit, not to the tag object.
    assert_ne!(fx.annotated_tag_object, fx.c1);
    assert_eq!(resolve("v1.0").await, fx.c1);
    assert_eq!(resolve("light").await, fx.c2);
    assert_eq!(cache.resolve(&repo, &fx.c1).await.expect("full sha"), fx.c1);
    assert_eq!(
        cache
            .resolve(&repo, &fx.c1.to_uppercase())
            .await
            .expect("upper sha"),
        fx.c1
    );
    assert_eq!(
        cache
            .resolve(&repo, &fx.c3[..8])
            .await
            .expect("abbreviated sha"),
        fx.c3
    );
    // After the fetches, the mirror answers without the remote too.
    assert_eq!(
        cache.resolve_local(&repo, "v1.0").await.expect("local tag"),
        fx.c1
    );
    assert_eq!(
        cache
            .resolve_local(&repo, "HEAD")
            .await
            .expect("local HEAD"),
        fx.c2
    );
}

#[tokio::test]
async fn plain_path_and_file_url_share_one_mirror() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let by_path = Repo::new(fx.path().display().to_string());
    let by_url = Repo::new(format!("{}/", file_url(fx.path())));
    assert_eq!(
        cache.resolve(&by_path, "main").await.expect("plain path"),
        fx.c2
    );
    assert_eq!(cache.mirror_dir(&by_path), cache.mirror_dir(&by_url));
    assert_eq!(
        cache
            .resolve_local(&by_url, "release")
            .await
            .expect("same mirror"),
        fx.c3
    );
}

#[tokio::test]
async fn fetch_is_incremental_and_sees_new_commits() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    assert_eq!(cache.resolve(&repo, "main").await.expect("main"), fx.c2);
    let marker = cache.mirror_dir(&repo).join("fjord-test-marker");
    std::fs::write(&marker, "kept").expect("marker");

    let c4 = fx.commit("app/deploy.yaml", "image: web:v3\n", "third");
    // The mirror still says c2 until someone fetches …
    assert_eq!(
        cache.resolve_local(&repo, "main").await.expect("stale"),
        fx.c2
    );
    // … and resolve notices the remote moved and fetches into the same mirror.
    assert_eq!(cache.resolve(&repo, "main").await.expect("new main"), c4);
    assert!(
        marker.exists(),
        "the mirror was fetched into, not cloned again"
    );
    let tree = cache.checkout(&repo, &c4).await.expect("checkout");
    assert_eq!(read(&tree, "app/deploy.yaml"), "image: web:v3\n");

    // A lock left by a killed git does not wedge the mirror.
    let c5 = fx.commit("app/deploy.yaml", "image: web:v5\n", "fifth");
    std::fs::write(cache.mirror_dir(&repo).join("refs/heads/main.lock"), "").expect("lock");
    std::fs::write(cache.mirror_dir(&repo).join("packed-refs.lock"), "").expect("lock");
    assert_eq!(
        cache
            .resolve(&repo, "main")
            .await
            .expect("after stale locks"),
        c5
    );

    // A deleted branch disappears from the mirror on the next fetch.
    git(fx.path(), &["branch", "-q", "-D", "release"]);
    cache.fetch(&repo).await.expect("fetch");
    assert!(matches!(
        cache.resolve_local(&repo, "release").await,
        Err(SourceError::RevisionNotFound { .. })
    ));
}

#[tokio::test]
async fn checkout_writes_each_commit_once() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    let c1 = cache.resolve(&repo, "v1.0").await.expect("tag");
    let tree1 = cache.checkout(&repo, &c1).await.expect("checkout c1");
    assert_eq!(tree1, cache.tree_dir(&fx.c1));
    assert_eq!(read(&tree1, "app/deploy.yaml"), "image: web:v1\n");
    assert_eq!(read(&tree1, "README.md"), "apps\n");
    assert!(!tree1.join("release.txt").exists());
    assert!(!tree1.join(".git").exists());

    std::fs::write(tree1.join("marker"), "x").expect("marker");
    let again = cache.checkout(&repo, &fx.c1).await.expect("checkout again");
    assert_eq!(again, tree1);
    assert!(
        again.join("marker").exists(),
        "an existing tree is reused, not rewritten"
    );

    // A commit not fetched yet is fetched on demand.
    let c3 = fx.c3.clone();
    let tree3 = cache.checkout(&repo, &c3).await.expect("checkout c3");
    assert_eq!(read(&tree3, "release.txt"), "release branch\n");
    let tree2 = cache.checkout(&repo, &fx.c2).await.expect("checkout c2");
    assert_eq!(read(&tree2, "app/deploy.yaml"), "image: web:v2\n");

    // Nothing half-written is left behind.
    let tmp: Vec<_> = std::fs::read_dir(cache.root().join("tmp"))
        .expect("tmp")
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");

    // Keep the most recently used one, and c1 because it is in use.
    let set_age = |dir: &Path, secs: u64| {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::open(dir)
            .and_then(|f| f.set_modified(t))
            .expect("mtime");
    };
    set_age(&tree1, 300);
    set_age(&tree3, 200);
    set_age(&tree2, 100);
    let removed = cache.prune_trees(1, &[fx.c1.as_str()]).expect("prune");
    assert_eq!(removed, vec![fx.c3.clone()]);
    assert!(tree2.is_dir() && tree1.is_dir() && !tree3.exists());
}

#[tokio::test]
async fn a_tree_is_only_handed_to_a_repository_that_holds_the_commit() {
    let fx = Fixture::new();
    let unrelated = tempfile::tempdir().expect("tempdir");
    git(unrelated.path(), &["init", "-q"]);
    support::write(unrelated.path(), "other.txt", "other\n");
    git(unrelated.path(), &["add", "."]);
    git(unrelated.path(), &["commit", "-q", "-m", "other"]);
    let (_d, cache) = new_cache();
    let owner = Repo::new(file_url(fx.path()));
    let stranger = Repo::new(file_url(unrelated.path()));
    cache
        .checkout(&owner, &fx.c1)
        .await
        .expect("owner checks out");
    let err = cache
        .checkout(&stranger, &fx.c1)
        .await
        .expect_err("not in that repository");
    assert!(
        matches!(err, SourceError::RevisionNotFound { .. }),
        "{err:?}"
    );
    let err = cache
        .resolve(&stranger, &fx.c1)
        .await
        .expect_err("not in that repository");
    assert!(
        matches!(err, SourceError::RevisionNotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn checkout_refuses_symlinks_out_of_the_repository() {
    let fx = Fixture::new();
    std::os::unix::fs::symlink("../../etc/passwd", fx.path().join("app/passwd")).expect("symlink");
    std::os::unix::fs::symlink("deploy.yaml", fx.path().join("app/alias.yaml")).expect("symlink");
    git(fx.path(), &["add", "."]);
    git(fx.path(), &["commit", "-q", "-m", "links"]);
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    let commit = cache.resolve(&repo, "main").await.expect("main");
    let err = cache.checkout(&repo, &commit).await.expect_err("refused");
    assert!(matches!(err, SourceError::UnsafeTree { .. }), "{err:?}");
    assert!(err.to_string().contains("app/passwd"), "{err}");
    assert!(!cache.tree_dir(&commit).exists());
    // An in-repository link is fine.
    let c2 = cache
        .checkout(&repo, &fx.c2)
        .await
        .expect("checkout without links");
    assert!(c2.join("app/deploy.yaml").is_file());
}

#[tokio::test]
async fn unknown_revision_names_repository_and_revision() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    for rev in ["no-such-branch", "deadbee"] {
        let err = cache.resolve(&repo, rev).await.expect_err("unknown");
        assert!(
            matches!(err, SourceError::RevisionNotFound { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(rev) && msg.contains(&fx.path().display().to_string()),
            "{msg}"
        );
    }
    let err = cache.resolve(&repo, "main~1").await.expect_err("invalid");
    assert!(
        matches!(err, SourceError::InvalidRevision { .. }),
        "{err:?}"
    );
    let err = cache
        .checkout(&repo, "abc")
        .await
        .expect_err("not a commit id");
    assert!(
        matches!(err, SourceError::InvalidRevision { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_repository_is_a_git_error_and_the_mirror_still_answers() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let repo = Repo::new(file_url(fx.path()));
    assert_eq!(cache.resolve(&repo, "HEAD").await.expect("HEAD"), fx.c2);
    let moved = fx.path().with_extension("moved");
    std::fs::rename(fx.path(), &moved).expect("move repo away");
    let err = cache.resolve(&repo, "HEAD").await.expect_err("gone");
    std::fs::rename(&moved, fx.path()).expect("move back");
    assert_eq!(
        err.git_failure(),
        Some(GitFailure::RepositoryNotFound),
        "{err}"
    );
    assert!(err.to_string().contains("ls-remote"), "{err}");
    // The last fetched state is still there without the network.
    assert_eq!(
        cache.resolve_local(&repo, "HEAD").await.expect("local"),
        fx.c2
    );
    // A full commit id already in the mirror needs no remote at all.
    std::fs::rename(fx.path(), &moved).expect("move repo away");
    let pinned = cache.resolve(&repo, &fx.c1).await;
    std::fs::rename(&moved, fx.path()).expect("move back");
    assert_eq!(pinned.expect("pinned commit offline"), fx.c1);
}

#[tokio::test]
async fn git_daemon_transport() {
    let fx = Fixture::new();
    let served = tempfile::tempdir().expect("tempdir");
    let bare = fx.bare_copy(served.path(), "apps.git");
    let daemon = support::git_daemon(served.path());
    let (_d, cache) = new_cache();
    let repo = Repo::new(format!("git://127.0.0.1:{}/apps.git", daemon.port));
    assert_eq!(cache.resolve(&repo, "HEAD").await.expect("HEAD"), fx.c2);
    assert_eq!(cache.resolve(&repo, "v1.0").await.expect("tag"), fx.c1);
    let tree = cache.checkout(&repo, &fx.c3).await.expect("checkout");
    assert_eq!(read(&tree, "release.txt"), "release branch\n");

    let c4 = fx.commit("app/deploy.yaml", "image: web:v4\n", "fourth");
    git(
        fx.path(),
        &["push", "-q", bare.to_str().expect("utf-8"), "main"],
    );
    assert_eq!(cache.resolve(&repo, "main").await.expect("new main"), c4);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts connections (the kernel does, from the backlog) and never
    // says a word.
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = RepoCache::with_options(
        dir.path().join("cache"),
        CacheOptions {
            git_timeout: std::time::Duration::from_secs(1),
            ..Default::default()
        },
    )
    .expect("cache");
    let repo = Repo::new(format!("git://127.0.0.1:{port}/apps.git"));
    let started = std::time::Instant::now();
    let err = cache.fetch(&repo).await.expect_err("silent server");
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(err.to_string().contains("fetch"), "{err}");
    drop(listener);
}

const USER: &str = "deploy-bot";
const PASSWORD: &str = "pa55-w0rd-xyz";
const BEARER: &str = "bearer-tok-9876";

fn http_fixture() -> (Fixture, tempfile::TempDir, support::Server) {
    let fx = Fixture::new();
    let served = tempfile::tempdir().expect("tempdir");
    fx.bare_copy(served.path(), "apps.git");
    let server = support::git_http(served.path(), USER, PASSWORD, Some(BEARER));
    (fx, served, server)
}

#[tokio::test]
async fn http_with_basic_auth_and_bearer_token() {
    let (fx, _served, server) = http_fixture();
    let url = format!("http://127.0.0.1:{}/apps.git", server.port);
    let (_d, cache) = new_cache();

    let secret: BTreeMap<String, String> = [
        ("url", url.as_str()),
        ("username", USER),
        ("password", PASSWORD),
        ("type", "git"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let creds = RepoCredentials::from_secret_data(&secret).expect("secret");
    let repo = Repo::new(&url).with_credentials(&creds);
    assert_eq!(
        cache.resolve(&repo, "main").await.expect("basic auth"),
        fx.c2
    );
    let tree = cache.checkout(&repo, &fx.c1).await.expect("checkout");
    assert_eq!(read(&tree, "app/deploy.yaml"), "image: web:v1\n");

    let (_d2, cache2) = new_cache();
    let mut bearer = RepoCredentials {
        url: url.clone(),
        ..Default::default()
    };
    bearer.bearer_token = Some(BEARER.into());
    let repo = Repo::new(&url).with_credentials(&bearer);
    assert_eq!(
        cache2.resolve(&repo, "release").await.expect("bearer"),
        fx.c3
    );
}

#[tokio::test]
async fn http_wrong_password_fails_without_revealing_it() {
    let (_fx, _served, server) = http_fixture();
    let url = format!("http://127.0.0.1:{}/apps.git", server.port);
    let (_d, cache) = new_cache();

    let wrong = "not-the-password-42";
    let repo = Repo::new(&url).with_basic_auth(USER, wrong);
    for err in [
        cache
            .resolve(&repo, "main")
            .await
            .expect_err("wrong password"),
        cache.fetch(&repo).await.expect_err("wrong password"),
    ] {
        assert_eq!(err.git_failure(), Some(GitFailure::Authentication), "{err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(wrong), "{shown}");
        assert!(shown.contains(&url), "names the repository: {shown}");
    }
    assert!(!format!("{repo:?}").contains(wrong));

    let anonymous = Repo::new(&url);
    let err = cache.fetch(&anonymous).await.expect_err("no credentials");
    assert_eq!(err.git_failure(), Some(GitFailure::Authentication), "{err}");

    // Credentials written into the URL itself never show either.
    let in_url = format!("http://{USER}:{wrong}@127.0.0.1:{}/apps.git", server.port);
    let err = cache
        .fetch(&Repo::new(&in_url))
        .await
        .expect_err("wrong password in URL");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert_eq!(err.git_failure(), Some(GitFailure::Authentication), "{err}");
}

fn counting_git(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("git-calls.log");
    let wrapper = dir.join("git-wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec git \"$@\"\n",
            log.display()
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (wrapper, log)
}

fn fetch_count(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == "fetch"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_of_one_repository_share_one_git_fetch() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (wrapper, log) = counting_git(dir.path());
    let cache = RepoCache::with_options(
        dir.path().join("cache"),
        CacheOptions {
            git_binary: wrapper,
            ..Default::default()
        },
    )
    .expect("cache");
    let repo = Repo::new(file_url(fx.path()));
    // Another spelling of the same repository shares the fetch too.
    let same = Repo::new(format!(
        "{}.git/",
        file_url(fx.path()).trim_end_matches('/')
    ));
    let (a, b) = tokio::join!(cache.fetch(&repo), cache.fetch(&same));
    let (a, b) = (a.expect("first fetch"), b.expect("second fetch"));
    assert_eq!(fetch_count(&log), 1, "one git fetch for two callers");
    assert!(
        a.shared != b.shared,
        "one fetched, the other shared: {a:?} {b:?}"
    );
    assert_eq!(
        cache.resolve_local(&repo, "main").await.expect("main"),
        fx.c2
    );

    // Once the first is done, a new caller fetches again.
    let c = cache.fetch(&repo).await.expect("later fetch");
    assert!(!c.shared);
    assert_eq!(fetch_count(&log), 2);

    // Different repositories never wait for each other's fetch.
    let other = Fixture::new();
    let other_repo = Repo::new(file_url(other.path()));
    let (x, y) = tokio::join!(cache.fetch(&repo), cache.fetch(&other_repo));
    assert!(!x.expect("repo").shared && !y.expect("other").shared);
    assert_eq!(fetch_count(&log), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolve_and_checkout_from_threads() {
    let fx = Fixture::new();
    let (_d, cache) = new_cache();
    let cache = std::sync::Arc::new(cache);
    let repo = Repo::new(file_url(fx.path()));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let cache = cache.clone();
        let repo = repo.clone();
        let rev = ["main", "v1.0", "release"][i % 3];
        tasks.push(tokio::spawn(async move {
            let commit = cache.resolve(&repo, rev).await?;
            cache.checkout(&repo, &commit).await.map(|p| (rev, p))
        }));
    }
    for task in tasks {
        let (rev, tree) = task.await.expect("join").expect("resolve and checkout");
        let want = if rev == "v1.0" {
            "image: web:v1\n"
        } else if rev == "main" {
            "image: web:v2\n"
        } else {
            "image: web:v1\n"
        };
        assert_eq!(read(&tree, "app/deploy.yaml"), want, "{rev}");
    }
}

#[tokio::test]
async fn ssh_with_private_key_and_known_hosts() {
    if !Path::new(support::SSHD).exists() {
        eprintln!(
            "skipped: {} is not installed (apt-get install openssh-server)",
            support::SSHD
        );
        return;
    }
    let fx = Fixture::new();
    let served = tempfile::tempdir().expect("tempdir");
    let bare = fx.bare_copy(served.path(), "apps.git");
    let keys = tempfile::tempdir().expect("tempdir");
    let (private_key, public_key) = support::keygen(&keys.path().join("client"));
    let (other_key, _) = support::keygen(&keys.path().join("stranger"));
    let (server, known_hosts) = support::sshd(&public_key);
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        support::current_user(),
        server.port,
        bare.display()
    );

    let secret: BTreeMap<String, String> = [
        ("url", url.as_str()),
        ("sshPrivateKey", private_key.trim_end()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let creds = RepoCredentials::from_secret_data(&secret).expect("secret");

    let (_d, cache) = new_cache();
    let repo = Repo::new(&url)
        .with_credentials(&creds)
        .with_known_hosts(&known_hosts);
    assert_eq!(
        cache
            .resolve(&repo, "main")
            .await
            .expect("ssh with known host"),
        fx.c2
    );
    let tree = cache.checkout(&repo, &fx.c3).await.expect("checkout");
    assert_eq!(read(&tree, "release.txt"), "release branch\n");

    // An unknown host key is refused unless the repository is insecure.
    let (_d2, cache2) = new_cache();
    let unknown_host = Repo::new(&url).with_credentials(&creds);
    let err = cache2
        .resolve(&unknown_host, "main")
        .await
        .expect_err("unknown host");
    assert_eq!(err.git_failure(), Some(GitFailure::HostKey), "{err}");
    let insecure = Repo::new(&url).with_credentials(&creds).insecure(true);
    assert_eq!(
        cache2.resolve(&insecure, "v1.0").await.expect("insecure"),
        fx.c1
    );

    // A key the server does not know is an authentication failure that
    // does not show the key.
    let stranger = Repo::new(&url)
        .with_ssh_key(other_key.as_str())
        .with_known_hosts(&known_hosts);
    let err = cache2.fetch(&stranger).await.expect_err("unknown key");
    assert_eq!(err.git_failure(), Some(GitFailure::Authentication), "{err}");
    let key_body = other_key.lines().nth(1).expect("key line");
    assert!(!format!("{err} {err:?}").contains(key_body));
}

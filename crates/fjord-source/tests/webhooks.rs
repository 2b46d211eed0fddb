//! Push webhooks with real payload shapes from GitHub, GitLab and Gitea.

use fjord_source::{Provider, WebhookError, WebhookEvent, WebhookSecrets, parse_webhook};
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn secrets() -> WebhookSecrets {
    WebhookSecrets {
        github: Some("gh-secret".into()),
        gitlab: Some("gl-token".into()),
        gitea: Some("gt-secret".into()),
    }
}

fn push(event: Result<WebhookEvent, WebhookError>) -> fjord_source::PushEvent {
    match event {
        Ok(WebhookEvent::Push(p)) => p,
        other => panic!("not a push: {other:?}"),
    }
}

#[test]
fn github_push_verified_and_parsed() {
    let body = fixture("github-push.json");
    let sig = format!("sha256={}", hmac_hex("gh-secret", &body));
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-Hub-Signature-256", sig.as_str()),
        ("Content-Type", "application/json"),
    ];
    let p = push(parse_webhook(headers, &body, &secrets()));
    assert_eq!(p.provider, Provider::GitHub);
    assert_eq!(p.git_ref, "refs/heads/main");
    assert_eq!(p.branch.as_deref(), Some("main"));
    assert_eq!(p.tag, None);
    assert_eq!(
        p.after.as_deref(),
        Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    );
    assert_eq!(
        p.before.as_deref(),
        Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246")
    );
    assert_eq!(p.default_branch.as_deref(), Some("main"));
    for url in [
        "https://github.com/Acme/platform-apps.git",
        "git@github.com:Acme/platform-apps.git",
        "https://github.com/Acme/platform-apps",
    ] {
        assert!(
            p.repo_urls.iter().any(|u| u == url),
            "{url} in {:?}",
            p.repo_urls
        );
    }
    assert_eq!(
        p.changed_files,
        vec![
            "apps/web/hpa.yaml",
            "apps/web/deployment.yaml",
            "apps/batch/job.yaml"
        ]
    );
    // Applications written with any spelling of the repository match.
    assert!(p.affects("git@github.com:acme/platform-apps.git", "HEAD"));
    assert!(p.affects("https://github.com/acme/platform-apps", "main"));
    assert!(!p.affects("https://github.com/acme/platform-apps", "release"));
    assert!(!p.affects("https://github.com/acme/other", "HEAD"));
}

/// The error for a request that must be refused.
fn refused(headers: &[(&str, &str)], body: &[u8]) -> WebhookError {
    match parse_webhook(headers.iter().copied(), body, &secrets()) {
        Ok(event) => panic!("accepted: {event:?}"),
        Err(err) => err,
    }
}

fn bad(provider: Provider) -> WebhookError {
    WebhookError::BadSignature { provider }
}

fn missing(provider: Provider) -> WebhookError {
    WebhookError::MissingSignature { provider }
}

#[test]
fn github_bad_or_missing_signature_is_refused() {
    let body = fixture("github-push.json");
    let wrong = format!("sha256={}", hmac_hex("not-the-secret", &body));
    let good = format!("sha256={}", hmac_hex("gh-secret", &body));
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let event = ("x-github-event", "push");
    let gh = Provider::GitHub;
    assert_eq!(
        refused(&[event, ("x-hub-signature-256", &wrong)], &body),
        bad(gh)
    );
    // A body changed after signing fails too.
    assert_eq!(
        refused(&[event, ("x-hub-signature-256", &good)], &tampered),
        bad(gh)
    );
    assert_eq!(
        refused(&[event, ("x-hub-signature-256", "sha256=zz")], &body),
        bad(gh)
    );
    assert_eq!(
        refused(&[event, ("x-hub-signature-256", &good[7..])], &body),
        bad(gh)
    );
    assert_eq!(refused(&[event], &body), missing(gh));

    // Without a configured secret the push is taken unverified.
    let p = push(parse_webhook([event], &body, &WebhookSecrets::default()));
    assert_eq!(p.branch.as_deref(), Some("main"));
}

#[test]
fn github_ping_and_other_events() {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let sig = format!("sha256={}", hmac_hex("gh-secret", body));
    let event = parse_webhook(
        [
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", sig.as_str()),
        ],
        body,
        &secrets(),
    );
    assert_eq!(event, Ok(WebhookEvent::Ping(Provider::GitHub)));
    let event = parse_webhook(
        [
            ("X-GitHub-Event", "issues"),
            ("X-Hub-Signature-256", sig.as_str()),
        ],
        body,
        &secrets(),
    );
    assert_eq!(
        event,
        Err(WebhookError::UnsupportedEvent {
            provider: Provider::GitHub,
            event: "issues".into()
        })
    );
    assert_eq!(
        parse_webhook([("Content-Type", "application/json")], body, &secrets()),
        Err(WebhookError::UnknownProvider)
    );
}

#[test]
fn gitlab_push_with_token() {
    let body = fixture("gitlab-push.json");
    let p = push(parse_webhook(
        [
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ],
        &body,
        &secrets(),
    ));
    assert_eq!(p.provider, Provider::GitLab);
    assert_eq!(p.branch.as_deref(), Some("release"));
    assert_eq!(
        p.after.as_deref(),
        Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
    );
    assert_eq!(p.default_branch.as_deref(), Some("main"));
    assert!(
        p.repo_urls
            .iter()
            .any(|u| u == "git@gitlab.example.com:mike/diaspora.git")
    );
    assert!(
        p.repo_urls
            .iter()
            .any(|u| u == "http://gitlab.example.com/mike/diaspora.git")
    );
    assert!(
        p.repo_urls
            .iter()
            .any(|u| u == "http://gitlab.example.com/mike/diaspora")
    );
    assert_eq!(
        p.changed_files,
        vec!["CHANGELOG", "app/controller/application.rb"]
    );
    assert!(p.affects("ssh://git@gitlab.example.com/mike/diaspora", "release"));
    assert!(!p.affects("ssh://git@gitlab.example.com/mike/diaspora", "HEAD"));

    let event = ("X-Gitlab-Event", "Push Hook");
    for token in ["gl-tokem", "gl-token-and-more", ""] {
        let err = refused(&[event, ("X-Gitlab-Token", token)], &body);
        assert_eq!(err, bad(Provider::GitLab), "{token:?}");
    }
    assert_eq!(refused(&[event], &body), missing(Provider::GitLab));
    let merge = ("X-Gitlab-Event", "Merge Request Hook");
    let err = refused(&[merge, ("X-Gitlab-Token", "gl-token")], &body);
    assert!(matches!(
        err,
        WebhookError::UnsupportedEvent {
            provider: Provider::GitLab,
            ..
        }
    ));
}

#[test]
fn gitea_tag_push_with_signature() {
    let body = fixture("gitea-push.json");
    let sig = hmac_hex("gt-secret", &body);
    let github_sig = format!("sha256={}", hmac_hex("gt-secret", &body));
    // Gitea sends GitHub's and Gogs' headers as well as its own.
    let headers = [
        ("X-Gitea-Event", "push"),
        ("X-Gitea-Signature", sig.as_str()),
        ("X-GitHub-Event", "push"),
        ("X-Gogs-Event", "push"),
        ("X-Hub-Signature-256", github_sig.as_str()),
    ];
    let p = push(parse_webhook(headers, &body, &secrets()));
    assert_eq!(p.provider, Provider::Gitea);
    assert_eq!(p.tag.as_deref(), Some("v1.4.0"));
    assert_eq!(p.branch, None);
    assert_eq!(p.before, None, "an all-zero id means the tag is new");
    assert_eq!(
        p.after.as_deref(),
        Some("28e1879d029cb852e4844d9c718537df08844e03")
    );
    assert!(p.affects("ssh://gitea@localhost:2222/gitea/webhooks", "v1.4.0"));
    assert!(p.affects(
        "http://localhost:3000/gitea/webhooks.git",
        "refs/tags/v1.4.0"
    ));
    assert!(!p.affects("http://localhost:3000/gitea/webhooks.git", "HEAD"));

    let wrong = hmac_hex("other", &body);
    let event = ("X-Gitea-Event", "push");
    let gitea = Provider::Gitea;
    assert_eq!(
        refused(&[event, ("X-Gitea-Signature", &wrong)], &body),
        bad(gitea)
    );
    assert_eq!(refused(&[event], &body), missing(gitea));
}

#[test]
fn malformed_payloads_are_typed_errors() {
    let cases: [&[u8]; 3] = [
        b"not json",
        br#"{"ref": "refs/heads/main"}"#,
        br#"{"repository": {"clone_url": "https://h/r"}}"#,
    ];
    for body in cases {
        let err = parse_webhook(
            [("X-Gitea-Event", "push")],
            body,
            &WebhookSecrets::default(),
        )
        .expect_err("malformed");
        assert!(
            matches!(
                err,
                WebhookError::Malformed {
                    provider: Provider::Gitea,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

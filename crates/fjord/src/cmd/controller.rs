use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fjord_controller::endpoint::Services;
use fjord_controller::sealed::{KeyConfig, SealedConfig, SealedSecrets};
use fjord_controller::{Controller, ControllerConfig, leader};
use fjord_source::{SecretString, WebhookSecrets};

use super::ClusterArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The namespace holding the Applications (and the leader lease).
    #[arg(long, short = 'n', default_value = "argocd")]
    namespace: String,
    /// Where Git mirrors and checked-out trees are kept.
    #[arg(long, env = "FJORD_REPO_CACHE", default_value = "/var/cache/fjord")]
    repo_cache: PathBuf,
    /// How often repositories are polled for new commits (e.g. 3m, 30s).
    #[arg(long, default_value = "3m", value_parser = parse_duration)]
    poll_interval: Duration,
    /// Reconciles that run at once.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Reconcile only while holding the leader lease, so replicas can run side by side.
    #[arg(long)]
    leader_elect: bool,
    /// Address of the HTTP endpoint: push webhooks at /api/webhook, /metrics, /healthz.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Secret GitHub signs push webhooks with.
    #[arg(long, env = "FJORD_WEBHOOK_GITHUB_SECRET", hide_env_values = true)]
    webhook_github_secret: Option<String>,
    /// Token GitLab sends with push webhooks.
    #[arg(long, env = "FJORD_WEBHOOK_GITLAB_SECRET", hide_env_values = true)]
    webhook_gitlab_secret: Option<String>,
    /// Secret Gitea signs push webhooks with.
    #[arg(long, env = "FJORD_WEBHOOK_GITEA_SECRET", hide_env_values = true)]
    webhook_gitea_secret: Option<String>,
    /// This replica's identity in events and the lease (default: $POD_NAME or the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The controllers to run: applications, sealed-secrets, or both.
    #[arg(long, value_delimiter = ',', default_values = ["applications", "sealed-secrets"])]
    controllers: Vec<Which>,
    #[command(flatten)]
    sealed: SealedArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    Applications,
    SealedSecrets,
}

/// The SealedSecret controller's settings, named as upstream's flags.
#[derive(clap::Args)]
#[command(next_help_heading = "SealedSecrets")]
struct SealedArgs {
    /// Namespaces whose SealedSecrets are opened (comma-separated; default all).
    #[arg(long = "sealed-secrets-namespaces", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Names of key Secrets (in --namespace) start with this.
    #[arg(long, default_value = "sealed-secrets-key")]
    key_prefix: String,
    /// Size in bits of new RSA keys.
    #[arg(long, default_value_t = fjord_seal::DEFAULT_KEY_BITS)]
    key_size: usize,
    /// A new key this often (0 never renews); old keys keep opening.
    #[arg(long, default_value = "720h", value_parser = parse_duration_or_zero)]
    key_renew_period: Duration,
    /// Make a new key at start if the newest is older than this time (RFC 1123 with a numeric
    /// zone, e.g. "Mon, 02 Jan 2026 15:04:05 +0000"), as after a leak.
    #[arg(long, value_parser = parse_cutoff)]
    key_cutoff_time: Option<std::time::SystemTime>,
    /// Validity of new certificates.
    #[arg(long, default_value = "87600h", value_parser = parse_duration)]
    key_ttl: Duration,
    /// Common name of new certificates (empty by default, as upstream).
    #[arg(long, default_value = "")]
    my_cn: String,
}

fn parse_cutoff(s: &str) -> Result<std::time::SystemTime, String> {
    let parsed = k8s_openapi::jiff::fmt::rfc2822::parse(s.trim())
        .map_err(|_| format!("{s:?} is not a time such as \"Mon, 02 Jan 2026 15:04:05 +0000\""))?;
    Ok(std::time::SystemTime::from(parsed.timestamp()))
}

fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        Ok(Duration::ZERO)
    } else {
        parse_duration(s)
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    fjord_controller::reconcile::parse_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration such as 30s, 3m or 1h"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cluster = args.cluster.connect().await?;
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        format!(
            "{}-{}",
            if host.is_empty() { "fjord" } else { &host },
            std::process::id()
        )
    });
    std::fs::create_dir_all(&args.repo_cache).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the repository cache {}: {e}",
            args.repo_cache.display()
        )
    })?;
    if args.leader_elect {
        leader::acquire(cluster.client().clone(), &args.namespace, &identity, || {
            std::process::exit(1)
        })
        .await;
    }
    let client = cluster.client().clone();
    let applications = if args.controllers.contains(&Which::Applications) {
        let config = ControllerConfig {
            namespace: args.namespace.clone(),
            repo_cache: args.repo_cache,
            poll_interval: args.poll_interval,
            workers: args.workers,
            identity: identity.clone(),
        };
        tracing::info!(namespace = %config.namespace, server = cluster.server(), "application controller starting");
        Some(Controller::new(cluster, config).await?)
    } else {
        None
    };
    let sealed_secrets = if args.controllers.contains(&Which::SealedSecrets) {
        let config = SealedConfig {
            keys: KeyConfig {
                namespace: args.namespace.clone(),
                prefix: args.sealed.key_prefix,
                bits: args.sealed.key_size,
                common_name: args.sealed.my_cn,
                ttl: args.sealed.key_ttl,
                renew_period: Some(args.sealed.key_renew_period).filter(|p| !p.is_zero()),
                cutoff: args.sealed.key_cutoff_time,
            },
            namespaces: args.sealed.namespaces,
            workers: args.workers,
            identity,
            max_retries: 5,
        };
        tracing::info!(keys = %config.keys.namespace, "sealed-secrets controller starting");
        Some(SealedSecrets::new(client, config).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let services = Services {
        applications: applications.clone(),
        sealed_secrets: sealed_secrets.clone(),
        webhook_secrets: WebhookSecrets {
            github: args.webhook_github_secret.map(SecretString::new),
            gitlab: args.webhook_gitlab_secret.map(SecretString::new),
            gitea: args.webhook_gitea_secret.map(SecretString::new),
        },
    };
    tracing::info!(listen = %args.listen, "HTTP endpoint: /api/webhook, /v1/cert.pem, /metrics, /healthz");
    tokio::spawn(fjord_controller::endpoint::serve(
        listener,
        std::sync::Arc::new(services),
    ));
    let run_applications = async move {
        match applications {
            Some(controller) => controller.run().await,
            None => std::future::pending().await,
        }
    };
    let run_sealed = async move {
        match sealed_secrets {
            Some(controller) => controller.run().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = run_applications => {}
        _ = run_sealed => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(ExitCode::SUCCESS)
}

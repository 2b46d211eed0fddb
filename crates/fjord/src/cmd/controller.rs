use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    fjord_controller::reconcile::parse_duration(s).ok_or_else(|| format!("{s:?} is not a duration such as 30s, 3m or 1h"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cluster = args.cluster.connect().await?;
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{}-{}", if host.is_empty() { "fjord" } else { &host }, std::process::id())
    });
    std::fs::create_dir_all(&args.repo_cache)
        .map_err(|e| anyhow::anyhow!("cannot create the repository cache {}: {e}", args.repo_cache.display()))?;
    if args.leader_elect {
        leader::acquire(cluster.client().clone(), &args.namespace, &identity, || std::process::exit(1)).await;
    }
    let config = ControllerConfig {
        namespace: args.namespace,
        repo_cache: args.repo_cache,
        poll_interval: args.poll_interval,
        workers: args.workers,
        identity,
    };
    tracing::info!(namespace = %config.namespace, server = cluster.server(), "fjord controller starting");
    let controller = Controller::new(cluster, config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let secrets = WebhookSecrets {
        github: args.webhook_github_secret.map(SecretString::new),
        gitlab: args.webhook_gitlab_secret.map(SecretString::new),
        gitea: args.webhook_gitea_secret.map(SecretString::new),
    };
    tracing::info!(listen = %args.listen, "webhooks at /api/webhook, metrics at /metrics");
    tokio::spawn(fjord_controller::endpoint::serve(listener, controller.clone(), std::sync::Arc::new(secrets)));
    tokio::select! {
        _ = controller.run() => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(ExitCode::SUCCESS)
}

use std::process::ExitCode;

use fjord_engine::manifest::parse_file;
use fjord_engine::sync::{self, SyncOptions};

use super::ClusterArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The controller's namespace, where Applications live.
    #[arg(long, short = 'n', default_value = "argocd")]
    namespace: String,
    /// The container image running `fjord controller`.
    #[arg(long, default_value = "ghcr.io/fjord-gitops/fjord:latest")]
    image: String,
    /// Apply the manifests to the cluster instead of printing them.
    #[arg(long)]
    apply: bool,
    /// Leave out the controller Deployment, for a controller run outside the cluster.
    #[arg(long)]
    no_deployment: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let manifests =
        fjord_controller::install::manifests(&args.namespace, &args.image, !args.no_deployment);
    if !args.apply {
        print!("{manifests}");
        return Ok(ExitCode::SUCCESS);
    }
    let objects = parse_file(std::path::Path::new("fjord-install.yaml"), &manifests)?;
    let mut cluster = args.cluster.connect().await?;
    let options = SyncOptions {
        app: "fjord".into(),
        namespace: args.namespace.clone(),
        prune: false,
        force: true,
        create_namespace: false,
        concurrency: 8,
    };
    let report = sync::sync(&mut cluster, objects, &options).await?;
    for o in &report.objects {
        println!(
            "{} {}: {}",
            o.id.group_kind(),
            o.id.namespaced_name(),
            o.result
        );
    }
    Ok(ExitCode::SUCCESS)
}

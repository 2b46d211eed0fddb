//! The one fjord binary. Thin by design: argument parsing and output
//! formatting; the work happens in the library crates.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fjord",
    version,
    about = "GitOps engine for Kubernetes: keeps clusters equal to Git"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a kustomization (or plain directory) to multi-document YAML, as `kustomize build` does.
    Build(cmd::build::Args),
    /// Show how the cluster differs from the manifests under PATH.
    Diff(cmd::diff::Args),
    /// Make the cluster equal to the manifests under PATH (server-side apply, optional prune).
    Sync(cmd::sync::Args),
    /// Seal a Secret into a SealedSecret that only the in-cluster controller can open.
    Seal(cmd::seal::Args),
    /// Run the GitOps controller: reconcile Applications from Git, with prune and self-heal.
    Controller(cmd::controller::Args),
    /// Print (or apply) everything fjord needs in a cluster.
    Install(cmd::install::Args),
    /// Inspect and operate Applications: list, get, diff, sync, history.
    App(cmd::app::Args),
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => cmd::build::run(args),
        Command::Diff(args) => cmd::block_on(cmd::diff::run(args)),
        Command::Sync(args) => cmd::block_on(cmd::sync::run(args)),
        Command::Seal(args) => cmd::seal::run(args),
        Command::Controller(args) => cmd::block_on(cmd::controller::run(args)),
        Command::Install(args) => cmd::block_on(cmd::install::run(args)),
        Command::App(args) => cmd::block_on(cmd::app::run(args)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            cmd::print_error(&err);
            // 2, as kubectl diff: 1 is reserved for "differences found".
            ExitCode::from(2)
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // The client library logs every failed request; fjord reports those
    // itself, with the object they concern, so keep the duplicates out.
    let filter = EnvFilter::try_from_env("FJORD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,kube_client=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

use std::io::IsTerminal;
use std::process::ExitCode;

use fjord_engine::sync;

use super::{ClusterArgs, TargetArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Also show objects this app owns that are no longer under PATH (as deletions).
    #[arg(long)]
    prune: bool,
    /// Compare as if the default namespace were to be created.
    #[arg(long)]
    create_namespace: bool,
    /// Compare as if objects owned by another app or none were taken over.
    #[arg(long)]
    force: bool,
}

/// Exit status as `kubectl diff`: 0 no difference, 1 differences, 2 error.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let manifests = fjord_engine::manifest::load_path(&args.target.path)?;
    let cluster = args.cluster.connect().await?;
    let mut options = args.target.options(&cluster)?;
    options.prune = args.prune;
    options.create_namespace = args.create_namespace;
    options.force = args.force;
    let plan = sync::plan(&cluster, manifests, &options).await?;

    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut differs = false;
    for text in plan
        .objects
        .iter()
        .map(|o| o.diff())
        .chain(plan.prune.iter().map(|c| c.diff()))
    {
        if text.is_empty() {
            continue;
        }
        differs = true;
        print!("{}", if colour { paint(&text) } else { text });
    }
    Ok(if differs {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn paint(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let code = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => "32",
                Some(b'-') if !line.starts_with("---") => "31",
                Some(b'@') => "36",
                _ => return format!("{line}\n"),
            };
            format!("\x1b[{code}m{line}\x1b[0m\n")
        })
        .collect()
}

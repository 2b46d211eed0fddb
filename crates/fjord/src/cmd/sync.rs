use std::process::ExitCode;

use fjord_engine::sync::{self, Outcome, SyncError, SyncReport};

use super::{ClusterArgs, OutputFormat, TargetArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Delete objects this app owns that are no longer under PATH.
    #[arg(long)]
    prune: bool,
    /// Take over objects that exist but belong to another app or to none.
    #[arg(long)]
    force: bool,
    /// Create the default namespace when it does not exist.
    #[arg(long)]
    create_namespace: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let manifests = fjord_engine::manifest::load_path(&args.target.path)?;
    let mut cluster = args.cluster.connect().await?;
    let mut options = args.target.options(&cluster)?;
    options.prune = args.prune;
    options.force = args.force;
    options.create_namespace = args.create_namespace;

    match sync::sync(&mut cluster, manifests, &options).await {
        Ok(report) => {
            print_report(&report, args.output)?;
            Ok(if report.count(Outcome::Failed) > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(SyncError::Stopped { report, rejections }) => {
            print_report(&report, args.output)?;
            Err(SyncError::Stopped { report, rejections }.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn print_report(report: &SyncReport, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            let summary = summary_counts(report);
            let doc = serde_json::json!({ "objects": report.objects, "summary": summary, "writes": report.writes });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutputFormat::Table => {
            let rows: Vec<[String; 3]> = report
                .objects
                .iter()
                .map(|o| {
                    let result = match &o.message {
                        Some(m) => format!("{}: {m}", o.result),
                        None => o.result.to_string(),
                    };
                    [o.id.group_kind(), o.id.namespaced_name(), result]
                })
                .collect();
            super::print_table(["KIND", "NAME", "RESULT"], &rows);
            let counts = summary_counts(report);
            let parts: Vec<String> = counts
                .iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let total = report.objects.len();
            let detail = if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join(", "))
            };
            println!(
                "{total} object{}{detail}",
                if total == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

fn summary_counts(report: &SyncReport) -> serde_json::Map<String, serde_json::Value> {
    [
        Outcome::Created,
        Outcome::Configured,
        Outcome::Unchanged,
        Outcome::Pruned,
        Outcome::Failed,
    ]
    .into_iter()
    .map(|o| (o.to_string(), serde_json::Value::from(report.count(o))))
    .collect()
}

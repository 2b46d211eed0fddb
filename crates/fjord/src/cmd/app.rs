use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fjord_controller::application::{self, ApplicationSpec};
use fjord_controller::{render, repos::Repositories};
use fjord_engine::sync::{self, SyncOptions};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::ClusterArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AppCommand,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The namespace holding the Applications.
    #[arg(long, short = 'n', global = true, default_value = "argocd")]
    namespace: String,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum)]
    output: Option<Format>,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Format {
    Wide,
    Yaml,
    Json,
}

#[derive(clap::Subcommand)]
enum AppCommand {
    /// List Applications with their sync and health status.
    List,
    /// Show one Application and its resources.
    Get { name: String },
    /// Show how the cluster differs from the Application's source at its target revision.
    Diff { name: String },
    /// Ask the controller to sync now and wait for the result.
    Sync {
        name: String,
        /// Also delete objects that left Git.
        #[arg(long)]
        prune: bool,
        /// Seconds to wait for the sync to finish (0: do not wait).
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Show the sync history: revision, time, trigger.
    History { name: String },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cluster = args.cluster.connect().await?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        &args.namespace,
        &application::api_resource(),
    );
    let get = |name: String| {
        let api = api.clone();
        let ns = args.namespace.clone();
        async move {
            api.get_opt(&name)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read Application {ns}/{name}: {e}"))?
                .map(|o| serde_json::to_value(o).unwrap_or_default())
                .ok_or_else(|| anyhow::anyhow!("Application {ns}/{name} not found"))
        }
    };
    match args.command {
        AppCommand::List => {
            let list = api.list(&ListParams::default()).await.map_err(|e| {
                anyhow::anyhow!("cannot list Applications in {}: {e}", args.namespace)
            })?;
            let apps: Vec<Value> = list
                .items
                .into_iter()
                .map(|o| serde_json::to_value(o).unwrap_or_default())
                .collect();
            match args.output {
                Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&apps)?),
                Some(Format::Yaml) => print!("{}", serde_yaml::to_string(&apps)?),
                wide => {
                    let rows: Vec<[String; 7]> = apps
                        .iter()
                        .map(|a| row(a, wide == Some(Format::Wide)))
                        .collect();
                    if wide == Some(Format::Wide) {
                        super::print_table(
                            [
                                "NAME",
                                "SYNC",
                                "HEALTH",
                                "REVISION",
                                "REPO",
                                "PATH",
                                "DESTINATION",
                            ],
                            &rows,
                        );
                    } else {
                        let short: Vec<[String; 4]> = rows
                            .iter()
                            .map(|r| [r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()])
                            .collect();
                        super::print_table(["NAME", "SYNC", "HEALTH", "REVISION"], &short);
                    }
                }
            }
        }
        AppCommand::Get { name } => {
            let app = get(name).await?;
            match args.output {
                Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&app)?),
                Some(Format::Yaml) => print!("{}", serde_yaml::to_string(&app)?),
                _ => print_app(&app),
            }
        }
        AppCommand::History { name } => {
            let app = get(name).await?;
            let history = app
                .pointer("/status/history")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            match args.output {
                Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&history)?),
                Some(Format::Yaml) => print!("{}", serde_yaml::to_string(&history)?),
                _ => {
                    let rows: Vec<[String; 4]> = history
                        .iter()
                        .map(|h| {
                            let trigger = if h.pointer("/initiatedBy/automated")
                                == Some(&Value::Bool(true))
                            {
                                "automated".to_string()
                            } else {
                                format!("user {}", s(h, "/initiatedBy/username"))
                            };
                            [
                                h["id"].to_string(),
                                s(h, "/deployedAt"),
                                s(h, "/revision"),
                                trigger,
                            ]
                        })
                        .collect();
                    super::print_table(["ID", "DEPLOYED", "REVISION", "TRIGGER"], &rows);
                }
            }
        }
        AppCommand::Sync {
            name,
            prune,
            timeout,
        } => {
            let user = std::env::var("USER").unwrap_or_else(|_| "fjord-cli".into());
            let request_id = format!(
                "{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            );
            let patch = json!({"operation": {
                "initiatedBy": {"username": user},
                "info": [{"name": "requestId", "value": request_id}],
                "sync": {"prune": prune}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| anyhow::anyhow!("cannot request a sync of {name}: {e}"))?;
            if timeout == 0 {
                println!("sync of {name} requested");
                return Ok(ExitCode::SUCCESS);
            }
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let app = get(name.clone()).await?;
                let ours = app
                    .pointer("/status/operationState/operation/info")
                    .and_then(Value::as_array)
                    .is_some_and(|info| info.iter().any(|i| i["value"] == json!(request_id)));
                let phase = s(&app, "/status/operationState/phase");
                // "Running": the sync failed and syncPolicy.retry will try again.
                if ours && phase != "Running" {
                    println!(
                        "{name}: {phase}: {}",
                        s(&app, "/status/operationState/message")
                    );
                    return Ok(if phase == "Succeeded" {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    });
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "the sync of {name} did not finish within {timeout} s (is the controller running?)"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        AppCommand::Diff { name } => {
            let app = get(name.clone()).await?;
            let spec = ApplicationSpec::from_object(&app)
                .map_err(|e| anyhow::anyhow!("Application {name}: spec: {e}"))?;
            let source = spec
                .single_source()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("Application {name} has no single spec.source"))?;
            let cache = std::env::temp_dir().join(format!("fjord-cli-{}", std::process::id()));
            let repos = Repositories::new(cache.clone(), Duration::ZERO)?;
            let commit = repos
                .resolve(&source.repo_url, source.revision(), true)
                .await?;
            let tree = repos.checkout(&source.repo_url, &commit).await?;
            let rendered = render::render(&tree, &source)?;
            let options = SyncOptions {
                app: name.clone(),
                namespace: spec
                    .destination
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                prune: spec.automated().is_some_and(|a| a.prune),
                force: false,
                create_namespace: spec.has_sync_option("CreateNamespace=true"),
                concurrency: 16,
            };
            let plan = sync::plan(&cluster, rendered.manifests, &options).await;
            let _ = std::fs::remove_dir_all(&cache);
            let plan = plan?;
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut differs = false;
            for text in plan
                .objects
                .iter()
                .map(|o| o.diff())
                .chain(plan.prune.iter().map(|c| c.diff()))
            {
                if !text.is_empty() {
                    differs = true;
                    print!(
                        "{}",
                        if colour {
                            super::diff::paint(&text)
                        } else {
                            text
                        }
                    );
                }
            }
            return Ok(if differs {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn s(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn row(app: &Value, wide: bool) -> [String; 7] {
    let revision = s(app, "/status/sync/revision");
    let short = revision.get(..7).unwrap_or(&revision).to_string();
    let mut r = [
        s(app, "/metadata/name"),
        or_unknown(s(app, "/status/sync/status")),
        or_unknown(s(app, "/status/health/status")),
        short,
        String::new(),
        String::new(),
        String::new(),
    ];
    if wide {
        r[4] = s(app, "/spec/source/repoURL");
        r[5] = s(app, "/spec/source/path");
        r[6] = format!(
            "{}/{}",
            s(app, "/spec/destination/server"),
            s(app, "/spec/destination/namespace")
        );
    }
    r
}

fn or_unknown(s: String) -> String {
    if s.is_empty() { "Unknown".into() } else { s }
}

fn print_app(app: &Value) {
    println!(
        "Name:        {}/{}",
        s(app, "/metadata/namespace"),
        s(app, "/metadata/name")
    );
    println!(
        "Source:      {} {} (path {})",
        s(app, "/spec/source/repoURL"),
        s(app, "/spec/source/targetRevision"),
        s(app, "/spec/source/path")
    );
    println!(
        "Destination: {} namespace {}",
        s(app, "/spec/destination/server"),
        s(app, "/spec/destination/namespace")
    );
    println!(
        "Sync:        {} at {}",
        or_unknown(s(app, "/status/sync/status")),
        s(app, "/status/sync/revision")
    );
    println!(
        "Health:      {}",
        or_unknown(s(app, "/status/health/status"))
    );
    if let Some(op) = app.pointer("/status/operationState") {
        println!(
            "Last sync:   {} {} ({})",
            s(op, "/phase"),
            s(op, "/finishedAt"),
            s(op, "/message")
        );
    }
    for c in app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!("Condition:   {}: {}", s(c, "/type"), s(c, "/message"));
    }
    println!();
    let rows: Vec<[String; 4]> = app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let group = s(r, "/group");
            let kind = if group.is_empty() {
                s(r, "/kind")
            } else {
                format!("{group}/{}", s(r, "/kind"))
            };
            let ns = s(r, "/namespace");
            let name = if ns.is_empty() {
                s(r, "/name")
            } else {
                format!("{ns}/{}", s(r, "/name"))
            };
            let mut status = s(r, "/status");
            if r["requiresPruning"] == Value::Bool(true) {
                status.push_str(" (requires pruning)");
            }
            [kind, name, status, s(r, "/health/status")]
        })
        .collect();
    super::print_table(["KIND", "NAME", "STATUS", "HEALTH"], &rows);
}

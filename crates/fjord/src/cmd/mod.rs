//! One module per subcommand.

pub mod app;
pub mod build;
pub mod controller;
pub mod diff;
pub mod install;
pub mod seal;
pub mod sync;

use std::future::Future;

/// Runs an async subcommand (or part of one) on a runtime sized for a CLI.
pub fn block_on<T, F: Future<Output = anyhow::Result<T>>>(fut: F) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(fut)
}

/// Prints an error and its causes, one line per cause.
pub fn print_error(err: &anyhow::Error) {
    let mut chain = err.chain();
    if let Some(head) = chain.next() {
        eprintln!("error: {head}");
    }
    for cause in chain {
        eprintln!("  caused by: {cause}");
    }
}

/// Where to find the cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true)]
    pub context: Option<String>,
}

impl ClusterArgs {
    pub async fn connect(&self) -> anyhow::Result<fjord_engine::Cluster> {
        Ok(
            fjord_engine::Cluster::connect(self.kubeconfig.as_deref(), self.context.as_deref())
                .await?,
        )
    }
}

/// What to sync or diff, and as whom.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// A directory of manifests (.yaml, .yml, .json; searched recursively) or one file.
    pub path: std::path::PathBuf,
    /// Namespace for namespaced objects that name none (default: the context's namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// The owner identity written into each object's tracking annotation (default: the directory name).
    #[arg(long)]
    pub app: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

impl TargetArgs {
    pub fn app_name(&self) -> anyhow::Result<String> {
        if let Some(app) = &self.app {
            return Ok(app.clone());
        }
        let path = std::fs::canonicalize(&self.path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.path.display()))?;
        let stem = if path.is_dir() {
            path.file_name()
        } else {
            path.parent().and_then(|p| p.file_name())
        };
        let name: String = stem
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = name.trim_matches('-').to_string();
        anyhow::ensure!(
            !name.is_empty(),
            "cannot derive an app name from {}; pass --app",
            self.path.display()
        );
        Ok(name)
    }

    pub fn options(
        &self,
        cluster: &fjord_engine::Cluster,
    ) -> anyhow::Result<fjord_engine::SyncOptions> {
        Ok(fjord_engine::SyncOptions {
            app: self.app_name()?,
            namespace: self
                .namespace
                .clone()
                .unwrap_or_else(|| cluster.default_namespace().to_string()),
            prune: false,
            force: false,
            create_namespace: false,
            concurrency: self.concurrency.max(1),
        })
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// One JSON document for machines.
    Json,
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths: [usize; N] = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}   "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

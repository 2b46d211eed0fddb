//! One module per subcommand.

pub mod build;
pub mod diff;
pub mod seal;
pub mod sync;

use std::future::Future;
use std::process::ExitCode;

/// Runs an async subcommand on a runtime sized for a CLI.
pub fn block_on<F: Future<Output = anyhow::Result<ExitCode>>>(fut: F) -> anyhow::Result<ExitCode> {
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

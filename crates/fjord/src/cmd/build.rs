use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Render a kustomization (or a directory holding one) to multi-document
/// YAML on stdout, as `kustomize build` does.
#[derive(clap::Args)]
pub struct Args {
    /// Directory holding kustomization.yaml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Allow files outside the kustomization root to be read
    /// (kustomize's `--load-restrictor LoadRestrictionsNone`).
    #[arg(long, conflicts_with = "load_restrictor")]
    pub no_load_restrictions: bool,
    /// kustomize's spelling of the same choice, accepted so that scripts
    /// written for `kustomize build` work unchanged.
    #[arg(long, value_enum)]
    pub load_restrictor: Option<LoadRestrictor>,
    /// Write the output to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LoadRestrictor {
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "LoadRestrictionsNone")]
    None,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let unrestricted =
        args.no_load_restrictions || matches!(args.load_restrictor, Some(LoadRestrictor::None));
    let opts = fjord_kustomize::Options {
        load_restrictions: if unrestricted {
            fjord_kustomize::LoadRestrictions::None
        } else {
            fjord_kustomize::LoadRestrictions::RootOnly
        },
    };
    let yaml = match fjord_kustomize::build_yaml(&args.dir, &opts) {
        Ok(y) => y,
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match &args.output {
        Some(p) => std::fs::write(p, yaml).with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(yaml.as_bytes())
                .context("writing to stdout")?;
            out.flush().context("writing to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

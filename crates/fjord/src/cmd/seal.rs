//! `fjord seal`: kubeseal-compatible sealing, raw values, merging and offline recovery.

use anyhow::{Context, bail};
use fjord_controller::sealed::client::ControllerClient;
use fjord_seal::{OsRng, PrivateKey, Scope, SealOptions, SealedSecret, UnsealOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Yaml,
}

#[derive(clap::Args)]
pub struct Args {
    /// Input file (Secrets, or SealedSecrets with --recovery-unseal); stdin when absent or "-".
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Output format; defaults to json, or yaml when --sealed-secret-file ends in .yaml/.yml.
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<Format>,
    /// Write the result to FILE instead of stdout.
    #[arg(short = 'w', long = "sealed-secret-file", value_name = "FILE")]
    output_file: Option<PathBuf>,
    /// The controller certificate to seal with: a PEM file or an http(s) URL. Without it the
    /// certificate is fetched from the controller.
    #[arg(long, env = "SEALED_SECRETS_CERT", value_name = "FILE|URL")]
    cert: Option<PathBuf>,
    /// Namespace of the controller's Service, reached through the API server.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "argocd"
    )]
    controller_namespace: String,
    /// Name of the controller's Service.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller"
    )]
    controller_name: String,
    /// The controller's own address (e.g. http://127.0.0.1:8080), instead of the Service.
    #[arg(long, env = "SEALED_SECRETS_CONTROLLER_URL", value_name = "URL")]
    controller_url: Option<String>,
    #[command(flatten)]
    cluster: super::ClusterArgs,
    /// strict (namespace and name), namespace-wide or cluster-wide. Without it the input's scope
    /// annotations decide.
    #[arg(long, env = "SEALED_SECRETS_SCOPE")]
    scope: Option<Scope>,
    /// Seal one value (from stdin or --from-file) and print it as base64.
    #[arg(long)]
    raw: bool,
    /// Name of the Secret (overrides the input's; required by --raw with strict scope).
    #[arg(long)]
    name: Option<String>,
    /// Namespace when the input has none; must match the input's if it has one.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// With --raw: read the value from FILE.
    #[arg(long, value_name = "FILE")]
    from_file: Vec<PathBuf>,
    /// Seal with this SealedSecret file's name, namespace and scope, merge the items in and
    /// rewrite the file in place.
    #[arg(long, value_name = "FILE")]
    merge_into: Option<PathBuf>,
    /// Seal a Secret that has no data and no stringData.
    #[arg(long)]
    allow_empty_data: bool,
    /// Open SealedSecrets offline with --recovery-private-key and print the Secrets.
    #[arg(long)]
    recovery_unseal: bool,
    /// Private key files: PEM (PKCS#1/PKCS#8) or backups of the controller's key Secrets.
    /// Repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    recovery_private_key: Vec<PathBuf>,
    /// Print the controller's certificate.
    #[arg(long)]
    fetch_cert: bool,
    /// Seal the input SealedSecrets again with the controller's newest key (the controller
    /// opens and re-seals them; nothing is opened here).
    #[arg(long)]
    re_encrypt: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.fetch_cert {
        let pem = super::block_on(async { Ok(controller(&args).await?.cert_pem().await?) })?;
        write_out(&args, pem.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.re_encrypt {
        return re_encrypt(&args);
    }
    if args.recovery_unseal {
        return recovery_unseal(&args);
    }
    let cert = load_cert(&args)?;
    if args.raw {
        return raw(&args, &cert.public_key);
    }
    if let Some(target) = &args.merge_into {
        return merge(&args, &cert.public_key, target);
    }

    let input = read_input(args.file.as_deref())?;
    let secrets = fjord_seal::parse_secrets(&input)?;
    if secrets.is_empty() {
        bail!("no Secret in the input");
    }
    let mut sealed = Vec::new();
    for secret in &secrets {
        let opts = seal_options(&args, secret);
        let ss = fjord_seal::seal_secret(&mut OsRng, &cert.public_key, secret, &opts)
            .with_context(|| {
                format!(
                    "sealing Secret {}",
                    secret.metadata.name.as_deref().unwrap_or("<unnamed>")
                )
            })?;
        sealed.push(ss);
    }
    emit(&args, &sealed)?;
    Ok(ExitCode::SUCCESS)
}

/// kubeseal falls back to the kubeconfig namespace ("default" offline), except for cluster-wide
/// Secrets, which may stay namespace-less.
fn seal_options(args: &Args, secret: &fjord_seal::Secret) -> SealOptions {
    let scope = args
        .scope
        .unwrap_or_else(|| Scope::from_annotations(&secret.metadata.annotations));
    let has_namespace = secret
        .metadata
        .namespace
        .as_deref()
        .is_some_and(|n| !n.is_empty());
    let namespace = match &args.namespace {
        Some(n) => Some(n.clone()),
        None if has_namespace || scope == Scope::ClusterWide => None,
        None => Some("default".to_string()),
    };
    SealOptions {
        scope: args.scope,
        name: args.name.clone(),
        namespace,
        allow_empty_data: args.allow_empty_data,
    }
}

/// The controller to ask: its URL when given, else its Service through the API server.
async fn controller(args: &Args) -> anyhow::Result<ControllerClient> {
    Ok(match &args.controller_url {
        Some(url) => ControllerClient::for_url(url)?,
        None => {
            let cluster = args.cluster.connect().await?;
            ControllerClient::via_service(
                cluster.client().clone(),
                &args.controller_namespace,
                &args.controller_name,
            )
            .await?
        }
    })
}

fn load_cert(args: &Args) -> anyhow::Result<fjord_seal::ControllerCert> {
    let (bytes, source) = match &args.cert {
        Some(path) => {
            let s = path.to_string_lossy().into_owned();
            if s.starts_with("http://") || s.starts_with("https://") {
                let pem = super::block_on(async {
                    Ok(ControllerClient::for_url(&s)?.document().await?)
                })?;
                (pem.into_bytes(), s)
            } else {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                (bytes, path.display().to_string())
            }
        }
        None => {
            let pem = super::block_on(async { Ok(controller(args).await?.cert_pem().await?) })
                .context("fetching the certificate from the controller (or pass --cert FILE)")?;
            (pem.into_bytes(), "the controller's certificate".to_string())
        }
    };
    let cert =
        fjord_seal::parse_cert_pem(&bytes).with_context(|| format!("certificate {source}"))?;
    if cert.is_expired_at(std::time::SystemTime::now()) {
        bail!("certificate {source} has expired");
    }
    Ok(cert)
}

fn re_encrypt(args: &Args) -> anyhow::Result<ExitCode> {
    let input = read_input(args.file.as_deref())?;
    let sealed = fjord_seal::parse_sealed_secrets(&input)?;
    if sealed.is_empty() {
        bail!("no SealedSecret in the input");
    }
    let rotated = super::block_on(async {
        let controller = controller(args).await?;
        let mut rotated = Vec::new();
        for ss in &sealed {
            let name = ss.metadata.name.as_deref().unwrap_or("<unnamed>");
            let body = fjord_seal::to_json_pretty(ss)?.into_bytes();
            let json = controller
                .rotate(body)
                .await
                .with_context(|| format!("re-encrypting SealedSecret {name}"))?;
            let parsed = fjord_seal::parse_sealed_secrets(json.as_bytes())
                .with_context(|| format!("the controller's answer for SealedSecret {name}"))?;
            rotated.extend(parsed);
        }
        Ok(rotated)
    })?;
    emit(args, &rotated)?;
    Ok(ExitCode::SUCCESS)
}

fn raw(args: &Args, key: &fjord_seal::RsaPublicKey) -> anyhow::Result<ExitCode> {
    let value = match args.from_file.as_slice() {
        [] => read_input(None)?,
        [one] => std::fs::read(one).with_context(|| format!("reading {}", one.display()))?,
        _ => bail!("--raw takes at most one --from-file"),
    };
    let value = zeroize_on_drop(value);
    let scope = args.scope.unwrap_or_default();
    let sealed = fjord_seal::seal_raw(
        &mut OsRng,
        key,
        &value.0,
        scope,
        args.namespace.as_deref(),
        args.name.as_deref(),
    )?;
    write_out(args, sealed.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn merge(args: &Args, key: &fjord_seal::RsaPublicKey, target: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read(target).with_context(|| format!("reading {}", target.display()))?;
    let mut existing = match fjord_seal::parse_sealed_secrets(&text)?.as_slice() {
        [one] => one.clone(),
        _ => bail!("{} must hold exactly one SealedSecret", target.display()),
    };
    let input = read_input(args.file.as_deref())?;
    let mut secret = match fjord_seal::parse_secrets(&input)?.as_slice() {
        [one] => one.clone(),
        _ => bail!("--merge-into takes exactly one Secret"),
    };
    // The new items must open under the existing object's label.
    let existing_scope = Scope::from_annotations(&existing.metadata.annotations);
    secret.metadata.name = existing.metadata.name.clone();
    secret.metadata.namespace = existing.metadata.namespace.clone();
    let opts = SealOptions {
        scope: Some(args.scope.unwrap_or(existing_scope)),
        allow_empty_data: args.allow_empty_data,
        ..Default::default()
    };
    let update = fjord_seal::seal_secret(&mut OsRng, key, &secret, &opts)?;
    fjord_seal::merge_into(&mut existing, update);
    let is_json = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let out = if is_json {
        fjord_seal::to_json_pretty(&existing)? + "\n"
    } else {
        fjord_seal::to_yaml_sorted(&existing)?
    };
    std::fs::write(target, out).with_context(|| format!("writing {}", target.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn recovery_unseal(args: &Args) -> anyhow::Result<ExitCode> {
    if args.recovery_private_key.is_empty() {
        bail!("--recovery-unseal needs at least one --recovery-private-key");
    }
    let mut keys: Vec<PrivateKey> = Vec::new();
    for path in &args.recovery_private_key {
        let bytes = zeroize_on_drop(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        );
        keys.extend(fjord_seal::parse_private_keys(
            &bytes.0,
            &path.display().to_string(),
        )?);
    }
    let input = read_input(args.file.as_deref())?;
    let sealed: Vec<SealedSecret> = fjord_seal::parse_sealed_secrets(&input)?;
    if sealed.is_empty() {
        bail!("no SealedSecret in the input");
    }
    let mut secrets = Vec::new();
    for mut ss in sealed {
        // Recovery output carries no live uid, like kubeseal's.
        ss.metadata.uid = None;
        let name = ss.metadata.name.clone().unwrap_or_default();
        let secret = fjord_seal::unseal(
            &ss,
            &keys,
            UnsealOptions {
                accept_v1_data: false,
            },
        )
        .with_context(|| format!("unsealing SealedSecret {name}"))?;
        secrets.push(secret);
    }
    emit(args, &secrets)?;
    Ok(ExitCode::SUCCESS)
}

fn emit<T: serde::Serialize>(args: &Args, objects: &[T]) -> anyhow::Result<()> {
    let yaml_file = args
        .output_file
        .as_ref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e == "yaml" || e == "yml");
    let format = args.format.unwrap_or(if yaml_file {
        Format::Yaml
    } else {
        Format::Json
    });
    let mut out = String::new();
    for o in objects {
        match format {
            Format::Json => {
                out.push_str(&fjord_seal::to_json_pretty(o)?);
                out.push('\n');
            }
            Format::Yaml => out.push_str(&fjord_seal::to_yaml_sorted(o)?),
        }
    }
    write_out(args, out.as_bytes())
}

fn write_out(args: &Args, bytes: &[u8]) -> anyhow::Result<()> {
    match &args.output_file {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()?;
            Ok(())
        }
    }
}

fn read_input(path: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            Ok(buf)
        }
    }
}

/// Input bytes may be plaintext or keys; wipe them once done.
struct Wiped(Vec<u8>);

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
    }
}

fn zeroize_on_drop(v: Vec<u8>) -> Wiped {
    Wiped(v)
}

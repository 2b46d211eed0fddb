//! `kbuild DIR`: renders a kustomization as `kustomize build DIR` prints it.
//! A small harness for comparing output with kustomize and for measuring
//! time and memory without the rest of the CLI.

use std::io::Write;
use std::path::Path;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: kbuild DIR");
        std::process::exit(2);
    };
    match fjord_kustomize::build_yaml(Path::new(&dir), &Default::default()) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(out.as_bytes()) {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    }
}

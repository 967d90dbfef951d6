//! `gnocchi-config-generator`: prints the sample `gnocchi.conf` (every option, its default and
//! one-line help), as the install guide's command of the same name does.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "gnocchi-config-generator",
    version,
    about = "Print a sample gnocchi.conf with every option and its default"
)]
struct Cli {
    /// Accepted for compatibility with oslo-config-generator and ignored.
    #[arg(long = "config-file")]
    config_file: Vec<PathBuf>,
    /// Write the sample to this file instead of standard output.
    #[arg(long = "output-file")]
    output_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = cli.config_file;
    let text = gnocchi_core::config::sample();
    match cli.output_file {
        Some(path) => {
            let mut file = std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                // A closed pipe (`| head`) is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("cannot write the sample to standard output"),
            }
        }
    }
    Ok(())
}

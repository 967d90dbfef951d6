//! `gnocchi-api`: the HTTP API alone.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(name = "gnocchi-api", version, about = "Gnocchi-compatible metric API")]
struct Cli {
    /// Configuration file (repeatable; later files win).
    #[arg(long = "config-file")]
    config_file: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gnocchi_cli::init_logging();
    let cli = Cli::parse();
    // Slice 1: only [api] port is read; the typed config model replaces this.
    let mut port = 8041u16;
    for path in &cli.config_file {
        let text = std::fs::read_to_string(path)?;
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_owned();
            } else if let Some((k, v)) = line.split_once('=') {
                if section == "api" && k.trim() == "port" {
                    port = v.trim().parse()?;
                }
            }
        }
    }
    gnocchi_cli::serve_api("127.0.0.1", port).await
}

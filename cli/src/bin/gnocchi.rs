//! `gnocchi serve`: the API and metricd in one process on the embedded default.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gnocchi", version, about = "Gnocchi-compatible metric service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and metricd in one process.
    Serve {
        /// Data directory for the embedded default (index.sqlite, storage/, incoming/).
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 8041)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gnocchi_cli::init_logging();
    match Cli::parse().command {
        Command::Serve { data_dir, host, port } => {
            std::fs::create_dir_all(&data_dir)?;
            gnocchi_cli::serve_api(&host, port).await
        }
    }
}

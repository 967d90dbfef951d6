//! `gnocchi serve`: the API and metricd in one process. Without a configuration file it runs
//! the embedded default: SQLite and files under `--data-dir`, created on first start.

#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gnocchi_cli::{ConfigArgs, Services, Stores, UpgradeOptions};

gnocchi_cli::service_allocator!();

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
        #[command(flatten)]
        config: ConfigArgs,
        /// Data directory of the embedded default (index.sqlite, storage/, incoming/), used
        /// when no configuration file is given or found.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Address to listen on (overrides [api] host).
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on (overrides [api] port).
        #[arg(long)]
        port: Option<u16>,
    },
}

fn main() -> ExitCode {
    let runtime = match gnocchi_cli::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gnocchi: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gnocchi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let Command::Serve {
        config,
        data_dir,
        host,
        port,
    } = Cli::parse().command;
    let loaded = config.load()?;
    let mut conf = if loaded.files.is_empty() {
        gnocchi_cli::embedded_config(&data_dir)?
    } else {
        loaded.config
    };
    if let Some(host) = host {
        conf.api.host = host;
    }
    if let Some(port) = port {
        conf.api.port = port;
    }
    gnocchi_cli::init_logging(conf.default.debug);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // Schema, layout and default policies on first start; a no-op afterwards.
    let options = UpgradeOptions {
        skip_index: false,
        skip_storage: false,
        skip_incoming: false,
        skip_archive_policies_creation: false,
        sacks_number: gnocchi_storage::DEFAULT_SACKS,
    };
    gnocchi_cli::upgrade(&conf, &options, &mut |step| tracing::info!("{step}.")).await?;
    let stores = Stores::open(&conf).await?;
    gnocchi_cli::run_services(
        &conf,
        stores,
        Services {
            api: true,
            metricd: true,
        },
    )
    .await
}

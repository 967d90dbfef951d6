//! `gnocchi-upgrade`: creates or upgrades the indexer schema, the storage and incoming layout
//! and the default archive policies.

#![allow(clippy::print_stderr)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use gnocchi_cli::{ConfigArgs, UpgradeOptions};

#[derive(Parser)]
#[command(
    name = "gnocchi-upgrade",
    version,
    about = "Create or upgrade the gnocchi-rs stores"
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    /// Skip the indexer upgrade.
    #[arg(long)]
    skip_index: bool,
    /// Skip the storage upgrade.
    #[arg(long)]
    skip_storage: bool,
    /// Skip the incoming store upgrade.
    #[arg(long)]
    skip_incoming: bool,
    /// Do not create the default archive policies and rule.
    #[arg(long)]
    skip_archive_policies_creation: bool,
    /// Number of sacks to create when the incoming store has none yet.
    #[arg(long, default_value_t = gnocchi_storage::DEFAULT_SACKS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(gnocchi_storage::MAX_SACKS)))]
    sacks_number: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gnocchi-upgrade: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let loaded = cli.config.load()?;
    gnocchi_cli::init_logging(loaded.config.default.debug);
    let options = UpgradeOptions {
        skip_index: cli.skip_index,
        skip_storage: cli.skip_storage,
        skip_incoming: cli.skip_incoming,
        skip_archive_policies_creation: cli.skip_archive_policies_creation,
        sacks_number: cli.sacks_number,
    };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |step: &str| {
        if terminal {
            eprintln!("* {step}");
        } else {
            tracing::info!("{step}.");
        }
    };
    gnocchi_cli::upgrade(&loaded.config, &options, &mut progress).await?;
    progress("Done");
    Ok(())
}

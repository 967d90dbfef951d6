//! `gnocchi-api`: the HTTP API alone.

#![allow(clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use gnocchi_cli::{ConfigArgs, Services, Stores};

gnocchi_cli::service_allocator!();

#[derive(Parser)]
#[command(name = "gnocchi-api", version, about = "Gnocchi-compatible metric API")]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
}

fn main() -> ExitCode {
    let runtime = match gnocchi_cli::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gnocchi-api: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gnocchi-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let loaded = Cli::parse().config.load()?;
    gnocchi_cli::init_logging(loaded.config.default.debug);
    let stores = Stores::open(&loaded.config).await?;
    let services = Services {
        api: true,
        metricd: false,
    };
    gnocchi_cli::run_services(&loaded.config, stores, services).await
}

//! Start-up code shared by the gnocchi-rs programs: flags, configuration, opening the stores,
//! the upgrade procedure, and running the API and metricd.
//!
//! The only crate that may print; libraries log through `tracing`.

pub mod allocator;
mod config_args;
mod legacy_types;
mod run;
mod runtime;
mod sqlite_memory;
mod stores;
mod upgrade;

pub use config_args::ConfigArgs;
pub use run::{init_logging, run_services, shutdown_signal, Services};
pub use runtime::runtime;
pub use stores::{embedded_config, Stores};
pub use upgrade::{upgrade, UpgradeOptions};

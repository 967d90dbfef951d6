//! `--config-file` / `--config-dir`, taken by every program.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gnocchi_core::config::{Config, ConfigSources, LoadedConfig};

/// The oslo.config flags every program accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file to read (repeatable; later files win). Without it, gnocchi.conf is
    /// searched in ~/.gnocchi/, ~/, /etc/gnocchi/ and /etc/.
    #[arg(long = "config-file", value_name = "PATH")]
    pub config_file: Vec<PathBuf>,
    /// Directory whose *.conf files are read after the config files (repeatable).
    #[arg(long = "config-dir", value_name = "DIR")]
    pub config_dir: Vec<PathBuf>,
}

impl ConfigArgs {
    /// Loads and validates the configuration and logs its warnings.
    pub fn load(&self) -> anyhow::Result<LoadedConfig> {
        let sources = ConfigSources {
            files: self.config_file.clone(),
            dirs: self.config_dir.clone(),
        };
        let loaded = Config::load(&sources).context("invalid configuration")?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        Ok(loaded)
    }
}

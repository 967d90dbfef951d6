//! The typed `gnocchi.conf` model (shared/spec/engine.md §8): one struct per Gnocchi section with
//! fields named as the options, the oslo-style INI loader, a pure [`Config::validate`] step and
//! the generated sample ([`sample`]).
//!
//! Loading is: read the files (later ones win) into raw text; give each known option its value,
//! reading Gnocchi's deprecated names too and warning when they are used; warn about every
//! unknown section or option (never an error: an install-guide `gnocchi.conf` carries
//! `[oslo_messaging_rabbit]`, `[database]` tuning, …); then [`Config::validate`]. Opening drivers,
//! the I/O-doing step, belongs to the crates that own them.
//!
//! oslo.config behaviours kept: dashes equal underscores in option names; `$name`, `${name}` and
//! `${section.name}` interpolation (`$$` is a literal `$`), `$name` looking in the same section
//! then `[DEFAULT]`; `[incoming]` options default to the `[storage]` ones. `[DEFAULT]` options are
//! read from `[DEFAULT]` only: the same name in another section is an unknown option there.

mod error;
mod ini;
mod load;
mod sample;
mod section;
mod sections;
mod validate;
pub(crate) mod value;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use sample::sample;
pub use sections::{
    Amqp1dDataSource, Amqp1dSection, ApiSection, ArchivePolicySection, AuthMode, CorsSection,
    DefaultSection, FileLayoutChoice, IndexerSection, KeystoneAuthtokenSection, MetricdSection,
    OsloPolicySection, StatsdSection, StorageDriver, StorageSection, SwiftEndpointType, UwsgiMode,
};
pub use validate::IndexerUrl;

use snafu::ResultExt;

use ini::RawIni;

/// The environment variable read when `[indexer] url` is not set (as Gnocchi does).
pub const INDEXER_URL_ENV: &str = "GNOCCHI_INDEXER_URL";

/// The `[incoming]` section: the options of `[storage]`, each defaulting to its `[storage]` value.
pub type IncomingSection = StorageSection;

/// Every section of `gnocchi.conf` that gnocchi-rs reads.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `[DEFAULT]`.
    pub default: DefaultSection,
    /// `[api]`.
    pub api: ApiSection,
    /// `[archive_policy]`.
    pub archive_policy: ArchivePolicySection,
    /// `[indexer]`.
    pub indexer: IndexerSection,
    /// `[storage]`.
    pub storage: StorageSection,
    /// `[incoming]`.
    pub incoming: IncomingSection,
    /// `[metricd]`.
    pub metricd: MetricdSection,
    /// `[cors]`.
    pub cors: CorsSection,
    /// `[oslo_policy]`.
    pub oslo_policy: OsloPolicySection,
    /// `[statsd]`.
    pub statsd: StatsdSection,
    /// `[amqp1d]`.
    pub amqp1d: Amqp1dSection,
    /// `[keystone_authtoken]`.
    pub keystone_authtoken: KeystoneAuthtokenSection,
}

/// Where the configuration comes from: the repeatable `--config-file` and `--config-dir` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSources {
    /// `--config-file`, in order; later files win.
    pub files: Vec<PathBuf>,
    /// `--config-dir`: every `*.conf` in each, sorted by name, read after the files.
    pub dirs: Vec<PathBuf>,
}

impl ConfigSources {
    /// oslo.config's default search, used when no flag is given: the first `gnocchi.conf` found
    /// in `~/.gnocchi/`, `~/`, `<etc>/gnocchi/`, `<etc>/`, and the first `gnocchi.conf.d/` found
    /// in the same places. `etc` is `/etc` outside tests.
    pub fn default_search(home: Option<&Path>, etc: &Path) -> Self {
        let mut places: Vec<PathBuf> = Vec::new();
        if let Some(home) = home {
            places.push(home.join(".gnocchi"));
            places.push(home.to_path_buf());
        }
        places.push(etc.join("gnocchi"));
        places.push(etc.to_path_buf());
        let file = places
            .iter()
            .map(|p| p.join("gnocchi.conf"))
            .find(|p| p.is_file());
        let dir = places
            .iter()
            .map(|p| p.join("gnocchi.conf.d"))
            .find(|p| p.is_dir());
        Self {
            files: file.into_iter().collect(),
            dirs: dir.into_iter().collect(),
        }
    }

    /// The files to read, in order: the files, then each directory's `*.conf` sorted.
    fn expand(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let mut out = self.files.clone();
        for dir in &self.dirs {
            let entries = std::fs::read_dir(dir).context(error::ReadDirSnafu { path: dir })?;
            let mut confs = Vec::new();
            for entry in entries {
                let path = entry.context(error::ReadDirSnafu { path: dir })?.path();
                if path.extension().is_some_and(|e| e == "conf") && path.is_file() {
                    confs.push(path);
                }
            }
            confs.sort();
            out.extend(confs);
        }
        Ok(out)
    }
}

/// A parsed and validated configuration plus what the operator should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// Unknown sections and options, deprecated names: one line each, to log at start-up.
    pub warnings: Vec<String>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

impl Config {
    /// Reads, parses and validates the configuration from `sources` (or from oslo.config's
    /// default places when both lists are empty; no file at all gives the defaults).
    /// `[indexer] url` falls back to `$GNOCCHI_INDEXER_URL`.
    pub fn load(sources: &ConfigSources) -> Result<LoadedConfig, ConfigError> {
        let sources = if sources.files.is_empty() && sources.dirs.is_empty() {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            ConfigSources::default_search(home.as_deref(), Path::new("/etc"))
        } else {
            sources.clone()
        };
        let files = sources.expand()?;
        let mut raw = RawIni::default();
        for path in &files {
            let text = std::fs::read_to_string(path)
                .context(error::ReadFileSnafu { path: path.clone() })?;
            raw.merge_str(&text, &path.display().to_string())?;
        }
        let env_url = std::env::var(INDEXER_URL_ENV).ok();
        let (config, warnings) = load::from_raw(raw, env_url)?;
        config.validate()?;
        Ok(LoadedConfig {
            config,
            warnings,
            files,
        })
    }

    /// Every option's value as a `[section] option = value` line, secrets shown as `****`, for
    /// logging at start-up (`[DEFAULT] log_options`).
    pub fn log_lines(&self) -> Vec<String> {
        fn push<S: section::Section>(out: &mut Vec<String>, name: &str, s: &S) {
            let metas = S::options();
            for ((option, value), meta) in s.values().into_iter().zip(metas) {
                let shown = match value {
                    None => "<None>".to_owned(),
                    Some(_) if meta.secret => "****".to_owned(),
                    Some(v) => v,
                };
                out.push(format!("[{name}] {option} = {shown}"));
            }
        }
        let mut out = Vec::new();
        push(&mut out, "DEFAULT", &self.default);
        push(&mut out, "api", &self.api);
        push(&mut out, "archive_policy", &self.archive_policy);
        push(&mut out, "indexer", &self.indexer);
        push(&mut out, "storage", &self.storage);
        push(&mut out, load::INCOMING, &self.incoming);
        push(&mut out, "metricd", &self.metricd);
        push(&mut out, "cors", &self.cors);
        push(&mut out, "oslo_policy", &self.oslo_policy);
        push(&mut out, "statsd", &self.statsd);
        push(&mut out, "amqp1d", &self.amqp1d);
        push(&mut out, "keystone_authtoken", &self.keystone_authtoken);
        out
    }

    /// Parses and validates one INI text (no environment, no files); for tests and tools.
    pub fn from_ini_str(text: &str) -> Result<LoadedConfig, ConfigError> {
        let mut raw = RawIni::default();
        raw.merge_str(text, "<string>")?;
        let (config, warnings) = load::from_raw(raw, None)?;
        config.validate()?;
        Ok(LoadedConfig {
            config,
            warnings,
            files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests;

//! Opens the indexer, the incoming store and the aggregate storage named by the configuration:
//! the only code that names drivers.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use gnocchi_core::config::{Config, StorageDriver};
use gnocchi_indexer::Indexer;
use gnocchi_storage::{AggregateStorage, FileIncoming, FileStorage, Incoming};

use crate::sqlite_memory::limit_sqlite_memory;

/// The three external components every process talks to.
#[derive(Clone)]
pub struct Stores {
    /// Archive policies, metrics, resources.
    pub indexer: Arc<dyn Indexer>,
    /// Pending measures.
    pub incoming: Arc<dyn Incoming>,
    /// Aggregates.
    pub storage: Arc<dyn AggregateStorage>,
}

impl Stores {
    /// Opens all three; the storage and incoming layouts must exist (`gnocchi-upgrade`).
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        limit_sqlite_memory().context("setting SQLite's memory limit")?;
        let indexer = open_indexer(config).await?;
        let incoming: Arc<dyn Incoming> = match config.incoming.driver {
            StorageDriver::File => Arc::new(
                FileIncoming::open(&config.incoming.file_basepath).with_context(|| {
                    format!(
                        "opening the incoming store at {} (run gnocchi-upgrade first)",
                        config.incoming.file_basepath
                    )
                })?,
            ),
            other => bail!("[incoming] driver = {other} is not supported yet"),
        };
        let storage: Arc<dyn AggregateStorage> = match config.storage.driver {
            StorageDriver::File => Arc::new(
                FileStorage::open(&config.storage.file_basepath).with_context(|| {
                    format!(
                        "opening the storage at {} (run gnocchi-upgrade first)",
                        config.storage.file_basepath
                    )
                })?,
            ),
            other => bail!("[storage] driver = {other} is not supported yet"),
        };
        Ok(Self {
            indexer,
            incoming,
            storage,
        })
    }
}

/// Opens the indexer named by `[indexer] url`.
pub(crate) async fn open_indexer(config: &Config) -> anyhow::Result<Arc<dyn Indexer>> {
    let url = config
        .indexer
        .url
        .as_deref()
        .context("[indexer] url is not set (nor GNOCCHI_INDEXER_URL)")?;
    gnocchi_indexer::open(url)
        .await
        .with_context(|| format!("opening the indexer {}", redact(url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The embedded default of `gnocchi serve`: SQLite and files under `data_dir`, listening on
/// localhost, measures processed within a second.
pub fn embedded_config(data_dir: &Path) -> anyhow::Result<Config> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", data_dir.display()))?;
    let path = |p: &str| data_dir.join(p).display().to_string();
    let mut config = Config::default();
    config.api.host = "127.0.0.1".to_owned();
    config.indexer.url = Some(format!("sqlite:///{}", path("index.sqlite")));
    config.storage.file_basepath = path("storage");
    config.incoming.file_basepath = path("incoming");
    config.metricd.metric_processing_delay = 1;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgresql://gnocchi:secret@db/gnocchi"),
            "postgresql://gnocchi:***@db/gnocchi"
        );
        assert_eq!(
            redact("sqlite:////var/lib/x.sqlite"),
            "sqlite:////var/lib/x.sqlite"
        );
    }
}

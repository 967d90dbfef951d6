//! The `Indexer` trait and its sqlx implementations: archive policies, rules, metrics,
//! resource types and resources, plus the pagination they share.
//!
//! Holds no time-series data and knows nothing of HTTP: the API renders Gnocchi's messages
//! from the ids and names each [`Error`] carries.

mod error;
mod filter;
mod fnmatch;
mod indexer;
mod mysql;
mod pagination;
mod postgresql;
mod resource_type;
mod sql;
mod sqlite;
mod text;

use std::sync::Arc;

pub use error::{Error, Result};
pub use filter::{CmpOp, Filter};
pub use indexer::{
    DescribedMetric, Indexer, MetricFilter, MetricSet, NewMetric, NewResource, ProcessedMetric,
    Resource, ResourceQuery, ResourceUpdate,
};
pub use mysql::MysqlIndexer;
pub use pagination::{NullsOrder, Page, SortDirection, SortKey};
pub use postgresql::PostgresqlIndexer;
pub use resource_type::{
    AttributeDefinition, AttributeType, AttributeValue, AttributeValueError, ResourceType,
    ResourceTypeState,
};
pub use sqlite::SqliteIndexer;

/// Opens the indexer named by `url` (`[indexer] url` of gnocchi.conf). The only code that
/// names backends: `sqlite:///<relative>`, `sqlite:////<absolute>`,
/// `postgresql://user:password@host:port/database` and
/// `mysql://user:password@host:port/database?charset=utf8` (each also `<scheme>+<driver>://`,
/// as SQLAlchemy URLs say, e.g. `mysql+pymysql://`).
pub async fn open(url: &str) -> Result<Arc<dyn Indexer>> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    let backend = scheme.split('+').next().unwrap_or(scheme);
    match backend {
        "sqlite" => Ok(Arc::new(SqliteIndexer::open(url).await?)),
        "postgresql" | "postgres" => Ok(Arc::new(PostgresqlIndexer::open(url).await?)),
        "mysql" | "mariadb" => Ok(Arc::new(MysqlIndexer::open(url).await?)),
        _ => error::UnsupportedSchemeSnafu { url }.fail(),
    }
}

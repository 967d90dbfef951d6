//! The SQLite indexer: the embedded default, one database file shared by the API and metricd
//! processes (WAL journal, busy timeout, `BEGIN IMMEDIATE` for read-then-write transactions).
//!
//! Backend-specific choices (locking, placeholders, error classification, URL parsing) are
//! collected in the "Dialect" section below (including the [`Dialect`] used by the
//! backend-neutral search compiler in `crate::sql`). The statements live in one submodule per
//! topic (`archive_policy`, `metric`, `resource_type`, `resource` for writes, `resource_query`
//! for reads) and the row encoding in `rows`. They are plain SQL written with `?` placeholders
//! over this module's `Conn`, `Pool`, `DbRow`, `DIALECT` and helpers, passed through `stmt`;
//! `crate::postgresql` compiles the very same files against its own versions of those names,
//! so a change here changes both backends, and the contract suite in `tests/it` holds every
//! backend to the same behaviour.

mod archive_policy;
mod metric;
mod resource;
mod resource_query;
mod resource_type;
mod rows;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use gnocchi_core::{ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, Metric};
use snafu::ResultExt;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use crate::error::{ConnectSnafu, Error, MigrateSnafu, QuerySnafu, Result};
use crate::filter::Filter;
use crate::indexer::{
    DescribedMetric, Indexer, MetricFilter, MetricSet, NewMetric, NewResource, ProcessedMetric,
    Resource, ResourceQuery, ResourceUpdate,
};
use crate::pagination::{Page, SqlValue};
use crate::resource_type::{AttributeDefinition, AttributeType, ResourceType};
use crate::sql::Dialect;

// --- Dialect -------------------------------------------------------------------------------

/// Starts a write transaction holding the database write lock from the first statement, so a
/// read-then-write transaction never fails with SQLITE_BUSY on lock upgrade; waiting for the
/// lock is bounded by the busy timeout.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections per process. Readers run in parallel under WAL; writers queue on the file lock.
const POOL_SIZE: u32 = 8;
/// Page cache of each pooled connection (negative: KiB). SQLite's default is 2 MiB per
/// connection, 16 MiB for the pool in every process; the operating system caches the file
/// anyway, and 512 KiB keeps the interior pages of the hot indexes.
const CACHE_SIZE: &str = "-512";

/// The connection type the shared statement modules run on.
type Conn = SqliteConnection;

/// The pool type the shared statement modules run on.
type Pool = SqlitePool;

/// The row type the shared statement modules decode.
type DbRow = sqlx::sqlite::SqliteRow;

/// The dialect of generated statements.
const DIALECT: SqliteDialect = SqliteDialect;

/// Column type of `revision` in the per-type history tables (a rowid alias here).
const REVISION_SQL_TYPE: &str = "INTEGER";

/// Column type of `id` in the per-type current tables.
const ID_SQL_TYPE: &str = "TEXT";

/// Options appended to `CREATE TABLE` of the per-type tables (none here).
const TABLE_OPTIONS: &str = "";

/// Whether resource listings, whose text is built per request, are kept as prepared
/// statements: SQLite prepares a statement again by itself when the schema changed, and rows
/// are decoded by position whatever the attributes' types. Preparing took a tenth of the API's
/// CPU under resource searches.
const PREPARED_LISTINGS: bool = true;

/// Type name of `CAST(… AS …)` to a 64-bit integer.
const BIGINT_CAST: &str = "BIGINT";

/// A JSON array of `[name, id]` of the active named metrics of the resource `q.id` (a column
/// of resource listings, so that their metrics come in the same rows).
const METRICS_JSON: &str = "(SELECT json_group_array(json_array(m.name, m.id)) FROM metric m \
     WHERE m.resource_id = q.id AND m.status = 'active' AND m.name IS NOT NULL)";

/// Statements are written with `?` placeholders, which SQLite takes as they are.
fn stmt(sql: &str) -> Cow<'_, str> {
    Cow::Borrowed(sql)
}

/// Bind placeholder; SQLite numbers `?` positionally (PostgreSQL would say `$n`).
fn placeholder() -> String {
    "?".to_owned()
}

/// The SQLite [`Dialect`] of generated search statements.
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn placeholder(&self, _n: usize) -> String {
        placeholder()
    }

    fn quote_ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// SQLite's LIKE ignores ASCII case, so case-sensitive matching uses GLOB with the pattern
    /// translated (`%` → `*`, `_` → `?`, GLOB's own metacharacters bracketed).
    fn like(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        let mut glob = String::with_capacity(pattern.len());
        for c in pattern.chars() {
            match c {
                '%' => glob.push('*'),
                '_' => glob.push('?'),
                '*' => glob.push_str("[*]"),
                '?' => glob.push_str("[?]"),
                '[' => glob.push_str("[[]"),
                c => glob.push(c),
            }
        }
        (format!("{expr} GLOB {placeholder}"), glob)
    }

    fn ilike(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        (format!("{expr} LIKE {placeholder}"), pattern.to_owned())
    }
}

/// Column type of an attribute in the per-type tables.
fn attribute_sql_type(t: &AttributeType) -> &'static str {
    match t {
        AttributeType::String { .. } | AttributeType::Uuid => "TEXT",
        AttributeType::Number { .. } => "REAL",
        AttributeType::Bool | AttributeType::Datetime => "INTEGER",
    }
}

/// Packs generated values into statement arguments.
fn arguments(binds: Vec<SqlValue>) -> Result<SqliteArguments<'static>> {
    let mut args = SqliteArguments::default();
    for b in binds {
        let added = match b {
            SqlValue::Null => args.add(None::<String>),
            SqlValue::Text(s) => args.add(s),
            SqlValue::Int(i) => args.add(i),
            SqlValue::Real(f) => args.add(f),
        };
        added
            .map_err(sqlx::Error::Encode)
            .context(QuerySnafu { op: "bind value" })?;
    }
    Ok(args)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Parses Gnocchi's SQLAlchemy-style URLs: `sqlite:////abs/path`, `sqlite:///rel/path`,
/// `sqlite://` (in memory); `sqlite+<driver>` schemes are accepted, query strings ignored.
fn connect_options(url: &str) -> Result<Option<SqliteConnectOptions>> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("missing ://"))?;
    if scheme != "sqlite" && !scheme.starts_with("sqlite+") {
        return Err(invalid("not a sqlite url"));
    }
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    if rest.is_empty() {
        return Ok(None);
    }
    let path = rest.strip_prefix('/').ok_or_else(|| {
        invalid("a host is not allowed; use sqlite:///relative or sqlite:////absolute")
    })?;
    if path.is_empty() {
        return Err(invalid("empty database path"));
    }
    Ok(Some(SqliteConnectOptions::new().filename(path)))
}

// --- The indexer ---------------------------------------------------------------------------

/// The SQLite [`Indexer`].
#[derive(Debug, Clone)]
pub struct SqliteIndexer {
    pool: SqlitePool,
}

impl SqliteIndexer {
    /// Opens (creating if missing) the database named by a `sqlite://` URL. Does not migrate:
    /// call [`Indexer::upgrade`].
    pub async fn open(url: &str) -> Result<Self> {
        let pool = match connect_options(url)? {
            Some(options) => {
                let options = options
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(BUSY_TIMEOUT)
                    .pragma("cache_size", CACHE_SIZE)
                    .foreign_keys(true);
                SqlitePoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .acquire_timeout(BUSY_TIMEOUT)
                    // A checkout would ping the connection's thread first: a round trip of
                    // thread hand-offs per query, for a link that cannot drop.
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
            }
            None => {
                // One connection that never closes: each in-memory connection is its own
                // database.
                let options = SqliteConnectOptions::from_str("sqlite::memory:")
                    .context(ConnectSnafu { url })?
                    .foreign_keys(true);
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
            }
        }
        .context(ConnectSnafu { url })?;
        Ok(Self { pool })
    }
}

/// Starts a write transaction (see [`BEGIN_WRITE`]).
async fn begin_write(pool: &SqlitePool, op: &'static str) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with(BEGIN_WRITE)
        .await
        .context(QuerySnafu { op })
}

async fn commit(tx: Transaction<'static, Sqlite>, op: &'static str) -> Result<()> {
    tx.commit().await.context(QuerySnafu { op })
}

async fn exists(
    conn: &mut SqliteConnection,
    sql: &'static str,
    key: &str,
    op: &'static str,
) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(sql)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .context(QuerySnafu { op })?;
    Ok(row.is_some())
}

#[async_trait]
impl Indexer for SqliteIndexer {
    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context(QuerySnafu { op: "health check" })?;
        Ok(())
    }

    async fn upgrade(&self) -> Result<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.pool)
            .await
            .context(MigrateSnafu)
    }

    async fn is_pristine(&self) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM archive_policy) + (SELECT COUNT(*) FROM archive_policy_rule)",
        )
        .fetch_one(&self.pool)
        .await
        .context(QuerySnafu { op: "count archive policies and rules" })?;
        Ok(n == 0)
    }

    async fn create_archive_policy(&self, policy: &ArchivePolicy) -> Result<()> {
        archive_policy::create_archive_policy(&self.pool, policy).await
    }

    async fn archive_policy(&self, name: &str) -> Result<ArchivePolicy> {
        archive_policy::archive_policy(&self.pool, name).await
    }

    async fn list_archive_policies(&self) -> Result<Vec<ArchivePolicy>> {
        archive_policy::list_archive_policies(&self.pool).await
    }

    async fn update_archive_policy(
        &self,
        name: &str,
        definition: &[ArchivePolicyItem],
        back_window: Option<u64>,
    ) -> Result<ArchivePolicy> {
        archive_policy::update_archive_policy(&self.pool, name, definition, back_window).await
    }

    async fn delete_archive_policy(&self, name: &str) -> Result<()> {
        archive_policy::delete_archive_policy(&self.pool, name).await
    }

    async fn create_archive_policy_rule(&self, rule: &ArchivePolicyRule) -> Result<()> {
        archive_policy::create_archive_policy_rule(&self.pool, rule).await
    }

    async fn archive_policy_rule(&self, name: &str) -> Result<ArchivePolicyRule> {
        archive_policy::archive_policy_rule(&self.pool, name).await
    }

    async fn list_archive_policy_rules(&self) -> Result<Vec<ArchivePolicyRule>> {
        archive_policy::list_archive_policy_rules(&self.pool).await
    }

    async fn rename_archive_policy_rule(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<ArchivePolicyRule> {
        archive_policy::rename_archive_policy_rule(&self.pool, name, new_name).await
    }

    async fn delete_archive_policy_rule(&self, name: &str) -> Result<()> {
        archive_policy::delete_archive_policy_rule(&self.pool, name).await
    }

    async fn create_metric(&self, metric: &NewMetric) -> Result<Metric> {
        metric::create_metric(&self.pool, metric).await
    }

    async fn metric(&self, id: Uuid) -> Result<Metric> {
        metric::metric(&self.pool, id).await
    }

    async fn described_metric(&self, id: Uuid) -> Result<DescribedMetric> {
        metric::described_metric(&self.pool, id).await
    }

    async fn metrics_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Metric>> {
        metric::metrics_by_ids(&self.pool, ids).await
    }

    async fn resource_metric(&self, resource_id: Uuid, name: &str) -> Result<Option<Metric>> {
        metric::resource_metric(&self.pool, resource_id, name).await
    }

    async fn list_metrics(&self, filter: &MetricFilter, page: &Page) -> Result<Vec<Metric>> {
        metric::list_metrics(&self.pool, filter, page).await
    }

    async fn delete_metric(&self, id: Uuid) -> Result<()> {
        metric::delete_metric(&self.pool, id).await
    }

    async fn list_deleted_metrics(&self, limit: u64) -> Result<Vec<Metric>> {
        metric::list_deleted_metrics(&self.pool, limit).await
    }

    async fn expunge_metric(&self, id: Uuid) -> Result<()> {
        metric::expunge_metric(&self.pool, id).await
    }

    async fn list_metrics_needing_raw_truncation(&self, limit: u64) -> Result<Vec<Metric>> {
        metric::list_metrics_needing_raw_truncation(&self.pool, limit).await
    }

    async fn mark_metrics_processed(&self, processed: &[ProcessedMetric]) -> Result<()> {
        metric::mark_metrics_processed(&self.pool, processed).await
    }

    async fn resource_type(&self, name: &str) -> Result<ResourceType> {
        resource_type::resource_type(&self.pool, name).await
    }

    async fn list_resource_types(&self) -> Result<Vec<ResourceType>> {
        resource_type::list_resource_types(&self.pool).await
    }

    async fn create_resource_type(
        &self,
        name: &str,
        attributes: &BTreeMap<String, AttributeDefinition>,
    ) -> Result<ResourceType> {
        resource_type::create_resource_type(&self.pool, name, attributes).await
    }

    async fn update_resource_type(
        &self,
        name: &str,
        attributes: &BTreeMap<String, AttributeDefinition>,
    ) -> Result<ResourceType> {
        resource_type::update_resource_type(&self.pool, name, attributes).await
    }

    async fn delete_resource_type(&self, name: &str) -> Result<()> {
        resource_type::delete_resource_type(&self.pool, name).await
    }

    async fn update_resource(
        &self,
        type_name: Option<&str>,
        id: Uuid,
        update: &ResourceUpdate,
    ) -> Result<Resource> {
        resource::update_resource(&self.pool, type_name, id, update).await
    }

    async fn delete_resource(&self, type_name: Option<&str>, id: Uuid) -> Result<()> {
        resource::delete_resource(&self.pool, type_name, id).await
    }

    async fn list_resources(&self, query: &ResourceQuery) -> Result<Vec<Resource>> {
        resource_query::list_resources(&self.pool, query).await
    }

    async fn delete_resources(&self, type_name: &str, filter: &Filter) -> Result<u64> {
        resource::delete_resources(&self.pool, type_name, filter).await
    }

    async fn append_resource_metrics(&self, id: Uuid, metrics: &MetricSet) -> Result<Vec<Metric>> {
        resource::append_resource_metrics(&self.pool, id, metrics).await
    }

    async fn create_resource(&self, r: &NewResource) -> Result<Resource> {
        resource::create_resource(&self.pool, r).await
    }

    async fn resource(&self, type_name: Option<&str>, id: Uuid) -> Result<Resource> {
        resource::resource(&self.pool, type_name, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::connect_options;

    #[test]
    fn sqlalchemy_urls() {
        let abs = connect_options("sqlite:////var/lib/gnocchi/index.db").expect("valid");
        assert_eq!(
            abs.expect("file").get_filename(),
            std::path::Path::new("/var/lib/gnocchi/index.db")
        );
        let rel = connect_options("sqlite:///data/index.db?timeout=5").expect("valid");
        assert_eq!(
            rel.expect("file").get_filename(),
            std::path::Path::new("data/index.db")
        );
        assert!(connect_options("sqlite://").expect("valid").is_none());
        assert!(connect_options("sqlite+pysqlite:///x.db")
            .expect("valid")
            .is_some());
        assert!(connect_options("sqlite://host/x.db").is_err());
        assert!(connect_options("postgresql://x/y").is_err());
        assert!(connect_options("nonsense").is_err());
    }
}

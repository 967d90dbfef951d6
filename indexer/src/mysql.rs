//! The MariaDB/MySQL [`Indexer`] (`[indexer] url = mysql://…`, also `mysql+<driver>://` such as
//! `mysql+pymysql://`, as Gnocchi's SQLAlchemy URLs say). Needs MariaDB >= 10.5 (RETURNING).
//!
//! Text is stored under `utf8mb4_nopad_bin`: byte-wise equality and order with no
//! trailing-space padding, as SQLite's BINARY and PostgreSQL's "C" collations, so ORDER BY,
//! markers and unique keys behave the same on every backend. The server flags such columns
//! BINARY, which sqlx's `String` refuses; the shared statements decode text through
//! `crate::text::Text` instead.
//!
//! The schema (migrations/mysql) mirrors the SQLite one column for column — text UUIDs,
//! BIGINT microseconds, TEXT JSON, byte-wise utf8mb4 text — so the statement modules of
//! `crate::sqlite` are compiled a third time here (`#[path]` modules) against this module's
//! `Conn`, `Pool`, `DbRow`, `DIALECT`, `stmt` and helpers. What differs lives in this file:
//!
//! - Placeholders: `?` is native; `?N` (only in single-key [`exists`] probes) becomes `?`
//!   with the key bound once per occurrence.
//! - Sessions use utf8mb4 and `sql_mode` with `ANSI_QUOTES` (double-quoted identifiers,
//!   as in the shared statements) and `STRICT_ALL_TABLES`.
//! - Locking: every write transaction first locks the single `write_lock` row `FOR UPDATE`, so
//!   writers serialise as under SQLite's `BEGIN IMMEDIATE`; the lock ends with the transaction
//!   on commit, rollback or a dropped connection. Reads never wait.
//! - DDL commits implicitly. Creating a resource type writes its row and then its tables; if a
//!   table cannot be created, [`create_resource_type`] removes the row and any table made.

#[path = "sqlite/archive_policy.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod archive_policy;
#[path = "sqlite/metric.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod metric;
#[path = "sqlite/resource.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod resource;
#[path = "sqlite/resource_query.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod resource_query;
#[path = "sqlite/resource_type.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod resource_type;
#[path = "sqlite/rows.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for MySQL.
mod rows;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use gnocchi_core::{ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, Metric};
use snafu::ResultExt;
use sqlx::mysql::{
    MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions,
};
use sqlx::{Arguments, Executor, MySql, Transaction};
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
use crate::text::Text;

// --- Dialect -------------------------------------------------------------------------------

/// The connection type the shared statement modules run on.
type Conn = MySqlConnection;

/// The pool type the shared statement modules run on.
type Pool = MySqlPool;

/// The row type the shared statement modules decode.
type DbRow = sqlx::mysql::MySqlRow;

/// The dialect of generated statements.
const DIALECT: MysqlDialect = MysqlDialect;

/// Column type of `revision` in the per-type history tables.
const REVISION_SQL_TYPE: &str = "BIGINT";

/// Column type of `id` in the per-type current tables (as `resource.id`, which it references).
const ID_SQL_TYPE: &str = "VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin";

/// Options appended to `CREATE TABLE` of the per-type tables.
const TABLE_OPTIONS: &str = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";

/// Whether resource listings are kept as prepared statements: not here, as the text stays the
/// same when an attribute is re-added with another type (as for PostgreSQL).
const PREPARED_LISTINGS: bool = false;

/// Type name of `CAST(… AS …)` to a 64-bit integer.
const BIGINT_CAST: &str = "SIGNED";

/// A JSON array of `[name, id]` of the active named metrics of the resource `q.id` (a column
/// of resource listings, so that their metrics come in the same rows).
const METRICS_JSON: &str = "(SELECT CAST(COALESCE(JSON_ARRAYAGG(JSON_ARRAY(m.name, m.id)), \
     JSON_ARRAY()) AS CHAR) FROM metric m \
     WHERE m.resource_id = q.id AND m.status = 'active' AND m.name IS NOT NULL)";

/// The session's SQL mode (set on every new connection).
const SQL_MODE: &str = "SET SESSION sql_mode = \
     'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO'";

/// Escape character of generated LIKE patterns (Gnocchi's patterns have none of their own).
const LIKE_ESCAPE: char = '!';

/// How long a connection may take to be established or handed out by the pool. sqlx retries
/// refused connections until then, so this is how long a request waits during an outage
/// before its 503 (docs/decisions.md, "Indexer pool acquire timeout").
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections per process.
const POOL_SIZE: u32 = 10;

/// Statements are written with `?` placeholders, which MySQL takes as they are.
fn stmt(sql: &str) -> Cow<'_, str> {
    Cow::Borrowed(sql)
}

/// Rewrites numbered placeholders `?N` to `?`, returning how many placeholders there are, and
/// leaving quoted identifiers and string literals alone.
fn unnumber(sql: &str) -> (String, usize) {
    let mut out = String::with_capacity(sql.len());
    let mut n = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '"' | '\'' | '`') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                n += 1;
                out.push('?');
            }
            (None, c) => out.push(c),
        }
    }
    (out, n)
}

/// Bind placeholder of generated SQL.
fn placeholder() -> String {
    "?".to_owned()
}

/// The MySQL [`Dialect`] of generated search statements.
pub(crate) struct MysqlDialect;

/// `pattern` with the [`LIKE_ESCAPE`] character escaped, so it has no escapes of its own.
fn like_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

impl Dialect for MysqlDialect {
    fn placeholder(&self, _n: usize) -> String {
        placeholder()
    }

    fn quote_ident(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    /// LIKE under the binary collation (case-sensitive); non-text columns compare as their
    /// text form.
    fn like(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        (
            format!(
                "CAST({expr} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin \
                 LIKE {placeholder} ESCAPE '{LIKE_ESCAPE}'"
            ),
            like_pattern(pattern),
        )
    }

    /// LIKE on lowercased text under the binary collation. LOWER() folds more than ASCII
    /// (SQLite and PostgreSQL's "C" collation fold ASCII letters only).
    fn ilike(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        (
            format!(
                "LOWER(CAST({expr} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin) \
                 LIKE LOWER({placeholder}) ESCAPE '{LIKE_ESCAPE}'"
            ),
            like_pattern(pattern),
        )
    }
}

/// Column type of an attribute in the per-type tables (the same representations as SQLite).
fn attribute_sql_type(t: &AttributeType) -> &'static str {
    match t {
        AttributeType::String { .. } | AttributeType::Uuid => {
            "TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
        }
        AttributeType::Number { .. } => "DOUBLE",
        AttributeType::Bool | AttributeType::Datetime => "BIGINT",
    }
}

/// Packs generated values into statement arguments.
fn arguments(binds: Vec<SqlValue>) -> Result<MySqlArguments> {
    let mut args = MySqlArguments::default();
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

/// Parses Gnocchi's SQLAlchemy-style URLs: `mysql://user:pass@host:port/db?…` and
/// `mysql+<driver>://…` (the driver is dropped; query options such as `charset` are dropped
/// too: the session is always utf8mb4 with the binary collation).
fn connect_options(url: &str) -> Result<MySqlConnectOptions> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("missing ://".to_owned()))?;
    let backend = scheme.split('+').next().unwrap_or(scheme);
    if backend != "mysql" && backend != "mariadb" {
        return Err(invalid("not a mysql url".to_owned()));
    }
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let options = format!("mysql://{rest}")
        .parse::<MySqlConnectOptions>()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(options.charset("utf8mb4").collation("utf8mb4_bin"))
}

// --- The indexer ---------------------------------------------------------------------------

/// The MariaDB/MySQL [`Indexer`].
#[derive(Debug, Clone)]
pub struct MysqlIndexer {
    pool: MySqlPool,
}

impl MysqlIndexer {
    /// Connects to the database named by a `mysql://` URL. Does not migrate: call
    /// [`Indexer::upgrade`].
    pub async fn open(url: &str) -> Result<Self> {
        let options = connect_options(url)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SQL_MODE).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context(ConnectSnafu { url: redact(url) })?;
        Ok(Self { pool })
    }
}

/// `url` without its password, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// Starts a write transaction holding the indexer's write lock (see the module docs).
async fn begin_write(pool: &MySqlPool, op: &'static str) -> Result<Transaction<'static, MySql>> {
    let mut tx = pool.begin().await.context(QuerySnafu { op })?;
    sqlx::query("SELECT id FROM write_lock WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await
        .context(QuerySnafu { op })?;
    Ok(tx)
}

async fn commit(tx: Transaction<'static, MySql>, op: &'static str) -> Result<()> {
    tx.commit().await.context(QuerySnafu { op })
}

async fn exists(
    conn: &mut MySqlConnection,
    sql: &'static str,
    key: &str,
    op: &'static str,
) -> Result<bool> {
    let (sql, n) = unnumber(sql);
    let mut query = sqlx::query(&sql);
    for _ in 0..n {
        query = query.bind(key);
    }
    let row = query
        .fetch_optional(&mut *conn)
        .await
        .context(QuerySnafu { op })?;
    Ok(row.is_some())
}

/// Creates a resource type (the shared statements), then, because DDL commits implicitly here,
/// removes what a failure left behind: the type row and whichever of its tables were made.
async fn create_resource_type(
    pool: &MySqlPool,
    name: &str,
    attributes: &BTreeMap<String, AttributeDefinition>,
) -> Result<ResourceType> {
    match resource_type::create_resource_type(pool, name, attributes).await {
        Err(e) if !matches!(e, Error::ResourceTypeExists { .. }) => {
            clean_up_resource_type(pool, name).await;
            Err(e)
        }
        other => other,
    }
}

/// Best effort: drops the tables of a half-created type and deletes its row.
async fn clean_up_resource_type(pool: &MySqlPool, name: &str) {
    let tablename: Option<(Text,)> =
        match sqlx::query_as("SELECT tablename FROM resource_type WHERE name = ?")
            .bind(name)
            .fetch_optional(pool)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(name, error = %e, "could not look up a half-created resource type");
                return;
            }
        };
    let Some((Text(tablename),)) = tablename else {
        return;
    };
    for sql in [
        format!(
            "DROP TABLE IF EXISTS {}",
            DIALECT.quote_ident(&format!("{tablename}_history"))
        ),
        format!("DROP TABLE IF EXISTS {}", DIALECT.quote_ident(&tablename)),
    ] {
        if let Err(e) = sqlx::query(&sql).execute(pool).await {
            tracing::warn!(name, error = %e, "could not drop a half-created resource type table");
        }
    }
    if let Err(e) = sqlx::query("DELETE FROM resource_type WHERE name = ?")
        .bind(name)
        .execute(pool)
        .await
    {
        tracing::warn!(name, error = %e, "could not delete a half-created resource type");
    }
}

#[async_trait]
impl Indexer for MysqlIndexer {
    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context(QuerySnafu { op: "health check" })?;
        Ok(())
    }

    async fn upgrade(&self) -> Result<()> {
        sqlx::migrate!("../migrations/mysql")
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
        create_resource_type(&self.pool, name, attributes).await
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
    use super::{connect_options, like_pattern, unnumber};

    #[test]
    fn unnumbers_placeholders_outside_quotes() {
        assert_eq!(
            unnumber("SELECT `a?`, '?' FROM t WHERE x = ?1 OR y = ?1"),
            ("SELECT `a?`, '?' FROM t WHERE x = ? OR y = ?".to_owned(), 2)
        );
        assert_eq!(unnumber("SELECT 1"), ("SELECT 1".to_owned(), 0));
    }

    #[test]
    fn escapes_the_like_escape() {
        assert_eq!(like_pattern("a!b%"), "a!!b%");
    }

    #[test]
    fn sqlalchemy_urls() {
        assert!(connect_options("mysql://u:p@localhost:3306/gnocchi").is_ok());
        assert!(connect_options("mysql+pymysql://u@db/gnocchi?charset=utf8").is_ok());
        assert!(connect_options("postgresql://x/y").is_err());
        assert!(connect_options("nonsense").is_err());
    }
}

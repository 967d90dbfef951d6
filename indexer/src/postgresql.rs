//! The PostgreSQL [`Indexer`] (`[indexer] url = postgresql://…`, also `postgresql+<driver>://`
//! as Gnocchi's SQLAlchemy URLs say).
//!
//! The schema (migrations/postgresql) mirrors the SQLite one column for column — TEXT UUIDs,
//! BIGINT microseconds, TEXT JSON, `COLLATE "C"` text — so the statement modules of
//! `crate::sqlite` are compiled a second time here (`#[path]` modules) against this module's
//! `Conn`, `Pool`, `DbRow`, `DIALECT`, `stmt` and helpers. What differs lives in this file:
//!
//! - Placeholders: statements are written with `?` (and `?N`); [`stmt`] numbers them `$n`.
//! - Locking: every write transaction first takes one transaction-scoped advisory lock, so
//!   writers serialise exactly as under SQLite's `BEGIN IMMEDIATE` (engine.md §5.3): two
//!   concurrent PATCHes of a resource each see the other's result, and a read-then-insert
//!   race ends in one success and a domain error (the unique constraints back this up, and
//!   their violations map to the same domain errors). Reads never wait.
//! - NULL binds are sent untyped, so the server infers the column's type.

#[path = "sqlite/archive_policy.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod archive_policy;
#[path = "sqlite/metric.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod metric;
#[path = "sqlite/resource.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod resource;
#[path = "sqlite/resource_query.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod resource_query;
#[path = "sqlite/resource_type.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod resource_type;
#[path = "sqlite/rows.rs"]
#[allow(clippy::duplicate_mod)] // Deliberate: the same statements, compiled for PostgreSQL.
mod rows;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use gnocchi_core::{ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, Metric};
use snafu::ResultExt;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions,
    PgTypeInfo,
};
use sqlx::{Arguments, Postgres, Transaction};
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

/// The connection type the shared statement modules run on.
type Conn = PgConnection;

/// The pool type the shared statement modules run on.
type Pool = PgPool;

/// The row type the shared statement modules decode.
type DbRow = sqlx::postgres::PgRow;

/// The dialect of generated statements.
const DIALECT: PostgresqlDialect = PostgresqlDialect;

/// Column type of `revision` in the per-type history tables.
const REVISION_SQL_TYPE: &str = "BIGINT";

/// Column type of `id` in the per-type current tables.
const ID_SQL_TYPE: &str = "TEXT";

/// Options appended to `CREATE TABLE` of the per-type tables (none here).
const TABLE_OPTIONS: &str = "";

/// Whether resource listings are kept as prepared statements: not here, as after an attribute
/// is dropped and re-added with another type the same text yields another row type, which
/// PostgreSQL refuses to run from a cached plan.
const PREPARED_LISTINGS: bool = false;

/// Type name of `CAST(… AS …)` to a 64-bit integer.
const BIGINT_CAST: &str = "BIGINT";

/// A JSON array of `[name, id]` of the active named metrics of the resource `q.id` (a column
/// of resource listings, so that their metrics come in the same rows).
const METRICS_JSON: &str =
    "(SELECT COALESCE(json_agg(json_build_array(m.name, m.id))::text, '[]') \
     FROM metric m WHERE m.resource_id = q.id AND m.status = 'active' AND m.name IS NOT NULL)";

/// Key of the advisory lock every write transaction holds (any constant; "gnocchi" in ASCII).
const WRITE_LOCK_KEY: i64 = 0x0067_6e6f_6363_6869;

/// How long a connection may take to be established or handed out by the pool. sqlx retries
/// refused connections until then, so this is how long a request waits during an outage
/// before its 503 (docs/decisions.md, "Indexer pool acquire timeout").
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections per process.
const POOL_SIZE: u32 = 10;

/// Numbers the `?` placeholders of a statement as `$1`, `$2`, … (`?N` becomes `$N`), leaving
/// quoted identifiers and string literals alone.
fn stmt(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
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
            (None, '"' | '\'') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    n += 1;
                    out.push_str(&n.to_string());
                } else {
                    out.push_str(&digits);
                }
            }
            (None, c) => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Bind placeholder of generated SQL; [`stmt`] numbers it when the statement runs.
fn placeholder() -> String {
    "?".to_owned()
}

/// The PostgreSQL [`Dialect`] of generated search statements.
pub(crate) struct PostgresqlDialect;

impl Dialect for PostgresqlDialect {
    /// `?`, numbered by [`stmt`] once the whole statement is built (markers and limits are
    /// appended after the filter).
    fn placeholder(&self, _n: usize) -> String {
        placeholder()
    }

    fn quote_ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// LIKE without an escape character (Gnocchi's patterns have none, and SQLite's GLOB
    /// translation has none either), under the "C" collation so ILIKE folds ASCII letters only,
    /// as SQLite's LIKE does; non-text columns compare as their text form.
    fn like(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        (
            format!("CAST({expr} AS TEXT) COLLATE \"C\" LIKE {placeholder} ESCAPE ''"),
            pattern.to_owned(),
        )
    }

    fn ilike(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String) {
        (
            format!("CAST({expr} AS TEXT) COLLATE \"C\" ILIKE {placeholder} ESCAPE ''"),
            pattern.to_owned(),
        )
    }
}

/// Column type of an attribute in the per-type tables (the same representations as SQLite).
fn attribute_sql_type(t: &AttributeType) -> &'static str {
    match t {
        AttributeType::String { .. } | AttributeType::Uuid => "TEXT COLLATE \"C\"",
        AttributeType::Number { .. } => "DOUBLE PRECISION",
        AttributeType::Bool | AttributeType::Datetime => "BIGINT",
    }
}

/// A NULL bound without a type, so the server infers the one its context needs (a typed
/// NULL text would not go into a BIGINT column).
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        // OID 0: "unspecified", resolved by the server.
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

/// Packs generated values into statement arguments.
fn arguments(binds: Vec<SqlValue>) -> Result<PgArguments> {
    let mut args = PgArguments::default();
    for b in binds {
        let added = match b {
            SqlValue::Null => args.add(UntypedNull),
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

/// Parses Gnocchi's SQLAlchemy-style URLs: `postgresql://user:pass@host:port/db?…` and
/// `postgresql+<driver>://…` (the driver is dropped; unknown query options are ignored).
fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("missing ://".to_owned()))?;
    let backend = scheme.split('+').next().unwrap_or(scheme);
    if backend != "postgresql" && backend != "postgres" {
        return Err(invalid("not a postgresql url".to_owned()));
    }
    format!("postgresql://{rest}")
        .parse::<PgConnectOptions>()
        .map_err(|e| invalid(e.to_string()))
}

// --- The indexer ---------------------------------------------------------------------------

/// The PostgreSQL [`Indexer`].
#[derive(Debug, Clone)]
pub struct PostgresqlIndexer {
    pool: PgPool,
}

impl PostgresqlIndexer {
    /// Connects to the database named by a `postgresql://` URL. Does not migrate: call
    /// [`Indexer::upgrade`].
    pub async fn open(url: &str) -> Result<Self> {
        let options = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
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
async fn begin_write(pool: &PgPool, op: &'static str) -> Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.context(QuerySnafu { op })?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .context(QuerySnafu { op })?;
    Ok(tx)
}

async fn commit(tx: Transaction<'static, Postgres>, op: &'static str) -> Result<()> {
    tx.commit().await.context(QuerySnafu { op })
}

async fn exists(
    conn: &mut PgConnection,
    sql: &'static str,
    key: &str,
    op: &'static str,
) -> Result<bool> {
    let row = sqlx::query(&stmt(sql))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .context(QuerySnafu { op })?;
    Ok(row.is_some())
}

#[async_trait]
impl Indexer for PostgresqlIndexer {
    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context(QuerySnafu { op: "health check" })?;
        Ok(())
    }

    async fn upgrade(&self) -> Result<()> {
        sqlx::migrate!("../migrations/postgresql")
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
    use super::{connect_options, redact, stmt};

    #[test]
    fn numbers_placeholders_outside_quotes() {
        assert_eq!(
            stmt("SELECT \"a?\", '?' FROM t WHERE x = ? AND y IN (?, ?) OR z = ?1"),
            "SELECT \"a?\", '?' FROM t WHERE x = $1 AND y IN ($2, $3) OR z = $1"
        );
        assert_eq!(stmt("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn sqlalchemy_urls() {
        assert!(connect_options("postgresql://u:p@localhost:5432/gnocchi").is_ok());
        assert!(connect_options("postgresql+psycopg2://u@db/gnocchi?client_encoding=utf8").is_ok());
        assert!(connect_options("sqlite:///x.db").is_err());
        assert!(connect_options("nonsense").is_err());
        assert_eq!(
            redact("postgresql://u:secret@h:1/db"),
            "postgresql://u:***@h:1/db"
        );
    }
}

//! Fixtures: a fresh, migrated indexer per test, and small builders.

use std::sync::Arc;

use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule};
use gnocchi_indexer::{
    AttributeDefinition, AttributeType, AttributeValue, Indexer, NewMetric, NewResource,
};
use tempfile::TempDir;
use uuid::Uuid;

/// An indexer plus whatever keeps its database alive.
pub struct Fixture {
    pub indexer: Arc<dyn Indexer>,
    /// The URL, for tests that open a second pool on the same database.
    pub url: String,
    _dir: Option<TempDir>,
}

/// A fresh SQLite database in a temporary directory, migrated.
pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:///{}", dir.path().join("index.db").display());
    let indexer = gnocchi_indexer::open(&url).await.expect("open sqlite");
    indexer.upgrade().await.expect("migrate");
    Fixture {
        indexer,
        url,
        _dir: Some(dir),
    }
}

/// The server the PostgreSQL tests use (set by `eval "$(scripts/postgresql-server start DIR)"`).
const POSTGRESQL_URL: &str = "GNOCCHI_TEST_POSTGRESQL_URL";

/// Set to `1` (CI) to fail instead of skipping when no PostgreSQL server is configured.
const REQUIRE_POSTGRESQL: &str = "GNOCCHI_REQUIRE_POSTGRESQL";

/// A fresh database on the test server, migrated; `None` (with the reason printed) when
/// `GNOCCHI_TEST_POSTGRESQL_URL` is unset, unless `GNOCCHI_REQUIRE_POSTGRESQL=1`.
#[allow(clippy::print_stderr)]
pub async fn postgresql() -> Option<Fixture> {
    use sqlx::Connection;

    let Ok(base) = std::env::var(POSTGRESQL_URL) else {
        assert!(
            std::env::var(REQUIRE_POSTGRESQL).as_deref() != Ok("1"),
            "{REQUIRE_POSTGRESQL}=1 but {POSTGRESQL_URL} is unset \
             (eval \"$(scripts/postgresql-server start DIR)\")"
        );
        eprintln!("skipped: {POSTGRESQL_URL} is unset (see scripts/postgresql-server)");
        return None;
    };
    // One database per test, so tests run in parallel on one server.
    let name = format!("gnocchi_test_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.expect("close");
    let (without_query, query) = match base.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let (server, _db) = without_query
        .rsplit_once('/')
        .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
        .expect("the test URL names a database");
    let url = format!("{server}/{name}{query}");
    let indexer = gnocchi_indexer::open(&url).await.expect("open postgresql");
    indexer.upgrade().await.expect("migrate");
    Some(Fixture {
        indexer,
        url,
        _dir: None,
    })
}

/// The server the MySQL tests use (set by `eval "$(scripts/mariadb-server start DIR)"`).
const MYSQL_URL: &str = "GNOCCHI_TEST_MYSQL_URL";

/// Set to `1` (CI) to fail instead of skipping when no MySQL server is configured.
const REQUIRE_MYSQL: &str = "GNOCCHI_REQUIRE_MYSQL";

/// A fresh database on the test server, migrated; `None` (with the reason printed) when
/// `GNOCCHI_TEST_MYSQL_URL` is unset, unless `GNOCCHI_REQUIRE_MYSQL=1`.
#[allow(clippy::print_stderr)]
pub async fn mysql() -> Option<Fixture> {
    use sqlx::Connection;

    let Ok(base) = std::env::var(MYSQL_URL) else {
        assert!(
            std::env::var(REQUIRE_MYSQL).as_deref() != Ok("1"),
            "{REQUIRE_MYSQL}=1 but {MYSQL_URL} is unset \
             (eval \"$(scripts/mariadb-server start DIR)\")"
        );
        eprintln!("skipped: {MYSQL_URL} is unset (see scripts/mariadb-server)");
        return None;
    };
    // One database per test, so tests run in parallel on one server.
    let name = format!("gnocchi_test_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::MySqlConnection::connect(&base)
        .await
        .expect("connect to the test server");
    sqlx::query(&format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
    .execute(&mut admin)
    .await
    .expect("create test database");
    admin.close().await.expect("close");
    let (without_query, query) = match base.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let (server, _db) = without_query
        .rsplit_once('/')
        .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
        .expect("the test URL names a database");
    let url = format!("{server}/{name}{query}");
    let indexer = gnocchi_indexer::open(&url).await.expect("open mysql");
    indexer.upgrade().await.expect("migrate");
    Some(Fixture {
        indexer,
        url,
        _dir: None,
    })
}

/// Runs `$body` (an `async fn(Fixture)`) once per backend, as a test module named `$name`.
macro_rules! indexer_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(crate::common::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgresql() {
                if let Some(f) = crate::common::postgresql().await {
                    super::$body(f).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(f) = crate::common::mysql().await {
                    super::$body(f).await
                }
            }
        }
    };
}

pub const SEC: i64 = 1_000_000_000;

pub fn policy(name: &str) -> ArchivePolicy {
    ArchivePolicy {
        name: name.to_owned(),
        back_window: 0,
        definition: vec![
            ArchivePolicyItem {
                granularity_ns: SEC,
                points: Some(60),
            },
            ArchivePolicyItem {
                granularity_ns: 60 * SEC,
                points: None,
            },
        ],
        aggregation_methods: ["max", "mean", "rate:last"]
            .iter()
            .map(|m| m.parse::<AggregationMethod>().expect("valid method"))
            .collect(),
    }
}

pub fn rule(name: &str, pattern: &str, policy: &str) -> ArchivePolicyRule {
    ArchivePolicyRule {
        name: name.to_owned(),
        metric_pattern: pattern.to_owned(),
        archive_policy_name: policy.to_owned(),
    }
}

pub fn new_metric(policy: &str, name: Option<&str>) -> NewMetric {
    NewMetric {
        id: Uuid::new_v4(),
        archive_policy_name: policy.to_owned(),
        name: name.map(str::to_owned),
        unit: None,
        resource_id: None,
        creator: "foobar".to_owned(),
    }
}

/// A resource of `type_name` with a fresh id, created by `foobar`, no metrics.
pub fn new_resource(type_name: &str) -> NewResource {
    let id = Uuid::new_v4();
    NewResource {
        id,
        original_resource_id: id.to_string(),
        type_name: type_name.to_owned(),
        creator: Some("foobar".to_owned()),
        ..Default::default()
    }
}

pub fn attr(attribute_type: AttributeType, required: bool) -> AttributeDefinition {
    AttributeDefinition {
        attribute_type,
        required,
        fill: None,
    }
}

pub fn string_attr(required: bool) -> AttributeDefinition {
    attr(
        AttributeType::String {
            min_length: 0,
            max_length: 255,
        },
        required,
    )
}

pub fn text(s: &str) -> AttributeValue {
    AttributeValue::String(s.to_owned())
}

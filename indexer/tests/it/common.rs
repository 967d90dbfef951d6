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

/// Runs `$body` (an `async fn(Fixture)`) once per backend, as a test module named `$name`.
macro_rules! indexer_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(crate::common::sqlite().await).await
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

//! Row types of the SQLite schema and their conversion to domain types. Timestamps are
//! INTEGER microseconds, UUIDs lowercase hyphenated TEXT, JSON documents TEXT.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem, Metric, MetricStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DbRow;
use crate::error::{Error, Result};
use crate::pagination::{Column, SqlValue};
use crate::text::{optional_text, text};

/// The metric columns, in [`MetricRow`] order.
pub(crate) const METRIC_COLUMNS: &str = "id, archive_policy_name, creator, resource_id, name, \
     unit, status, needs_raw_data_truncation, last_measure_timestamp";

/// Columns a metric listing may sort on (api.md §1.10); `id` is the unique tie-breaker.
pub(crate) const METRIC_SORT_KEYS: [Column; 9] = [
    METRIC_ID,
    Column::plain("archive_policy_name", false),
    Column::plain("creator", false),
    Column::plain("resource_id", true),
    Column::plain("name", true),
    Column::plain("unit", true),
    Column::plain("status", false),
    Column::plain("needs_raw_data_truncation", false),
    Column::plain("last_measure_timestamp", true),
];

/// The unique key and marker of metric listings.
pub(crate) const METRIC_ID: Column = Column::plain("id", false);

pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> Error {
    Error::CorruptRow {
        table,
        reason: reason.into(),
    }
}

pub(crate) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(table: &'static str, us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(table, format!("timestamp {us}")))
}

/// Now, at the microsecond precision the database keeps.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).expect("now is representable")
}

pub(crate) fn parse_uuid(table: &'static str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt(table, format!("uuid {s:?}")))
}

/// How an archive policy's definition is stored.
#[derive(Serialize, Deserialize)]
struct StoredItem {
    granularity_ns: i64,
    points: Option<u64>,
}

pub(crate) struct ArchivePolicyRow {
    pub(crate) name: String,
    pub(crate) back_window: i64,
    pub(crate) definition: String,
    pub(crate) aggregation_methods: String,
}

impl sqlx::FromRow<'_, DbRow> for ArchivePolicyRow {
    fn from_row(row: &DbRow) -> std::result::Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            name: text(row, "name")?,
            back_window: row.try_get("back_window")?,
            definition: text(row, "definition")?,
            aggregation_methods: text(row, "aggregation_methods")?,
        })
    }
}

pub(crate) fn definition_to_json(definition: &[ArchivePolicyItem]) -> String {
    let items: Vec<StoredItem> = definition
        .iter()
        .map(|d| StoredItem {
            granularity_ns: d.granularity_ns,
            points: d.points,
        })
        .collect();
    serde_json::to_string(&items).expect("a list of integers serializes")
}

pub(crate) fn methods_to_json(methods: &[AggregationMethod]) -> String {
    let names: Vec<String> = methods.iter().map(ToString::to_string).collect();
    serde_json::to_string(&names).expect("a list of strings serializes")
}

impl ArchivePolicyRow {
    pub(crate) fn into_domain(self) -> Result<ArchivePolicy> {
        const T: &str = "archive_policy";
        let items: Vec<StoredItem> = serde_json::from_str(&self.definition)
            .map_err(|e| corrupt(T, format!("definition of {}: {e}", self.name)))?;
        let names: Vec<String> = serde_json::from_str(&self.aggregation_methods)
            .map_err(|e| corrupt(T, format!("aggregation methods of {}: {e}", self.name)))?;
        let mut aggregation_methods = names
            .iter()
            .map(|n| AggregationMethod::from_str(n).map_err(|e| corrupt(T, e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        aggregation_methods.sort();
        let back_window = u64::try_from(self.back_window)
            .map_err(|_| corrupt(T, format!("back window {}", self.back_window)))?;
        Ok(ArchivePolicy {
            name: self.name,
            back_window,
            definition: items
                .into_iter()
                .map(|i| ArchivePolicyItem {
                    granularity_ns: i.granularity_ns,
                    points: i.points,
                })
                .collect(),
            aggregation_methods,
        })
    }
}

pub(crate) struct MetricRow {
    pub(crate) id: String,
    pub(crate) archive_policy_name: String,
    pub(crate) creator: String,
    pub(crate) resource_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) unit: Option<String>,
    pub(crate) status: String,
    /// 0 or 1 (an integer on every backend, so rows decode the same way).
    pub(crate) needs_raw_data_truncation: i64,
    pub(crate) last_measure_timestamp: Option<i64>,
}

impl sqlx::FromRow<'_, DbRow> for MetricRow {
    fn from_row(row: &DbRow) -> std::result::Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            id: text(row, "id")?,
            archive_policy_name: text(row, "archive_policy_name")?,
            creator: text(row, "creator")?,
            resource_id: optional_text(row, "resource_id")?,
            name: optional_text(row, "name")?,
            unit: optional_text(row, "unit")?,
            status: text(row, "status")?,
            needs_raw_data_truncation: row.try_get("needs_raw_data_truncation")?,
            last_measure_timestamp: row.try_get("last_measure_timestamp")?,
        })
    }
}

impl MetricRow {
    pub(crate) fn into_domain(self) -> Result<Metric> {
        const T: &str = "metric";
        let status = match self.status.as_str() {
            "active" => MetricStatus::Active,
            "delete" => MetricStatus::Delete,
            other => return Err(corrupt(T, format!("status {other:?}"))),
        };
        Ok(Metric {
            id: parse_uuid(T, &self.id)?,
            archive_policy_name: self.archive_policy_name,
            name: self.name,
            unit: self.unit,
            resource_id: self
                .resource_id
                .as_deref()
                .map(|r| parse_uuid(T, r))
                .transpose()?,
            creator: self.creator,
            status,
            needs_raw_data_truncation: self.needs_raw_data_truncation != 0,
            last_measure_timestamp: self
                .last_measure_timestamp
                .map(|t| from_micros(T, t))
                .transpose()?,
        })
    }

    /// The value of one sortable column, for the marker condition.
    pub(crate) fn column_value(&self, column: &str) -> SqlValue {
        let text = |v: &Option<String>| v.clone().map_or(SqlValue::Null, SqlValue::Text);
        match column {
            "id" => SqlValue::Text(self.id.clone()),
            "archive_policy_name" => SqlValue::Text(self.archive_policy_name.clone()),
            "creator" => SqlValue::Text(self.creator.clone()),
            "resource_id" => text(&self.resource_id),
            "name" => text(&self.name),
            "unit" => text(&self.unit),
            "status" => SqlValue::Text(self.status.clone()),
            "needs_raw_data_truncation" => SqlValue::Int(self.needs_raw_data_truncation),
            "last_measure_timestamp" => self
                .last_measure_timestamp
                .map_or(SqlValue::Null, SqlValue::Int),
            _ => SqlValue::Null,
        }
    }
}

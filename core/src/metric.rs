//! The metric as the indexer stores it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Whether a metric is live or waiting for the janitor to expunge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStatus {
    /// Visible and processed.
    Active,
    /// Deleted by a user; invisible, expunged later (shared/spec/engine.md §5.7).
    Delete,
}

/// A metric: an id, its archive policy and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric id; it also selects the sack.
    pub id: Uuid,
    /// Name of the archive policy the metric is aggregated with.
    pub archive_policy_name: String,
    /// Optional name, unique per resource.
    pub name: Option<String>,
    /// Optional unit (at most 31 characters).
    pub unit: Option<String>,
    /// The resource the metric belongs to, if any.
    pub resource_id: Option<Uuid>,
    /// `"<user>:<project>"` or the user name of whoever created it.
    pub creator: String,
    /// Live or deleted.
    pub status: MetricStatus,
    /// Whether the raw buffer must be re-cut on the next processing (engine.md §1.2).
    pub needs_raw_data_truncation: bool,
    /// Wall-clock time of the last processing, if any.
    pub last_measure_timestamp: Option<DateTime<Utc>>,
}

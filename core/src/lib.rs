//! Domain types shared by every gnocchi-rs crate: measures, archive policies, metrics, the error
//! kinds every crate reports, timestamp and timespan parsing, and the typed `gnocchi.conf` model.
//!
//! This crate does no I/O beyond reading configuration files and knows nothing of HTTP or SQL.

mod archive_policy;
pub mod config;
mod error_kind;
mod measure;
mod metric;
pub mod time;

pub use archive_policy::{
    AggregationMethod, ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, BaseMethod,
    UnknownAggregationMethod,
};
pub use error_kind::ErrorKind;
pub use measure::{Measure, NS_PER_SEC};
pub use metric::{Metric, MetricStatus};

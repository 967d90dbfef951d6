//! The storage crate's error type.

use gnocchi_core::ErrorKind;
use snafu::Snafu;

/// Errors of the engine and of the incoming and aggregate storage drivers.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub enum Error {
    /// A filesystem operation of a driver failed.
    #[snafu(display("{op} {path}"))]
    Io {
        /// What was being done (e.g. `write split`).
        op: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A database operation of a driver failed (the packed file layout keeps its objects in
    /// SQLite shard files).
    #[snafu(display("{op} {path}"))]
    Database {
        /// What was being done (e.g. `write metric`).
        op: &'static str,
        /// The database file.
        path: String,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// A driver's store has no recorded layout: `gnocchi-upgrade` has not run on it.
    #[snafu(display("{store} store at {path} is not initialised, run gnocchi-upgrade"))]
    NotInitialised {
        /// `incoming` or `storage`.
        store: &'static str,
        /// The base path or address of the store.
        path: String,
    },
    /// A driver's recorded layout configuration cannot be read.
    #[snafu(display("corrupt {store} configuration {path}"))]
    CorruptConfig {
        /// `incoming` or `storage`.
        store: &'static str,
        /// Where the configuration is recorded.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A layout parameter given to `upgrade` or found in a store is out of range.
    #[snafu(display("invalid {what} {value}: {expected}"))]
    InvalidLayout {
        /// The parameter (`sack count`, `file_subdir_len`).
        what: &'static str,
        /// The value given or found.
        value: i64,
        /// The accepted range.
        expected: &'static str,
    },
    /// A sack number is not below the store's sack count.
    #[snafu(display("sack {sack} out of range, the incoming store has {sacks} sacks"))]
    SackOutOfRange {
        /// The sack asked for.
        sack: u32,
        /// The recorded sack count.
        sacks: u32,
    },
    /// A read asked for an aggregation method the metric's archive policy does not keep
    /// (API: 404 "Aggregation method does not exist for this metric").
    #[snafu(display("aggregation method {method} does not exist for metric {metric}"))]
    AggregationMethodNotInPolicy {
        /// The metric read.
        metric: uuid::Uuid,
        /// The method asked for.
        method: gnocchi_core::AggregationMethod,
    },
    /// A read asked for a granularity the metric's archive policy does not have (API: 404
    /// "Aggregation method '<agg>' at granularity '<g>' for metric <id> does not exist").
    #[snafu(display(
        "aggregation method {method} at granularity {granularity_ns} ns for metric {metric} does not exist"
    ))]
    GranularityNotInPolicy {
        /// The metric read.
        metric: uuid::Uuid,
        /// The method asked for.
        method: gnocchi_core::AggregationMethod,
        /// The granularity asked for, in nanoseconds.
        granularity_ns: i64,
    },
    /// `resample` was given without `granularity` (API: 400 "A granularity must be specified to
    /// resample").
    #[snafu(display("a granularity must be specified to resample"))]
    ResampleWithoutGranularity,
    /// The resample period is not positive (API: 400 "Timespan must be positive").
    #[snafu(display("resample period {resample_ns} ns must be positive"))]
    NonPositiveResample {
        /// The period given, in nanoseconds.
        resample_ns: i64,
    },
    /// A calendar resample of a `rate:` method (engine.md §6.1.3, §10.2: Gnocchi answers 500; we
    /// answer 400).
    #[snafu(display("cannot resample {method} to a calendar period"))]
    CalendarRateResample {
        /// The method asked for.
        method: gnocchi_core::AggregationMethod,
    },
    /// A blocking driver task panicked or was cancelled.
    #[snafu(display("blocking {op} task failed"))]
    BlockingTask {
        /// What the task was doing.
        op: &'static str,
        /// The join error.
        source: tokio::task::JoinError,
    },
}

impl Error {
    /// The transport-neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Unavailable,
            Error::Database { .. } => ErrorKind::Unavailable,
            Error::NotInitialised { .. } => ErrorKind::Unavailable,
            Error::CorruptConfig { .. } => ErrorKind::Internal,
            Error::InvalidLayout { .. } => ErrorKind::Invalid,
            Error::SackOutOfRange { .. } => ErrorKind::Invalid,
            Error::AggregationMethodNotInPolicy { .. } => ErrorKind::NotFound,
            Error::GranularityNotInPolicy { .. } => ErrorKind::NotFound,
            Error::ResampleWithoutGranularity => ErrorKind::Invalid,
            Error::NonPositiveResample { .. } => ErrorKind::Invalid,
            Error::CalendarRateResample { .. } => ErrorKind::Invalid,
            Error::BlockingTask { .. } => ErrorKind::Internal,
        }
    }

    /// Whether metricd should retry the unit of work later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

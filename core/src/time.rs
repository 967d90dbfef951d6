//! Timestamps and timespans as Gnocchi reads and writes them: the one parser used for measure
//! timestamps, `start`/`stop` and datetime attributes (shared/spec/api.md §1.7), the timespan
//! parser (§1.8), the renderings clients read back (§1.3, engine.md §6.9) and the query-string
//! booleans (§1.6).
//!
//! Everything is integer nanoseconds since the epoch (UTC) or integer nanoseconds of duration.

mod format;
mod parse;

pub use format::{
    format_datetime, format_seconds_float, format_timespan_python, format_timestamp,
    push_python_float_repr, push_python_json_float, push_seconds_float, push_timestamp,
    python_float_repr, python_json_float,
};
pub use parse::{
    parse_bool_query, parse_python_float, parse_timespan, parse_timespan_positive, parse_timestamp,
    parse_timestamps, timestamp_kind, TimeInput, TimestampKind,
};

use snafu::Snafu;

use crate::ErrorKind;

/// Largest timestamp representable as i64 nanoseconds, as the API names it in errors.
pub const MAX_TIMESTAMP_TEXT: &str = "2262-04-11T23:47:16";

/// A value that is not a valid timestamp or timespan.
///
/// The Display texts are Gnocchi's own wording (capitalised), because the API shows them to
/// clients verbatim (shared/spec/api.md §1.7, §1.8).
#[derive(Debug, Clone, PartialEq, Eq, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum TimeError {
    /// None of the accepted timestamp forms applies (or a batch mixes forms).
    #[snafu(display("Unable to convert timestamps"))]
    UnableToConvert,
    /// The timestamp is earlier than 1970-01-01T00:00:00Z.
    #[snafu(display("Timestamp must be after Epoch"))]
    BeforeEpoch,
    /// The timestamp does not fit in i64 nanoseconds (after 2262-04-11T23:47:16Z).
    #[snafu(display("Timestamp must be before {}", MAX_TIMESTAMP_TEXT))]
    AfterMax,
    /// None of the accepted timespan forms applies.
    #[snafu(display("Unable to parse timespan"))]
    UnableToParseTimespan,
    /// The timespan is zero or negative where a positive one is required.
    #[snafu(display("Timespan must be positive"))]
    TimespanNotPositive,
}

impl TimeError {
    /// Every time error is a client input error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    /// Retrying the same input never helps.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;

//! The time-series engine (grouping, aggregation, splits, the codec) and the incoming and
//! aggregate storage traits with their drivers.
//!
//! Knows nothing of HTTP or SQL; metric metadata comes from the caller.

mod aggregate;
mod aggregates;
mod atomic;
mod calendar;
mod engine;
mod error;
mod group_sync;
mod incoming;
mod process;
mod read;

#[cfg(any(test, feature = "test-util"))]
pub use aggregate::contract as aggregate_contract;
pub use aggregate::{AggregateStorage, FileLayout, FileStorage, SplitKey, DEFAULT_SUBDIR_LEN};
pub use aggregates::{
    apply_usage_coefficient, evaluate, evaluate_draining, is_streamable, measures_json,
    merge_consecutive_timestamps, parse_operations, plan_granularities, points_json,
    AggregatesError, BinaryOp, Column, ColumnName, ColumnPolicy, EvalOptions, Fill, Filling,
    Measures, Operation, OperationError, OutputPoint, Period, ReduceBase, ReduceMethod, Reference,
    Streaming, UnaryOp,
};
pub use atomic::write_atomic;
pub use calendar::{resample_calendar, CalendarUnit};
/// Unstable engine entry points for the criterion benches only.
#[doc(hidden)]
pub use engine::bench as __bench;
pub use engine::POINTS_PER_SPLIT;
pub use error::{Error, Result};
#[cfg(any(test, feature = "test-util"))]
pub use incoming::contract as incoming_contract;
pub use incoming::{decode_batch, encode_batch, sack_name, sack_of};
pub use incoming::{FileIncoming, Incoming, PendingBatches, SackLock};
pub use incoming::{DEFAULT_SACKS, MAX_SACKS, MEASURE_BYTES};
pub use process::{process_metric, process_pending, ProcessOutcome};
pub use read::{read_measures, AggregatedPoint, MeasuresQuery, WindowReader};

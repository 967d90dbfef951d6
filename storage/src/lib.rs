//! The time-series engine (grouping, aggregation, splits, the codec) and the incoming and
//! aggregate storage traits with their drivers.
//!
//! Knows nothing of HTTP or SQL; metric metadata comes from the caller.

mod aggregate;
mod atomic;
mod engine;
mod error;
mod incoming;

pub use aggregate::{AggregateStorage, SplitKey};
pub use error::{Error, Result};
pub use incoming::{sack_of, Incoming, PendingBatches, SackLock};

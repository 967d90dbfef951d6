//! The aggregate store: one raw ("bound") series object per metric and one object per split
//! of each (method, granularity) (shared/spec/engine.md §4.1, §4.2).

#[cfg(any(test, feature = "test-util"))]
pub mod contract;
mod file;
mod packed;

use async_trait::async_trait;
use gnocchi_core::AggregationMethod;
use uuid::Uuid;

use crate::Result;

pub use file::{FileLayout, FileStorage};

/// The `file_subdir_len` `gnocchi-upgrade` records when none is given (engine.md §4.6).
pub const DEFAULT_SUBDIR_LEN: u32 = 2;

/// Names one split of one aggregated series of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SplitKey {
    /// The aggregation method of the series.
    pub method: AggregationMethod,
    /// The series' granularity in nanoseconds.
    pub granularity_ns: i64,
    /// Start of the split in nanoseconds since the epoch (a multiple of 3600 × granularity).
    pub start_ns: i64,
}

/// Where aggregates live. Objects are opaque bytes; the codec belongs to the engine.
///
/// Objects are named by (metric, split key) and (metric, "raw"); a driver may keep them as
/// files, Ceph objects or hash fields. Reads see either the previous or the new content of an
/// object, never a mix.
#[async_trait]
pub trait AggregateStorage: Send + Sync {
    /// The raw series object of `metric`, `None` before its first processing.
    async fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>>;

    /// Lists the stored split keys of one series of `metric`, ascending by start.
    async fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>>;

    /// Reads splits; a missing split is `None`.
    async fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Writes the given splits and then the raw series, as one unit of work per metric, then
    /// deletes `deleted_splits` (a key also in `splits` is written, not deleted; a missing one is
    /// ignored). Readers see each object either old or new, never torn, as soon as this returns;
    /// the writes are durable once a later [`sync`](Self::sync) returned. The caller makes a
    /// pass's acknowledgements of incoming measures durable only after that `sync`, so a power
    /// loss before it replays the measures onto whatever mix of old and new objects survived,
    /// which converges on the same aggregates.
    async fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted_splits: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()>;

    /// Removes every object of `metric` (the janitor's expunge); a metric without objects is
    /// not an error. Durable once a later [`sync`](Self::sync) returned.
    async fn delete_metric(&self, metric: Uuid) -> Result<()>;

    /// Returns once every write and delete that returned before this call is durable. Drivers
    /// whose writes are durable at return do nothing.
    async fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Health probe.
    async fn check(&self) -> Result<()>;
}

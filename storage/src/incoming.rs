//! The incoming store: measures accepted by the API (202) and not yet aggregated, grouped in
//! sacks (shared/spec/engine.md §3.1, §3.2, §4.6).

use async_trait::async_trait;
use gnocchi_core::Measure;
use uuid::Uuid;

use crate::Result;

/// `sack(metric) = uuid as big-endian u128 mod sacks` (engine.md §3.2).
pub fn sack_of(metric: Uuid, sacks: u32) -> u32 {
    (metric.as_u128() % u128::from(sacks.max(1))) as u32
}

/// Pending batches of one metric, read for processing. `token` names exactly the batches read,
/// so that `ack` deletes those and not batches appended meanwhile.
#[derive(Debug, Default)]
pub struct PendingBatches {
    /// All measures of the batches read, in no particular order.
    pub measures: Vec<Measure>,
    /// Driver-specific identification of the batches read (e.g. file names).
    pub token: Vec<String>,
}

/// An exclusive hold on one sack, across processes; released on drop.
pub struct SackLock {
    _guard: Box<dyn Send + Sync>,
}

impl SackLock {
    /// Wraps whatever keeps the lock held (a locked file, a Redis lease...).
    pub fn new(guard: Box<dyn Send + Sync>) -> Self {
        Self { _guard: guard }
    }
}

/// Where the API queues measures and metricd finds them.
#[async_trait]
pub trait Incoming: Send + Sync {
    /// The number of sacks recorded in the store.
    fn sacks(&self) -> u32;

    /// Appends one batch per metric, durably, before returning. Empty batches are skipped.
    async fn add_measures(&self, batches: &[(Uuid, Vec<Measure>)]) -> Result<()>;

    /// The metrics of `sack` that have pending batches.
    async fn metrics_with_measures(&self, sack: u32) -> Result<Vec<Uuid>>;

    /// Reads every pending batch of `metric`.
    async fn read_measures(&self, metric: Uuid) -> Result<PendingBatches>;

    /// Deletes the batches named by `pending.token` (after their aggregates are durable).
    async fn ack(&self, metric: Uuid, pending: &PendingBatches) -> Result<()>;

    /// Deletes all pending batches of a deleted metric.
    async fn delete_metric(&self, metric: Uuid) -> Result<()>;

    /// Takes the cross-process lock of `sack`, waiting for it; `None` if `wait` is false and
    /// another process holds it.
    async fn lock_sack(&self, sack: u32, wait: bool) -> Result<Option<SackLock>>;

    /// (metrics with pending measures, pending measures) over all sacks, for `/v1/status`.
    async fn backlog(&self) -> Result<(u64, u64)>;

    /// Health probe.
    async fn check(&self) -> Result<()>;
}

//! The incoming store: measures accepted by the API (202) and not yet aggregated, grouped in
//! sacks (shared/spec/engine.md §3.1, §3.2, §4.6).
//!
//! The trait speaks metrics, sacks, batches and opaque batch tokens; nothing above a driver
//! knows whether a batch is a file, an omap entry or a list element.

#[cfg(any(test, feature = "test-util"))]
pub mod contract;
mod file;

use std::time::Duration;

use async_trait::async_trait;
use gnocchi_core::Measure;
use uuid::Uuid;

use crate::Result;

pub use file::FileIncoming;

/// The sack count `gnocchi-upgrade` records when none is given (engine.md §2.1).
pub const DEFAULT_SACKS: u32 = 128;

/// The largest sack count `gnocchi-upgrade --sacks-number` accepts (engine.md §2.1).
pub const MAX_SACKS: u32 = 65_535;

/// Bytes of one encoded measure in a batch: `i64` timestamp (ns) then `f64` value, both
/// little-endian (engine.md §3.1).
pub const MEASURE_BYTES: usize = 16;

/// `sack(metric) = uuid as big-endian u128 mod sacks` (engine.md §3.2).
pub fn sack_of(metric: Uuid, sacks: u32) -> u32 {
    (metric.as_u128() % u128::from(sacks.max(1))) as u32
}

/// The name of sack `sack` of a store with `sacks` sacks, `incoming<S>-<n>` (engine.md §3.2):
/// used in storage names, lock names and logs.
pub fn sack_name(sacks: u32, sack: u32) -> String {
    format!("incoming{sacks}-{sack}")
}

/// Encodes one batch in the incoming format (engine.md §3.1): 16-byte little-endian records,
/// no header.
pub fn encode_batch(measures: &[Measure]) -> Vec<u8> {
    let mut out = Vec::with_capacity(measures.len() * MEASURE_BYTES);
    for m in measures {
        out.extend_from_slice(&m.timestamp.to_le_bytes());
        out.extend_from_slice(&m.value.to_le_bytes());
    }
    out
}

/// Decodes one batch, appending its measures to `out`; `None` (and nothing appended) when the
/// length is not a multiple of [`MEASURE_BYTES`], i.e. the batch is truncated or not a batch.
pub fn decode_batch(bytes: &[u8], out: &mut Vec<Measure>) -> Option<()> {
    let records = bytes.chunks_exact(MEASURE_BYTES);
    if !records.remainder().is_empty() {
        return None;
    }
    out.reserve(records.len());
    for rec in records {
        let (ts, value) = rec.split_at(8);
        let ts = i64::from_le_bytes(ts.try_into().expect("split_at(8) of a 16-byte record"));
        let value = f64::from_le_bytes(value.try_into().expect("the other 8 bytes"));
        out.push(Measure::new(ts, value));
    }
    Some(())
}

/// Pending batches of one metric, read for processing. `token` names exactly the batches read,
/// so that `ack` deletes those and not batches appended meanwhile.
#[derive(Debug, Default, PartialEq)]
pub struct PendingBatches {
    /// All measures of the batches read, batch after batch in arrival order where the driver
    /// knows it (the engine must not rely on any order).
    pub measures: Vec<Measure>,
    /// Driver-specific identification of the batches read (e.g. file names), one per batch.
    pub token: Vec<String>,
}

impl PendingBatches {
    /// Whether no batch was read.
    pub fn is_empty(&self) -> bool {
        self.token.is_empty()
    }
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

impl std::fmt::Debug for SackLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SackLock")
    }
}

/// Where the API queues measures and metricd finds them.
///
/// Usage by metricd (engine.md §5.4): `lock_sack(s, false)`; for each metric of
/// `metrics_with_measures(s)`, `read_measures`, process, write the aggregates, then `ack` with
/// the `PendingBatches` read; `AggregateStorage::sync`, then `commit_sack(s)` (or `abandon_sack(s)`
/// when the sync failed); drop the lock. A batch added after
/// `read_measures` survives the `ack` and is seen by the next pass. Between scans, `tidy`.
///
/// An `ack` or `delete_metric` takes effect at once for this handle, and for other processes
/// once `commit_sack` returned: acks not committed when a process dies are lost, and their
/// batches processed again.
#[async_trait]
pub trait Incoming: Send + Sync {
    /// The number of sacks recorded in the store.
    fn sacks(&self) -> u32;

    /// Appends one batch per metric, durably, before returning. Empty batches are skipped
    /// (engine.md §3.1: nothing is stored for `[]`).
    async fn add_measures(&self, batches: &[(Uuid, Vec<Measure>)]) -> Result<()>;

    /// The metrics of `sack` that have pending batches, each with its number of pending batches
    /// (engine.md §5.6 counts batches, not measures).
    async fn sack_backlog(&self, sack: u32) -> Result<Vec<(Uuid, u64)>>;

    /// The metrics of `sack` that have pending batches.
    async fn metrics_with_measures(&self, sack: u32) -> Result<Vec<Uuid>> {
        Ok(self
            .sack_backlog(sack)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect())
    }

    /// Reads every pending batch of `metric`.
    async fn read_measures(&self, metric: Uuid) -> Result<PendingBatches>;

    /// Deletes the batches named by `pending.token` (after their aggregates are durable).
    /// Batches added since `pending` was read stay.
    async fn ack(&self, metric: Uuid, pending: &PendingBatches) -> Result<()>;

    /// Deletes all pending batches of a deleted metric. The caller holds the metric's sack and
    /// commits it.
    async fn delete_metric(&self, metric: Uuid) -> Result<()>;

    /// Makes this handle's acks and deletions in `sack` visible to every process, and only then
    /// deletes anything: the caller commits once the aggregates the acks stand for are durable
    /// (`AggregateStorage::sync`). The caller holds the sack lock.
    async fn commit_sack(&self, _sack: u32) -> Result<()> {
        Ok(())
    }

    /// Forgets this handle's acks and deletions in `sack` not yet committed: their batches are
    /// pending again, for this handle too. The caller holds the sack lock and calls this when
    /// the aggregates could not be made durable.
    fn abandon_sack(&self, _sack: u32) {}

    /// Reclaims the space of batches every process has seen acknowledged; returns how many
    /// storage objects were removed. Needs no lock; metricd calls it between scans.
    async fn tidy(&self) -> Result<usize> {
        Ok(0)
    }

    /// Takes the cross-process lock of `sack`, waiting for it; `None` if `wait` is false and
    /// another holder (process, or another call in this process) has it.
    async fn lock_sack(&self, sack: u32, wait: bool) -> Result<Option<SackLock>>;

    /// Takes the lock of `sack`, waiting at most `timeout` (the API's refresh, engine.md §5.5);
    /// `None` when it is still held by then. The default polls `lock_sack(sack, false)` with a
    /// growing pause, so no thread blocks on a lock it may never get.
    async fn lock_sack_timeout(&self, sack: u32, timeout: Duration) -> Result<Option<SackLock>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(lock) = self.lock_sack(sack, false).await? {
                return Ok(Some(lock));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Every metric with pending batches and its batch count, over all sacks
    /// (`measures_to_process` of `/v1/status`, engine.md §5.6).
    async fn measures_to_process(&self) -> Result<Vec<(Uuid, u64)>> {
        let mut out = Vec::new();
        for sack in 0..self.sacks() {
            out.extend(self.sack_backlog(sack).await?);
        }
        Ok(out)
    }

    /// (metrics with pending batches, pending batches) over all sacks, for `/v1/status`
    /// (engine.md §5.6).
    async fn backlog(&self) -> Result<(u64, u64)> {
        let all = self.measures_to_process().await?;
        Ok((all.len() as u64, all.iter().map(|(_, n)| n).sum()))
    }

    /// Health probe.
    async fn check(&self) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sack_of_reads_the_uuid_as_a_big_endian_integer() {
        let m = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0105);
        assert_eq!(sack_of(m, 128), 0x105 % 128);
        assert_eq!(sack_of(m, 1), 0);
        let m = Uuid::parse_str("ffffffff-ffff-ffff-ffff-ffffffffffff").unwrap();
        assert_eq!(sack_of(m, 128), 127);
        assert_eq!(sack_name(128, 5), "incoming128-5");
    }

    #[test]
    fn batch_codec_round_trips_and_rejects_truncation() {
        let ms = vec![Measure::new(-5, 1.5), Measure::new(i64::MAX, f64::NAN)];
        let bytes = encode_batch(&ms);
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[..8], &(-5i64).to_le_bytes());
        let mut out = Vec::new();
        decode_batch(&bytes, &mut out).unwrap();
        assert_eq!(out[0], ms[0]);
        assert_eq!(out[1].timestamp, i64::MAX);
        assert!(out[1].value.is_nan());
        assert!(decode_batch(&bytes[..31], &mut out).is_none());
        assert_eq!(out.len(), 2);
    }
}

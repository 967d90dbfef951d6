//! Reading one metric's series at one granularity a few splits at a time, for evaluations that
//! walk a long window in time order instead of holding it whole (engine.md §6.4.1). Each slice
//! gives exactly the points the same window read whole by [`crate::read_measures`] would give
//! within those splits.

use gnocchi_core::{AggregationMethod, ArchivePolicy};
use snafu::ResultExt;
use uuid::Uuid;

use crate::engine::{decode_split, floor_to};
use crate::error::{BlockingTaskSnafu, GranularityNotInPolicySnafu};
use crate::{AggregateStorage, AggregatedPoint, Result, SplitKey};

/// Encoded bytes decoded on the calling task rather than on the blocking pool, at most.
pub(super) const INLINE_DECODE_BYTES: usize = 64 << 10;

/// The splits of one (metric, method, granularity) series that overlap a window.
#[derive(Debug, Clone)]
pub struct WindowReader {
    metric: Uuid,
    granularity_ns: i64,
    timespan_ns: Option<i64>,
    start_ns: Option<i64>,
    stop_ns: Option<i64>,
    keys: Vec<SplitKey>,
    /// Points at or before this are outside the timespan (engine.md §3.7), as a whole read
    /// truncates them relative to the window's last point.
    cutoff_ns: Option<i64>,
}

impl WindowReader {
    /// Lists the splits of `metric`'s `method` series at `granularity_ns` that overlap
    /// `[start_ns, stop_ns)`; nothing is read yet.
    pub async fn open(
        storage: &dyn AggregateStorage,
        policy: &ArchivePolicy,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
        start_ns: Option<i64>,
        stop_ns: Option<i64>,
    ) -> Result<WindowReader> {
        let g = granularity_ns;
        let item = policy
            .definition
            .iter()
            .find(|d| d.granularity_ns == g)
            .ok_or_else(|| {
                GranularityNotInPolicySnafu {
                    metric,
                    method,
                    granularity_ns: g,
                }
                .build()
            })?;
        let keys = super::window_keys(storage, metric, method, g, start_ns, stop_ns).await?;
        Ok(WindowReader {
            metric,
            granularity_ns: g,
            timespan_ns: item.timespan_ns(),
            start_ns,
            stop_ns,
            keys,
            cutoff_ns: None,
        })
    }

    /// The starts of the splits in the window, ascending.
    pub fn split_starts(&self) -> impl Iterator<Item = i64> + '_ {
        self.keys.iter().map(|k| k.start_ns)
    }

    /// Finds the timespan cutoff from the window's last non-empty split; call once before
    /// [`WindowReader::read`] when the window will be read in several slices.
    pub async fn load_cutoff(&mut self, storage: &dyn AggregateStorage) -> Result<()> {
        let Some(timespan) = self.timespan_ns else {
            return Ok(());
        };
        for key in self.keys.iter().rev() {
            let bytes = storage.read_splits(self.metric, &[*key]).await?;
            let last = bytes
                .into_iter()
                .flatten()
                .next()
                .and_then(|b| decode_split(&b, key.start_ns, self.granularity_ns))
                .and_then(|s| s.last_ts());
            if let Some(last) = last {
                self.cutoff_ns = Some(last.saturating_sub(timespan));
                return Ok(());
            }
        }
        Ok(())
    }

    /// The points of the splits starting in `[from_ns, to_ns]`, ascending, cut to the window
    /// and (after [`WindowReader::load_cutoff`]) to the timespan.
    pub async fn read(
        &self,
        storage: &dyn AggregateStorage,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<AggregatedPoint>> {
        let keys: Vec<SplitKey> = self
            .keys
            .iter()
            .filter(|k| (from_ns..=to_ns).contains(&k.start_ns))
            .copied()
            .collect();
        let lo = self.start_ns.map(|t| floor_to(t, self.granularity_ns));
        let lo = match (lo, self.cutoff_ns) {
            // Only points after the cutoff stay: cutoff + 1 at the earliest.
            (Some(lo), Some(c)) => Some(lo.max(c.saturating_add(1))),
            (None, Some(c)) => Some(c.saturating_add(1)),
            (lo, None) => lo,
        };
        self.decoded(storage, keys, None, lo).await
    }

    /// Every point of the window, truncated to the timespan from its last point: what
    /// [`crate::read_measures`] gives for the same window.
    pub async fn read_whole(&self, storage: &dyn AggregateStorage) -> Result<Vec<AggregatedPoint>> {
        let lo = self.start_ns.map(|t| floor_to(t, self.granularity_ns));
        self.decoded(storage, self.keys.clone(), self.timespan_ns, lo)
            .await
    }

    /// The splits `keys`, decoded off the async runtime, concatenated, truncated to `timespan`
    /// from their last point when given, and cut to `[lo, stop)`.
    async fn decoded(
        &self,
        storage: &dyn AggregateStorage,
        keys: Vec<SplitKey>,
        timespan: Option<i64>,
        lo: Option<i64>,
    ) -> Result<Vec<AggregatedPoint>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = storage.read_splits(self.metric, &keys).await?;
        let total: usize = bytes.iter().flatten().map(Vec::len).sum();
        let (metric, g, stop) = (self.metric, self.granularity_ns, self.stop_ns);
        let decode = move || {
            let mut s = super::concat_splits(metric, g, &keys, bytes);
            s.truncate_to_timespan(timespan);
            s.retain_range(lo, stop);
            s.ts.iter()
                .zip(&s.values)
                .map(|(&timestamp_ns, &value)| AggregatedPoint {
                    timestamp_ns,
                    granularity_ns: g,
                    value,
                })
                .collect()
        };
        // A few splits decode in microseconds: less than handing them to another thread.
        if total <= INLINE_DECODE_BYTES {
            return Ok(decode());
        }
        tokio::task::spawn_blocking(decode)
            .await
            .context(BlockingTaskSnafu {
                op: "read a window of splits",
            })
    }
}

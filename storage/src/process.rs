//! Processing one metric (shared/spec/engine.md §3.3): merge new measures into the raw ("bound")
//! series, recompute the touched buckets of every (granularity, method), merge them into the
//! stored splits, delete splits out of the timespan window (§4.5) and store everything in one
//! `write_metric` call.

use std::collections::BTreeMap;

use gnocchi_core::{AggregationMethod, ArchivePolicy, Measure};
use snafu::ResultExt;
use tracing::warn;
use uuid::Uuid;

use crate::engine::{
    aggregate, aggregate_rate, cmp_nan_last, decode_raw, decode_split, encode_raw, encode_split,
    floor_to, group, split_key, Op, Series,
};
use crate::error::BlockingTaskSnafu;
use crate::{AggregateStorage, Incoming, Result, SplitKey};

/// What one processing pass of one metric did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// The newest measure timestamp (ns) of the batch, kept or not: the resource "restore" side
    /// effect compares it with `ended_at` (engine.md §3.3 step 8). `None` for an empty batch.
    pub newest_measure_ns: Option<i64>,
    /// Measures received in the batch, duplicates included.
    pub measures: usize,
    /// Measures dropped because they were older than the back window (engine.md §1.3).
    pub dropped_late: usize,
    /// Split objects written.
    pub splits_written: usize,
    /// Split objects deleted because they fell out of the timespan window.
    pub splits_deleted: usize,
}

/// Processes `new` measures of `metric` (policy `policy`) as one pass of engine.md §3.3 and
/// durably stores the result with a single [`AggregateStorage::write_metric`] call.
///
/// An empty batch does nothing. An undecodable raw series or split is logged and treated as
/// empty (engine.md §4.3).
pub async fn process_metric(
    storage: &dyn AggregateStorage,
    policy: &ArchivePolicy,
    metric: Uuid,
    new: Vec<Measure>,
) -> Result<ProcessOutcome> {
    if new.is_empty() {
        return Ok(ProcessOutcome::default());
    }
    let raw = storage.read_raw(metric).await?;
    let policy_c = policy.clone();
    let computed = tokio::task::spawn_blocking(move || compute(&policy_c, metric, raw, new))
        .await
        .context(BlockingTaskSnafu {
            op: "aggregate metric",
        })?;

    // Fetch what the merge needs: the stored splits touched, and the split lists of the series
    // whose raw cutoff moved into a new split (deletion candidates).
    let mut keys: Vec<SplitKey> = Vec::new();
    for s in &computed.series {
        let mut last = None;
        for &t in &s.series.ts {
            let k = split_key(t, s.granularity_ns);
            if last != Some(k) {
                keys.push(SplitKey {
                    method: s.method,
                    granularity_ns: s.granularity_ns,
                    start_ns: k,
                });
                last = Some(k);
            }
        }
    }
    let stored = if keys.is_empty() {
        Vec::new()
    } else {
        storage.read_splits(metric, &keys).await?
    };
    let mut deleted = Vec::new();
    for d in &computed.deletions {
        let listed = storage
            .list_splits(metric, d.method, d.granularity_ns)
            .await?;
        deleted.extend(listed.into_iter().filter(|k| k.start_ns < d.before_key));
    }

    let Computed {
        series,
        raw,
        mut outcome,
        ..
    } = computed;
    let splits = tokio::task::spawn_blocking(move || merge_splits(metric, series, keys, stored))
        .await
        .context(BlockingTaskSnafu { op: "merge splits" })?;
    outcome.splits_written = splits.len();
    outcome.splits_deleted = deleted.len();
    storage.write_metric(metric, splits, deleted, raw).await?;
    Ok(outcome)
}

/// Reads the pending batches of `metric`, processes them, and acknowledges them once the result
/// is durable. The caller holds the metric's sack lock. `None` when nothing was pending (empty
/// batches are acknowledged and skipped, engine.md §3.1).
pub async fn process_pending(
    incoming: &dyn Incoming,
    storage: &dyn AggregateStorage,
    policy: &ArchivePolicy,
    metric: Uuid,
) -> Result<Option<ProcessOutcome>> {
    let mut pending = incoming.read_measures(metric).await?;
    if pending.token.is_empty() {
        return Ok(None);
    }
    let measures = std::mem::take(&mut pending.measures);
    let outcome = if measures.is_empty() {
        None
    } else {
        Some(process_metric(storage, policy, metric, measures).await?)
    };
    incoming.ack(metric, &pending).await?;
    Ok(outcome)
}

/// One freshly recomputed and truncated series.
struct NewSeries {
    method: AggregationMethod,
    granularity_ns: i64,
    series: Series,
}

/// Splits of one series older than `before_key` are to be deleted (engine.md §4.5).
struct Deletion {
    method: AggregationMethod,
    granularity_ns: i64,
    before_key: i64,
}

struct Computed {
    series: Vec<NewSeries>,
    deletions: Vec<Deletion>,
    raw: Vec<u8>,
    outcome: ProcessOutcome,
}

/// The CPU part of engine.md §3.3 steps 1–6 (pure).
fn compute(
    policy: &ArchivePolicy,
    metric: Uuid,
    raw: Option<Vec<u8>>,
    mut new: Vec<Measure>,
) -> Computed {
    let mut outcome = ProcessOutcome {
        measures: new.len(),
        ..ProcessOutcome::default()
    };
    let raw = match raw.as_deref().map(decode_raw) {
        None => Series::default(),
        Some(Some(s)) => s,
        Some(None) => {
            warn!(metric_id = %metric, "Undecodable raw series replaced by an empty one.");
            Series::default()
        }
    };

    // Step 1: sort by timestamp then value (NaN last); the first of equal timestamps, the
    // smallest value, wins inside the pass.
    new.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then(cmp_nan_last(a.value, b.value))
    });
    new.dedup_by_key(|m| m.timestamp);
    let first_new = new.first().map(|m| m.timestamp);
    outcome.newest_measure_ns = new.last().map(|m| m.timestamp);

    let block = policy.max_block_size_ns();
    let bw = i64::try_from(policy.effective_back_window()).unwrap_or(i64::MAX);
    let cutoff_of = |last: i64| {
        if block > 0 {
            floor_to(last, block).saturating_sub(block.saturating_mul(bw))
        } else {
            i64::MIN
        }
    };

    // Step 3: the late-measure filter uses the raw series before the merge.
    let old_cutoff = raw.last_ts().map(cutoff_of);
    if let Some(c) = old_cutoff {
        let before = new.len();
        new.retain(|m| m.timestamp >= c);
        outcome.dropped_late = before - new.len();
    }
    let mut batch = Series::with_capacity(new.len());
    for m in &new {
        batch.push(m.timestamp, m.value);
    }

    // Step 4: the pass's values win over the raw buffer's.
    let mut merged = raw.merge(&batch);
    let (Some(merged_first), Some(merged_last)) = (merged.first_ts(), merged.last_ts()) else {
        return Computed {
            series: Vec::new(),
            deletions: Vec::new(),
            raw: encode_raw(&merged),
            outcome,
        };
    };
    let t0 = first_new.map_or(merged_first, |f| f.max(merged_first));
    let new_cutoff = cutoff_of(merged_last);

    // Step 5: recompute from start_g, per granularity and method.
    let ops: Vec<(AggregationMethod, Op)> = policy
        .aggregation_methods
        .iter()
        .map(|&m| (m, Op::of(m)))
        .collect();
    let mut series = Vec::new();
    let mut deletions = Vec::new();
    for item in &policy.definition {
        let g = item.granularity_ns;
        if g <= 0 {
            continue;
        }
        let timespan = item.timespan_ns();
        let start_g = floor_to(t0, g);
        let idx = merged.lower_bound(start_g);
        let groups = group(&merged.ts[idx..], g);
        let moved = old_cutoff.is_some_and(|old| split_key(old, g) != split_key(new_cutoff, g));
        for &(method, op) in &ops {
            let mut s = if method.rate {
                aggregate_rate(&merged, g, start_g, op)
            } else {
                aggregate(&groups, &merged.values[idx..], op)
            };
            s.truncate_to_timespan(timespan);
            let Some(last) = s.last_ts() else { continue };
            if let (true, Some(t)) = (moved, timespan) {
                deletions.push(Deletion {
                    method,
                    granularity_ns: g,
                    before_key: split_key(last.saturating_sub(t), g),
                });
            }
            series.push(NewSeries {
                method,
                granularity_ns: g,
                series: s,
            });
        }
    }

    // Step 6: keep the raw points from the new cutoff on.
    let keep_from = merged.lower_bound(new_cutoff);
    merged.drain_front(keep_from);
    Computed {
        series,
        deletions,
        raw: encode_raw(&merged),
        outcome,
    }
}

/// Merges each new series into its stored splits (new values win) and encodes them. `keys` and
/// `stored` are the splits touched, in the order the series produce them.
fn merge_splits(
    metric: Uuid,
    series: Vec<NewSeries>,
    keys: Vec<SplitKey>,
    stored: Vec<Option<Vec<u8>>>,
) -> Vec<(SplitKey, Vec<u8>)> {
    let mut stored_by_key: BTreeMap<SplitKey, Vec<u8>> = keys
        .into_iter()
        .zip(stored)
        .filter_map(|(k, b)| b.map(|b| (k, b)))
        .collect();
    let mut out = Vec::new();
    for ns in series {
        let g = ns.granularity_ns;
        let s = &ns.series;
        let mut i = 0;
        while i < s.len() {
            let k = split_key(s.ts[i], g);
            let end = i + s.ts[i..].partition_point(|&t| split_key(t, g) == k);
            let part = Series {
                ts: s.ts[i..end].to_vec(),
                values: s.values[i..end].to_vec(),
            };
            let key = SplitKey {
                method: ns.method,
                granularity_ns: g,
                start_ns: k,
            };
            let merged = match stored_by_key.remove(&key) {
                None => part,
                Some(bytes) => match decode_split(&bytes, k, g) {
                    Some(old) => old.merge(&part),
                    None => {
                        warn!(metric_id = %metric, method = %ns.method, granularity_ns = g,
                            split_key_ns = k, "Undecodable split treated as empty.");
                        part
                    }
                },
            };
            out.push((key, encode_split(k, g, &merged)));
            i = end;
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod memory;
#[cfg(test)]
mod tests;

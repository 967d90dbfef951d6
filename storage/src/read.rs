//! Reading one metric's aggregates: `GET /v1/metric/{id}/measures` (shared/spec/engine.md §6.1,
//! api.md §6.7): select splits by range, concatenate, truncate to the current timespan (§3.7),
//! optionally resample to a fixed period (§6.1.2), then filter by `start`/`stop`.

use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem};
use snafu::{ensure, ResultExt};
use tracing::warn;
use uuid::Uuid;

use crate::engine::{decode_split, floor_to, resample, split_key, Series};
use crate::error::{
    AggregationMethodNotInPolicySnafu, BlockingTaskSnafu, GranularityNotInPolicySnafu,
    NonPositiveResampleSnafu, ResampleWithoutGranularitySnafu,
};
use crate::{AggregateStorage, Result, SplitKey};

/// The parameters of a single-metric read that change numbers (api.md §6.7), validated by the
/// API; calendar resampling is not handled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasuresQuery {
    /// The aggregation method (API default `mean`).
    pub method: AggregationMethod,
    /// One granularity of the policy (ns); `None` reads all of them, coarsest first.
    pub granularity_ns: Option<i64>,
    /// Inclusive start (ns), rounded down to the granularity (or resample period).
    pub start_ns: Option<i64>,
    /// Exclusive stop (ns) on bucket timestamps, not rounded.
    pub stop_ns: Option<i64>,
    /// Fixed resample period (ns); requires `granularity_ns`.
    pub resample_ns: Option<i64>,
}

impl MeasuresQuery {
    /// A query of every granularity of `method`, unbounded, without resampling.
    pub fn new(method: AggregationMethod) -> Self {
        Self {
            method,
            granularity_ns: None,
            start_ns: None,
            stop_ns: None,
            resample_ns: None,
        }
    }
}

/// One returned bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregatedPoint {
    /// Bucket start, ns since the epoch.
    pub timestamp_ns: i64,
    /// The bucket's width: the granularity, or the resample period (ns).
    pub granularity_ns: i64,
    /// The aggregate (may be NaN or ±inf, engine.md §3.9).
    pub value: f64,
}

/// Reads `metric`'s aggregates for `query`, grouped by granularity descending and ascending in
/// time within one (api.md §6.7). A metric never processed reads as `[]`.
///
/// Errors, in the API's order of checks: [`crate::Error::ResampleWithoutGranularity`],
/// [`crate::Error::NonPositiveResample`], [`crate::Error::AggregationMethodNotInPolicy`],
/// [`crate::Error::GranularityNotInPolicy`].
pub async fn read_measures(
    storage: &dyn AggregateStorage,
    policy: &ArchivePolicy,
    metric: Uuid,
    query: &MeasuresQuery,
) -> Result<Vec<AggregatedPoint>> {
    let items = select(policy, metric, query)?;
    let mut jobs = Vec::with_capacity(items.len());
    for item in items {
        let g = item.granularity_ns;
        let keys = window_keys(
            storage,
            metric,
            query.method,
            g,
            query.start_ns,
            query.stop_ns,
        )
        .await?;
        let bytes = if keys.is_empty() {
            Vec::new()
        } else {
            storage.read_splits(metric, &keys).await?
        };
        jobs.push((item, keys, bytes));
    }
    let query = *query;
    let total: usize = jobs
        .iter()
        .flat_map(|(_, _, bytes)| bytes.iter().flatten())
        .map(Vec::len)
        .sum();
    let decode = move || {
        let mut out = Vec::new();
        for (item, keys, bytes) in jobs {
            render(metric, &query, item, &keys, bytes, &mut out);
        }
        out
    };
    // A few splits decode in microseconds: less than handing them to another thread.
    if total <= window::INLINE_DECODE_BYTES {
        return Ok(decode());
    }
    tokio::task::spawn_blocking(decode)
        .await
        .context(BlockingTaskSnafu {
            op: "read measures",
        })
}

/// The keys of `metric`'s `method` splits at `g` that overlap `[start_ns, stop_ns)`, ascending.
async fn window_keys(
    storage: &dyn AggregateStorage,
    metric: Uuid,
    method: AggregationMethod,
    g: i64,
    start_ns: Option<i64>,
    stop_ns: Option<i64>,
) -> Result<Vec<SplitKey>> {
    let lo = start_ns.map(|s| split_key(s, g));
    let hi = stop_ns.map(|s| split_key(s, g));
    let mut keys: Vec<SplitKey> = storage
        .list_splits(metric, method, g)
        .await?
        .into_iter()
        .filter(|k| lo.is_none_or(|lo| k.start_ns >= lo) && hi.is_none_or(|hi| k.start_ns <= hi))
        .collect();
    keys.sort_unstable();
    Ok(keys)
}

/// The splits `keys` (ascending) of granularity `g`, decoded and concatenated; a missing split
/// is skipped and an undecodable one is logged and read as empty.
fn concat_splits(metric: Uuid, g: i64, keys: &[SplitKey], bytes: Vec<Option<Vec<u8>>>) -> Series {
    let mut s = Series::default();
    for (key, b) in keys.iter().zip(bytes) {
        let Some(b) = b else { continue };
        let Some(part) = decode_split(&b, key.start_ns, g) else {
            warn!(metric_id = %metric, method = %key.method, granularity_ns = g,
                split_key_ns = key.start_ns, "Undecodable split read as empty.");
            continue;
        };
        if s.last_ts()
            .is_none_or(|l| part.first_ts().is_none_or(|f| f > l))
        {
            s.ts.extend_from_slice(&part.ts);
            s.values.extend_from_slice(&part.values);
        } else {
            s = s.merge(&part);
        }
    }
    s
}

/// Validates the query against the policy and returns the items to read, coarsest first.
fn select(
    policy: &ArchivePolicy,
    metric: Uuid,
    query: &MeasuresQuery,
) -> Result<Vec<ArchivePolicyItem>> {
    if let Some(r) = query.resample_ns {
        ensure!(
            query.granularity_ns.is_some(),
            ResampleWithoutGranularitySnafu
        );
        ensure!(r > 0, NonPositiveResampleSnafu { resample_ns: r });
    }
    ensure!(
        policy.aggregation_methods.contains(&query.method),
        AggregationMethodNotInPolicySnafu {
            metric,
            method: query.method
        }
    );
    let mut items: Vec<ArchivePolicyItem> = match query.granularity_ns {
        Some(g) => {
            let item = policy
                .definition
                .iter()
                .find(|d| d.granularity_ns == g)
                .copied();
            vec![item.ok_or_else(|| {
                GranularityNotInPolicySnafu {
                    metric,
                    method: query.method,
                    granularity_ns: g,
                }
                .build()
            })?]
        }
        None => policy.definition.clone(),
    };
    items.retain(|d| d.granularity_ns > 0);
    items.sort_by_key(|d| std::cmp::Reverse(d.granularity_ns));
    Ok(items)
}

/// The CPU part of one granularity's read (engine.md §6.1): decode, concatenate, truncate,
/// resample, filter, emit.
fn render(
    metric: Uuid,
    query: &MeasuresQuery,
    item: ArchivePolicyItem,
    keys: &[SplitKey],
    bytes: Vec<Option<Vec<u8>>>,
    out: &mut Vec<AggregatedPoint>,
) {
    let g = item.granularity_ns;
    let mut s = concat_splits(metric, g, keys, bytes);
    s.truncate_to_timespan(item.timespan_ns());
    let label = match query.resample_ns {
        Some(r) => {
            s = resample(&s, r, query.method);
            r
        }
        None => g,
    };
    s.retain_range(query.start_ns.map(|t| floor_to(t, label)), query.stop_ns);
    out.extend(
        s.ts.iter()
            .zip(&s.values)
            .map(|(&timestamp_ns, &value)| AggregatedPoint {
                timestamp_ns,
                granularity_ns: label,
                value,
            }),
    );
}

mod window;

pub use window::WindowReader;

#[cfg(test)]
mod tests;

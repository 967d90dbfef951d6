//! Reading the stored series of the columns of an evaluation (engine.md §6.4.1): one
//! [`read_measures`] per (column, planned granularity).

use gnocchi_core::{AggregationMethod, ArchivePolicy};
use gnocchi_storage::{read_measures, AggregatedPoint, MeasuresQuery};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// Every point of `metric`'s `method` series at each of `granularities`, cut to
/// `start_ns`/`stop_ns` (a metric never processed reads as `[]`).
pub(crate) async fn points(
    state: &AppState,
    metric: Uuid,
    policy: &ArchivePolicy,
    method: AggregationMethod,
    granularities: &[i64],
    start_ns: Option<i64>,
    stop_ns: Option<i64>,
) -> Result<Vec<AggregatedPoint>, ApiError> {
    let mut out = Vec::new();
    for &g in granularities {
        let query = MeasuresQuery {
            method,
            granularity_ns: Some(g),
            start_ns,
            stop_ns,
            resample_ns: None,
        };
        out.extend(read_measures(state.storage.as_ref(), policy, metric, &query).await?);
    }
    Ok(out)
}

/// The method of a planned reference (planning has checked it is a method name).
pub(crate) fn method(aggregation: &str) -> Result<AggregationMethod, ApiError> {
    aggregation.parse().map_err(|_| {
        ApiError::internal(format!(
            "planned aggregation {aggregation} is not a method name"
        ))
    })
}

/// How many series one request reads at once.
const READ_CONCURRENCY: usize = 8;

/// One series to read.
pub(crate) struct Read<'a> {
    /// The metric.
    pub(crate) metric: Uuid,
    /// Its archive policy.
    pub(crate) policy: &'a ArchivePolicy,
    /// The aggregation method.
    pub(crate) method: AggregationMethod,
}

/// [`points`] of each read, in order, a bounded number at a time.
pub(crate) async fn points_of_all(
    state: &AppState,
    reads: Vec<Read<'_>>,
    granularities: &[i64],
    start_ns: Option<i64>,
    stop_ns: Option<i64>,
) -> Result<Vec<Vec<AggregatedPoint>>, ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    futures_util::stream::iter(reads.into_iter().map(|r| {
        points(
            state,
            r.metric,
            r.policy,
            r.method,
            granularities,
            start_ns,
            stop_ns,
        )
    }))
    .buffered(READ_CONCURRENCY)
    .try_collect()
    .await
}

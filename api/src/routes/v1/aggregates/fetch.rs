//! Reading the stored series of the columns of an evaluation (engine.md §6.4.1): one
//! [`read_measures`] per (column, planned granularity), one granularity at a time, so that only
//! one granularity's points are in memory while the tree is evaluated over them.

use gnocchi_core::{AggregationMethod, ArchivePolicy};
use gnocchi_storage::{
    read_measures, AggregatedPoint, AggregatesError, Column, ColumnName, Filling, Measures,
    MeasuresQuery, Operation, Reference,
};
use uuid::Uuid;

use super::params::Window;
use super::{options, run};
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
#[derive(Clone, Copy)]
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

/// One column to read and evaluate: where its series is and how the output names it.
pub(crate) struct ColumnRead<'a> {
    /// The series.
    pub(crate) read: Read<'a>,
    /// The reference as written in the operations.
    pub(crate) reference: Reference,
    /// The column's output name.
    pub(crate) name: ColumnName,
}

/// Reads and evaluates `operation` one planned granularity at a time, coarsest first, and
/// concatenates the results (each granularity is evaluated on its own anyway, engine.md
/// §6.4.4). The first failing granularity's error is the answer. Gives back the columns, without
/// points, for rendering.
pub(crate) async fn evaluate_by_granularity(
    state: &AppState,
    operation: &Operation,
    columns: Vec<ColumnRead<'_>>,
    granularities: &[i64],
    window: &Window,
    filling: Filling,
) -> Result<(Result<Measures, AggregatesError>, Vec<Column>), ApiError> {
    let (reads, mut named): (Vec<Read<'_>>, Vec<Column>) = columns
        .into_iter()
        .map(|c| {
            let column = Column {
                reference: c.reference,
                name: c.name,
                points: Vec::new(),
            };
            (c.read, column)
        })
        .unzip();
    let mut order = granularities.to_vec();
    order.sort_unstable_by(|a, b| b.cmp(a));
    order.dedup();
    if order.is_empty() {
        // Still evaluate, for the output shape of the tree.
        return run(operation.clone(), named, options(window, order, filling)).await;
    }
    let mut total: Option<Measures> = None;
    for g in order {
        let points =
            points_of_all(state, reads.clone(), &[g], window.start_ns, window.stop_ns).await?;
        for (column, p) in named.iter_mut().zip(points) {
            column.points = p;
        }
        let (measures, mut back) =
            run(operation.clone(), named, options(window, vec![g], filling)).await?;
        back.iter_mut().for_each(|c| c.points = Vec::new());
        named = back;
        match measures {
            Err(e) => return Ok((Err(e), named)),
            Ok(m) => match total.as_mut() {
                None => total = Some(m),
                Some(t) => t.append(m),
            },
        }
    }
    Ok((
        Ok(total.expect("at least one granularity was evaluated")),
        named,
    ))
}

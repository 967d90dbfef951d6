//! Reading the stored series of the columns of an evaluation (engine.md §6.4.1), one planned
//! granularity at a time. A long window of a tree that allows it is walked a few splits of every
//! column at a time (`gnocchi_storage::Streaming`), so memory is bounded by the slice, not by the
//! window.

use gnocchi_core::{AggregationMethod, ArchivePolicy};
use gnocchi_storage::{
    is_streamable, AggregatedPoint, AggregatesError, Column, ColumnName, Filling, Measures,
    Operation, Reference, Streaming, WindowReader, POINTS_PER_SPLIT,
};
use uuid::Uuid;

use super::params::Window;
use super::{options, run};
use crate::error::ApiError;
use crate::AppState;

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
    let streamable = is_streamable(operation, filling);
    let mut total: Option<Measures> = None;
    for g in order {
        let (measures, back) = evaluate_granularity(
            state, operation, &reads, named, g, window, filling, streamable,
        )
        .await?;
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

/// Evaluates `operation` at granularity `g`. A window longer than one slice of every column is
/// walked in time order, a few splits of every column at a time, when the tree allows it
/// (`is_streamable`); otherwise it is read whole.
#[allow(clippy::too_many_arguments)]
async fn evaluate_granularity(
    state: &AppState,
    operation: &Operation,
    reads: &[Read<'_>],
    mut named: Vec<Column>,
    g: i64,
    window: &Window,
    filling: Filling,
    streamable: bool,
) -> Result<(Result<Measures, AggregatesError>, Vec<Column>), ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    let storage = state.storage.as_ref();
    let mut readers: Vec<WindowReader> = futures_util::stream::iter(reads.iter().map(|r| {
        WindowReader::open(
            storage,
            r.policy,
            r.metric,
            r.method,
            g,
            window.start_ns,
            window.stop_ns,
        )
    }))
    .buffered(READ_CONCURRENCY)
    .try_collect()
    .await?;
    let mut starts: Vec<i64> = readers
        .iter()
        .flat_map(WindowReader::split_starts)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let splits_per_slice = (state.settings.aggregates_slice_points
        / (readers.len().max(1) * POINTS_PER_SPLIT as usize))
        .max(1);
    let options = options(window, vec![g], filling);

    if !streamable || starts.len() <= splits_per_slice {
        let points: Vec<Vec<AggregatedPoint>> =
            futures_util::stream::iter(readers.iter().map(|r| r.read_whole(storage)))
                .buffered(READ_CONCURRENCY)
                .try_collect()
                .await?;
        for (column, p) in named.iter_mut().zip(points) {
            column.points = p;
        }
        let (measures, mut back) = run(operation.clone(), named, options).await?;
        back.iter_mut().for_each(|c| c.points = Vec::new());
        return Ok((measures, back));
    }

    futures_util::stream::iter(readers.iter_mut().map(|r| r.load_cutoff(storage)))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    let keys = named.iter().map(|c| c.reference.clone()).collect();
    let mut streaming = Streaming::new(operation.clone(), keys, g, options);
    for slice in starts.chunks(splits_per_slice) {
        let (from, to) = (slice[0], slice[slice.len() - 1]);
        let points: Vec<Vec<AggregatedPoint>> =
            futures_util::stream::iter(readers.iter().map(|r| r.read(storage, from, to)))
                .buffered(READ_CONCURRENCY)
                .try_collect()
                .await?;
        for (column, p) in named.iter_mut().zip(points) {
            column.points = p;
        }
        (streaming, named) = tokio::task::spawn_blocking(move || {
            streaming.push(&mut named);
            (streaming, named)
        })
        .await
        .map_err(|e| ApiError::internal(format!("aggregates evaluation task failed: {e}")))?;
    }
    named.iter_mut().for_each(|c| c.points = Vec::new());
    Ok((streaming.finish(), named))
}

//! The `/v1/aggregates` engine (shared/spec/engine.md §6.2–§6.5, §6.7): the operations language
//! (JSON tree or S-expression string) parsed into an [`Operation`], the granularity planning of
//! the references, and the evaluation of the tree over already-fetched series (alignment on a
//! per-granularity grid, `fill`, `needed_overlap`, every operation), down to the output shapes and
//! their JSON text.
//!
//! Pure code: no I/O, no HTTP. The API resolves references to metrics, fetches each column's
//! series with [`crate::read_measures`], calls [`plan_granularities`] and [`evaluate`], and maps
//! [`OperationError`] / [`AggregatesError`] to Gnocchi's messages (api.md §11.1).

mod align;
mod eval;
mod history;
mod operation;
mod ops;
mod parse;
mod render;
mod stream;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

use gnocchi_core::{AggregationMethod, ArchivePolicy, ErrorKind};
use snafu::Snafu;

pub use align::plan_granularities;
pub use eval::{evaluate, evaluate_draining};
pub use history::{apply_usage_coefficient, merge_consecutive_timestamps};
pub use operation::{BinaryOp, Operation, ReduceBase, ReduceMethod, Reference, UnaryOp};
pub use parse::{parse_operations, OperationError};
pub use render::{measures_json, points_json};
pub use stream::{is_streamable, Streaming};

use crate::calendar::CalendarUnit;
use crate::AggregatedPoint;

/// The period a point stands for: a fixed granularity (ns) or a calendar unit (engine.md §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A fixed, epoch-aligned period in nanoseconds.
    Fixed(i64),
    /// A calendar period (`Y`, `H`, `Q`, `M`, `W`).
    Calendar(CalendarUnit),
}

impl fmt::Display for Period {
    /// Float seconds (`60.0`) or the calendar letter, as in error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Fixed(ns) => f.write_str(&gnocchi_core::time::format_seconds_float(*ns)),
            Period::Calendar(u) => f.write_str(u.letter()),
        }
    }
}

/// One output point `[timestamp, granularity, value]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputPoint {
    /// Bucket start, ns since the epoch.
    pub timestamp_ns: i64,
    /// The granularity label: the stored granularity, or the resample period.
    pub period: Period,
    /// The value (may be NaN or ±inf when the fill mode keeps them).
    pub value: f64,
}

/// What `fill` asks for (api.md §11.1, engine.md §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// Missing cells take this value; nothing is dropped from the output.
    Value(f64),
    /// Missing cells are NaN and NaN is emitted.
    Null,
    /// Missing cells are NaN; NaN and ±inf points are dropped from the output.
    Dropna,
    /// Previous value of the column (leading gaps stay NaN); output drops NaN/±inf.
    Ffill,
    /// Next value of the column (trailing gaps stay NaN); output drops NaN/±inf.
    Bfill,
    /// `ffill` then `bfill`; output drops NaN/±inf.
    FullFfill,
    /// `bfill` then `ffill`; output drops NaN/±inf.
    FullBfill,
}

impl Fill {
    /// Reads the `fill` query parameter: `null`, `dropna`, `ffill`, `bfill`, `full_ffill`,
    /// `full_bfill`, or a float (Python `float()` syntax). `None` → the API answers 400
    /// "Must be a float, 'dropna', 'null', 'ffill', 'bfill', 'full_ffill' or 'full_bfill'".
    pub fn parse(value: &str) -> Option<Fill> {
        Some(match value {
            "null" => Fill::Null,
            "dropna" => Fill::Dropna,
            "ffill" => Fill::Ffill,
            "bfill" => Fill::Bfill,
            "full_ffill" => Fill::FullFfill,
            "full_bfill" => Fill::FullBfill,
            other => Fill::Value(gnocchi_core::time::parse_python_float(other)?),
        })
    }

    /// Whether NaN and ±inf points are left out of the output.
    pub(crate) fn drops_non_finite(self) -> bool {
        !matches!(self, Fill::Value(_) | Fill::Null)
    }
}

/// How missing cells of the grid are treated: a `fill`, or the overlap rule (engine.md §6.4.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Filling {
    /// Fill missing cells (`fill` given, or the `/v1/aggregates` default `dropna`).
    Fill(Fill),
    /// No fill: missing cells are NaN and at least `needed_pct` % of the rows must be complete.
    Overlap {
        /// The required percentage of fully-populated rows.
        needed_pct: f64,
    },
}

impl Filling {
    /// The `/v1/aggregates` rule (engine.md §6.2): `fill` wins; else `needed_overlap` enforces
    /// the overlap; with neither, `dropna`.
    pub fn from_params(fill: Option<Fill>, needed_overlap: Option<f64>) -> Filling {
        match (fill, needed_overlap) {
            (Some(f), _) => Filling::Fill(f),
            (None, Some(p)) => Filling::Overlap { needed_pct: p },
            (None, None) => Filling::Fill(Fill::Dropna),
        }
    }

    /// The legacy `/v1/aggregation/...` rule (engine.md §6.7): `fill` wins; else the overlap
    /// with `needed_overlap` defaulting to 100.
    pub fn legacy(fill: Option<Fill>, needed_overlap: Option<f64>) -> Filling {
        match fill {
            Some(f) => Filling::Fill(f),
            None => Filling::Overlap {
                needed_pct: needed_overlap.unwrap_or(100.0),
            },
        }
    }
}

/// How a column is named in the per-metric output shape (engine.md §6.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnName {
    /// Metric-id mode: `measures[<metric id>][<agg>]`.
    Metric {
        /// The metric id as rendered (lowercase UUID).
        metric_id: String,
    },
    /// Resource mode: `measures[<resource id>][<metric name>][<agg>]`.
    ResourceMetric {
        /// The resource id as rendered.
        resource_id: String,
        /// The metric's name.
        metric_name: String,
    },
}

/// One fetched series: a resolved (metric, aggregation) reference (engine.md §6.4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The lookup key: the reference as written in the operations (`metric` nodes select the
    /// columns whose key they name). Resource mode: the glob, not the metric name.
    pub reference: Reference,
    /// The output name of the column.
    pub name: ColumnName,
    /// Its points at every planned granularity, as [`crate::read_measures`] returns them (any
    /// order of granularities; points of unplanned granularities are ignored).
    pub points: Vec<AggregatedPoint>,
}

/// The request parameters that change numbers (engine.md §6.2).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Granularities to evaluate (ns), normally from [`plan_granularities`]; output is coarsest
    /// first whatever the order here.
    pub granularities: Vec<i64>,
    /// Inclusive start; each series is cut at `start` rounded down to its granularity.
    pub start_ns: Option<i64>,
    /// Exclusive stop on bucket timestamps.
    pub stop_ns: Option<i64>,
    /// `fill` / `needed_overlap`.
    pub filling: Filling,
}

/// The result of [`evaluate`] (engine.md §6.5).
#[derive(Debug, Clone, PartialEq)]
pub enum Measures {
    /// The tree is "aggregated": one list, `{"aggregated": [...]}`.
    Aggregated(Vec<OutputPoint>),
    /// One list per output column (index into the `columns` given to [`evaluate`]), in order of
    /// first appearance; granularities coarsest first, time ascending.
    PerColumn(Vec<(usize, Vec<OutputPoint>)>),
}

impl Measures {
    /// Appends the result of the same tree over other granularities (evaluated after these,
    /// so finer ones): the shape is the tree's, so both sides list the same columns.
    pub fn append(&mut self, later: Measures) {
        match (self, later) {
            (Measures::Aggregated(a), Measures::Aggregated(b)) => a.extend(b),
            (Measures::PerColumn(a), Measures::PerColumn(b)) => {
                for (index, points) in b {
                    match a.iter_mut().find(|(i, _)| *i == index) {
                        Some((_, list)) => list.extend(points),
                        None => a.push((index, points)),
                    }
                }
            }
            // Not reached for one tree; keep what was computed first.
            (Measures::Aggregated(_), Measures::PerColumn(_))
            | (Measures::PerColumn(_), Measures::Aggregated(_)) => {}
        }
    }
}

/// A failed planning or evaluation of `/v1/aggregates` (api.md §11.1, step 4).
///
/// Display texts are lowercase; [`AggregatesError::reason`] gives Gnocchi's wording.
#[derive(Debug, Clone, PartialEq, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum AggregatesError {
    /// 404, cause "Metrics with unknown aggregation", detail `[[id, agg], ...]`: the
    /// aggregation is not a method name or not in the metric's policy.
    #[snafu(display("metrics with unknown aggregation: {references:?}"))]
    UnknownAggregation {
        /// `(name, aggregation)` of each offending column.
        references: Vec<(String, String)>,
    },
    /// 400 "Metrics cannot be aggregated", reason `No granularity match`, detail every column's
    /// `[name, agg]`.
    #[snafu(display("no granularity common to every metric"))]
    NoGranularityMatch {
        /// `(name, aggregation)` of every column.
        references: Vec<(String, String)>,
    },
    /// 400 "Metrics cannot be aggregated", reason `Granularities are missing`, detail
    /// `[[name, agg, <granularity seconds>], ...]`.
    #[snafu(display("granularities are missing: {missing:?}"))]
    GranularitiesMissing {
        /// `(name, aggregation, granularity_ns)` of each column lacking the granularity.
        missing: Vec<(String, String, i64)>,
    },
    /// 400 "Metrics cannot be aggregated", reason `No overlap`.
    #[snafu(display("no overlap between the series"))]
    NoOverlap,
    /// 400 "Metrics cannot be aggregated", reason `Less than <needed>% of datapoints overlap in
    /// this timespan (<actual>%)`.
    #[snafu(display("{actual_pct:.2}% of datapoints overlap, {needed_pct}% needed"))]
    NotEnoughOverlap {
        /// The `needed_overlap` asked for.
        needed_pct: f64,
        /// The percentage found.
        actual_pct: f64,
    },
    /// 400 "Metrics cannot be aggregated", reason `Rolling window '<w>' is greater than serie
    /// length '<n>'`.
    #[snafu(display("rolling window {window} is greater than serie length {length}"))]
    RollingWindowTooLarge {
        /// The window asked for.
        window: usize,
        /// The number of rows at one granularity.
        length: usize,
    },
    /// 400 "Metrics cannot be aggregated", reason `Can't compute timeseries with different
    /// granularity <a> <> <b>`: two series operands have different periods.
    #[snafu(display("cannot combine series of granularity {left} and {right}"))]
    DifferentGranularity {
        /// The left operand's period.
        left: Period,
        /// The right operand's period.
        right: Period,
    },
    /// 400 "Metrics cannot be aggregated": two series operands of the same granularity do not
    /// have the same timestamps (e.g. one went through `rateofchange`). Gnocchi fails (500).
    #[snafu(display("cannot combine series with different timestamps"))]
    DifferentTimestamps,
    /// 400 "Metrics cannot be aggregated": two series operands have different column counts,
    /// neither being 1 (numpy broadcasting fails; Gnocchi answers 500).
    #[snafu(display("cannot combine {left} series with {right} series"))]
    ColumnCountMismatch {
        /// Columns of the left operand.
        left: usize,
        /// Columns of the right operand.
        right: usize,
    },
    /// 400: a `resample` method without a carbonara algorithm (`var`, `rate:var`) or a `rate:`
    /// method on a calendar period (engine.md §10.2; Gnocchi answers 500).
    #[snafu(display("cannot resample with {method} to {period}"))]
    InvalidResample {
        /// The method asked for.
        method: String,
        /// The period asked for.
        period: Period,
    },
}

impl AggregatesError {
    /// Gnocchi's text: the `reason` of the "Metrics cannot be aggregated" object, or the `cause`
    /// for [`AggregatesError::UnknownAggregation`].
    pub fn reason(&self) -> String {
        match self {
            AggregatesError::UnknownAggregation { .. } => {
                String::from("Metrics with unknown aggregation")
            }
            AggregatesError::NoGranularityMatch { .. } => String::from("No granularity match"),
            AggregatesError::GranularitiesMissing { .. } => {
                String::from("Granularities are missing")
            }
            AggregatesError::NoOverlap => String::from("No overlap"),
            AggregatesError::NotEnoughOverlap {
                needed_pct,
                actual_pct,
            } => format!(
                "Less than {needed_pct:.6}% of datapoints overlap in this timespan \
                 ({actual_pct:.2}%)"
            ),
            AggregatesError::RollingWindowTooLarge { window, length } => {
                format!("Rolling window '{window}' is greater than serie length '{length}'")
            }
            AggregatesError::DifferentGranularity { left, right } => {
                format!("Can't compute timeseries with different granularity {left} <> {right}")
            }
            AggregatesError::DifferentTimestamps => {
                String::from("Can't compute timeseries with different timestamps")
            }
            AggregatesError::ColumnCountMismatch { left, right } => format!(
                "Can't compute timeseries with different number of series {left} <> {right}"
            ),
            AggregatesError::InvalidResample { method, period } => {
                format!("Invalid resample: '{method}' to '{period}'")
            }
        }
    }

    /// Unknown aggregations are NotFound (404); everything else is Invalid (400).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AggregatesError::UnknownAggregation { .. } => ErrorKind::NotFound,
            AggregatesError::NoGranularityMatch { .. }
            | AggregatesError::GranularitiesMissing { .. }
            | AggregatesError::NoOverlap
            | AggregatesError::NotEnoughOverlap { .. }
            | AggregatesError::RollingWindowTooLarge { .. }
            | AggregatesError::DifferentGranularity { .. }
            | AggregatesError::DifferentTimestamps
            | AggregatesError::ColumnCountMismatch { .. }
            | AggregatesError::InvalidResample { .. } => ErrorKind::Invalid,
        }
    }

    /// Retrying the same request never helps.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// What [`plan_granularities`] needs to know of one column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnPolicy<'a> {
    /// The column's name as error details show it (the metric id).
    pub name: &'a str,
    /// The aggregation as written in the operations.
    pub aggregation: &'a str,
    /// The metric's archive policy.
    pub policy: &'a ArchivePolicy,
}

/// Parses a reference's aggregation, `None` when it is not one of the 216 method names.
pub(crate) fn method_of(aggregation: &str) -> Option<AggregationMethod> {
    aggregation.parse().ok()
}

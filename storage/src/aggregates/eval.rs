//! Evaluating the operations tree over the grid of each granularity (engine.md §6.4.4) and
//! assembling the output shapes (§6.5).

use snafu::ensure;

use super::align::{build_grid, build_grid_draining, Frame, FrameCol};
use super::operation::{Operation, ReduceMethod, UnaryOp};
use super::ops::{self, Summation};
use super::{
    AggregatesError, Column, EvalOptions, Filling, Measures, OutputPoint, Period, Reference,
};
use super::{
    ColumnCountMismatchSnafu, DifferentGranularitySnafu, DifferentTimestampsSnafu,
    RollingWindowTooLargeSnafu,
};
use crate::calendar;
use crate::engine::{resample, Series};

type Result<T, E = AggregatesError> = std::result::Result<T, E>;

/// Evaluates `operation` over `columns` (engine.md §6.4, §6.5).
///
/// `columns` are the resolved references in the API's order (metric-id mode: the distinct
/// references in order of first appearance; resource mode: per resource, per reference, per
/// matching metric). Each granularity of `options` is evaluated on its own, coarsest first.
///
/// Errors: [`AggregatesError::NoOverlap`], [`AggregatesError::NotEnoughOverlap`],
/// [`AggregatesError::RollingWindowTooLarge`], [`AggregatesError::DifferentGranularity`],
/// [`AggregatesError::DifferentTimestamps`], [`AggregatesError::ColumnCountMismatch`],
/// [`AggregatesError::InvalidResample`]; all are 400 "Metrics cannot be aggregated" whose
/// `detail` is every column's `[name, agg]`.
pub fn evaluate(
    operation: &Operation,
    columns: &[Column],
    options: &EvalOptions,
) -> Result<Measures> {
    let keys: Vec<Reference> = columns.iter().map(|c| c.reference.clone()).collect();
    evaluate_with(operation, &keys, options, |g| {
        build_grid(columns, g, options)
    })
}

/// [`evaluate`], taking each column's points out as they are placed in the grid, so that a
/// granularity's points and its grid are not both held whole. The columns keep their names;
/// points of granularities not in `options` stay.
pub fn evaluate_draining(
    operation: &Operation,
    columns: &mut [Column],
    options: &EvalOptions,
) -> Result<Measures> {
    let keys: Vec<Reference> = columns.iter().map(|c| c.reference.clone()).collect();
    evaluate_with(operation, &keys, options, |g| {
        build_grid_draining(columns, g, options)
    })
}

fn evaluate_with(
    operation: &Operation,
    columns: &[Reference],
    options: &EvalOptions,
    mut grid_of: impl FnMut(i64) -> Result<Frame>,
) -> Result<Measures> {
    let (aggregated, sources) = match shape(operation, columns) {
        Some(s) => s,
        None => (true, Vec::new()),
    };
    let mut granularities = options.granularities.clone();
    granularities.sort_unstable_by(|a, b| b.cmp(a));
    granularities.dedup();
    let drop_non_finite = matches!(options.filling, Filling::Fill(f) if f.drops_non_finite());
    let keep = |v: f64| !drop_non_finite || v.is_finite();

    let mut flat = Vec::new();
    let mut per_column: Vec<(usize, Vec<OutputPoint>)> =
        sources.iter().map(|&s| (s, Vec::new())).collect();
    for g in granularities {
        let grid = grid_of(g)?;
        let evaluator = Evaluator {
            columns,
            grid: &grid,
        };
        let Value::Frame(frame) = evaluator.eval(operation)? else {
            continue;
        };
        let emit = |values: &[f64], out: &mut Vec<OutputPoint>| {
            out.extend(frame.ts.iter().zip(values).filter(|(_, v)| keep(**v)).map(
                |(&timestamp_ns, &value)| OutputPoint {
                    timestamp_ns,
                    period: frame.period,
                    value,
                },
            ));
        };
        if aggregated {
            if let Some(col) = frame.cols.first() {
                emit(&col.values, &mut flat);
            }
        } else {
            let mut done = vec![false; per_column.len()];
            for col in &frame.cols {
                let Some(src) = col.source else { continue };
                if let Some(k) = per_column.iter().position(|(s, _)| *s == src) {
                    if !done[k] {
                        done[k] = true;
                        emit(&col.values, &mut per_column[k].1);
                    }
                }
            }
        }
    }
    Ok(if aggregated {
        Measures::Aggregated(flat)
    } else {
        Measures::PerColumn(per_column)
    })
}

pub(super) enum Value {
    Scalar(f64),
    Frame(Frame),
}

/// The output structure of a tree, decided by its shape alone: (aggregated, output columns).
/// `None` for a tree of numbers only.
pub(super) fn shape(op: &Operation, columns: &[Reference]) -> Option<(bool, Vec<usize>)> {
    match op {
        Operation::Number(_) => None,
        Operation::Metric(refs) => Some((false, selected(refs, columns))),
        Operation::Aggregate { .. } => Some((true, Vec::new())),
        Operation::Resample { operand, .. }
        | Operation::Rolling { operand, .. }
        | Operation::Unary { operand, .. } => shape(operand, columns),
        Operation::Binary { left, right, .. } => {
            match (shape(left, columns), shape(right, columns)) {
                (Some(_), Some(_)) => Some((true, Vec::new())),
                (Some(s), None) | (None, Some(s)) => Some(s),
                (None, None) => None,
            }
        }
        Operation::Clip { operand, min, max } => {
            let shapes: Vec<Option<(bool, Vec<usize>)>> = std::iter::once(operand)
                .chain(std::iter::once(min))
                .chain(max.iter())
                .map(|o| shape(o, columns))
                .collect();
            if shapes.iter().all(Option::is_some) {
                Some((true, Vec::new()))
            } else {
                shapes.into_iter().flatten().next()
            }
        }
    }
}

/// Indices of the columns a `metric` node selects, in column order.
fn selected(refs: &[Reference], columns: &[Reference]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| refs.contains(c))
        .map(|(i, _)| i)
        .collect()
}

pub(super) struct Evaluator<'a> {
    pub(super) columns: &'a [Reference],
    pub(super) grid: &'a Frame,
}

impl Evaluator<'_> {
    pub(super) fn eval(&self, op: &Operation) -> Result<Value> {
        Ok(match op {
            Operation::Number(x) => Value::Scalar(*x),
            Operation::Metric(refs) => {
                let cols = selected(refs, self.columns)
                    .into_iter()
                    .map(|i| self.grid.cols[i].clone())
                    .collect();
                Value::Frame(Frame {
                    ts: self.grid.ts.clone(),
                    period: self.grid.period,
                    cols,
                    aggregated: false,
                })
            }
            Operation::Aggregate { method, operand } => match self.eval(operand)? {
                Value::Frame(f) => Value::Frame(aggregate(*method, f)),
                s @ Value::Scalar(_) => s,
            },
            Operation::Resample {
                method,
                period,
                operand,
            } => match self.eval(operand)? {
                Value::Frame(f) => Value::Frame(resample_frame(*method, *period, f)?),
                s @ Value::Scalar(_) => s,
            },
            Operation::Rolling {
                method,
                window,
                operand,
            } => match self.eval(operand)? {
                Value::Frame(f) => Value::Frame(rolling(*method, *window, f)?),
                s @ Value::Scalar(_) => s,
            },
            Operation::Unary { op, operand } => match self.eval(operand)? {
                Value::Frame(f) => Value::Frame(unary(*op, f)),
                Value::Scalar(x) => Value::Scalar(ops::unary(*op, x)),
            },
            Operation::Binary { op, left, right } => {
                let (l, r) = (self.eval(left)?, self.eval(right)?);
                combine(&[l, r], |v| ops::binary(*op, v[0], v[1]))?
            }
            Operation::Clip { operand, min, max } => {
                let mut vals = vec![self.eval(operand)?, self.eval(min)?];
                if let Some(m) = max {
                    vals.push(self.eval(m)?);
                }
                let has_max = max.is_some();
                combine(&vals, |v| {
                    ops::clip(v[0], v[1], if has_max { Some(v[2]) } else { None })
                })?
            }
        })
    }
}

/// Differences of consecutive values (`rate:` of `aggregate` / `rolling`, `rateofchange`).
fn diff(values: &[f64]) -> Vec<f64> {
    values.windows(2).map(|w| w[1] - w[0]).collect()
}

fn aggregate(method: ReduceMethod, f: Frame) -> Frame {
    let mut row = Vec::with_capacity(f.cols.len());
    let mut scratch = Vec::new();
    let mut values: Vec<f64> = (0..f.ts.len())
        .map(|r| {
            row.clear();
            row.extend(f.cols.iter().map(|c| c.values[r]));
            ops::reduce(method.base, &row, Summation::Sequential, &mut scratch)
        })
        .collect();
    let mut ts = f.ts;
    if method.rate {
        values = diff(&values);
        if !ts.is_empty() {
            ts.remove(0);
        }
    }
    Frame {
        ts,
        period: f.period,
        cols: vec![FrameCol {
            source: None,
            values,
        }],
        aggregated: true,
    }
}

fn rolling(method: ReduceMethod, window: usize, f: Frame) -> Result<Frame> {
    let n = f.ts.len();
    ensure!(
        window <= n,
        RollingWindowTooLargeSnafu { window, length: n }
    );
    let mut scratch = Vec::new();
    let mut skip = window.saturating_sub(1);
    let cols = f
        .cols
        .into_iter()
        .map(|c| {
            let mut values: Vec<f64> = c
                .values
                .windows(window.max(1))
                .map(|w| ops::reduce(method.base, w, Summation::Pairwise, &mut scratch))
                .collect();
            if method.rate {
                values = diff(&values);
            }
            FrameCol {
                source: c.source,
                values,
            }
        })
        .collect();
    if method.rate {
        skip += 1;
    }
    let ts = f.ts.get(skip..).map(<[i64]>::to_vec).unwrap_or_default();
    Ok(Frame {
        ts,
        period: f.period,
        cols,
        aggregated: f.aggregated,
    })
}

fn resample_frame(
    method: gnocchi_core::AggregationMethod,
    period: Period,
    f: Frame,
) -> Result<Frame> {
    let mut outs: Vec<(Option<usize>, Series)> = Vec::with_capacity(f.cols.len());
    for c in f.cols {
        let s = Series {
            ts: f.ts.clone(),
            values: c.values,
        };
        let out = match period {
            Period::Fixed(r) => resample(&s, r, method),
            Period::Calendar(unit) => {
                calendar::resample_series(&s, unit, method).map_err(|_| {
                    AggregatesError::InvalidResample {
                        method: method.to_string(),
                        period,
                    }
                })?
            }
        };
        outs.push((c.source, out));
    }
    // std drops 1-point periods, so columns may differ: align them on the union (NaN where a
    // column has no value) instead of failing as Gnocchi does (engine.md §6.4.4).
    let mut ts: Vec<i64> = outs
        .iter()
        .flat_map(|(_, s)| s.ts.iter().copied())
        .collect();
    ts.sort_unstable();
    ts.dedup();
    let cols = outs
        .into_iter()
        .map(|(source, s)| {
            let values = if s.ts == ts {
                s.values
            } else {
                let mut values = vec![f64::NAN; ts.len()];
                for (t, v) in s.ts.iter().zip(&s.values) {
                    if let Ok(i) = ts.binary_search(t) {
                        values[i] = *v;
                    }
                }
                values
            };
            FrameCol { source, values }
        })
        .collect();
    Ok(Frame {
        ts,
        period,
        cols,
        aggregated: f.aggregated,
    })
}

fn unary(op: UnaryOp, f: Frame) -> Frame {
    match op {
        UnaryOp::RateOfChange => {
            let ts = f.ts.get(1..).map(<[i64]>::to_vec).unwrap_or_default();
            Frame {
                ts,
                cols: f
                    .cols
                    .into_iter()
                    .map(|c| FrameCol {
                        source: c.source,
                        values: diff(&c.values),
                    })
                    .collect(),
                ..f
            }
        }
        UnaryOp::RateOfChangeSec => {
            let secs: Vec<f64> =
                f.ts.windows(2)
                    .map(|w| (w[1] - w[0]) as f64 / 1e9)
                    .collect();
            let cols = f
                .cols
                .into_iter()
                .map(|c| {
                    let mut values = Vec::with_capacity(c.values.len());
                    if !c.values.is_empty() {
                        values.push(f64::NAN);
                    }
                    values.extend(
                        c.values
                            .windows(2)
                            .zip(&secs)
                            .map(|(w, dt)| (w[1] - w[0]) / dt),
                    );
                    FrameCol {
                        source: c.source,
                        values,
                    }
                })
                .collect();
            Frame { cols, ..f }
        }
        _ => {
            let cols = f
                .cols
                .into_iter()
                .map(|mut c| {
                    c.values.iter_mut().for_each(|v| *v = ops::unary(op, *v));
                    c
                })
                .collect();
            Frame { cols, ..f }
        }
    }
}

/// Element-wise combination of numbers and frames with numpy broadcasting over columns
/// (engine.md §6.4.4): frames must share period and timestamps, and column counts must be equal
/// or one. The result is "aggregated" when every operand is a series; otherwise its columns are
/// named after the first series operand.
fn combine(vals: &[Value], f: impl Fn(&[f64]) -> f64) -> Result<Value> {
    let frames: Vec<&Frame> = vals
        .iter()
        .filter_map(|v| match v {
            Value::Frame(fr) => Some(fr),
            Value::Scalar(_) => None,
        })
        .collect();
    let Some(&first) = frames.first() else {
        let args: Vec<f64> = vals
            .iter()
            .map(|v| match v {
                Value::Scalar(x) => *x,
                Value::Frame(_) => f64::NAN,
            })
            .collect();
        return Ok(Value::Scalar(f(&args)));
    };
    let mut k = first.cols.len();
    for fr in &frames[1..] {
        ensure!(
            fr.period == first.period,
            DifferentGranularitySnafu {
                left: first.period,
                right: fr.period
            }
        );
        ensure!(fr.ts == first.ts, DifferentTimestampsSnafu);
        let m = fr.cols.len();
        if m != k {
            ensure!(
                k == 1 || m == 1,
                ColumnCountMismatchSnafu { left: k, right: m }
            );
            if k == 1 {
                k = m;
            }
        }
    }
    let all_series = frames.len() == vals.len();
    let namer = first;
    let rows = first.ts.len();
    let mut args = vec![0.0; vals.len()];
    let cols = (0..k)
        .map(|j| {
            let values = (0..rows)
                .map(|r| {
                    for (a, v) in args.iter_mut().zip(vals) {
                        *a = match v {
                            Value::Scalar(x) => *x,
                            Value::Frame(fr) => {
                                let c = if fr.cols.len() == 1 { 0 } else { j };
                                fr.cols[c].values[r]
                            }
                        };
                    }
                    f(&args)
                })
                .collect();
            let source = if all_series {
                None
            } else {
                let c = if namer.cols.len() == 1 { 0 } else { j };
                namer.cols.get(c).and_then(|c| c.source)
            };
            FrameCol { source, values }
        })
        .collect();
    Ok(Value::Frame(Frame {
        ts: first.ts.clone(),
        period: first.period,
        cols,
        aggregated: all_series || frames.iter().any(|fr| fr.aggregated),
    }))
}

//! Evaluating a tree over a long window slice by slice in time, so that only one slice of every
//! column is in memory (issue: bounded reads of `/v1/aggregates`).
//!
//! This is exact when every output row depends only on the grid row of the same timestamp:
//! `metric`, `aggregate` without `rate:`, the element-wise functions, arithmetic, `clip`, and a
//! `fill` that is a value, `null` or `dropna`. The overlap rule is global (it trims the rows
//! before the first and after the last complete row and checks a percentage over what is left),
//! so its undecided rows are held until a later row or the end decides them. Anything else —
//! `rolling`, `resample`, `rate:` aggregates, `rateofchange`, the forward and backward fills —
//! needs its neighbours and is evaluated over the whole window by [`super::evaluate`].

use super::align::{apply_fill, place_draining, Frame};
use super::eval::{shape, Evaluator, Value};
use super::operation::{Operation, UnaryOp};
use super::{
    AggregatesError, Column, EvalOptions, Fill, Filling, Measures, OutputPoint, Period, Reference,
};
use super::{NoOverlapSnafu, NotEnoughOverlapSnafu};

type Result<T, E = AggregatesError> = std::result::Result<T, E>;

/// Whether [`Streaming`] gives the same answer as [`super::evaluate`] for this tree and filling.
pub fn is_streamable(operation: &Operation, filling: Filling) -> bool {
    let fill_is_local = match filling {
        Filling::Fill(f) => matches!(f, Fill::Value(_) | Fill::Null | Fill::Dropna),
        Filling::Overlap { .. } => true,
    };
    fill_is_local && is_row_local(operation)
}

fn is_row_local(op: &Operation) -> bool {
    match op {
        Operation::Number(_) | Operation::Metric(_) => true,
        Operation::Aggregate { method, operand } => !method.rate && is_row_local(operand),
        Operation::Resample { .. } | Operation::Rolling { .. } => false,
        Operation::Unary { op, operand } => {
            !matches!(op, UnaryOp::RateOfChange | UnaryOp::RateOfChangeSec) && is_row_local(operand)
        }
        Operation::Binary { left, right, .. } => is_row_local(left) && is_row_local(right),
        Operation::Clip { operand, min, max } => {
            is_row_local(operand) && is_row_local(min) && max.as_deref().is_none_or(is_row_local)
        }
    }
}

/// Output rows of one kind (committed, or waiting on the overlap rule).
#[derive(Default)]
struct Rows {
    count: usize,
    flat: Vec<OutputPoint>,
    per_column: Vec<Vec<OutputPoint>>,
}

impl Rows {
    fn append(&mut self, other: &mut Rows) {
        self.count += other.count;
        self.flat.append(&mut other.flat);
        for (mine, theirs) in self.per_column.iter_mut().zip(&mut other.per_column) {
            mine.append(theirs);
        }
        other.count = 0;
    }

    fn clear(&mut self) {
        self.count = 0;
        self.flat.clear();
        self.per_column.iter_mut().for_each(Vec::clear);
    }
}

/// A streamed evaluation of one granularity: feed the columns' points slice by slice, in time
/// order and without overlap between slices, with [`Streaming::push`]; then [`Streaming::finish`].
pub struct Streaming {
    operation: Operation,
    keys: Vec<Reference>,
    options: EvalOptions,
    granularity_ns: i64,
    aggregated: bool,
    sources: Vec<usize>,
    kept: Rows,
    /// Overlap rule: rows that a later complete row keeps (or the end drops), or, before any
    /// complete row, rows that are dropped if one comes.
    pending: Rows,
    complete_rows: usize,
    seen_complete: bool,
    /// The first evaluation error; the overlap rule's errors come first, as in a whole evaluation.
    failed: Option<AggregatesError>,
}

impl Streaming {
    /// A streamed evaluation of `operation` at `granularity_ns` over columns referenced as
    /// `keys` (in the column order of every [`Streaming::push`]). `options.granularities` is
    /// ignored; check [`is_streamable`] first.
    pub fn new(
        operation: Operation,
        keys: Vec<Reference>,
        granularity_ns: i64,
        options: EvalOptions,
    ) -> Streaming {
        let (aggregated, sources) = shape(&operation, &keys).unwrap_or((true, Vec::new()));
        let rows = || Rows {
            per_column: vec![Vec::new(); sources.len()],
            ..Rows::default()
        };
        Streaming {
            kept: rows(),
            pending: rows(),
            operation,
            keys,
            options: EvalOptions {
                granularities: vec![granularity_ns],
                ..options
            },
            granularity_ns,
            aggregated,
            sources,
            complete_rows: 0,
            seen_complete: false,
            failed: None,
        }
    }

    /// Evaluates the next slice. `columns` hold this slice's points, all later than every
    /// point pushed before; their points of this granularity are taken out.
    pub fn push(&mut self, columns: &mut [Column]) {
        let g = self.granularity_ns;
        let (ts, mut cols) = place_draining(columns, g, &self.options);
        let complete: Option<Vec<bool>> = match self.options.filling {
            Filling::Fill(fill) => {
                cols.iter_mut()
                    .for_each(|c| apply_fill(fill, &mut c.values));
                None
            }
            Filling::Overlap { .. } => Some(
                (0..ts.len())
                    .map(|r| cols.iter().all(|c| !c.values[r].is_nan()))
                    .collect(),
            ),
        };
        let grid = Frame {
            ts,
            period: Period::Fixed(g),
            cols,
            aggregated: false,
        };
        let frame = if self.failed.is_some() {
            None
        } else {
            let evaluator = Evaluator {
                columns: &self.keys,
                grid: &grid,
            };
            match evaluator.eval(&self.operation) {
                Ok(Value::Frame(f)) => Some(f),
                Ok(Value::Scalar(_)) => None,
                Err(e) => {
                    self.failed = Some(e);
                    None
                }
            }
        };
        // Which frame column gives each output column: the first one descending from it.
        let slots: Vec<Option<usize>> = match &frame {
            Some(f) if !self.aggregated => self
                .sources
                .iter()
                .map(|&s| f.cols.iter().position(|c| c.source == Some(s)))
                .collect(),
            _ => Vec::new(),
        };
        let drop_non_finite =
            matches!(self.options.filling, Filling::Fill(f) if f.drops_non_finite());
        let (start_given, stop_given) = (
            self.options.start_ns.is_some(),
            self.options.stop_ns.is_some(),
        );
        for r in 0..grid.ts.len() {
            let to_pending = match &complete {
                None => false,
                Some(complete) if complete[r] => {
                    if self.seen_complete || start_given {
                        self.kept.append(&mut self.pending);
                    } else {
                        // Rows before the first complete one are trimmed.
                        self.pending.clear();
                    }
                    self.seen_complete = true;
                    self.complete_rows += 1;
                    false
                }
                Some(_) if self.seen_complete => !stop_given,
                Some(_) => !start_given,
            };
            let rows = if to_pending {
                &mut self.pending
            } else {
                &mut self.kept
            };
            rows.count += 1;
            let Some(f) = &frame else { continue };
            let Some(&timestamp_ns) = f.ts.get(r) else {
                continue;
            };
            let point = |value: f64| {
                (!drop_non_finite || value.is_finite()).then_some(OutputPoint {
                    timestamp_ns,
                    period: f.period,
                    value,
                })
            };
            if self.aggregated {
                if let Some(p) = f.cols.first().and_then(|c| point(c.values[r])) {
                    rows.flat.push(p);
                }
            } else {
                for (out, slot) in rows.per_column.iter_mut().zip(&slots) {
                    if let Some(p) = slot.and_then(|k| point(f.cols[k].values[r])) {
                        out.push(p);
                    }
                }
            }
        }
    }

    /// The result, or the first error a whole evaluation of the same window would give.
    pub fn finish(mut self) -> Result<Measures> {
        if let Filling::Overlap { needed_pct } = self.options.filling {
            if !self.seen_complete && needed_pct > 0.0 {
                return NoOverlapSnafu.fail();
            }
            if self.seen_complete {
                // Rows after the last complete one are trimmed (there was no `stop`).
                self.pending.clear();
            } else {
                self.kept.append(&mut self.pending);
            }
            if self.kept.count > 0 {
                let pct = self.complete_rows as f64 * 100.0 / self.kept.count as f64;
                snafu::ensure!(
                    pct >= needed_pct,
                    NotEnoughOverlapSnafu {
                        needed_pct,
                        actual_pct: pct
                    }
                );
            }
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        Ok(if self.aggregated {
            Measures::Aggregated(self.kept.flat)
        } else {
            Measures::PerColumn(self.sources.into_iter().zip(self.kept.per_column).collect())
        })
    }
}

/// [`super::evaluate`] by [`Streaming`], cutting each granularity into slices of `rows`
/// distinct timestamps: for tests comparing the two.
#[cfg(test)]
pub(super) fn evaluate_in_slices(
    operation: &Operation,
    columns: &[Column],
    options: &EvalOptions,
    rows: usize,
) -> Result<Measures> {
    let keys: Vec<Reference> = columns.iter().map(|c| c.reference.clone()).collect();
    let mut granularities = options.granularities.clone();
    granularities.sort_unstable_by(|a, b| b.cmp(a));
    granularities.dedup();
    let mut total: Option<Measures> = None;
    for g in granularities {
        let mut ts: Vec<i64> = columns
            .iter()
            .flat_map(|c| c.points.iter())
            .filter(|p| p.granularity_ns == g)
            .map(|p| p.timestamp_ns)
            .collect();
        ts.sort_unstable();
        ts.dedup();
        let mut bounds: Vec<i64> = ts.iter().step_by(rows.max(1)).copied().collect();
        bounds.push(i64::MAX);
        let mut streaming = Streaming::new(operation.clone(), keys.clone(), g, options.clone());
        // At least one slice, even empty, as the API pushes.
        let ranges: Vec<(i64, i64)> = if ts.is_empty() {
            vec![(i64::MIN, i64::MAX)]
        } else {
            bounds.windows(2).map(|w| (w[0], w[1])).collect()
        };
        for (lo, hi) in ranges {
            let mut slice: Vec<Column> = columns
                .iter()
                .map(|c| Column {
                    points: c
                        .points
                        .iter()
                        .filter(|p| p.granularity_ns == g && (lo..hi).contains(&p.timestamp_ns))
                        .copied()
                        .collect(),
                    ..c.clone()
                })
                .collect();
            streaming.push(&mut slice);
        }
        let m = streaming.finish()?;
        match total.as_mut() {
            None => total = Some(m),
            Some(t) => t.append(m),
        }
    }
    match total {
        Some(m) => Ok(m),
        // No granularity: only the shape, which the API takes from a whole evaluation.
        None => super::evaluate(operation, columns, options),
    }
}

//! Planning the granularities of the references and building, per granularity, the grid of all
//! columns on the union of their timestamps, after `fill` or the overlap rule (engine.md §6.4.1
//! to §6.4.3).

use snafu::ensure;

use super::{method_of, AggregatesError, Column, ColumnPolicy, EvalOptions, Fill, Filling, Period};
use super::{
    GranularitiesMissingSnafu, NoGranularityMatchSnafu, NoOverlapSnafu, NotEnoughOverlapSnafu,
    UnknownAggregationSnafu,
};
use crate::engine::floor_to;
use crate::AggregatedPoint;

type Result<T, E = AggregatesError> = std::result::Result<T, E>;

/// Checks the references against their policies and returns the granularities to fetch and
/// evaluate, coarsest first (engine.md §6.4.1, api.md §11.1 step 4). In this order:
///
/// 1. an aggregation that is not a method name or not in the column's policy →
///    [`AggregatesError::UnknownAggregation`] listing those columns (404);
/// 2. with `requested_ns`: columns whose policy lacks it →
///    [`AggregatesError::GranularitiesMissing`] (400);
/// 3. without: the granularities of **every** column's policy; none →
///    [`AggregatesError::NoGranularityMatch`] listing every column (400).
///
/// No columns: `[requested]` or `[]`.
pub fn plan_granularities(
    columns: &[ColumnPolicy<'_>],
    requested_ns: Option<i64>,
) -> Result<Vec<i64>> {
    let pair = |c: &ColumnPolicy<'_>| (c.name.to_owned(), c.aggregation.to_owned());
    let unknown: Vec<(String, String)> = columns
        .iter()
        .filter(|c| {
            method_of(c.aggregation).is_none_or(|m| !c.policy.aggregation_methods.contains(&m))
        })
        .map(pair)
        .collect();
    ensure!(
        unknown.is_empty(),
        UnknownAggregationSnafu {
            references: unknown
        }
    );
    let has =
        |c: &ColumnPolicy<'_>, g: i64| c.policy.definition.iter().any(|d| d.granularity_ns == g);
    if let Some(g) = requested_ns {
        let missing: Vec<(String, String, i64)> = columns
            .iter()
            .filter(|c| !has(c, g))
            .map(|c| (c.name.to_owned(), c.aggregation.to_owned(), g))
            .collect();
        ensure!(missing.is_empty(), GranularitiesMissingSnafu { missing });
        return Ok(vec![g]);
    }
    let Some(first) = columns.first() else {
        return Ok(Vec::new());
    };
    let mut common: Vec<i64> = first
        .policy
        .definition
        .iter()
        .map(|d| d.granularity_ns)
        .filter(|&g| g > 0 && columns.iter().all(|c| has(c, g)))
        .collect();
    common.sort_unstable_by(|a, b| b.cmp(a));
    common.dedup();
    ensure!(
        !common.is_empty(),
        NoGranularityMatchSnafu {
            references: columns.iter().map(pair).collect::<Vec<_>>()
        }
    );
    Ok(common)
}

/// The matrix of one node at one granularity: rows are timestamps, columns are series.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Frame {
    pub(super) ts: Vec<i64>,
    pub(super) period: Period,
    pub(super) cols: Vec<FrameCol>,
    /// Decides the output shape (engine.md §6.5).
    pub(super) aggregated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct FrameCol {
    /// The input column this one descends from, for per-column output.
    pub(super) source: Option<usize>,
    pub(super) values: Vec<f64>,
}

/// The grid of granularity `g` (engine.md §6.4.1), after `fill` or the overlap rule.
pub(super) fn build_grid(columns: &[Column], g: i64, options: &EvalOptions) -> Result<Frame> {
    let picked: Vec<Picked> = columns
        .iter()
        .map(|c| pick(&c.points, g, options))
        .collect();
    let ts = union_of(columns, &picked);
    let cols = columns
        .iter()
        .zip(&picked)
        .enumerate()
        .map(|(i, (c, p))| place(i, &ts, p.iter(&c.points)))
        .collect();
    finish(ts, cols, g, options)
}

/// [`build_grid`], taking the points of granularity `g` out of each column once they are in the
/// grid, so that peak memory is about one copy of the data rather than two.
pub(super) fn build_grid_draining(
    columns: &mut [Column],
    g: i64,
    options: &EvalOptions,
) -> Result<Frame> {
    let (ts, cols) = place_draining(columns, g, options);
    finish(ts, cols, g, options)
}

/// The rows and columns of [`build_grid_draining`] before `fill` or the overlap rule.
pub(super) fn place_draining(
    columns: &mut [Column],
    g: i64,
    options: &EvalOptions,
) -> (Vec<i64>, Vec<FrameCol>) {
    let picked: Vec<Picked> = columns
        .iter()
        .map(|c| pick(&c.points, g, options))
        .collect();
    let ts = union_of(columns, &picked);
    let mut cols = Vec::with_capacity(columns.len());
    for (i, (c, p)) in columns.iter_mut().zip(&picked).enumerate() {
        cols.push(place(i, &ts, p.iter(&c.points)));
        if c.points.iter().all(|p| p.granularity_ns == g) {
            c.points = Vec::new();
        } else {
            c.points.retain(|p| p.granularity_ns != g);
            c.points.shrink_to_fit();
        }
    }
    (ts, cols)
}

/// The points of one column at one granularity within the window, ascending and unique.
enum Picked {
    /// `points[start..end]`, already in order (what `read_measures` returns).
    Run(usize, usize),
    /// Anything else, sorted and deduplicated (first occurrence wins).
    Sorted(Vec<(i64, f64)>),
}

impl Picked {
    fn iter<'a>(
        &'a self,
        points: &'a [AggregatedPoint],
    ) -> Box<dyn Iterator<Item = (i64, f64)> + 'a> {
        match self {
            Picked::Run(start, end) => Box::new(
                points[*start..*end]
                    .iter()
                    .map(|p| (p.timestamp_ns, p.value)),
            ),
            Picked::Sorted(v) => Box::new(v.iter().copied()),
        }
    }
}

fn pick(points: &[AggregatedPoint], g: i64, options: &EvalOptions) -> Picked {
    let lo = options.start_ns.map(|s| floor_to(s, g));
    let keep = |p: &AggregatedPoint| {
        p.granularity_ns == g
            && lo.is_none_or(|lo| p.timestamp_ns >= lo)
            && options.stop_ns.is_none_or(|s| p.timestamp_ns < s)
    };
    let start = points.iter().position(keep).unwrap_or(points.len());
    let end = points[start..]
        .iter()
        .position(|p| !keep(p))
        .map_or(points.len(), |n| start + n);
    let run = &points[start..end];
    let ordered = run
        .windows(2)
        .all(|w| w[0].timestamp_ns < w[1].timestamp_ns);
    if ordered && !points[end..].iter().any(keep) {
        return Picked::Run(start, end);
    }
    let mut pts: Vec<(i64, f64)> = points
        .iter()
        .filter(|p| keep(p))
        .map(|p| (p.timestamp_ns, p.value))
        .collect();
    pts.sort_by_key(|p| p.0);
    pts.dedup_by_key(|p| p.0);
    Picked::Sorted(pts)
}

/// The union of the columns' timestamps, merged column by column.
fn union_of(columns: &[Column], picked: &[Picked]) -> Vec<i64> {
    let mut ts: Vec<i64> = Vec::new();
    for (c, p) in columns.iter().zip(picked) {
        let mut merged = Vec::with_capacity(ts.len());
        let mut old = ts.iter().copied().peekable();
        for (t, _) in p.iter(&c.points) {
            while let Some(&o) = old.peek() {
                if o < t {
                    merged.push(o);
                    old.next();
                } else {
                    if o == t {
                        old.next();
                    }
                    break;
                }
            }
            merged.push(t);
        }
        merged.extend(old);
        ts = merged;
    }
    ts
}

/// One column on the rows `ts` (a superset of its timestamps), NaN where it has no point.
fn place(i: usize, ts: &[i64], points: impl Iterator<Item = (i64, f64)>) -> FrameCol {
    let mut values = vec![f64::NAN; ts.len()];
    let mut row = 0;
    for (t, v) in points {
        while ts[row] < t {
            row += 1;
        }
        values[row] = v;
    }
    FrameCol {
        source: Some(i),
        values,
    }
}

fn finish(
    mut ts: Vec<i64>,
    mut cols: Vec<FrameCol>,
    g: i64,
    options: &EvalOptions,
) -> Result<Frame> {
    match options.filling {
        Filling::Fill(fill) => {
            for col in &mut cols {
                apply_fill(fill, &mut col.values);
            }
        }
        Filling::Overlap { needed_pct } => overlap(&mut ts, &mut cols, needed_pct, options)?,
    }
    Ok(Frame {
        ts,
        period: Period::Fixed(g),
        cols,
        aggregated: false,
    })
}

pub(super) fn apply_fill(fill: Fill, values: &mut [f64]) {
    match fill {
        Fill::Value(x) => values
            .iter_mut()
            .filter(|v| v.is_nan())
            .for_each(|v| *v = x),
        Fill::Null | Fill::Dropna => {}
        Fill::Ffill => ffill(values),
        Fill::Bfill => bfill(values),
        Fill::FullFfill => {
            ffill(values);
            bfill(values);
        }
        Fill::FullBfill => {
            bfill(values);
            ffill(values);
        }
    }
}

fn ffill(values: &mut [f64]) {
    let mut last = f64::NAN;
    for v in values.iter_mut() {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
}

fn bfill(values: &mut [f64]) {
    let mut next = f64::NAN;
    for v in values.iter_mut().rev() {
        if v.is_nan() {
            *v = next;
        } else {
            next = *v;
        }
    }
}

/// The overlap rule (engine.md §6.4.3), when `fill` is absent.
fn overlap(
    ts: &mut Vec<i64>,
    cols: &mut [FrameCol],
    needed_pct: f64,
    options: &EvalOptions,
) -> Result<()> {
    let full: Vec<usize> = (0..ts.len())
        .filter(|&r| cols.iter().all(|c| !c.values[r].is_nan()))
        .collect();
    ensure!(!(full.is_empty() && needed_pct > 0.0), NoOverlapSnafu);
    if ts.is_empty() {
        return Ok(());
    }
    if let (Some(&first), Some(&last)) = (full.first(), full.last()) {
        if options.stop_ns.is_none() {
            ts.truncate(last + 1);
            cols.iter_mut().for_each(|c| c.values.truncate(last + 1));
        }
        if options.start_ns.is_none() {
            ts.drain(..first);
            cols.iter_mut().for_each(|c| {
                c.values.drain(..first);
            });
        }
    }
    let pct = full.len() as f64 * 100.0 / ts.len() as f64;
    ensure!(
        pct >= needed_pct,
        NotEnoughOverlapSnafu {
            needed_pct,
            actual_pct: pct
        }
    );
    Ok(())
}

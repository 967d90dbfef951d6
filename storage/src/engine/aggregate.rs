//! Grouping into buckets and the per-bucket aggregation methods (engine.md §3.4–§3.6), and the
//! read-side fixed-period resample (§6.1.2).

use gnocchi_core::AggregationMethod;

use super::{cmp_nan_last, floor_to, Series};

/// The per-bucket operation of an aggregation method (engine.md §3.5), resolved once per series.
///
/// gnocchi-core does not re-export its `BaseMethod` enum, so this mirror is built from the
/// method's name; the conversion runs once per (method, series), never per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Mean,
    Sum,
    Last,
    Max,
    Min,
    Std,
    Median,
    First,
    Count,
    Percentile(u8),
}

impl Op {
    /// The operation of `method`, ignoring its `rate:` prefix.
    pub(crate) fn of(method: AggregationMethod) -> Op {
        match method.base.to_string().as_str() {
            "mean" => Op::Mean,
            "sum" => Op::Sum,
            "last" => Op::Last,
            "max" => Op::Max,
            "min" => Op::Min,
            "std" => Op::Std,
            "median" => Op::Median,
            "first" => Op::First,
            "count" => Op::Count,
            other => {
                let p = other
                    .strip_suffix("pct")
                    .and_then(|d| d.parse::<u8>().ok())
                    .expect("every other base method is a percentile 1-99");
                Op::Percentile(p)
            }
        }
    }
}

/// The buckets of a sorted series: `buckets[k]` holds the points `starts[k]..starts[k + 1]`.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    /// Bucket starts, strictly increasing.
    pub(crate) buckets: Vec<i64>,
    /// Index of each bucket's first point; one more entry than `buckets` (the end).
    pub(crate) starts: Vec<usize>,
}

impl Groups {
    /// Number of non-empty buckets.
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}

/// Groups sorted timestamps into epoch-aligned buckets of width `g` (engine.md §3.4.1). Since
/// `floor_to` is monotonic, each bucket is one contiguous run.
pub(crate) fn group(ts: &[i64], g: i64) -> Groups {
    let mut groups = Groups::default();
    let mut current = None;
    for (i, &t) in ts.iter().enumerate() {
        let b = floor_to(t, g);
        if current != Some(b) {
            groups.buckets.push(b);
            groups.starts.push(i);
            current = Some(b);
        }
    }
    groups.starts.push(ts.len());
    groups
}

/// Applies `base` to every bucket of `values` (grouped by `groups`). Percentile offsets count from
/// the start of `values`, which must be the whole grouped series (engine.md §3.5).
pub(crate) fn aggregate(groups: &Groups, values: &[f64], base: Op) -> Series {
    let mut out = Series::with_capacity(groups.len());
    let mut scratch = Vec::new();
    for (k, &bucket) in groups.buckets.iter().enumerate() {
        let (lo, hi) = (groups.starts[k], groups.starts[k + 1]);
        if let Some(v) = bucket_value(&values[lo..hi], lo, base, &mut scratch) {
            out.push(bucket, v);
        }
    }
    out
}

/// Per-sample differences `(t_i, v_i - v_{i-1})` of consecutive points (engine.md §3.6), keeping
/// only those with `t_i >= from`.
pub(crate) fn differences(ts: &[i64], values: &[f64], from: Option<i64>) -> Series {
    let mut out = Series::with_capacity(ts.len().saturating_sub(1));
    for i in 1..ts.len() {
        if from.is_none_or(|f| ts[i] >= f) {
            out.push(ts[i], values[i] - values[i - 1]);
        }
    }
    out
}

/// `rate:<base>` during processing at granularity `g` for buckets from `start_g` on: differences
/// are taken over the points at or after `start_g - g` only, so the first recomputed bucket's
/// first point has a predecessor only if it is that recent (engine.md §3.6, batch-dependent).
/// `series` must start at or before `start_g - g` (the caller passes the whole merged series).
pub(crate) fn aggregate_rate(series: &Series, g: i64, start_g: i64, base: Op) -> Series {
    let from = series.lower_bound(start_g.saturating_sub(g));
    let diffs = differences(&series.ts[from..], &series.values[from..], Some(start_g));
    let groups = group(&diffs.ts, g);
    aggregate(&groups, &diffs.values, base)
}

/// Fixed-period read-side resample of a stored series to period `r` with the same method
/// (engine.md §6.1.2); a `rate:` method differentiates the stored values again (Gnocchi quirk).
pub(crate) fn resample(series: &Series, r: i64, method: AggregationMethod) -> Series {
    if method.rate {
        let diffs = differences(&series.ts, &series.values, None);
        let groups = group(&diffs.ts, r);
        aggregate(&groups, &diffs.values, Op::of(method))
    } else {
        let groups = group(&series.ts, r);
        aggregate(&groups, &series.values, Op::of(method))
    }
}

/// The value of one bucket (`v` non-empty, in time order, preceded by `offset` points of the
/// grouped series); `None` when the method yields no point (std of one point).
#[inline]
fn bucket_value(v: &[f64], offset: usize, base: Op, scratch: &mut Vec<f64>) -> Option<f64> {
    let n = v.len();
    Some(match base {
        Op::Count => n as f64,
        Op::Sum => sum(v),
        Op::Mean => sum(v) / n as f64,
        Op::First => v[0],
        Op::Last => v[n - 1],
        Op::Min => {
            // Smallest non-NaN value; NaN only when all are NaN.
            let mut m = f64::NAN;
            for &x in v {
                if x < m || m.is_nan() {
                    m = x;
                }
            }
            m
        }
        Op::Max => {
            // Any NaN makes the maximum NaN.
            let mut m = v[0];
            for &x in v {
                if x.is_nan() {
                    return Some(f64::NAN);
                }
                if x > m {
                    m = x;
                }
            }
            m
        }
        Op::Std => {
            if n < 2 {
                return None;
            }
            let m = sum(v) / n as f64;
            let ss = v.iter().fold(0.0, |acc, &x| acc + (x - m) * (x - m));
            (ss / (n - 1) as f64).sqrt()
        }
        Op::Median => {
            let s = sorted(v, scratch);
            let mid = (n - 1) - n / 2;
            (s[mid] + s[mid + (1 - n % 2)]) / 2.0
        }
        Op::Percentile(p) => {
            let s = sorted(v, scratch);
            percentile(s, offset, p)
        }
    })
}

/// Sequential left-to-right sum (engine.md §3.5: not pairwise).
#[inline]
fn sum(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |acc, &x| acc + x)
}

fn sorted<'a>(v: &[f64], scratch: &'a mut Vec<f64>) -> &'a [f64] {
    scratch.clear();
    scratch.extend_from_slice(v);
    scratch.sort_unstable_by(|a, b| cmp_nan_last(*a, *b));
    scratch
}

/// Linear interpolation between closest ranks with Gnocchi's offset quirk (engine.md §3.5): the
/// fractional rank is computed in f64 against the position in the whole grouped series.
fn percentile(s: &[f64], offset: usize, p: u8) -> f64 {
    let n = s.len();
    let o = offset as f64;
    let r = o + (n - 1) as f64 * (f64::from(p) / 100.0);
    let lo = r.floor();
    let hi = r.ceil();
    // r lies in [o, o + n - 1]; clamp to guard against any rounding surprise.
    let li = ((lo - o) as usize).min(n - 1);
    let hi_i = ((hi - o) as usize).min(n - 1);
    if lo == hi {
        s[li]
    } else {
        s[li] * (hi - r) + s[hi_i] * (r - lo)
    }
}

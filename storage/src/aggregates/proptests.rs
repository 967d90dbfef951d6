//! Property tests of the aggregates engine against a naive reference evaluator (BTreeMaps and
//! loops, engine.md §6.4): alignment on the union of timestamps, every `fill`, the overlap rule,
//! `aggregate` with every row function, and arithmetic with numbers and series.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::AggregatedPoint;

const S: i64 = 1_000_000_000;

/// One column as a map timestamp (s) → value.
type RefSeries = BTreeMap<i64, f64>;

#[derive(Debug, Clone)]
enum Tree {
    /// `(metric all)`.
    Metric,
    /// `(aggregate m (metric all))`.
    Aggregate(ReduceBase),
    /// `(op <tree> x)` or `(op x <tree>)`.
    WithNumber(BinaryOp, Box<Tree>, f64, bool),
    /// `(op (aggregate a (metric all)) (aggregate b (metric all)))`.
    TwoAggregates(BinaryOp, ReduceBase, ReduceBase),
    /// `(aggregate m (op (metric all) x))`.
    AggregateOf(ReduceBase, BinaryOp, f64),
    /// `(rolling m w (metric all))`, `w < 8` (sequential sums).
    Rolling(ReduceBase, usize),
    /// `(rateofchange <tree>)`.
    RateOfChange(Box<Tree>),
}

fn base() -> impl Strategy<Value = ReduceBase> {
    prop_oneof![
        Just(ReduceBase::Mean),
        Just(ReduceBase::Median),
        Just(ReduceBase::Std),
        Just(ReduceBase::Min),
        Just(ReduceBase::Max),
        Just(ReduceBase::Sum),
        Just(ReduceBase::Var),
        Just(ReduceBase::Count),
    ]
}

fn binop() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div),
        Just(BinaryOp::Gt),
        Just(BinaryOp::Le),
        Just(BinaryOp::Ne),
        Just(BinaryOp::Eq),
        Just(BinaryOp::Max),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![Just(Tree::Metric), base().prop_map(Tree::Aggregate)];
    prop_oneof![
        leaf.clone(),
        (binop(), leaf, -3i32..4, any::<bool>()).prop_map(|(op, t, x, left)| Tree::WithNumber(
            op,
            Box::new(t),
            f64::from(x),
            left
        )),
        (binop(), base(), base()).prop_map(|(op, a, b)| Tree::TwoAggregates(op, a, b)),
        (base(), binop(), -3i32..4).prop_map(|(m, op, x)| Tree::AggregateOf(m, op, f64::from(x))),
        (base(), 1usize..5).prop_map(|(m, w)| Tree::Rolling(m, w)),
        leaf_or_number().prop_map(|t| Tree::RateOfChange(Box::new(t))),
    ]
}

fn leaf_or_number() -> impl Strategy<Value = Tree> {
    prop_oneof![
        Just(Tree::Metric),
        base().prop_map(Tree::Aggregate),
        (binop(), -3i32..4).prop_map(|(op, x)| {
            Tree::WithNumber(op, Box::new(Tree::Metric), f64::from(x), true)
        }),
    ]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => (-20i32..20).prop_map(f64::from),
        3 => (-2000i32..2000).prop_map(|v| f64::from(v) / 7.0),
        1 => Just(f64::NAN),
    ]
}

fn series() -> impl Strategy<Value = RefSeries> {
    proptest::collection::btree_map(0i64..16, value(), 0..10)
}

fn filling() -> impl Strategy<Value = Filling> {
    prop_oneof![
        Just(Filling::Fill(Fill::Dropna)),
        Just(Filling::Fill(Fill::Null)),
        (-3i32..3).prop_map(|x| Filling::Fill(Fill::Value(f64::from(x)))),
        Just(Filling::Fill(Fill::Ffill)),
        Just(Filling::Fill(Fill::Bfill)),
        Just(Filling::Fill(Fill::FullFfill)),
        Just(Filling::Fill(Fill::FullBfill)),
        (0u32..=100).prop_map(|p| Filling::Overlap {
            needed_pct: f64::from(p)
        }),
    ]
}

fn op_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Gt => ">",
        BinaryOp::Le => "<=",
        BinaryOp::Ne => "!=",
        BinaryOp::Eq => "==",
        BinaryOp::Max => "max",
        other => panic!("not generated: {other:?}"),
    }
}

fn base_name(b: ReduceBase) -> String {
    ReduceMethod {
        base: b,
        rate: false,
    }
    .to_string()
}

fn to_json(t: &Tree, refs: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match t {
        Tree::Metric => refs.clone(),
        Tree::Aggregate(b) => json!(["aggregate", base_name(*b), refs]),
        Tree::WithNumber(op, t, x, left) => {
            if *left {
                json!([op_name(*op), to_json(t, refs), x])
            } else {
                json!([op_name(*op), x, to_json(t, refs)])
            }
        }
        Tree::TwoAggregates(op, a, b) => json!([
            op_name(*op),
            ["aggregate", base_name(*a), refs],
            ["aggregate", base_name(*b), refs]
        ]),
        Tree::AggregateOf(m, op, x) => {
            json!(["aggregate", base_name(*m), [op_name(*op), refs, x]])
        }
        Tree::Rolling(m, w) => json!(["rolling", base_name(*m), w, refs]),
        Tree::RateOfChange(t) => json!(["rateofchange", to_json(t, refs)]),
    }
}

// ------------------------------------------------------------------ reference model

fn ref_binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    let t = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Gt => t(!a.is_nan() && !b.is_nan() && a > b),
        BinaryOp::Le => t(!a.is_nan() && !b.is_nan() && a <= b),
        BinaryOp::Ne => t(a.is_nan() || b.is_nan() || a != b),
        BinaryOp::Eq => t(!a.is_nan() && !b.is_nan() && a == b),
        BinaryOp::Max => match (a.is_nan(), b.is_nan()) {
            (true, true) => f64::NAN,
            (true, false) => b,
            (false, true) => a,
            (false, false) => {
                if a >= b {
                    a
                } else {
                    b
                }
            }
        },
        other => panic!("not generated: {other:?}"),
    }
}

/// Row function over the non-NaN cells, written from the spec's formulas.
fn ref_reduce(b: ReduceBase, cells: &[f64]) -> f64 {
    let vals: Vec<f64> = cells.iter().copied().filter(|v| !v.is_nan()).collect();
    let k = vals.len();
    let mut sum = 0.0;
    for v in &vals {
        sum += v;
    }
    match b {
        ReduceBase::Count => k as f64,
        ReduceBase::Sum => sum,
        ReduceBase::Mean => sum / k as f64,
        ReduceBase::Min | ReduceBase::Max | ReduceBase::Median if k == 0 => f64::NAN,
        ReduceBase::Min => {
            let mut m = vals[0];
            for &v in &vals {
                if v < m {
                    m = v;
                }
            }
            m
        }
        ReduceBase::Max => {
            let mut m = vals[0];
            for &v in &vals {
                if v > m {
                    m = v;
                }
            }
            m
        }
        ReduceBase::Median => {
            let mut s = vals.clone();
            s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN left"));
            if k % 2 == 1 {
                s[k / 2]
            } else {
                (s[k / 2 - 1] + s[k / 2]) / 2.0
            }
        }
        ReduceBase::Var | ReduceBase::Std => {
            if k == 0 {
                return f64::NAN;
            }
            let m = sum / k as f64;
            let mut ss = 0.0;
            for v in &vals {
                ss += (v - m) * (v - m);
            }
            let var = ss / k as f64;
            if b == ReduceBase::Std {
                var.sqrt()
            } else {
                var
            }
        }
    }
}

/// The reference grid: timestamps and one column of cells per series, after fill / overlap.
/// `Err(())` when the overlap rule refuses.
fn ref_grid(
    cols: &[RefSeries],
    filling: Filling,
    start: Option<i64>,
    stop: Option<i64>,
) -> Result<(Vec<i64>, Vec<Vec<f64>>), ()> {
    let cols: Vec<RefSeries> = cols
        .iter()
        .map(|c| {
            c.iter()
                .filter(|(t, _)| start.is_none_or(|s| **t >= s) && stop.is_none_or(|s| **t < s))
                .map(|(t, v)| (*t, *v))
                .collect()
        })
        .collect();
    let times: BTreeSet<i64> = cols.iter().flat_map(|c| c.keys().copied()).collect();
    let mut ts: Vec<i64> = times.into_iter().collect();
    let raw: Vec<Vec<f64>> = cols
        .iter()
        .map(|c| {
            ts.iter()
                .map(|t| c.get(t).copied().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let mut grid = raw.clone();
    match filling {
        Filling::Fill(fill) => {
            for (c, col) in raw.iter().enumerate() {
                for r in 0..ts.len() {
                    if !col[r].is_nan() {
                        continue;
                    }
                    let prev = (0..r).rev().map(|i| col[i]).find(|v| !v.is_nan());
                    let next = (r + 1..ts.len()).map(|i| col[i]).find(|v| !v.is_nan());
                    grid[c][r] = match fill {
                        Fill::Value(x) => x,
                        Fill::Null | Fill::Dropna => f64::NAN,
                        Fill::Ffill => prev.unwrap_or(f64::NAN),
                        Fill::Bfill => next.unwrap_or(f64::NAN),
                        Fill::FullFfill => prev.or(next).unwrap_or(f64::NAN),
                        Fill::FullBfill => next.or(prev).unwrap_or(f64::NAN),
                    };
                }
            }
        }
        Filling::Overlap { needed_pct } => {
            let full: Vec<usize> = (0..ts.len())
                .filter(|&r| grid.iter().all(|c| !c[r].is_nan()))
                .collect();
            if full.is_empty() && needed_pct > 0.0 {
                return Err(());
            }
            if !ts.is_empty() {
                if let (Some(&a), Some(&b)) = (full.first(), full.last()) {
                    let a = if start.is_none() { a } else { 0 };
                    let b = if stop.is_none() { b } else { ts.len() - 1 };
                    ts = ts[a..=b].to_vec();
                    for c in &mut grid {
                        *c = c[a..=b].to_vec();
                    }
                }
                let pct = full.len() as f64 * 100.0 / ts.len() as f64;
                if pct < needed_pct {
                    return Err(());
                }
            }
        }
    }
    Ok((ts, grid))
}

/// Per-column (false) or aggregated (true) reference result, with its timestamps; `None` when
/// a rolling window is longer than the series.
fn ref_eval(t: &Tree, ts: &[i64], grid: &[Vec<f64>]) -> Option<(bool, Vec<i64>, Vec<Vec<f64>>)> {
    let rows = ts.len();
    let agg = |b: ReduceBase, g: &[Vec<f64>]| -> Vec<f64> {
        (0..rows)
            .map(|r| ref_reduce(b, &g.iter().map(|c| c[r]).collect::<Vec<_>>()))
            .collect()
    };
    Some(match t {
        Tree::Metric => (false, ts.to_vec(), grid.to_vec()),
        Tree::Aggregate(b) => (true, ts.to_vec(), vec![agg(*b, grid)]),
        Tree::WithNumber(op, inner, x, left) => {
            let (a, ts, cols) = ref_eval(inner, ts, grid)?;
            let cols = cols
                .into_iter()
                .map(|c| {
                    c.into_iter()
                        .map(|v| {
                            if *left {
                                ref_binary(*op, v, *x)
                            } else {
                                ref_binary(*op, *x, v)
                            }
                        })
                        .collect()
                })
                .collect();
            (a, ts, cols)
        }
        Tree::TwoAggregates(op, a, b) => {
            let (l, r) = (agg(*a, grid), agg(*b, grid));
            (
                true,
                ts.to_vec(),
                vec![l
                    .iter()
                    .zip(&r)
                    .map(|(x, y)| ref_binary(*op, *x, *y))
                    .collect()],
            )
        }
        Tree::AggregateOf(m, op, x) => {
            let g: Vec<Vec<f64>> = grid
                .iter()
                .map(|c| c.iter().map(|v| ref_binary(*op, *v, *x)).collect())
                .collect();
            (true, ts.to_vec(), vec![agg(*m, &g)])
        }
        Tree::Rolling(m, w) => {
            if *w > rows {
                return None;
            }
            let cols = grid
                .iter()
                .map(|c| {
                    (w - 1..rows)
                        .map(|end| ref_reduce(*m, &c[end + 1 - w..=end]))
                        .collect()
                })
                .collect();
            (false, ts[w - 1..].to_vec(), cols)
        }
        Tree::RateOfChange(inner) => {
            let (a, ts, cols) = ref_eval(inner, ts, grid)?;
            let cols = cols
                .iter()
                .map(|c| (1..c.len()).map(|i| c[i] - c[i - 1]).collect())
                .collect();
            (
                a,
                ts.get(1..).map(<[i64]>::to_vec).unwrap_or_default(),
                cols,
            )
        }
    })
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evaluate_matches_reference(
        cols in proptest::collection::vec(series(), 1..4),
        t in tree(),
        filling in filling(),
        start in proptest::option::weighted(0.3, 0i64..16),
        stop in proptest::option::weighted(0.3, 0i64..17),
        slice_rows in 1usize..6,
    ) {
        let names: Vec<String> = (0..cols.len()).map(|i| format!("m{i}")).collect();
        let columns: Vec<Column> = cols
            .iter()
            .zip(&names)
            .map(|(c, name)| Column {
                reference: Reference::new(name.clone(), "mean"),
                name: ColumnName::Metric { metric_id: name.clone() },
                points: c
                    .iter()
                    .map(|(t, v)| AggregatedPoint { timestamp_ns: t * S, granularity_ns: S, value: *v })
                    .collect(),
            })
            .collect();
        let mut refs = vec![serde_json::json!("metric")];
        refs.extend(names.iter().map(|n| serde_json::json!([n, "mean"])));
        let ops = to_json(&t, &serde_json::Value::Array(refs));
        let op = parse_operations(&ops).expect("generated operations parse");
        let options = EvalOptions {
            granularities: vec![S],
            start_ns: start.map(|s| s * S),
            stop_ns: stop.map(|s| s * S),
            filling,
        };
        let got = evaluate(&op, &columns, &options);
        let mut drained = columns.clone();
        let again = evaluate_draining(&op, &mut drained, &options);
        prop_assert_eq!(format!("{again:?}"), format!("{got:?}"));
        if is_streamable(&op, options.filling) {
            let streamed = super::stream::evaluate_in_slices(&op, &columns, &options, slice_rows);
            prop_assert_eq!(format!("{streamed:?}"), format!("{got:?}"), "streamed differs");
        }

        let expected = ref_grid(&cols, filling, start, stop);
        let (ts, grid) = match expected {
            Err(()) => {
                prop_assert!(matches!(
                    got,
                    Err(AggregatesError::NoOverlap | AggregatesError::NotEnoughOverlap { .. })
                ), "expected an overlap error, got {got:?}");
                return Ok(());
            }
            Ok(g) => g,
        };
        let Some((aggregated, ts, out)) = ref_eval(&t, &ts, &grid) else {
            prop_assert!(
                matches!(got, Err(AggregatesError::RollingWindowTooLarge { .. })),
                "expected a rolling error, got {:?}", got
            );
            return Ok(());
        };
        let got = got.expect("reference evaluated");
        let drop = matches!(filling, Filling::Fill(f) if f.drops_non_finite());
        let listify = |col: &[f64]| -> Vec<(i64, f64)> {
            ts.iter()
                .zip(col)
                .filter(|(_, v)| !drop || v.is_finite())
                .map(|(t, v)| (t * S, *v))
                .collect()
        };
        let got_lists: Vec<Vec<(i64, f64)>> = match (&got, aggregated) {
            (Measures::Aggregated(p), true) => {
                vec![p.iter().map(|p| (p.timestamp_ns, p.value)).collect()]
            }
            (Measures::PerColumn(l), false) => l
                .iter()
                .map(|(_, p)| p.iter().map(|p| (p.timestamp_ns, p.value)).collect())
                .collect(),
            other => return Err(TestCaseError::fail(format!("wrong shape {other:?}"))),
        };
        let want: Vec<Vec<(i64, f64)>> = out.iter().map(|c| listify(c)).collect();
        prop_assert_eq!(got_lists.len(), want.len());
        for (g, w) in got_lists.iter().zip(&want) {
            prop_assert_eq!(g.len(), w.len(), "got {:?} want {:?}", g, w);
            for (a, b) in g.iter().zip(w) {
                prop_assert_eq!(a.0, b.0);
                prop_assert!(same(a.1, b.1), "value {} != {} (got {:?}, want {:?})", a.1, b.1, g, w);
            }
        }
    }
}

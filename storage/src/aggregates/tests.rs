//! Unit tests of the aggregates engine: the numbers of engine.md §6 and of Gnocchi's functional
//! scenarios (aggregates-with-metric-ids, aggregates-with-resources, aggregation, metric),
//! re-typed as our own cases.

use gnocchi_core::time::{parse_timestamp, TimeInput};
use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem};
use serde_json::json;

use super::*;
use crate::AggregatedPoint;

const S: i64 = 1_000_000_000;

fn ts(s: &str) -> i64 {
    parse_timestamp(&TimeInput::Text(s), 0).expect("valid timestamp")
}

/// A column from `(granularity seconds, [(timestamp, value)])` lists.
fn column(metric: &str, agg: &str, series: &[(i64, &[(&str, f64)])]) -> Column {
    let mut points = Vec::new();
    for (g, pts) in series {
        for (t, v) in pts.iter() {
            points.push(AggregatedPoint {
                timestamp_ns: ts(t),
                granularity_ns: g * S,
                value: *v,
            });
        }
    }
    Column {
        reference: Reference::new(metric, agg),
        name: ColumnName::Metric {
            metric_id: metric.to_owned(),
        },
        points,
    }
}

const T1: &str = "2015-03-06T14:33:57";
const T2: &str = "2015-03-06T14:34:12";
const T3: &str = "2015-03-06T14:34:15";
const T4: &str = "2015-03-06T14:35:12";
const T5: &str = "2015-03-06T14:35:15";
const M33: &str = "2015-03-06T14:33:00";
const M34: &str = "2015-03-06T14:34:00";
const M35: &str = "2015-03-06T14:35:00";

/// metric1 and metric2 of aggregates-with-metric-ids (policy 1 s + 60 s, means stored).
fn metric1() -> Column {
    column(
        "m1",
        "mean",
        &[
            (60, &[(M33, 43.1), (M34, -2.0), (M35, 10.0)]),
            (
                1,
                &[(T1, 43.1), (T2, 12.0), (T3, -16.0), (T4, 9.0), (T5, 11.0)],
            ),
        ],
    )
}

fn metric2() -> Column {
    column(
        "m2",
        "mean",
        &[
            (60, &[(M33, 2.0), (M34, 4.5), (M35, 12.5)]),
            (
                1,
                &[(T1, 2.0), (T2, 4.0), (T3, 5.0), (T4, 10.0), (T5, 15.0)],
            ),
        ],
    )
}

fn options(granularities: &[i64], filling: Filling) -> EvalOptions {
    EvalOptions {
        granularities: granularities.iter().map(|g| g * S).collect(),
        start_ns: None,
        stop_ns: None,
        filling,
    }
}

fn dropna(granularities: &[i64]) -> EvalOptions {
    options(granularities, Filling::from_params(None, None))
}

fn run(ops: serde_json::Value, columns: &[Column], opts: &EvalOptions) -> Measures {
    let op = parse_operations(&ops).expect("valid operations");
    both(&op, columns, opts).expect("evaluates")
}

fn try_run(ops: &str, columns: &[Column], opts: &EvalOptions) -> Result<Measures, AggregatesError> {
    let op = parse_operations(&json!(ops)).expect("valid operations");
    both(&op, columns, opts)
}

/// `evaluate`, checking that `evaluate_draining` answers the same (Debug text: NaN != NaN).
fn both(
    op: &Operation,
    columns: &[Column],
    opts: &EvalOptions,
) -> Result<Measures, AggregatesError> {
    let got = evaluate(op, columns, opts);
    let mut drained = columns.to_vec();
    let again = evaluate_draining(op, &mut drained, opts);
    assert_eq!(format!("{again:?}"), format!("{got:?}"), "draining differs");
    if is_streamable(op, opts.filling) {
        for rows in [1, 2, 5] {
            let streamed = super::stream::evaluate_in_slices(op, columns, opts, rows);
            assert_eq!(
                format!("{streamed:?}"),
                format!("{got:?}"),
                "streamed in slices of {rows} rows differs"
            );
        }
    }
    got
}

/// (timestamp text, granularity seconds, value) triples of a list.
fn triples(points: &[OutputPoint]) -> Vec<(String, f64, f64)> {
    points
        .iter()
        .map(|p| {
            let g = match p.period {
                Period::Fixed(ns) => ns as f64 / 1e9,
                Period::Calendar(_) => f64::NAN,
            };
            (
                gnocchi_core::time::format_timestamp(p.timestamp_ns)[..19].to_owned(),
                g,
                p.value,
            )
        })
        .collect()
}

fn expect(rows: &[(&str, f64, f64)]) -> Vec<(String, f64, f64)> {
    rows.iter()
        .map(|(t, g, v)| ((*t).to_owned(), *g, *v))
        .collect()
}

fn aggregated(m: &Measures) -> Vec<(String, f64, f64)> {
    match m {
        Measures::Aggregated(p) => triples(p),
        other => panic!("expected aggregated, got {other:?}"),
    }
}

type Rows = Vec<(String, f64, f64)>;

fn per_column(m: &Measures) -> Vec<(usize, Rows)> {
    match m {
        Measures::PerColumn(lists) => lists.iter().map(|(i, p)| (*i, triples(p))).collect(),
        other => panic!("expected per-column, got {other:?}"),
    }
}

/// Compares values allowing NaN == NaN.
fn assert_rows(got: &[(String, f64, f64)], want: &[(String, f64, f64)]) {
    assert_eq!(got.len(), want.len(), "got {got:?}\nwant {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "got {got:?}");
        assert_eq!(g.1, w.1, "got {got:?}");
        assert!(
            g.2 == w.2 || (g.2.is_nan() && w.2.is_nan()),
            "value {} != {} in {got:?}",
            g.2,
            w.2
        );
    }
}

// ---------------------------------------------------------------- parsing

#[test]
fn parse_json_and_string_forms_agree() {
    let a = parse_operations(&json!([
        "aggregate",
        "mean",
        ["metric", ["a", "mean"], ["b", "max"]]
    ]))
    .expect("json form");
    let b = parse_operations(&json!("(aggregate mean (metric (a mean) (b max)))")).expect("string");
    assert_eq!(a, b);
    assert_eq!(
        a.references(),
        vec![Reference::new("a", "mean"), Reference::new("b", "max")]
    );
}

#[test]
fn parse_string_ignores_trailing_text_and_coerces_numbers() {
    // aggregates-with-metric-ids "get aggregates substact": one extra ')' is ignored.
    let op = parse_operations(&json!("(- (metric a mean) (metric b mean)))")).expect("valid");
    assert!(matches!(
        op,
        Operation::Binary {
            op: BinaryOp::Sub,
            ..
        }
    ));
    let op = parse_operations(&json!("(+ (metric (a mean) (b mean)) 2.0)")).expect("valid");
    let Operation::Binary { right, .. } = op else {
        panic!("binary")
    };
    assert_eq!(*right, Operation::Number(2.0));
    let op = parse_operations(&json!("(rolling mean 2 (resample max 1h (metric a mean)))"))
        .expect("valid");
    let Operation::Rolling {
        window, operand, ..
    } = op
    else {
        panic!("rolling")
    };
    assert_eq!(window, 2);
    assert!(
        matches!(*operand, Operation::Resample { period: Period::Fixed(p), .. } if p == 3600 * S)
    );
}

#[test]
fn parse_references_are_distinct_in_first_appearance_order() {
    let op = parse_operations(&json!(
        "(- (metric (b mean) (a mean)) (metric (a mean) (c max) (b mean)))"
    ))
    .expect("valid");
    assert_eq!(
        op.references(),
        vec![
            Reference::new("b", "mean"),
            Reference::new("a", "mean"),
            Reference::new("c", "max")
        ]
    );
}

#[test]
fn parse_every_operator_name() {
    for name in [
        "abs",
        "absolute",
        "neg",
        "negative",
        "cos",
        "sin",
        "tan",
        "floor",
        "ceil",
        "rateofchange",
        "rateofchangesec",
    ] {
        parse_operations(&json!([name, ["metric", "a", "mean"]])).expect(name);
    }
    for name in [
        "=", "==", "eq", "<", "lt", ">", "gt", "<=", "≤", "le", ">=", "≥", "ge", "!=", "≠", "ne",
        "%", "mod", "+", "add", "-", "sub", "*", "×", "mul", "/", "÷", "div", "**", "^", "pow",
        "clip_min", "clip_max", "max",
    ] {
        parse_operations(&json!([name, ["metric", "a", "mean"], 2])).expect(name);
        parse_operations(&json!([name, 2, ["metric", "a", "mean"]])).expect(name);
    }
    for m in ["mean", "median", "std", "min", "max", "sum", "var", "count"] {
        for m in [m.to_owned(), format!("rate:{m}")] {
            parse_operations(&json!(["aggregate", m, ["metric", "a", "mean"]])).expect("agg");
            parse_operations(&json!(["rolling", m, 3, ["metric", "a", "mean"]])).expect("rolling");
        }
    }
    parse_operations(&json!(["clip", ["metric", "a", "mean"], 1])).expect("clip 2");
    parse_operations(&json!(["clip", ["metric", "a", "mean"], 1, 5])).expect("clip 3");
}

#[test]
fn parse_errors_carry_gnocchi_messages() {
    let err = |v: serde_json::Value| parse_operations(&v).expect_err("invalid");
    let reason = |v: serde_json::Value| err(v).reason();
    assert!(reason(json!([])).starts_with("Operation must not be empty"));
    assert!(
        reason(json!({"foo": "bar"})).starts_with("Expected a tuple/list, got a <class 'dict'>")
    );
    assert_eq!(
        reason(json!(["metric"])),
        "Operation need at least one argument for dictionary value @ data['operations']"
    );
    assert!(matches!(
        err(json!("(metroc foo bar")),
        OperationError::StringSyntax { .. }
    ));
    assert_eq!(
        reason(json!("(metroc foo bar")),
        "Expected ')', found end of text  (at char 15), (line:1, col:16)"
    );
    assert_eq!(
        reason(json!("(rolling blah 2 (metric x mean))")),
        "'rolling' operation invalid for dictionary value @ data['operations']"
    );
    assert!(reason(json!("(rolling mean (metric x mean))")).starts_with("'rolling' operation"));
    assert!(reason(json!("(rolling mean 0 (metric x mean))")).starts_with("'rolling' operation"));
    assert!(reason(json!("(notexist (absolute (metric x mean)))"))
        .starts_with("'notexist' operation invalid"));
    assert!(
        reason(json!("(resample mean invalid (metric (a mean) (b mean)))"))
            .starts_with("'resample' operation invalid")
    );
    // engine.md §10.2: `var` has no carbonara method; Gnocchi answers 500.
    assert!(reason(json!("(resample var 60 (metric a mean))")).starts_with("'resample'"));
    // A nested error names the top-level operation.
    assert!(
        reason(json!("(aggregate mean (rolling blah 2 (metric x mean)))"))
            .starts_with("'aggregate' operation invalid")
    );
    assert!(reason(json!(["metric", 5])).starts_with("'metric' operation invalid"));
    assert!(reason(json!("(metric (a mean b))")).starts_with("'metric' operation invalid"));
    assert!(reason(json!(5)).starts_with("Expected a tuple/list, got a <class 'int'>"));
    assert!(matches!(
        err(json!(["+", 1, 2])),
        OperationError::NoMetric { operations } if operations == json!(["+", 1, 2])
    ));
    assert!(matches!(
        err(json!("(+ 1 2)")),
        OperationError::NoMetric { operations } if operations == json!(["+", "1", "2"])
    ));
    // JSON-form operands are JSON numbers, not strings.
    assert!(reason(json!(["+", ["metric", "a", "mean"], "2"])).starts_with("'+' operation"));
}

// ---------------------------------------------------------------- planning

fn policy(granularities: &[i64], methods: &[&str]) -> ArchivePolicy {
    ArchivePolicy {
        name: String::from("p"),
        back_window: 0,
        definition: granularities
            .iter()
            .map(|g| ArchivePolicyItem {
                granularity_ns: g * S,
                points: None,
            })
            .collect(),
        aggregation_methods: methods
            .iter()
            .map(|m| m.parse::<AggregationMethod>().expect("method"))
            .collect(),
    }
}

#[test]
fn plan_granularities_checks_in_gnocchi_order() {
    let cookies = policy(&[1, 60], &["mean", "max", "min"]);
    let cake = policy(&[5], &["mean"]);
    let col = |name, agg, policy| ColumnPolicy {
        name,
        aggregation: agg,
        policy,
    };
    let ok = plan_granularities(
        &[col("a", "mean", &cookies), col("b", "max", &cookies)],
        None,
    )
    .expect("planned");
    assert_eq!(ok, vec![60 * S, S]);
    let err = plan_granularities(
        &[
            col("a", "what?", &cookies),
            col("b", "mean", &cookies),
            col("c", "last", &cookies),
        ],
        Some(123 * S),
    )
    .expect_err("unknown");
    assert_eq!(
        err,
        AggregatesError::UnknownAggregation {
            references: vec![("a".into(), "what?".into()), ("c".into(), "last".into())]
        }
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::NotFound);
    let err = plan_granularities(&[col("a", "mean", &cookies)], Some(123 * S)).expect_err("g");
    assert_eq!(
        err,
        AggregatesError::GranularitiesMissing {
            missing: vec![("a".into(), "mean".into(), 123 * S)]
        }
    );
    assert_eq!(err.reason(), "Granularities are missing");
    let err = plan_granularities(
        &[
            col("a", "mean", &cookies),
            col("b", "mean", &cookies),
            col("c", "mean", &cake),
        ],
        None,
    )
    .expect_err("no match");
    assert!(
        matches!(&err, AggregatesError::NoGranularityMatch { references } if references.len() == 3)
    );
    assert_eq!(err.reason(), "No granularity match");
}

// ---------------------------------------------------------------- aggregates-with-metric-ids

#[test]
fn metric_columns_both_granularities() {
    let cols = [metric1(), metric2()];
    let m = run(
        json!(["metric", ["m1", "mean"], ["m2", "mean"]]),
        &cols,
        &dropna(&[1, 60]),
    );
    let lists = per_column(&m);
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].0, 0);
    assert_rows(
        &lists[0].1,
        &expect(&[
            (M33, 60.0, 43.1),
            (M34, 60.0, -2.0),
            (M35, 60.0, 10.0),
            (T1, 1.0, 43.1),
            (T2, 1.0, 12.0),
            (T3, 1.0, -16.0),
            (T4, 1.0, 9.0),
            (T5, 1.0, 11.0),
        ]),
    );
    assert_rows(
        &lists[1].1,
        &expect(&[
            (M33, 60.0, 2.0),
            (M34, 60.0, 4.5),
            (M35, 60.0, 12.5),
            (T1, 1.0, 2.0),
            (T2, 1.0, 4.0),
            (T3, 1.0, 5.0),
            (T4, 1.0, 10.0),
            (T5, 1.0, 15.0),
        ]),
    );
}

#[test]
fn start_and_stop() {
    let cols = [metric1(), metric2()];
    let mut opts = dropna(&[1, 60]);
    opts.start_ns = Some(ts("2015-03-06T14:34:00"));
    opts.stop_ns = Some(ts("2015-03-06T14:35:13"));
    let lists = per_column(&run(json!("(metric (m1 mean) (m2 mean))"), &cols, &opts));
    assert_rows(
        &lists[0].1,
        &expect(&[
            (M34, 60.0, -2.0),
            (M35, 60.0, 10.0),
            (T2, 1.0, 12.0),
            (T3, 1.0, -16.0),
            (T4, 1.0, 9.0),
        ]),
    );
}

#[test]
fn add_number_keeps_columns() {
    let cols = [metric1(), metric2()];
    let lists = per_column(&run(
        json!("(+ (metric (m1 mean) (m2 mean)) 2.0)"),
        &cols,
        &dropna(&[1, 60]),
    ));
    assert_rows(
        &lists[0].1,
        &expect(&[
            (M33, 60.0, 45.1),
            (M34, 60.0, 0.0),
            (M35, 60.0, 12.0),
            (T1, 1.0, 45.1),
            (T2, 1.0, 14.0),
            (T3, 1.0, -14.0),
            (T4, 1.0, 11.0),
            (T5, 1.0, 13.0),
        ]),
    );
    assert_rows(
        &lists[1].1[..3],
        &expect(&[(M33, 60.0, 4.0), (M34, 60.0, 6.5), (M35, 60.0, 14.5)]),
    );
}

#[test]
fn resample_op_at_one_second() {
    let cols = [metric1(), metric2()];
    let m = run(
        json!([
            "resample",
            "mean",
            60,
            ["metric", ["m1", "mean"], ["m2", "mean"]]
        ]),
        &cols,
        &dropna(&[1]),
    );
    let lists = per_column(&m);
    assert_rows(
        &lists[0].1,
        &expect(&[(M33, 60.0, 43.1), (M34, 60.0, -2.0), (M35, 60.0, 10.0)]),
    );
    assert_rows(
        &lists[1].1,
        &expect(&[(M33, 60.0, 2.0), (M34, 60.0, 4.5), (M35, 60.0, 12.5)]),
    );
}

#[test]
fn rolling_mean_two() {
    let cols = [metric1(), metric2()];
    let m = run(
        json!([
            "rolling",
            "mean",
            2,
            ["metric", ["m1", "mean"], ["m2", "mean"]]
        ]),
        &cols,
        &dropna(&[1]),
    );
    let lists = per_column(&m);
    assert_rows(
        &lists[0].1,
        &expect(&[
            (T2, 1.0, 27.55),
            (T3, 1.0, -2.0),
            (T4, 1.0, -3.5),
            (T5, 1.0, 10.0),
        ]),
    );
    assert_rows(
        &lists[1].1,
        &expect(&[
            (T2, 1.0, 3.0),
            (T3, 1.0, 4.5),
            (T4, 1.0, 7.5),
            (T5, 1.0, 12.5),
        ]),
    );
}

#[test]
fn aggregate_mean_and_rate_mean() {
    let cols = [metric1(), metric2()];
    let m = run(
        json!("(aggregate mean (metric (m1 mean) (m2 mean)))"),
        &cols,
        &dropna(&[1, 60]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[
            (M33, 60.0, 22.55),
            (M34, 60.0, 1.25),
            (M35, 60.0, 11.25),
            (T1, 1.0, 22.55),
            (T2, 1.0, 8.0),
            (T3, 1.0, -5.5),
            (T4, 1.0, 9.5),
            (T5, 1.0, 13.0),
        ]),
    );
    let m = run(
        json!("(aggregate rate:mean (metric (m1 mean) (m2 mean)))"),
        &cols,
        &dropna(&[1, 60]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[
            (M34, 60.0, -21.3),
            (M35, 60.0, 10.0),
            (T2, 1.0, -14.55),
            (T3, 1.0, -13.5),
            (T4, 1.0, 15.0),
            (T5, 1.0, 3.5),
        ]),
    );
    let m = run(
        json!("(aggregate mean (metric m1 mean))"),
        &cols,
        &dropna(&[1, 60]),
    );
    assert_eq!(aggregated(&m).len(), 8);
}

#[test]
fn rateofchange_and_subtraction_and_negative_absolute() {
    let cols = [metric1(), metric2()];
    let lists = per_column(&run(
        json!("(rateofchange (metric m1 mean))"),
        &cols,
        &dropna(&[1, 60]),
    ));
    assert_eq!(lists.len(), 1);
    assert_rows(
        &lists[0].1,
        &expect(&[
            (M34, 60.0, -45.1),
            (M35, 60.0, 12.0),
            (T2, 1.0, -31.1),
            (T3, 1.0, -28.0),
            (T4, 1.0, 25.0),
            (T5, 1.0, 2.0),
        ]),
    );
    let m = run(
        json!("(- (metric m1 mean) (metric m2 mean)))"),
        &cols,
        &dropna(&[1, 60]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[
            (M33, 60.0, 41.1),
            (M34, 60.0, -6.5),
            (M35, 60.0, -2.5),
            (T1, 1.0, 41.1),
            (T2, 1.0, 8.0),
            (T3, 1.0, -21.0),
            (T4, 1.0, -1.0),
            (T5, 1.0, -4.0),
        ]),
    );
    let m = run(
        json!("(negative (absolute (aggregate mean (metric (m1 mean) (m2 mean)))))"),
        &cols,
        &dropna(&[1, 60]),
    );
    let got: Vec<f64> = aggregated(&m).iter().map(|r| r.2).collect();
    assert_eq!(
        got,
        vec![-22.55, -1.25, -11.25, -22.55, -8.0, -5.5, -9.5, -13.0]
    );
}

#[test]
fn broadcast_quirk_outputs_column_zero_only() {
    // engine.md §6.4.4: (- (metric A B) (metric A)) outputs only A − A.
    let cols = [metric1(), metric2()];
    let m = run(
        json!("(- (metric (m1 mean) (m2 mean)) (metric m1 mean))"),
        &cols,
        &dropna(&[60]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[(M33, 60.0, 0.0), (M34, 60.0, 0.0), (M35, 60.0, 0.0)]),
    );
}

/// metric1 after two more measures at 14:37 and 14:38 (both granularities).
fn metric1_more() -> Column {
    let mut c = metric1();
    for g in [60, 1] {
        for t in ["2015-03-06T14:37:00", "2015-03-06T14:38:00"] {
            c.points.push(AggregatedPoint {
                timestamp_ns: ts(t),
                granularity_ns: g * S,
                value: 15.0,
            });
        }
    }
    c
}

#[test]
fn fill_number_fills_missing_cells() {
    let cols = [metric1_more(), metric2()];
    let opts = options(
        &[1, 60],
        Filling::from_params(Some(Fill::Value(123.0)), None),
    );
    let lists = per_column(&run(json!("(metric (m1 mean) (m2 mean))"), &cols, &opts));
    let m2: Vec<f64> = lists[1].1.iter().map(|r| r.2).collect();
    assert_eq!(
        m2,
        vec![2.0, 4.5, 12.5, 123.0, 123.0, 2.0, 4.0, 5.0, 10.0, 15.0, 123.0, 123.0]
    );
    assert_eq!(lists[0].1.len(), 12);
}

fn metric4() -> Column {
    column(
        "m4",
        "mean",
        &[
            (
                60,
                &[("2017-04-06T14:33:00", 20.0), ("2017-04-06T14:34:00", 10.0)],
            ),
            (
                1,
                &[("2017-04-06T14:33:57", 20.0), ("2017-04-06T14:34:12", 10.0)],
            ),
        ],
    )
}

#[test]
fn no_overlap_dropna_and_null() {
    let cols = [metric1_more(), metric4()];
    let lists = per_column(&run(
        json!("(metric (m1 mean) (m4 mean))"),
        &cols,
        &dropna(&[1, 60]),
    ));
    assert_eq!(lists[0].1.len(), 12);
    assert_eq!(lists[1].1.len(), 4);
    let opts = options(&[1, 60], Filling::from_params(Some(Fill::Null), None));
    let lists = per_column(&run(json!("(metric (m1 mean) (m4 mean))"), &cols, &opts));
    assert_eq!(lists[0].1.len(), 16);
    assert_eq!(lists[1].1.len(), 16);
    assert!(lists[0].1[5].2.is_nan());
    assert_eq!(lists[0].1[5].0, "2017-04-06T14:33:00");
    assert!(lists[1].1[0].2.is_nan());
    assert_eq!(lists[1].1[5].2, 20.0);
}

// ---------------------------------------------------------------- aggregation.yaml (legacy)

fn legacy_metrics() -> [Column; 2] {
    [
        column(
            "a",
            "mean",
            &[
                (300, &[("2015-03-06T14:30:00", 27.55)]),
                (1, &[(T1, 43.1), (T2, 12.0)]),
            ],
        ),
        column(
            "b",
            "mean",
            &[
                (
                    300,
                    &[("2015-03-06T14:30:00", 2.55), ("2015-03-06T14:35:00", 5.0)],
                ),
                (1, &[(T1, 3.1), (T2, 2.0), (T4, 5.0)]),
            ],
        ),
    ]
}

fn legacy(reagg: &str, resample: Option<Period>) -> Operation {
    Operation::legacy_cross_metric(
        &["a".to_owned(), "b".to_owned()],
        "mean".parse().expect("mean"),
        reagg.parse().expect("reaggregation"),
        resample,
    )
}

#[test]
fn legacy_overlap_trims_and_start_stop() {
    let cols = legacy_metrics();
    let opts = options(&[1], Filling::legacy(None, None));
    let m = evaluate(&legacy("mean", None), &cols, &opts).expect("ok");
    assert_rows(&aggregated(&m), &expect(&[(T1, 1.0, 23.1), (T2, 1.0, 7.0)]));

    let mut opts = options(&[300, 1], Filling::legacy(None, None));
    opts.start_ns = Some(ts("2015-03-06T15:33:57+01:00"));
    opts.stop_ns = Some(ts("2015-03-06T15:34:00+01:00"));
    let m = evaluate(&legacy("mean", None), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[("2015-03-06T14:30:00", 300.0, 15.05), (T1, 1.0, 23.1)]),
    );

    let opts = options(&[300, 1], Filling::legacy(None, None));
    let m = evaluate(&legacy("min", None), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[
            ("2015-03-06T14:30:00", 300.0, 2.55),
            (T1, 1.0, 3.1),
            (T2, 1.0, 2.0),
        ]),
    );

    let opts = options(&[1], Filling::legacy(None, None));
    let m = evaluate(&legacy("mean", Some(Period::Fixed(60 * S))), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[(M33, 60.0, 23.1), (M34, 60.0, 7.0)]),
    );
}

#[test]
fn legacy_fill_zero_and_null() {
    let cols = legacy_metrics();
    let opts = options(&[1], Filling::legacy(Some(Fill::Value(0.0)), None));
    let m = evaluate(&legacy("mean", None), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[(T1, 1.0, 23.1), (T2, 1.0, 7.0), (T4, 1.0, 2.5)]),
    );
    let opts = options(&[1], Filling::legacy(Some(Fill::Null), None));
    let m = evaluate(&legacy("mean", None), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[(T1, 1.0, 23.1), (T2, 1.0, 7.0), (T4, 1.0, 5.0)]),
    );
    let opts = options(&[300, 1], Filling::legacy(Some(Fill::Value(0.0)), None));
    let m = evaluate(&legacy("mean", None), &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[
            ("2015-03-06T14:30:00", 300.0, 15.05),
            ("2015-03-06T14:35:00", 300.0, 2.5),
            (T1, 1.0, 23.1),
            (T2, 1.0, 7.0),
            (T4, 1.0, 2.5),
        ]),
    );
}

#[test]
fn aggregates_resample_then_aggregate() {
    let cols = legacy_metrics();
    let m = run(
        json!("(aggregate mean (resample mean 60 (metric (a mean) (b mean))))"),
        &cols,
        &dropna(&[1]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[(M33, 60.0, 23.1), (M34, 60.0, 7.0), (M35, 60.0, 5.0)]),
    );
}

fn metrics_3_4_5() -> [Column; 3] {
    [
        column(
            "m3",
            "mean",
            &[(
                1,
                &[
                    ("2023-11-21T08:47:09", 19.5),
                    ("2023-11-21T08:48:33", 32.0),
                    ("2023-11-21T08:49:23", 11.3),
                ],
            )],
        ),
        column(
            "m4",
            "mean",
            &[(
                1,
                &[
                    ("2023-11-21T08:46:34", 1.2),
                    ("2023-11-21T08:48:33", 4.2),
                    ("2023-11-21T08:49:23", 3.0),
                    ("2023-11-21T08:50:11", 4.9),
                ],
            )],
        ),
        column("m5", "mean", &[]),
    ]
}

#[test]
fn difference_with_every_fill() {
    let cols = metrics_3_4_5();
    let ops = "(aggregate mean (- (metric m3 mean) (metric m4 mean)))";
    let values = |fill: Option<Fill>| -> Vec<(String, f64)> {
        let opts = options(&[1], Filling::from_params(fill, None));
        let m = try_run(ops, &cols, &opts).expect("ok");
        aggregated(&m)
            .into_iter()
            .map(|(t, _, v)| (t[11..].to_owned(), (v * 1e6).round() / 1e6))
            .collect()
    };
    let pairs = |p: &[(&str, f64)]| -> Vec<(String, f64)> {
        p.iter().map(|(t, v)| ((*t).to_owned(), *v)).collect()
    };
    assert_eq!(
        values(None),
        pairs(&[("08:48:33", 27.8), ("08:49:23", 8.3)])
    );
    assert_eq!(
        values(Some(Fill::Ffill)),
        pairs(&[
            ("08:47:09", 18.3),
            ("08:48:33", 27.8),
            ("08:49:23", 8.3),
            ("08:50:11", 6.4)
        ])
    );
    assert_eq!(
        values(Some(Fill::Bfill)),
        pairs(&[
            ("08:46:34", 18.3),
            ("08:47:09", 15.3),
            ("08:48:33", 27.8),
            ("08:49:23", 8.3)
        ])
    );
    let full = pairs(&[
        ("08:46:34", 18.3),
        ("08:47:09", 18.3),
        ("08:48:33", 27.8),
        ("08:49:23", 8.3),
        ("08:50:11", 6.4),
    ]);
    assert_eq!(values(Some(Fill::FullFfill)), full);
    let mut full_b = full.clone();
    full_b[1].1 = 15.3;
    assert_eq!(values(Some(Fill::FullBfill)), full_b);
    // One metric empty: nothing, whatever the fill.
    for fill in [
        None,
        Some(Fill::Ffill),
        Some(Fill::Bfill),
        Some(Fill::FullFfill),
        Some(Fill::FullBfill),
    ] {
        let opts = options(&[1], Filling::from_params(fill, None));
        let m = try_run(
            "(aggregate mean (- (metric m3 mean) (metric m5 mean)))",
            &cols,
            &opts,
        )
        .expect("ok");
        assert_eq!(aggregated(&m), vec![], "{fill:?}");
    }
}

// ---------------------------------------------------------------- resource mode

fn resource_column(
    resource: &str,
    name: &str,
    glob: &str,
    series: &[(i64, &[(&str, f64)])],
) -> Column {
    let mut c = column(glob, "mean", series);
    c.name = ColumnName::ResourceMetric {
        resource_id: resource.to_owned(),
        metric_name: name.to_owned(),
    };
    c
}

fn cpu_util() -> Vec<Column> {
    vec![
        resource_column(
            "r0",
            "cpu.util",
            "cpu.util",
            &[
                (300, &[("2015-03-06T14:30:00", 27.55)]),
                (1, &[(T1, 43.1), (T2, 12.0)]),
            ],
        ),
        resource_column(
            "r1",
            "cpu.util",
            "cpu.util",
            &[
                (300, &[("2015-03-06T14:30:00", 15.5)]),
                (1, &[(T1, 23.0), (T2, 8.0)]),
            ],
        ),
        resource_column(
            "r2",
            "cpu.util",
            "cpu.util",
            &[
                (300, &[("2015-03-06T14:30:00", 137.70499999999998)]),
                (1, &[(T1, 230.0), (T2, 45.41)]),
            ],
        ),
    ]
}

#[test]
fn resource_mode_aggregate_is_sequential() {
    let cols = cpu_util();
    let m = run(
        json!("(aggregate mean (metric cpu.util mean))"),
        &cols,
        &dropna(&[300, 1]),
    );
    assert_rows(
        &aggregated(&m),
        &expect(&[
            ("2015-03-06T14:30:00", 300.0, 60.251666666666665),
            (T1, 1.0, 98.7),
            (T2, 1.0, 21.80333333333333),
        ]),
    );
}

#[test]
fn resource_mode_comparison_and_division_by_zero() {
    let cols = cpu_util();
    let lists = per_column(&run(
        json!("(> (metric cpu.util mean) 20)"),
        &cols,
        &dropna(&[300, 1]),
    ));
    let values: Vec<Vec<f64>> = lists
        .iter()
        .map(|(_, l)| l.iter().map(|r| r.2).collect())
        .collect();
    assert_eq!(
        values,
        vec![
            vec![1.0, 1.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![1.0, 1.0, 1.0]
        ]
    );

    let ops = "(/ (* 100 (aggregate mean (metric cpu.util mean))) 0 )";
    assert_eq!(
        aggregated(&try_run(ops, &cols, &dropna(&[300, 1])).expect("ok")),
        vec![]
    );
    let null = options(&[300, 1], Filling::from_params(Some(Fill::Null), None));
    let got = aggregated(&try_run(ops, &cols, &null).expect("ok"));
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.2 == f64::INFINITY));
}

#[test]
fn resource_mode_clip_with_fill_zero() {
    let agg = |v: &[(&str, f64)]| -> Vec<(String, f64)> {
        v.iter().map(|(t, x)| ((*t).to_owned(), *x)).collect()
    };
    let cols = vec![
        resource_column(
            "r1",
            "agg_meter",
            "agg_meter",
            &[(1, &[(T1, 43.1), (T2, 12.0)])],
        ),
        resource_column(
            "r2",
            "agg_meter",
            "agg_meter",
            &[(1, &[(T1, 3.1), (T2, 2.0), (T4, 5.0)])],
        ),
    ];
    let opts = options(&[1], Filling::from_params(Some(Fill::Value(0.0)), None));
    let first = |ops: &str| -> Vec<(String, f64)> {
        let lists = per_column(&try_run(ops, &cols, &opts).expect("ok"));
        lists[0].1.iter().map(|r| (r.0.clone(), r.2)).collect()
    };
    assert_eq!(
        first("(clip_min (metric agg_meter mean) 10)"),
        agg(&[(T1, 43.1), (T2, 12.0), (T4, 10.0)])
    );
    assert_eq!(
        first("(clip_max (metric agg_meter mean) 10)"),
        agg(&[(T1, 10.0), (T2, 10.0), (T4, 0.0)])
    );
    let m = try_run("(aggregate mean (metric agg_meter mean))", &cols, &opts).expect("ok");
    assert_rows(
        &aggregated(&m),
        &expect(&[(T1, 1.0, 23.1), (T2, 1.0, 7.0), (T4, 1.0, 2.5)]),
    );
}

#[test]
fn resource_mode_render_nested_and_empty_lists() {
    let mut cols = cpu_util();
    cols.truncate(1);
    cols.push(resource_column("r0", "cpu.idle", "cpu.*", &[]));
    cols[0].reference = Reference::new("cpu.*", "mean");
    let op = parse_operations(&json!("(metric cpu.* mean)")).expect("valid");
    let m = evaluate(&op, &cols, &dropna(&[300])).expect("ok");
    assert_eq!(
        measures_json(&m, &cols),
        "{\"r0\": {\"cpu.util\": {\"mean\": [[\"2015-03-06T14:30:00+00:00\", 300.0, 27.55]]}, \
         \"cpu.idle\": {\"mean\": []}}}"
    );
}

// ---------------------------------------------------------------- other engine.md §6 numbers

#[test]
fn spec_6_4_3_needed_overlap() {
    let minute = |m: u32| format!("2015-03-06T12:{m:02}:00");
    let a_min = [1, 2, 3, 4, 5, 6, 7, 9];
    let a_val = [3.0, 3.0, 4.0, 4.0, 3.0, 5.0, 10.0, 2.0];
    let mut a = column("a", "mean", &[]);
    let mut b = column("b", "mean", &[]);
    for (m, v) in a_min.iter().zip(a_val) {
        let p = AggregatedPoint {
            timestamp_ns: ts(&minute(*m)),
            granularity_ns: 60 * S,
            value: v,
        };
        a.points.push(p);
        if *m != 7 {
            b.points.push(p);
        }
    }
    let cols = [a, b];
    let mut opts = options(&[60], Filling::from_params(None, Some(80.0)));
    opts.start_ns = Some(ts(&minute(0)));
    opts.stop_ns = Some(ts(&minute(10)));
    let m = try_run("(aggregate mean (metric (a mean) (b mean)))", &cols, &opts).expect("87.5%");
    let got: Vec<f64> = aggregated(&m).iter().map(|r| r.2).collect();
    assert_eq!(got, a_val.to_vec());
    opts.filling = Filling::from_params(None, Some(90.0));
    let err =
        try_run("(aggregate mean (metric (a mean) (b mean)))", &cols, &opts).expect_err("low");
    assert_eq!(
        err.reason(),
        "Less than 90.000000% of datapoints overlap in this timespan (87.50%)"
    );
}

#[test]
fn no_overlap_is_an_error_without_fill() {
    let cols = [metric1(), metric4()];
    let opts = options(&[1], Filling::legacy(None, None));
    let err = evaluate(&legacy_ab_like(), &cols, &opts).expect_err("no overlap");
    assert_eq!(err, AggregatesError::NoOverlap);
    assert_eq!(err.reason(), "No overlap");
}

fn legacy_ab_like() -> Operation {
    parse_operations(&json!("(aggregate mean (metric (m1 mean) (m4 mean)))")).expect("valid")
}

#[test]
fn spec_rateofchangesec() {
    let five = |m: u32| format!("2015-03-06T12:{m:02}:00");
    let c = column(
        "a",
        "mean",
        &[(
            300,
            &[
                (&five(0), 0.0),
                (&five(5), 450.0),
                (&five(10), 900.0),
                (&five(15), 1350.0),
            ],
        )],
    );
    let cols = [c];
    let null = options(&[300], Filling::from_params(Some(Fill::Null), None));
    let lists =
        per_column(&try_run("(rateofchangesec (metric a mean))", &cols, &null).expect("ok"));
    let v: Vec<f64> = lists[0].1.iter().map(|r| r.2).collect();
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[1.5, 1.5, 1.5]);
    let lists = per_column(
        &try_run("(rateofchangesec (metric a mean))", &cols, &dropna(&[300])).expect("ok"),
    );
    assert_eq!(lists[0].1.len(), 3);
}

#[test]
fn rolling_errors_and_count_is_float() {
    let cols = [metric1(), metric2()];
    let err = try_run(
        "(rolling mean 4 (metric m1 mean))",
        &cols,
        &dropna(&[1, 60]),
    )
    .expect_err("long");
    assert_eq!(
        err.reason(),
        "Rolling window '4' is greater than serie length '3'"
    );
    let m = try_run(
        "(aggregate count (metric (m1 mean) (m2 mean)))",
        &cols,
        &dropna(&[60]),
    )
    .expect("ok");
    let got: Vec<f64> = aggregated(&m).iter().map(|r| r.2).collect();
    assert_eq!(got, vec![2.0, 2.0, 2.0]);
    let lists = per_column(
        &try_run("(rolling count 2 (metric m1 mean))", &cols, &dropna(&[60])).expect("ok"),
    );
    assert_eq!(
        lists[0].1.iter().map(|r| r.2).collect::<Vec<_>>(),
        vec![2.0, 2.0]
    );
    let lists = per_column(
        &try_run(
            "(rolling rate:sum 2 (metric m1 mean))",
            &cols,
            &dropna(&[1]),
        )
        .expect("ok"),
    );
    // sums 55.1, -4, -7, 20 → differences
    let v: Vec<f64> = lists[0].1.iter().map(|r| r.2).collect();
    assert_eq!(v, vec![-4.0 - 55.1, -7.0 - -4.0, 20.0 - -7.0]);
}

#[test]
fn different_granularity_operands() {
    let cols = [metric1()];
    let err = try_run(
        "(- (resample mean 60 (metric m1 mean)) (metric m1 mean))",
        &cols,
        &dropna(&[1]),
    )
    .expect_err("mixed");
    assert_eq!(
        err.reason(),
        "Can't compute timeseries with different granularity 60.0 <> 1.0"
    );
    let err = try_run(
        "(- (rateofchange (metric m1 mean)) (metric m1 mean))",
        &cols,
        &dropna(&[1]),
    )
    .expect_err("mixed");
    assert_eq!(err, AggregatesError::DifferentTimestamps);
    let cols3 = [
        metric1(),
        metric2(),
        column("m3", "mean", &[(1, &[(T1, 1.0)])]),
    ];
    let err = try_run(
        "(- (metric (m1 mean) (m2 mean)) (metric (m1 mean) (m2 mean) (m3 mean)))",
        &cols3,
        &dropna(&[1]),
    )
    .expect_err("2 vs 3");
    assert!(matches!(
        err,
        AggregatesError::ColumnCountMismatch { left: 2, right: 3 }
    ));
}

#[test]
fn resample_op_poisons_periods_with_missing_cells() {
    // engine.md §6.4.4: B has a timestamp A lacks, so A's period containing it becomes NaN.
    let a = column("a", "mean", &[(1, &[(T1, 1.0), (T2, 2.0)])]);
    let b = column("b", "mean", &[(1, &[(T1, 1.0), (T3, 3.0)])]);
    let cols = [a, b];
    let lists = per_column(
        &try_run(
            "(resample mean 60 (metric (a mean) (b mean)))",
            &cols,
            &dropna(&[1]),
        )
        .expect("ok"),
    );
    assert_rows(&lists[0].1, &expect(&[(M33, 60.0, 1.0)]));
    assert_rows(&lists[1].1, &expect(&[(M33, 60.0, 1.0)]));
    // The same series alone resample fine.
    let lists = per_column(
        &try_run(
            "(resample mean 60 (metric a mean))",
            &cols[..1],
            &dropna(&[1]),
        )
        .expect("ok"),
    );
    assert_rows(&lists[0].1, &expect(&[(M33, 60.0, 1.0), (M34, 60.0, 2.0)]));
}

#[test]
fn calendar_resample_inside_operations() {
    let day = 86_400;
    let c = column(
        "a",
        "mean",
        &[(
            day,
            &[
                ("2015-03-01", 10.0),
                ("2015-03-06", 12.0),
                ("2015-04-01", 2.0),
                ("2015-04-06", 4.0),
            ],
        )],
    );
    let cols = [c];
    let op = Operation::Resample {
        method: "mean".parse().expect("mean"),
        period: Period::Calendar(crate::CalendarUnit::Month),
        operand: Box::new(Operation::Metric(vec![Reference::new("a", "mean")])),
    };
    let m = evaluate(&op, &cols, &dropna(&[day])).expect("ok");
    let Measures::PerColumn(lists) = &m else {
        panic!("per column")
    };
    let v: Vec<(i64, f64)> = lists[0]
        .1
        .iter()
        .map(|p| (p.timestamp_ns, p.value))
        .collect();
    assert_eq!(v, vec![(ts("2015-03-01"), 11.0), (ts("2015-04-01"), 3.0)]);
    assert_eq!(
        measures_json(&m, &cols),
        "{\"a\": {\"mean\": [[\"2015-03-01T00:00:00+00:00\", \"M\", 11.0], \
         [\"2015-04-01T00:00:00+00:00\", \"M\", 3.0]]}}"
    );
    let rate = Operation::Resample {
        method: "rate:mean".parse().expect("rate:mean"),
        period: Period::Calendar(crate::CalendarUnit::Month),
        operand: Box::new(Operation::Metric(vec![Reference::new("a", "mean")])),
    };
    assert!(matches!(
        evaluate(&rate, &cols, &dropna(&[day])),
        Err(AggregatesError::InvalidResample { .. })
    ));
}

#[test]
fn render_aggregated_with_non_finite_tokens() {
    let m = Measures::Aggregated(vec![
        OutputPoint {
            timestamp_ns: ts(T1),
            period: Period::Fixed(S),
            value: f64::NAN,
        },
        OutputPoint {
            timestamp_ns: ts(T2),
            period: Period::Fixed(300 * S),
            value: f64::NEG_INFINITY,
        },
        OutputPoint {
            timestamp_ns: ts(T3),
            period: Period::Fixed(S / 2),
            value: 1e-7,
        },
    ]);
    assert_eq!(
        measures_json(&m, &[]),
        "{\"aggregated\": [[\"2015-03-06T14:33:57+00:00\", 1.0, NaN], \
         [\"2015-03-06T14:34:12+00:00\", 300.0, -Infinity], \
         [\"2015-03-06T14:34:15+00:00\", 0.5, 1e-07]]}"
    );
}

#[test]
fn rolling_uses_pairwise_sums_from_eight() {
    // Values whose pairwise and sequential sums differ in the last bit.
    let vals: Vec<f64> = (0..9)
        .map(|i| 0.1 + f64::from(i) * 1e-3 + if i == 0 { 1e16 } else { 0.0 })
        .collect();
    let times: Vec<String> = (0..9).map(|i| format!("2015-03-06T14:00:{i:02}")).collect();
    let pts: Vec<(&str, f64)> = times
        .iter()
        .map(String::as_str)
        .zip(vals.iter().copied())
        .collect();
    let cols = [column("a", "mean", &[(1, &pts)])];
    let lists =
        per_column(&try_run("(rolling sum 9 (metric a mean))", &cols, &dropna(&[1])).expect("ok"));
    assert_eq!(lists[0].1.len(), 1);
    assert_eq!(
        lists[0].1[0].2.to_bits(),
        ops::pairwise_sum(&vals).to_bits()
    );
    let m = try_run("(aggregate sum (metric a mean))", &cols, &dropna(&[1])).expect("ok");
    assert_eq!(aggregated(&m).len(), 9);
}

#[test]
fn fill_parse() {
    assert_eq!(Fill::parse("null"), Some(Fill::Null));
    assert_eq!(Fill::parse("dropna"), Some(Fill::Dropna));
    assert_eq!(Fill::parse("full_bfill"), Some(Fill::FullBfill));
    assert_eq!(Fill::parse("0"), Some(Fill::Value(0.0)));
    assert_eq!(Fill::parse("123"), Some(Fill::Value(123.0)));
    assert_eq!(Fill::parse("foobar"), None);
    assert_eq!(
        Filling::from_params(None, None),
        Filling::Fill(Fill::Dropna)
    );
    assert_eq!(
        Filling::from_params(None, Some(50.0)),
        Filling::Overlap { needed_pct: 50.0 }
    );
    assert_eq!(
        Filling::from_params(Some(Fill::Null), Some(50.0)),
        Filling::Fill(Fill::Null)
    );
    assert_eq!(
        Filling::legacy(None, None),
        Filling::Overlap { needed_pct: 100.0 }
    );
}

#[test]
fn nested_first_element_is_named_in_python_repr() {
    let err = parse_operations(&json!([["metric", "a", "mean"], 1])).expect_err("invalid");
    assert_eq!(
        err.reason(),
        "'['metric', 'a', 'mean']' operation invalid for dictionary value @ data['operations']"
    );
}

/// The whole flow the API route runs in metric-id mode (api.md §11.1).
#[test]
fn api_flow_metric_mode() {
    let ops = json!("(aggregate mean (metric (m1 mean) (m2 mean) (m1 mean)))");
    let op = parse_operations(&ops).expect("valid");
    let refs = op.references();
    assert_eq!(refs.len(), 2);
    let cookies = policy(&[1, 60], &["mean"]);
    let policies: Vec<ColumnPolicy<'_>> = refs
        .iter()
        .map(|r| ColumnPolicy {
            name: &r.metric,
            aggregation: &r.aggregation,
            policy: &cookies,
        })
        .collect();
    let granularities = plan_granularities(&policies, None).expect("planned");
    // The API reads each (metric, aggregation) at each planned granularity.
    let columns = [metric1(), metric2()];
    let opts = EvalOptions {
        granularities,
        start_ns: None,
        stop_ns: None,
        filling: Filling::from_params(None, None),
    };
    let measures = evaluate(&op, &columns, &opts).expect("evaluated");
    assert_eq!(
        measures_json(&measures, &columns),
        "{\"aggregated\": [[\"2015-03-06T14:33:00+00:00\", 60.0, 22.55], \
         [\"2015-03-06T14:34:00+00:00\", 60.0, 1.25], \
         [\"2015-03-06T14:35:00+00:00\", 60.0, 11.25], \
         [\"2015-03-06T14:33:57+00:00\", 1.0, 22.55], \
         [\"2015-03-06T14:34:12+00:00\", 1.0, 8.0], \
         [\"2015-03-06T14:34:15+00:00\", 1.0, -5.5], \
         [\"2015-03-06T14:35:12+00:00\", 1.0, 9.5], \
         [\"2015-03-06T14:35:15+00:00\", 1.0, 13.0]]}"
    );
}

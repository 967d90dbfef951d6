//! read_measures: ordering, ranges, truncation with the current policy, resample and errors
//! (engine.md §6.1, api.md §6.7).

use gnocchi_core::Measure;
use uuid::Uuid;

use super::*;
use crate::process::memory::MemoryStorage;
use crate::process_metric;
use crate::Error;

const S: i64 = 1_000_000_000;
const DAY: i64 = 1_388_534_400 * S;

fn at(h: i64, m: i64, s: i64) -> i64 {
    DAY + (h * 3600 + m * 60 + s) * S
}

fn policy(items: &[(i64, Option<u64>)], methods: &[&str]) -> ArchivePolicy {
    ArchivePolicy {
        name: "test".into(),
        back_window: 0,
        definition: items
            .iter()
            .map(|&(g, points)| ArchivePolicyItem {
                granularity_ns: g * S,
                points,
            })
            .collect(),
        aggregation_methods: methods.iter().map(|m| m.parse().expect("valid")).collect(),
    }
}

async fn load(p: &ArchivePolicy, pts: &[(i64, f64)]) -> (MemoryStorage, Uuid) {
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    let measures = pts.iter().map(|&(t, v)| Measure::new(t, v)).collect();
    process_metric(&st, p, id, measures)
        .await
        .expect("processes");
    (st, id)
}

fn q(method: &str) -> MeasuresQuery {
    MeasuresQuery::new(method.parse().expect("valid"))
}

fn triples(points: Vec<AggregatedPoint>) -> Vec<(i64, i64, f64)> {
    points
        .into_iter()
        .map(|p| (p.timestamp_ns, p.granularity_ns / S, p.value))
        .collect()
}

#[tokio::test]
async fn time_range_example_section_6_1_1() {
    let p = policy(&[(1, None), (300, None)], &["mean"]);
    let (st, id) = load(&p, &[(at(14, 33, 57), 43.1), (at(14, 34, 12), 12.0)]).await;
    let mut query = q("mean");
    query.start_ns = Some(at(14, 33, 57));
    query.stop_ns = Some(at(14, 34, 0));
    let got = triples(read_measures(&st, &p, id, &query).await.expect("reads"));
    assert_eq!(
        got,
        vec![(at(14, 30, 0), 300, 27.55), (at(14, 33, 57), 1, 43.1)]
    );
    // Unbounded: coarsest first, ascending within a granularity.
    let got = triples(read_measures(&st, &p, id, &q("mean")).await.expect("reads"));
    assert_eq!(
        got,
        vec![
            (at(14, 30, 0), 300, 27.55),
            (at(14, 33, 57), 1, 43.1),
            (at(14, 34, 12), 1, 12.0)
        ]
    );
}

#[tokio::test]
async fn resample_example_section_6_1_2() {
    let p = policy(&[(1, None)], &["mean"]);
    let (st, id) = load(
        &p,
        &[
            (at(14, 33, 57), 43.1),
            (at(14, 34, 12), 12.0),
            (at(14, 34, 15), 16.0),
            (at(14, 35, 12), 9.0),
            (at(14, 35, 15), 11.0),
        ],
    )
    .await;
    let mut query = q("mean");
    query.granularity_ns = Some(S);
    query.resample_ns = Some(60 * S);
    let got = triples(read_measures(&st, &p, id, &query).await.expect("reads"));
    assert_eq!(
        got,
        vec![
            (at(14, 33, 0), 60, 43.1),
            (at(14, 34, 0), 60, 14.0),
            (at(14, 35, 0), 60, 10.0)
        ]
    );
    // start is rounded down to the resample period.
    query.start_ns = Some(at(14, 34, 30));
    let got = triples(read_measures(&st, &p, id, &query).await.expect("reads"));
    assert_eq!(
        got,
        vec![(at(14, 34, 0), 60, 14.0), (at(14, 35, 0), 60, 10.0)]
    );
}

#[tokio::test]
async fn read_truncates_with_the_current_policy_section_3_7() {
    let p = policy(&[(5, Some(100))], &["mean"]);
    let pts: Vec<(i64, f64)> = (0..4).map(|i| (at(12, 0, 5 * i), i as f64)).collect();
    let (st, id) = load(&p, &pts).await;
    let shrunk = policy(&[(5, Some(2))], &["mean"]);
    let got = triples(
        read_measures(&st, &shrunk, id, &q("mean"))
            .await
            .expect("reads"),
    );
    assert_eq!(got, vec![(at(12, 0, 10), 5, 2.0), (at(12, 0, 15), 5, 3.0)]);
}

#[tokio::test]
async fn never_processed_metric_reads_empty() {
    let p = policy(&[(60, None)], &["mean"]);
    let st = MemoryStorage::default();
    let got = read_measures(&st, &p, Uuid::new_v4(), &q("mean"))
        .await
        .expect("reads");
    assert!(got.is_empty());
}

#[tokio::test]
async fn errors_in_the_api_order_section_6_7() {
    let p = policy(&[(60, None)], &["mean"]);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    let mut query = q("max");
    query.resample_ns = Some(60 * S);
    assert!(matches!(
        read_measures(&st, &p, id, &query).await,
        Err(Error::ResampleWithoutGranularity)
    ));
    query.resample_ns = None;
    match read_measures(&st, &p, id, &query).await {
        Err(Error::AggregationMethodNotInPolicy { metric, method }) => {
            assert_eq!((metric, method.to_string()), (id, "max".to_string()));
        }
        other => panic!("{other:?}"),
    }
    let mut query = q("mean");
    query.granularity_ns = Some(42 * S);
    match read_measures(&st, &p, id, &query).await {
        Err(e @ Error::GranularityNotInPolicy { .. }) => {
            assert_eq!(e.kind(), gnocchi_core::ErrorKind::NotFound);
            let Error::GranularityNotInPolicy { granularity_ns, .. } = e else {
                unreachable!()
            };
            assert_eq!(granularity_ns, 42 * S);
        }
        other => panic!("{other:?}"),
    }
    query.granularity_ns = Some(60 * S);
    query.resample_ns = Some(0);
    assert!(matches!(
        read_measures(&st, &p, id, &query).await,
        Err(Error::NonPositiveResample { resample_ns: 0 })
    ));
}

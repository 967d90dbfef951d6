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

/// The real file driver, recording which splits a read asks for.
struct CountingStorage {
    inner: crate::FileStorage,
    read: std::sync::Mutex<Vec<SplitKey>>,
}

#[async_trait::async_trait]
impl AggregateStorage for CountingStorage {
    async fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        self.inner.read_raw(metric).await
    }

    async fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        self.inner.list_splits(metric, method, granularity_ns).await
    }

    async fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>> {
        self.read
            .lock()
            .expect("not poisoned")
            .extend_from_slice(keys);
        self.inner.read_splits(metric, keys).await
    }

    async fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted_splits: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        self.inner
            .write_metric(metric, splits, deleted_splits, raw)
            .await
    }

    async fn delete_metric(&self, metric: Uuid) -> Result<()> {
        self.inner.delete_metric(metric).await
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}

impl CountingStorage {
    /// The split keys read since the last call.
    fn take(&self) -> Vec<SplitKey> {
        std::mem::take(&mut *self.read.lock().expect("not poisoned"))
    }
}

// Issue 12 item 6: a bounded read fetches only the splits overlapping [start, stop), and only
// those of the granularity asked for.
#[tokio::test]
async fn bounded_reads_fetch_only_overlapping_splits() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::FileStorage::upgrade(dir.path(), 2).expect("upgrade");
    let st = CountingStorage {
        inner: crate::FileStorage::open(dir.path()).expect("open"),
        read: Default::default(),
    };
    // 30 days of 1-minute points: 12 splits of 60 h at 60 s, 1 split at 1 h.
    let p = policy(&[(60, Some(43_200)), (3600, Some(720))], &["mean"]);
    let id = Uuid::new_v4();
    let minute = 60 * S;
    let measures = (0..43_200)
        .map(|i| Measure::new(DAY + i * minute, (i % 97) as f64))
        .collect();
    process_metric(&st, &p, id, measures)
        .await
        .expect("processes");
    let listed = st
        .list_splits(id, "mean".parse().expect("valid"), minute)
        .await
        .expect("lists");
    assert!(listed.len() >= 12, "{listed:?}");
    st.take();

    let mut query = q("mean");
    query.granularity_ns = Some(minute);
    query.start_ns = Some(DAY + 10 * 86_400 * S + 3600 * S);
    query.stop_ns = Some(DAY + 10 * 86_400 * S + 2 * 3600 * S);
    let got = read_measures(&st, &p, id, &query).await.expect("reads");
    assert_eq!(got.len(), 60);
    let split_ns = minute * 3600;
    let expected = crate::engine::split_key(query.start_ns.expect("set"), minute);
    assert_eq!(
        st.take()
            .iter()
            .map(|k| (k.granularity_ns, k.start_ns))
            .collect::<Vec<_>>(),
        vec![(minute, expected)],
        "one 60 h split of {split_ns} ns holds the hour asked for"
    );

    // Unbounded at one granularity: every split of that series, none of the other.
    query.start_ns = None;
    query.stop_ns = None;
    let got = read_measures(&st, &p, id, &query).await.expect("reads");
    assert_eq!(got.len(), 43_200);
    let keys = st.take();
    assert_eq!(keys.len(), listed.len());
    assert!(keys.iter().all(|k| k.granularity_ns == minute));

    // Every granularity over a 3-day window: the 60 s splits overlapping it and the 1 h one.
    let mut query = q("mean");
    query.start_ns = Some(DAY + 4 * 86_400 * S);
    query.stop_ns = Some(DAY + 7 * 86_400 * S);
    read_measures(&st, &p, id, &query).await.expect("reads");
    let keys = st.take();
    let fine: Vec<i64> = keys
        .iter()
        .filter(|k| k.granularity_ns == minute)
        .map(|k| k.start_ns)
        .collect();
    let lo = crate::engine::split_key(DAY + 4 * 86_400 * S, minute);
    let hi = crate::engine::split_key(DAY + 7 * 86_400 * S, minute);
    assert_eq!(
        fine,
        (0..)
            .map(|i| lo + i * split_ns)
            .take_while(|&k| k <= hi)
            .collect::<Vec<_>>()
    );
    assert!(fine.len() < listed.len() / 2, "{fine:?}");
    assert_eq!(
        keys.iter().filter(|k| k.granularity_ns == 3600 * S).count(),
        1
    );
}

/// A window read a few splits at a time gives what `read_measures` gives for it whole,
/// including the truncation to the timespan measured from the window's last point.
#[tokio::test]
async fn window_reader_slices_match_a_whole_read() {
    let minute = 60 * S;
    // 10 days of 1-minute points kept for 7 days: the oldest kept split is partly out.
    let p = policy(&[(60, Some(7 * 1440))], &["mean", "max"]);
    let pts: Vec<(i64, f64)> = (0..10 * 1440)
        .filter(|i| i % 7 != 3)
        .map(|i| (DAY + i * minute + 5 * S, (i % 101) as f64))
        .collect();
    let (st, id) = load(&p, &pts).await;
    let windows = [
        (None, None),
        (Some(DAY + 4 * 86_400 * S + 17 * S), None),
        (None, Some(DAY + 8 * 86_400 * S + 30 * minute)),
        (Some(DAY + 5 * 86_400 * S), Some(DAY + 9 * 86_400 * S)),
        (Some(DAY + 20 * 86_400 * S), None),
    ];
    for method in ["mean", "max"] {
        let m = method.parse().expect("valid");
        for (start_ns, stop_ns) in windows {
            let mut query = q(method);
            query.granularity_ns = Some(minute);
            query.start_ns = start_ns;
            query.stop_ns = stop_ns;
            let want = read_measures(&st, &p, id, &query).await.expect("reads");
            let mut reader = WindowReader::open(&st, &p, id, m, minute, start_ns, stop_ns)
                .await
                .expect("opens");
            assert_eq!(reader.read_whole(&st).await.expect("reads"), want);
            reader.load_cutoff(&st).await.expect("reads");
            let starts: Vec<i64> = reader.split_starts().collect();
            for per_slice in 1..=3 {
                let mut got = Vec::new();
                for slice in starts.chunks(per_slice) {
                    let (from, to) = (slice[0], slice[slice.len() - 1]);
                    got.extend(reader.read(&st, from, to).await.expect("reads"));
                }
                assert_eq!(
                    got, want,
                    "{method} {start_ns:?}..{stop_ns:?} by {per_slice}"
                );
            }
        }
    }
}

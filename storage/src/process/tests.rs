//! process_metric against the in-memory storage: the numbered rules of engine.md §3.3, §3.6,
//! §3.4.3, §4.5.

use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem, Measure};
use uuid::Uuid;

use super::memory::MemoryStorage;
use super::*;
use crate::{read_measures, AggregatedPoint, MeasuresQuery};

const S: i64 = 1_000_000_000;
const DAY: i64 = 1_388_534_400 * S;

fn at(h: i64, m: i64, s: i64) -> i64 {
    DAY + (h * 3600 + m * 60 + s) * S
}

pub(crate) fn policy(
    items: &[(i64, Option<u64>)],
    methods: &[&str],
    back_window: u64,
) -> ArchivePolicy {
    ArchivePolicy {
        name: "test".into(),
        back_window,
        definition: items
            .iter()
            .map(|&(g, points)| ArchivePolicyItem {
                granularity_ns: g * S,
                points,
            })
            .collect(),
        aggregation_methods: methods
            .iter()
            .map(|m| m.parse::<AggregationMethod>().expect("valid method"))
            .collect(),
    }
}

async fn read(
    st: &MemoryStorage,
    p: &ArchivePolicy,
    id: Uuid,
    method: &str,
) -> Vec<(i64, i64, f64)> {
    let q = MeasuresQuery::new(method.parse().expect("valid method"));
    read_measures(st, p, id, &q)
        .await
        .expect("reads")
        .into_iter()
        .map(
            |AggregatedPoint {
                 timestamp_ns,
                 granularity_ns,
                 value,
             }| { (timestamp_ns, granularity_ns / S, value) },
        )
        .collect()
}

async fn pass(
    st: &MemoryStorage,
    p: &ArchivePolicy,
    id: Uuid,
    pts: &[(i64, f64)],
) -> ProcessOutcome {
    let measures = pts.iter().map(|&(t, v)| Measure::new(t, v)).collect();
    process_metric(st, p, id, measures)
        .await
        .expect("processes")
}

#[tokio::test]
async fn rate_mean_batching_table_section_3_6() {
    let p = policy(&[(60, Some(1000))], &["rate:mean"], 0);
    type Case<'a> = (&'a [(i64, f64)], bool, Vec<(i64, i64, f64)>);
    let cases: [Case; 4] = [
        (
            &[(at(12, 0, 0), 10.0), (at(12, 5, 0), 20.0)],
            false,
            vec![(at(12, 5, 0), 60, 10.0)],
        ),
        (&[(at(12, 0, 0), 10.0), (at(12, 5, 0), 20.0)], true, vec![]),
        (
            &[(at(12, 0, 0), 10.0), (at(12, 1, 30), 20.0)],
            true,
            vec![(at(12, 1, 0), 60, 10.0)],
        ),
        (
            &[(at(12, 0, 50), 10.0), (at(12, 2, 10), 20.0)],
            true,
            vec![],
        ),
    ];
    for (pts, two_passes, expected) in cases {
        let st = MemoryStorage::default();
        let id = Uuid::new_v4();
        if two_passes {
            pass(&st, &p, id, &pts[..1]).await;
            pass(&st, &p, id, &pts[1..]).await;
        } else {
            pass(&st, &p, id, pts).await;
        }
        assert_eq!(
            read(&st, &p, id, "rate:mean").await,
            expected,
            "{pts:?} {two_passes}"
        );
    }
}

#[tokio::test]
async fn duplicates_smallest_in_pass_later_pass_wins_section_3_3() {
    let p = policy(&[(60, Some(100))], &["last", "count"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    let t = at(12, 0, 0);
    let o = pass(&st, &p, id, &[(t, 9.0), (t, f64::NAN), (t, 4.0), (t, 7.0)]).await;
    assert_eq!(o.measures, 4);
    assert_eq!(o.newest_measure_ns, Some(t));
    assert_eq!(read(&st, &p, id, "last").await, vec![(t, 60, 4.0)]);
    assert_eq!(read(&st, &p, id, "count").await, vec![(t, 60, 1.0)]);
    pass(&st, &p, id, &[(t, 100.0)]).await;
    assert_eq!(read(&st, &p, id, "last").await, vec![(t, 60, 100.0)]);
}

#[tokio::test]
async fn non_dividing_granularities_quirk_section_3_4_3() {
    let p = policy(&[(60, None), (90, None)], &["mean"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    for (t, v) in [
        (at(12, 1, 20), 10.0),
        (at(12, 1, 40), 20.0),
        (at(12, 1, 50), 30.0),
    ] {
        pass(&st, &p, id, &[(t, v)]).await;
    }
    let out = read(&st, &p, id, "mean").await;
    // Coarsest first: 90-s buckets 12:00:00 (10) and 12:01:30 (20, 30), then the 60-s bucket
    // 12:01 = 25 because the 10 was cut from the raw buffer at 12:01:30.
    assert_eq!(
        out,
        vec![
            (at(12, 0, 0), 90, 10.0),
            (at(12, 1, 30), 90, 25.0),
            (at(12, 1, 0), 60, 25.0)
        ]
    );
}

#[tokio::test]
async fn back_window_cutoff_section_1_3() {
    for (bw, oldest_kept) in [(0, at(14, 0, 0)), (2, at(12, 0, 0))] {
        let p = policy(&[(3600, None)], &["count"], bw);
        let st = MemoryStorage::default();
        let id = Uuid::new_v4();
        pass(&st, &p, id, &[(at(14, 34, 0), 1.0)]).await;
        let o = pass(&st, &p, id, &[(oldest_kept - 1, 1.0), (oldest_kept, 1.0)]).await;
        assert_eq!(o.dropped_late, 1, "back_window {bw}");
        assert_eq!(o.newest_measure_ns, Some(oldest_kept));
        let got = read(&st, &p, id, "count").await;
        assert_eq!(got.first().map(|p| p.0), Some(oldest_kept), "{bw}");
        let total: f64 = got.iter().map(|p| p.2).sum();
        assert_eq!(total, 2.0, "{bw}");
    }
}

#[tokio::test]
async fn late_everything_recomputes_same_numbers() {
    let p = policy(&[(60, Some(100))], &["mean", "rate:sum"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    pass(
        &st,
        &p,
        id,
        &[
            (at(12, 0, 0), 1.0),
            (at(12, 10, 0), 2.0),
            (at(12, 20, 0), 4.0),
        ],
    )
    .await;
    let before = read(&st, &p, id, "mean").await;
    let o = pass(&st, &p, id, &[(at(10, 0, 0), 9.0)]).await;
    assert_eq!(o.dropped_late, 1);
    assert_eq!(read(&st, &p, id, "mean").await, before);
}

#[tokio::test]
async fn old_splits_are_deleted_section_4_5() {
    // 1-s granularity, 10 points: split span 1 h. Three hours of data, one pass per hour.
    let p = policy(&[(1, Some(10))], &["mean"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    pass(&st, &p, id, &[(at(10, 0, 0), 1.0), (at(10, 59, 59), 2.0)]).await;
    pass(&st, &p, id, &[(at(11, 30, 0), 3.0)]).await;
    assert_eq!(st.split_keys(id).len(), 1, "{:?}", st.split_keys(id));
    let o = pass(&st, &p, id, &[(at(13, 0, 5), 4.0)]).await;
    assert_eq!(o.splits_deleted, 1);
    let keys: Vec<i64> = st.split_keys(id).iter().map(|k| k.start_ns).collect();
    assert_eq!(keys, vec![at(13, 0, 0)]);
    assert_eq!(
        read(&st, &p, id, "mean").await,
        vec![(at(13, 0, 5), 1, 4.0)]
    );
}

#[tokio::test]
async fn corrupt_raw_and_split_are_treated_as_empty_section_4_3() {
    let p = policy(&[(60, None)], &["sum"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    pass(&st, &p, id, &[(at(12, 0, 0), 1.0), (at(12, 1, 0), 2.0)]).await;
    let key = st.split_keys(id)[0];
    st.put_split(id, key, vec![1, 2, 3]);
    st.put_raw(id, vec![0xff]);
    assert_eq!(read(&st, &p, id, "sum").await, vec![]);
    pass(&st, &p, id, &[(at(12, 1, 0), 5.0)]).await;
    assert_eq!(
        read(&st, &p, id, "sum").await,
        vec![(at(12, 1, 0), 60, 5.0)]
    );
}

#[tokio::test]
async fn empty_batch_does_nothing() {
    let p = policy(&[(60, None)], &["sum"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    assert_eq!(
        process_metric(&st, &p, id, Vec::new()).await.expect("ok"),
        ProcessOutcome::default()
    );
    assert_eq!(st.read_raw(id).await.expect("ok"), None);
}

#[tokio::test]
async fn a_day_at_one_minute_is_small_on_disk() {
    // A 2-decimal random walk, 1440 points, 6 default methods: far below 8 B/pt.
    let p = policy(
        &[(60, Some(1440))],
        &["mean", "min", "max", "sum", "std", "count"],
        0,
    );
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    let mut x = 50.0f64;
    let mut pts = Vec::new();
    for i in 0..1440 * 6 {
        x += ((i * 7919 % 13) as f64 - 6.0) / 10.0;
        pts.push((DAY + i * 10 * S, (x * 100.0).round() / 100.0));
    }
    for chunk in pts.chunks(600) {
        pass(&st, &p, id, chunk).await;
    }
    let bytes = st.split_bytes(id);
    let bpp = bytes as f64 / (1440.0 * 6.0);
    println!("1 day at 60 s, 6 methods: {bytes} bytes, {bpp:.2} B/pt");
    // Means and stds of 2-decimal data are full-precision floats: ~3 B/pt over 6 methods.
    assert!(bpp < 4.0, "{bpp}");
}

/// The reference model of engine.md §3.3 over whole histories in BTreeMaps, ignoring splits
/// (deleted splits are always older than what an unbounded read's truncation keeps).
mod model {
    use std::collections::BTreeMap;

    use gnocchi_core::{AggregationMethod, ArchivePolicy};

    use crate::engine::proptests::naive_aggregate;
    use crate::engine::{cmp_nan_last, floor_to, Op};

    #[derive(Default)]
    pub(super) struct Model {
        raw: BTreeMap<i64, f64>,
        stored: BTreeMap<(AggregationMethod, i64), BTreeMap<i64, f64>>,
    }

    impl Model {
        pub(super) fn pass(&mut self, p: &ArchivePolicy, new: &[(i64, f64)]) {
            let mut new = new.to_vec();
            new.sort_by(|a, b| a.0.cmp(&b.0).then(cmp_nan_last(a.1, b.1)));
            let Some(&(first_new, _)) = new.first() else {
                return;
            };
            let block = p.max_block_size_ns();
            let bw = p.effective_back_window() as i64;
            if let Some((&last, _)) = self.raw.last_key_value() {
                let cutoff = floor_to(last, block) - block * bw;
                new.retain(|m| m.0 >= cutoff);
            }
            let mut batch = BTreeMap::new();
            for (t, v) in new {
                batch.entry(t).or_insert(v);
            }
            self.raw.extend(batch);
            let first = *self.raw.keys().next().expect("non-empty");
            let t0 = first.max(first_new);
            for item in &p.definition {
                let g = item.granularity_ns;
                let start = floor_to(t0, g);
                for &m in &p.aggregation_methods {
                    let input: Vec<(i64, f64)> = if m.rate {
                        let w: Vec<(i64, f64)> =
                            self.raw.range(start - g..).map(|(&t, &v)| (t, v)).collect();
                        w.windows(2)
                            .filter(|w| w[1].0 >= start)
                            .map(|w| (w[1].0, w[1].1 - w[0].1))
                            .collect()
                    } else {
                        self.raw.range(start..).map(|(&t, &v)| (t, v)).collect()
                    };
                    let mut s = naive_aggregate(&input, g, Op::of(m));
                    if let (Some(t), Some(&(last, _))) = (item.timespan_ns(), s.last()) {
                        s.retain(|b| b.0 > last - t);
                    }
                    self.stored.entry((m, g)).or_default().extend(s);
                }
            }
            let last = *self.raw.keys().next_back().expect("non-empty");
            self.raw = self.raw.split_off(&(floor_to(last, block) - block * bw));
        }

        pub(super) fn read(&self, p: &ArchivePolicy, m: AggregationMethod) -> Vec<(i64, i64, f64)> {
            let mut items = p.definition.clone();
            items.sort_by_key(|d| std::cmp::Reverse(d.granularity_ns));
            let mut out = Vec::new();
            for item in items {
                let g = item.granularity_ns;
                let Some(s) = self.stored.get(&(m, g)) else {
                    continue;
                };
                let last = s.keys().next_back().copied().unwrap_or(0);
                for (&t, &v) in s {
                    if item.timespan_ns().is_none_or(|ts| t > last - ts) {
                        out.push((t, g, v));
                    }
                }
            }
            out
        }
    }
}

mod multi_pass {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::proptests::same;

    /// Passes moving forward in time (pass `i` around `i × 10 min`, overlapping the previous
    /// ones), with a few late and duplicate measures.
    fn passes() -> impl Strategy<Value = Vec<Vec<(i64, f64)>>> {
        let point = (
            prop_oneof![8 => -900i64..600, 1 => -7200i64..600],
            prop_oneof![3 => Just(0i64), 1 => 0i64..S],
            prop_oneof![
                6 => (-20i32..20).prop_map(f64::from),
                2 => (-2000i32..2000).prop_map(|x| f64::from(x) / 100.0),
                1 => Just(f64::NAN),
            ],
        );
        prop::collection::vec(prop::collection::vec(point, 1..60), 1..8).prop_map(|passes| {
            passes
                .into_iter()
                .enumerate()
                .map(|(i, pts)| {
                    let base = DAY + 7200 * S + i as i64 * 600 * S;
                    pts.into_iter()
                        .map(|(s, j, v)| (base + s * S + j, v))
                        .collect()
                })
                .collect()
        })
    }

    fn policies() -> impl Strategy<Value = ArchivePolicy> {
        let item = (
            prop::sample::select(vec![1i64, 5, 60, 90, 300, 600]),
            prop::option::of(1u64..50),
        );
        (prop::collection::vec(item, 1..3), 0u64..3).prop_map(|(items, bw)| {
            let mut items: Vec<(i64, Option<u64>)> = items;
            items.sort();
            items.dedup_by_key(|i| i.0);
            let methods = [
                "mean",
                "sum",
                "last",
                "first",
                "min",
                "max",
                "median",
                "std",
                "count",
                "56pct",
                "95pct",
                "rate:mean",
                "rate:last",
                "rate:95pct",
                "rate:std",
                "rate:count",
            ];
            policy(&items, &methods, bw)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]

        #[test]
        fn process_metric_matches_reference_model(p in policies(), batches in passes()) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let st = MemoryStorage::default();
            let id = Uuid::new_v4();
            let mut m = model::Model::default();
            for b in &batches {
                rt.block_on(pass(&st, &p, id, b));
                m.pass(&p, b);
            }
            for &method in &p.aggregation_methods {
                let got: Vec<(i64, i64, f64)> = rt
                    .block_on(read_measures(&st, &p, id, &MeasuresQuery::new(method)))
                    .expect("reads")
                    .into_iter()
                    .map(|x| (x.timestamp_ns, x.granularity_ns, x.value))
                    .collect();
                let want = m.read(&p, method);
                prop_assert_eq!(got.len(), want.len(), "{}: {:?} vs {:?}", method, got, want);
                for (a, b) in got.iter().zip(&want) {
                    prop_assert!(a.0 == b.0 && a.1 == b.1 && same(a.2, b.2),
                        "{}: {:?} vs {:?}", method, a, b);
                }
            }
        }
    }
}

#[tokio::test]
async fn process_pending_acks_after_the_write() {
    use crate::{FileIncoming, Incoming};

    let dir = tempfile::tempdir().expect("tempdir");
    FileIncoming::upgrade(dir.path(), 4).expect("upgrade");
    let incoming = FileIncoming::open(dir.path()).expect("open");
    let p = policy(&[(60, None)], &["sum"], 0);
    let st = MemoryStorage::default();
    let id = Uuid::new_v4();
    let a = vec![
        Measure::new(at(12, 0, 0), 1.0),
        Measure::new(at(12, 0, 30), 2.0),
    ];
    let b = vec![Measure::new(at(12, 1, 0), 4.0)];
    incoming.add_measures(&[(id, a)]).await.expect("add");
    incoming.add_measures(&[(id, b)]).await.expect("add");
    let o = process_pending(&incoming, &st, &p, id)
        .await
        .expect("processes")
        .expect("something was pending");
    assert_eq!((o.measures, o.newest_measure_ns), (3, Some(at(12, 1, 0))));
    assert_eq!(
        read(&st, &p, id, "sum").await,
        vec![(at(12, 0, 0), 60, 3.0), (at(12, 1, 0), 60, 4.0)]
    );
    assert!(incoming
        .read_measures(id)
        .await
        .expect("read")
        .token
        .is_empty());
    assert_eq!(
        process_pending(&incoming, &st, &p, id).await.expect("ok"),
        None
    );
}

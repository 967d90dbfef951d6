//! The contract every [`AggregateStorage`] driver passes (STYLE.md §2.9): generic async checks
//! over `&dyn AggregateStorage`, run per driver by
//! [`aggregate_contract_tests!`](crate::aggregate_contract_tests).
//!
//! Each check expects a freshly initialised, empty store.

use gnocchi_core::{AggregationMethod, NS_PER_SEC};
use uuid::Uuid;

use super::{AggregateStorage, SplitKey};

/// Instantiates every aggregate storage contract check as a `#[tokio::test]` for one driver.
///
/// `$fixture` is an expression evaluated once per test to a future of `(guard, driver)`, where
/// `driver` derefs to `dyn AggregateStorage` and `guard` keeps the store alive.
#[macro_export]
macro_rules! aggregate_contract_tests {
    ($fixture:expr) => {
        $crate::aggregate_contract_tests!(@each $fixture;
            unknown_metric_has_no_objects,
            write_list_read_splits,
            rewrite_replaces_objects,
            deleted_splits_are_removed,
            delete_metric_removes_everything_of_that_metric,
            method_names_and_keys_of_every_shape,
        );
    };
    (@each $fixture:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_guard, storage) = $fixture.await;
            $crate::aggregate_contract::$name(&*storage).await;
        }
    )*};
}

fn method(name: &str) -> AggregationMethod {
    name.parse().expect("a valid method name")
}

fn key(name: &str, granularity_s: i64, split: i64) -> SplitKey {
    let granularity_ns = granularity_s * NS_PER_SEC;
    SplitKey {
        method: method(name),
        granularity_ns,
        start_ns: split * 3600 * granularity_ns,
    }
}

/// Before its first write a metric has no raw series, no splits, and missing splits read `None`.
pub async fn unknown_metric_has_no_objects(storage: &dyn AggregateStorage) {
    let metric = Uuid::new_v4();
    assert_eq!(storage.read_raw(metric).await.expect("read raw"), None);
    let keys = storage
        .list_splits(metric, method("mean"), 300 * NS_PER_SEC)
        .await
        .expect("list");
    assert!(keys.is_empty());
    let k = key("mean", 300, 1);
    assert_eq!(
        storage.read_splits(metric, &[k]).await.expect("read"),
        vec![None]
    );
    assert!(storage
        .read_splits(metric, &[])
        .await
        .expect("read none")
        .is_empty());
    storage.check().await.expect("healthy");
}

/// Splits are listed per (method, granularity), ascending, and read back in the order asked,
/// with `None` for a missing one.
pub async fn write_list_read_splits(storage: &dyn AggregateStorage) {
    let metric = Uuid::new_v4();
    let (m300a, m300b, m60, max300) = (
        key("mean", 300, 1_000),
        key("mean", 300, 999),
        key("mean", 60, 10),
        key("max", 300, 1_000),
    );
    let splits = vec![
        (m300a, b"mean 300 a".to_vec()),
        (m60, b"mean 60".to_vec()),
        (m300b, b"mean 300 b".to_vec()),
        (max300, vec![0u8; 1 << 20]),
    ];
    storage
        .write_metric(metric, splits, Vec::new(), b"raw v1".to_vec())
        .await
        .expect("write");
    assert_eq!(
        storage.read_raw(metric).await.expect("read raw"),
        Some(b"raw v1".to_vec())
    );
    let listed = storage
        .list_splits(metric, method("mean"), 300 * NS_PER_SEC)
        .await
        .expect("list");
    assert_eq!(listed, vec![m300b, m300a]);
    let listed = storage
        .list_splits(metric, method("mean"), 60 * NS_PER_SEC)
        .await
        .expect("list");
    assert_eq!(listed, vec![m60]);
    let listed = storage
        .list_splits(metric, method("min"), 300 * NS_PER_SEC)
        .await
        .expect("list");
    assert!(listed.is_empty());

    let missing = key("mean", 300, 5);
    let read = storage
        .read_splits(metric, &[m60, missing, m300a, max300])
        .await
        .expect("read");
    assert_eq!(read.len(), 4);
    assert_eq!(read[0].as_deref(), Some(&b"mean 60"[..]));
    assert_eq!(read[1], None);
    assert_eq!(read[2].as_deref(), Some(&b"mean 300 a"[..]));
    assert_eq!(read[3].as_ref().map(Vec::len), Some(1 << 20));

    // Another metric sees none of it.
    let other = Uuid::new_v4();
    assert_eq!(storage.read_raw(other).await.expect("read raw"), None);
    assert_eq!(
        storage.read_splits(other, &[m300a]).await.expect("read"),
        vec![None]
    );
}

/// Writing an existing split or raw series replaces it (longer or shorter, or empty).
pub async fn rewrite_replaces_objects(storage: &dyn AggregateStorage) {
    let metric = Uuid::new_v4();
    let k = key("mean", 1, 7);
    storage
        .write_metric(metric, vec![(k, vec![1; 100])], Vec::new(), vec![9; 100])
        .await
        .expect("write");
    storage
        .write_metric(metric, vec![(k, vec![2; 3])], Vec::new(), Vec::new())
        .await
        .expect("rewrite");
    assert_eq!(
        storage.read_splits(metric, &[k]).await.expect("read"),
        vec![Some(vec![2; 3])]
    );
    assert_eq!(
        storage.read_raw(metric).await.expect("read raw"),
        Some(Vec::new()),
        "an empty raw series is stored, not absent"
    );
    // A write with only a raw series keeps the splits.
    storage
        .write_metric(metric, Vec::new(), Vec::new(), b"r".to_vec())
        .await
        .expect("raw only");
    assert_eq!(
        storage
            .list_splits(metric, k.method, k.granularity_ns)
            .await
            .expect("list"),
        vec![k]
    );
}

/// `deleted_splits` removes those splits only; a missing one is ignored and a key also written
/// in the same call is kept.
pub async fn deleted_splits_are_removed(storage: &dyn AggregateStorage) {
    let metric = Uuid::new_v4();
    let (old, mid, new) = (key("sum", 60, 1), key("sum", 60, 2), key("sum", 60, 3));
    let other_series = key("count", 60, 1);
    storage
        .write_metric(
            metric,
            vec![
                (old, b"o".to_vec()),
                (mid, b"m".to_vec()),
                (other_series, b"c".to_vec()),
            ],
            Vec::new(),
            b"raw".to_vec(),
        )
        .await
        .expect("write");
    storage
        .write_metric(
            metric,
            vec![(new, b"n".to_vec()), (mid, b"m2".to_vec())],
            vec![old, mid, key("sum", 60, 99)],
            b"raw2".to_vec(),
        )
        .await
        .expect("write and delete");
    assert_eq!(
        storage
            .list_splits(metric, old.method, old.granularity_ns)
            .await
            .expect("list"),
        vec![mid, new]
    );
    assert_eq!(
        storage
            .read_splits(metric, &[old, mid])
            .await
            .expect("read"),
        vec![None, Some(b"m2".to_vec())]
    );
    assert_eq!(
        storage
            .list_splits(metric, other_series.method, other_series.granularity_ns)
            .await
            .expect("list"),
        vec![other_series]
    );
}

/// `delete_metric` removes the raw series and every split of that metric only; the metric can
/// be written again afterwards; deleting twice or an unknown metric is fine.
pub async fn delete_metric_removes_everything_of_that_metric(storage: &dyn AggregateStorage) {
    let (gone, kept) = (Uuid::new_v4(), Uuid::new_v4());
    let k = key("last", 3600, 100);
    for metric in [gone, kept] {
        storage
            .write_metric(
                metric,
                vec![(k, b"s".to_vec())],
                Vec::new(),
                b"raw".to_vec(),
            )
            .await
            .expect("write");
    }
    storage.delete_metric(gone).await.expect("delete");
    assert_eq!(storage.read_raw(gone).await.expect("read raw"), None);
    assert!(storage
        .list_splits(gone, k.method, k.granularity_ns)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        storage.read_splits(gone, &[k]).await.expect("read"),
        vec![None]
    );
    assert_eq!(
        storage.read_splits(kept, &[k]).await.expect("read"),
        vec![Some(b"s".to_vec())]
    );
    storage.delete_metric(gone).await.expect("delete again");
    storage
        .delete_metric(Uuid::new_v4())
        .await
        .expect("delete unknown");
    storage
        .write_metric(gone, vec![(k, b"t".to_vec())], Vec::new(), b"r".to_vec())
        .await
        .expect("write after delete");
    assert_eq!(
        storage.read_splits(gone, &[k]).await.expect("read"),
        vec![Some(b"t".to_vec())]
    );
}

/// `rate:` and percentile methods, sub-second granularities and pre-1970 split keys are
/// distinct, listable objects.
pub async fn method_names_and_keys_of_every_shape(storage: &dyn AggregateStorage) {
    let metric = Uuid::new_v4();
    let half_second = 500_000_000;
    let keys = [
        SplitKey {
            method: method("rate:mean"),
            granularity_ns: half_second,
            start_ns: -3600 * half_second,
        },
        SplitKey {
            method: method("mean"),
            granularity_ns: half_second,
            start_ns: -3600 * half_second,
        },
        SplitKey {
            method: method("95pct"),
            granularity_ns: half_second,
            start_ns: 0,
        },
        SplitKey {
            method: method("rate:95pct"),
            granularity_ns: half_second,
            start_ns: 3600 * half_second,
        },
    ];
    let splits = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, vec![i as u8]))
        .collect();
    storage
        .write_metric(metric, splits, Vec::new(), Vec::new())
        .await
        .expect("write");
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            storage
                .list_splits(metric, k.method, k.granularity_ns)
                .await
                .expect("list"),
            vec![*k],
            "{} listed alone",
            k.method
        );
        assert_eq!(
            storage.read_splits(metric, &[*k]).await.expect("read"),
            vec![Some(vec![i as u8])]
        );
    }
}

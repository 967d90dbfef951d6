//! The contract every [`Incoming`] driver passes (STYLE.md §2.9): generic async checks over
//! `&dyn Incoming`, run per driver by [`incoming_contract_tests!`](crate::incoming_contract_tests).
//!
//! Each check expects a freshly initialised, empty store with at least 2 sacks.

use std::collections::BTreeSet;
use std::time::Duration;

use gnocchi_core::{ErrorKind, Measure};
use uuid::Uuid;

use super::{sack_of, Incoming, PendingBatches};

/// Instantiates every incoming contract check as a `#[tokio::test]` for one driver.
///
/// `$fixture` is an expression evaluated once per test to a future of `(guard, driver)`, where
/// `driver` derefs to `dyn Incoming` (e.g. `Arc<dyn Incoming>`) and `guard` keeps the store
/// alive (e.g. a temporary directory).
#[macro_export]
macro_rules! incoming_contract_tests {
    ($fixture:expr) => {
        $crate::incoming_contract_tests!(@each $fixture;
            add_read_ack_round_trip,
            ack_keeps_batches_added_after_read,
            empty_batches_are_not_stored,
            backlog_counts_metrics_and_batches,
            metrics_land_in_their_sack,
            sack_lock_is_exclusive,
            waiting_locker_gets_the_lock_on_release,
            lock_of_unknown_sack_is_invalid,
            delete_metric_removes_only_its_batches,
            unknown_metric_reads_empty,
        );
    };
    (@each $fixture:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_guard, incoming) = $fixture.await;
            $crate::incoming_contract::$name(&*incoming).await;
        }
    )*};
}

fn m(ts: i64, v: f64) -> Measure {
    Measure::new(ts, v)
}

/// The measures as comparable (timestamp, value bits) pairs, sorted.
fn sorted(measures: &[Measure]) -> Vec<(i64, u64)> {
    let mut v: Vec<_> = measures
        .iter()
        .map(|m| (m.timestamp, m.value.to_bits()))
        .collect();
    v.sort_unstable();
    v
}

/// Two metrics in the same sack, and one in another sack.
fn metrics(incoming: &dyn Incoming) -> (Uuid, Uuid, Uuid) {
    let sacks = incoming.sacks();
    let a = Uuid::new_v4();
    let same = Uuid::from_u128(a.as_u128().wrapping_add(u128::from(sacks)));
    let other = Uuid::from_u128(a.as_u128().wrapping_add(1));
    assert_eq!(sack_of(a, sacks), sack_of(same, sacks));
    assert_ne!(sack_of(a, sacks), sack_of(other, sacks));
    (a, same, other)
}

/// Batches come back with all their measures, and an ack removes them.
pub async fn add_read_ack_round_trip(incoming: &dyn Incoming) {
    let (a, _, _) = metrics(incoming);
    let sack = sack_of(a, incoming.sacks());
    let first = vec![m(1_000, 1.0), m(2_000, -2.5)];
    let second = vec![m(1_000, f64::INFINITY)];
    incoming
        .add_measures(&[(a, first.clone())])
        .await
        .expect("add first batch");
    incoming
        .add_measures(&[(a, second.clone())])
        .await
        .expect("add second batch");
    assert_eq!(
        incoming.metrics_with_measures(sack).await.expect("list"),
        vec![a]
    );
    assert_eq!(
        incoming.sack_backlog(sack).await.expect("sack backlog"),
        vec![(a, 2)]
    );

    let pending = incoming.read_measures(a).await.expect("read");
    assert_eq!(pending.token.len(), 2, "one token entry per batch");
    let all: Vec<_> = first.iter().chain(&second).copied().collect();
    assert_eq!(sorted(&pending.measures), sorted(&all));

    // Reading is not consuming.
    let again = incoming.read_measures(a).await.expect("read again");
    assert_eq!(sorted(&again.measures), sorted(&all));

    incoming.ack(a, &pending).await.expect("ack");
    assert!(incoming.read_measures(a).await.expect("read").is_empty());
    assert!(incoming
        .metrics_with_measures(sack)
        .await
        .expect("list")
        .is_empty());
    // Acking twice, or acking nothing, is harmless.
    incoming.ack(a, &pending).await.expect("ack again");
    incoming
        .ack(a, &PendingBatches::default())
        .await
        .expect("ack nothing");
}

/// A batch added between `read_measures` and `ack` is not lost (engine.md §5.4).
pub async fn ack_keeps_batches_added_after_read(incoming: &dyn Incoming) {
    let (a, _, _) = metrics(incoming);
    incoming
        .add_measures(&[(a, vec![m(1, 1.0)])])
        .await
        .expect("add");
    let pending = incoming.read_measures(a).await.expect("read");
    incoming
        .add_measures(&[(a, vec![m(2, 2.0), m(3, 3.0)])])
        .await
        .expect("add during processing");
    incoming.ack(a, &pending).await.expect("ack");
    let left = incoming.read_measures(a).await.expect("read rest");
    assert_eq!(sorted(&left.measures), sorted(&[m(2, 2.0), m(3, 3.0)]));
    assert_eq!(left.token.len(), 1);
    assert_eq!(
        incoming
            .metrics_with_measures(sack_of(a, incoming.sacks()))
            .await
            .expect("list"),
        vec![a]
    );
}

/// `[]` stores nothing (engine.md §3.1), also next to non-empty batches of the same request.
pub async fn empty_batches_are_not_stored(incoming: &dyn Incoming) {
    let (a, same, _) = metrics(incoming);
    incoming
        .add_measures(&[(a, Vec::new())])
        .await
        .expect("add empty");
    incoming.add_measures(&[]).await.expect("add nothing");
    assert_eq!(incoming.backlog().await.expect("backlog"), (0, 0));
    incoming
        .add_measures(&[(a, Vec::new()), (same, vec![m(5, 5.0)])])
        .await
        .expect("add mixed");
    assert_eq!(incoming.backlog().await.expect("backlog"), (1, 1));
    assert!(incoming.read_measures(a).await.expect("read").is_empty());
}

/// The backlog counts metrics and batches, not measures (engine.md §5.6).
pub async fn backlog_counts_metrics_and_batches(incoming: &dyn Incoming) {
    assert_eq!(incoming.backlog().await.expect("backlog"), (0, 0));
    let (a, same, other) = metrics(incoming);
    let many: Vec<_> = (0..1000).map(|i| m(i, i as f64)).collect();
    incoming
        .add_measures(&[(a, many), (same, vec![m(1, 1.0)]), (other, vec![m(1, 1.0)])])
        .await
        .expect("add one batch each");
    incoming
        .add_measures(&[(same, vec![m(2, 1.0)]), (other, vec![m(2, 1.0)])])
        .await
        .expect("add");
    incoming
        .add_measures(&[(other, vec![m(3, 1.0)])])
        .await
        .expect("add");
    assert_eq!(incoming.backlog().await.expect("backlog"), (3, 6));
    let mut details = incoming.measures_to_process().await.expect("details");
    details.sort_unstable();
    let mut expected = vec![(a, 1), (same, 2), (other, 3)];
    expected.sort_unstable();
    assert_eq!(details, expected);
}

/// A metric's batches are found in `sack_of(metric)` and in no other sack (engine.md §3.2).
pub async fn metrics_land_in_their_sack(incoming: &dyn Incoming) {
    let sacks = incoming.sacks();
    let added: Vec<Uuid> = (0..3 * sacks.min(64)).map(|_| Uuid::new_v4()).collect();
    let batches: Vec<_> = added.iter().map(|id| (*id, vec![m(1, 1.0)])).collect();
    incoming.add_measures(&batches).await.expect("add");
    let mut seen = BTreeSet::new();
    for sack in 0..sacks {
        for id in incoming.metrics_with_measures(sack).await.expect("list") {
            assert_eq!(
                sack_of(id, sacks),
                sack,
                "metric {id} listed in sack {sack}"
            );
            assert!(seen.insert(id), "metric {id} listed twice");
        }
    }
    assert_eq!(seen, added.into_iter().collect::<BTreeSet<_>>());
}

/// Two lockers of one sack exclude each other; other sacks are independent; drop releases.
pub async fn sack_lock_is_exclusive(incoming: &dyn Incoming) {
    let first = incoming
        .lock_sack(0, false)
        .await
        .expect("lock")
        .expect("sack 0 is free");
    assert!(incoming.lock_sack(0, false).await.expect("lock").is_none());
    let timed = incoming
        .lock_sack_timeout(0, Duration::from_millis(30))
        .await
        .expect("lock with timeout");
    assert!(timed.is_none(), "sack 0 is held");
    let other = incoming.lock_sack(1, false).await.expect("lock");
    assert!(other.is_some(), "sack 1 is independent of sack 0");
    drop(first);
    let again = incoming.lock_sack(0, false).await.expect("lock");
    assert!(again.is_some(), "dropping the lock releases it");
    drop(again);
    let timed = incoming
        .lock_sack_timeout(0, Duration::from_secs(5))
        .await
        .expect("lock with timeout");
    assert!(timed.is_some());
}

/// A blocking `lock_sack(_, true)` returns once the holder drops its lock.
pub async fn waiting_locker_gets_the_lock_on_release(incoming: &dyn Incoming) {
    let held = incoming
        .lock_sack(1, false)
        .await
        .expect("lock")
        .expect("sack 1 is free");
    let waiter = incoming.lock_sack(1, true);
    let release = async move {
        tokio::task::yield_now().await;
        drop(held);
    };
    // The timeout only turns a hang (lock never released) into a failure.
    let (got, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(waiter, release)
    })
    .await
    .expect("the waiter got the lock after the release");
    assert!(got.expect("lock").is_some());
}

/// A sack number beyond the sack count is refused as invalid.
pub async fn lock_of_unknown_sack_is_invalid(incoming: &dyn Incoming) {
    let err = incoming
        .lock_sack(incoming.sacks(), false)
        .await
        .expect_err("sack out of range");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

/// `delete_metric` removes that metric's batches and nothing else; deleting twice is fine.
pub async fn delete_metric_removes_only_its_batches(incoming: &dyn Incoming) {
    let (a, same, _) = metrics(incoming);
    incoming
        .add_measures(&[(a, vec![m(1, 1.0)]), (same, vec![m(2, 2.0)])])
        .await
        .expect("add");
    incoming
        .add_measures(&[(a, vec![m(3, 3.0)])])
        .await
        .expect("add");
    incoming.delete_metric(a).await.expect("delete");
    assert!(incoming.read_measures(a).await.expect("read").is_empty());
    assert_eq!(
        incoming
            .metrics_with_measures(sack_of(a, incoming.sacks()))
            .await
            .expect("list"),
        vec![same]
    );
    incoming.delete_metric(a).await.expect("delete again");
    incoming
        .delete_metric(Uuid::new_v4())
        .await
        .expect("delete unknown");
    // A deleted metric's queue can be used again (its id is never reused in practice).
    incoming
        .add_measures(&[(a, vec![m(4, 4.0)])])
        .await
        .expect("add after delete");
    assert_eq!(incoming.backlog().await.expect("backlog"), (2, 2));
    incoming.check().await.expect("healthy");
}

/// A metric without batches reads empty.
pub async fn unknown_metric_reads_empty(incoming: &dyn Incoming) {
    let pending = incoming.read_measures(Uuid::new_v4()).await.expect("read");
    assert!(pending.is_empty());
    assert!(pending.measures.is_empty());
}

//! The processing loop (engine.md §5.2, §5.4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gnocchi_core::ArchivePolicy;
use gnocchi_indexer::ProcessedMetric;
use gnocchi_storage::{process_pending, ProcessOutcome, SackLock};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, instrument, warn};
use uuid::Uuid;

use crate::Metricd;

/// Metrics of one sack processed at the same time, so that reads, aggregation and writes of
/// different metrics overlap.
const METRICS_IN_FLIGHT: usize = 16;
/// Consecutive sacks a worker processes before one storage sync and one indexer update cover
/// them all: each sync and indexer commit waits for the disk.
const SACKS_PER_SYNC: u32 = 8;
/// The shortest time between the starts of two scans while there is work (with `greedy`):
/// measures become visible within about this long, and under load each pass still aggregates
/// several batches per metric rather than rewriting every metric's splits for each one.
const BUSY_SCAN_SPACING: Duration = Duration::from_millis(200);

/// Scans every sack, `settings.workers` groups of sacks at a time, then waits for the next
/// scan.
pub(crate) async fn run(metricd: Metricd, shutdown: CancellationToken) {
    let workers = metricd.settings.workers.max(1);
    let delay = metricd.settings.processing_delay;
    loop {
        let began = Instant::now();
        let sacks = metricd.incoming.sacks();
        let mut in_flight = JoinSet::new();
        let mut processed = 0;
        for first in (0..sacks).step_by(SACKS_PER_SYNC as usize) {
            if shutdown.is_cancelled() {
                break;
            }
            if in_flight.len() >= workers {
                processed += in_flight
                    .join_next()
                    .await
                    .and_then(Result::ok)
                    .unwrap_or(0);
            }
            let metricd = metricd.clone();
            let group: Vec<u32> = (first..sacks.min(first + SACKS_PER_SYNC)).collect();
            in_flight.spawn(async move { process_sacks(&metricd, &group).await });
        }
        // The sacks in hand are finished, also on shutdown (their batches are acknowledged
        // only after their aggregates are durable either way).
        while let Some(done) = in_flight.join_next().await {
            processed += done.unwrap_or(0);
        }
        if let Err(e) = metricd.incoming.tidy().await {
            warn!(error = %e, "Cannot reclaim the space of processed batches.");
        }
        // Nothing written since the last sync: the storage may compact its logs now.
        if processed == 0 {
            if let Err(e) = metricd.storage.sync().await {
                warn!(error = %e, "Cannot sync the storage while idle.");
            }
        }
        // Scans start BUSY_SCAN_SPACING apart while they find work, or when the API wakes an
        // idle metricd; otherwise one processing delay apart. Both count from the start of the
        // last scan, so a scan that overran is followed at once.
        let greedy = metricd.settings.greedy;
        let soon = began + delay.min(BUSY_SCAN_SPACING);
        let busy = greedy && processed > 0;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sleep_until(if busy { soon } else { began + delay }) => {}
            _ = async {
                metricd.wake.notified().await;
                sleep_until(soon).await;
            }, if greedy && !busy => {}
        }
    }
}

/// Processes every pending metric of each of `sacks` whose lock no other process holds, then
/// makes the aggregates durable with one storage sync, commits each sack's acks and releases
/// its lock. Failures are isolated per metric: a metric that fails keeps its batches and is
/// retried on the next pass, the others proceed (engine.md §5.8, "poison sack"). Returns how
/// many metrics had their batches committed.
pub async fn process_sacks(metricd: &Metricd, sacks: &[u32]) -> usize {
    // Every sack of the group is locked before any is read: the file incoming store then
    // reads what all of them have in a pack with one read.
    let mut held = Vec::with_capacity(sacks.len());
    for &sack in sacks {
        held.extend(hold_sack(metricd, sack).await);
    }
    if held.is_empty() {
        return 0;
    }
    let Some(passes) = pass_group(metricd, held).await else {
        return 0;
    };
    // The acks become durable only after the aggregates they stand for; when the sync fails
    // they are dropped, and the batches processed again.
    if let Err(e) = metricd.storage.sync().await {
        warn!(error = %e, "Cannot make the aggregates durable; their batches will be processed again.");
        for pass in &passes {
            metricd.incoming.abandon_sack(pass.sack);
        }
        return 0;
    }
    let mut processed = Vec::new();
    for pass in passes {
        // Before the lock drops: other processes then see this pass's acks.
        match metricd.incoming.commit_sack(pass.sack).await {
            Ok(()) => processed.extend(pass.processed),
            Err(e) => warn!(
                sack = pass.sack,
                error = %e,
                "Cannot record the sack's processed batches; they will be processed again."
            ),
        }
    }
    if !processed.is_empty() {
        if let Err(e) = metricd.indexer.mark_metrics_processed(&processed).await {
            warn!(error = %e, "Cannot record the processing in the indexer.");
        }
    }
    processed.len()
}

/// One sack processed and still locked, its acks not yet committed.
struct SackPass {
    sack: u32,
    processed: Vec<ProcessedMetric>,
    _lock: SackLock,
}

/// A sack with pending metrics, locked by this process.
struct HeldSack {
    sack: u32,
    ids: Vec<Uuid>,
    lock: SackLock,
}

/// Locks `sack` when it has pending metrics; `None` when it has none or another process holds
/// it.
#[instrument(skip_all, fields(sack))]
async fn hold_sack(metricd: &Metricd, sack: u32) -> Option<HeldSack> {
    let ids = match metricd.incoming.metrics_with_measures(sack).await {
        Ok(ids) if ids.is_empty() => return None,
        Ok(ids) => ids,
        Err(e) => {
            warn!(error = %e, "Cannot list the sack.");
            return None;
        }
    };
    match metricd.incoming.lock_sack(sack, false).await {
        Ok(Some(lock)) => Some(HeldSack { sack, ids, lock }),
        Ok(None) => None,
        Err(e) => {
            warn!(error = %e, "Cannot lock the sack.");
            None
        }
    }
}

/// Processes the pending metrics of the held sacks, [`METRICS_IN_FLIGHT`] at a time across
/// sack boundaries; `None` when their metrics cannot be read from the indexer (the locks then
/// drop with nothing acknowledged).
async fn pass_group(metricd: &Metricd, held: Vec<HeldSack>) -> Option<Vec<SackPass>> {
    let ids: Vec<Uuid> = held.iter().flat_map(|h| h.ids.iter().copied()).collect();
    let metrics = match metricd.indexer.metrics_by_ids(&ids).await {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "Cannot read the metrics of the sacks from the indexer.");
            return None;
        }
    };
    let known: HashMap<_, _> = metrics.iter().map(|m| (m.id, m)).collect();
    // Read once for the group: a policy changed meanwhile applies from the next group on.
    let mut policies: HashMap<String, Arc<ArchivePolicy>> = HashMap::new();
    let mut passes: Vec<SackPass> = Vec::with_capacity(held.len());
    let mut in_flight = JoinSet::new();
    for (at, HeldSack { sack, ids, lock }) in held.into_iter().enumerate() {
        passes.push(SackPass {
            sack,
            processed: Vec::new(),
            _lock: lock,
        });
        for id in ids {
            let Some(metric) = known.get(&id) else {
                // Deleted or unknown metric: its measures can never be aggregated.
                if let Err(e) = metricd.incoming.delete_metric(id).await {
                    warn!(
                        metric_id = %id,
                        error = %e,
                        "Cannot discard measures of a deleted metric."
                    );
                }
                continue;
            };
            if !policies.contains_key(&metric.archive_policy_name) {
                match metricd
                    .indexer
                    .archive_policy(&metric.archive_policy_name)
                    .await
                {
                    Ok(p) => {
                        policies.insert(p.name.clone(), Arc::new(p));
                    }
                    Err(e) => {
                        warn!(metric_id = %id, error = %e, "Cannot read the archive policy.");
                        continue;
                    }
                }
            }
            if in_flight.len() >= METRICS_IN_FLIGHT {
                collect(in_flight.join_next().await, &mut passes);
            }
            let policy = Arc::clone(&policies[&metric.archive_policy_name]);
            let (incoming, storage) = (metricd.incoming.clone(), metricd.storage.clone());
            in_flight.spawn(async move {
                let result =
                    process_pending(incoming.as_ref(), storage.as_ref(), &policy, id).await;
                (at, id, result)
            });
        }
    }
    while let Some(done) = in_flight.join_next().await {
        collect(Some(done), &mut passes);
    }
    Some(passes)
}

/// A metric's result, with the index of its sack's pass.
type MetricResult = (usize, Uuid, gnocchi_storage::Result<Option<ProcessOutcome>>);

/// Logs one metric's pass and records its newest measure in its sack's pass, for the indexer.
fn collect(done: Option<Result<MetricResult, tokio::task::JoinError>>, passes: &mut [SackPass]) {
    let (at, id, result) = match done {
        None => return,
        Some(Ok(done)) => done,
        Some(Err(e)) => {
            warn!(error = %e, "A metric's processing task failed.");
            return;
        }
    };
    match result {
        Ok(Some(outcome)) => {
            debug!(metric_id = %id, "Processed measures.");
            if let Some(newest) = outcome.newest_measure_ns {
                passes[at].processed.push(ProcessedMetric {
                    id,
                    newest_measure_ns: newest,
                });
            }
        }
        Ok(None) => {}
        Err(e) => warn!(metric_id = %id, error = %e, "Cannot process the metric."),
    }
}

//! The processing loop (engine.md §5.2, §5.4).

use std::collections::HashMap;
use std::sync::Arc;

use gnocchi_core::ArchivePolicy;
use gnocchi_indexer::ProcessedMetric;
use gnocchi_storage::{process_pending, ProcessOutcome};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, instrument, warn};
use uuid::Uuid;

use crate::Metricd;

/// Metrics of one sack processed at the same time. Processing a metric mostly waits for
/// fsyncs; concurrent ones share the filesystem's journal commits.
const METRICS_IN_FLIGHT: usize = 16;

/// Scans every sack, `settings.workers` sacks at a time, then waits for the next scan.
pub(crate) async fn run(metricd: Metricd, shutdown: CancellationToken) {
    let workers = metricd.settings.workers.max(1);
    loop {
        let sacks = metricd.incoming.sacks();
        let mut in_flight = JoinSet::new();
        for sack in 0..sacks {
            if shutdown.is_cancelled() {
                break;
            }
            if in_flight.len() >= workers {
                in_flight.join_next().await;
            }
            let metricd = metricd.clone();
            in_flight.spawn(async move { process_sack(&metricd, sack).await });
        }
        // The sacks in hand are finished, also on shutdown (their batches are acknowledged
        // only after their aggregates are durable either way).
        while in_flight.join_next().await.is_some() {}
        if let Err(e) = metricd.incoming.tidy().await {
            warn!(error = %e, "Cannot reclaim the space of processed batches.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(metricd.settings.processing_delay) => {}
            _ = metricd.wake.notified() => {}
        }
    }
}

/// Processes every pending metric of `sack` if no other process holds its lock. Failures are
/// isolated per metric: a metric that fails keeps its batches and is retried on the next pass,
/// the others of the sack proceed (engine.md §5.8, "poison sack").
#[instrument(skip_all, fields(sack))]
pub async fn process_sack(metricd: &Metricd, sack: u32) {
    let ids = match metricd.incoming.metrics_with_measures(sack).await {
        Ok(ids) if ids.is_empty() => return,
        Ok(ids) => ids,
        Err(e) => {
            warn!(error = %e, "Cannot list the sack.");
            return;
        }
    };
    let _lock = match metricd.incoming.lock_sack(sack, false).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "Cannot lock the sack.");
            return;
        }
    };
    let metrics = match metricd.indexer.metrics_by_ids(&ids).await {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "Cannot read the sack's metrics from the indexer.");
            return;
        }
    };
    let known: HashMap<_, _> = metrics.iter().map(|m| (m.id, m)).collect();
    let mut policies: HashMap<String, Arc<ArchivePolicy>> = HashMap::new();
    let mut processed = Vec::with_capacity(metrics.len());
    let mut in_flight = JoinSet::new();
    for id in ids {
        let Some(metric) = known.get(&id) else {
            // Deleted or unknown metric: its measures can never be aggregated.
            if let Err(e) = metricd.incoming.delete_metric(id).await {
                warn!(metric_id = %id, error = %e, "Cannot discard measures of a deleted metric.");
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
            collect(in_flight.join_next().await, &mut processed);
        }
        let policy = Arc::clone(&policies[&metric.archive_policy_name]);
        let (incoming, storage) = (metricd.incoming.clone(), metricd.storage.clone());
        in_flight.spawn(async move {
            let result = process_pending(incoming.as_ref(), storage.as_ref(), &policy, id).await;
            (id, result)
        });
    }
    while let Some(done) = in_flight.join_next().await {
        collect(Some(done), &mut processed);
    }
    // The acks become durable only after the aggregates they stand for; a failed sync leaves
    // them uncommitted, and a later commit (after its own sync) or a replay covers them.
    if let Err(e) = metricd.storage.sync().await {
        warn!(error = %e, "Cannot make the sack's aggregates durable; its batches will be processed again.");
        metricd.incoming.abandon_sack(sack);
        return;
    }
    // Before the lock drops: other processes then see this pass's acks.
    if let Err(e) = metricd.incoming.commit_sack(sack).await {
        warn!(error = %e, "Cannot record the sack's processed batches; they will be processed again.");
    }
    if !processed.is_empty() {
        if let Err(e) = metricd.indexer.mark_metrics_processed(&processed).await {
            warn!(error = %e, "Cannot record the processing in the indexer.");
        }
    }
}

type MetricResult = (Uuid, gnocchi_storage::Result<Option<ProcessOutcome>>);

/// Logs one metric's pass and records its newest measure for the indexer.
fn collect(
    done: Option<Result<MetricResult, tokio::task::JoinError>>,
    processed: &mut Vec<ProcessedMetric>,
) {
    let (id, result) = match done {
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
                processed.push(ProcessedMetric {
                    id,
                    newest_measure_ns: newest,
                });
            }
        }
        Ok(None) => {}
        Err(e) => warn!(metric_id = %id, error = %e, "Cannot process the metric."),
    }
}

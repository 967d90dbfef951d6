//! The processing loop (engine.md §5.2, §5.4).

use std::collections::HashMap;

use gnocchi_core::ArchivePolicy;
use gnocchi_indexer::ProcessedMetric;
use gnocchi_storage::process_pending;
use tokio_util::sync::CancellationToken;
use tracing::{debug, instrument, warn};

use crate::Metricd;

pub(crate) async fn run(metricd: Metricd, shutdown: CancellationToken) {
    loop {
        let sacks = metricd.incoming.sacks();
        for sack in 0..sacks {
            if shutdown.is_cancelled() {
                return;
            }
            process_sack(&metricd, sack).await;
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
    let mut policies: HashMap<String, ArchivePolicy> = HashMap::new();
    let mut processed = Vec::with_capacity(metrics.len());
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
                    policies.insert(p.name.clone(), p);
                }
                Err(e) => {
                    warn!(metric_id = %id, error = %e, "Cannot read the archive policy.");
                    continue;
                }
            }
        }
        let policy = &policies[&metric.archive_policy_name];
        match process_pending(
            metricd.incoming.as_ref(),
            metricd.storage.as_ref(),
            policy,
            id,
        )
        .await
        {
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
    if !processed.is_empty() {
        if let Err(e) = metricd.indexer.mark_metrics_processed(&processed).await {
            warn!(error = %e, "Cannot record the processing in the indexer.");
        }
    }
}

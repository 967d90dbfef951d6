//! The janitor: expunges deleted metrics every `metric_cleanup_delay` (engine.md §5.7 step 1).

use gnocchi_storage::sack_of;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::Metricd;

/// Metrics expunged per pass at most (Gnocchi's `cleanup_batch_size`).
const CLEANUP_BATCH_SIZE: u64 = 10_000;

pub(crate) async fn run(metricd: Metricd, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(metricd.settings.cleanup_delay) => {}
        }
        expunge_deleted_metrics(&metricd).await;
    }
}

async fn expunge_deleted_metrics(metricd: &Metricd) {
    let deleted = match metricd
        .indexer
        .list_deleted_metrics(CLEANUP_BATCH_SIZE)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "Cannot list deleted metrics.");
            return;
        }
    };
    let sacks = metricd.incoming.sacks();
    for metric in deleted {
        // Never expunge under a sack pass in progress; a locked sack waits for the next run.
        // The sack stays held until the discarded batches are committed.
        let sack = sack_of(metric.id, sacks);
        let lock = match metricd.incoming.lock_sack(sack, false).await {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(e) => {
                warn!(sack, error = %e, "Cannot lock the sack.");
                continue;
            }
        };
        let id = metric.id;
        let result = async {
            metricd
                .incoming
                .delete_metric(id)
                .await
                .map_err(|e| e.to_string())?;
            metricd
                .incoming
                .commit_sack(sack)
                .await
                .map_err(|e| e.to_string())?;
            drop(lock);
            metricd
                .storage
                .delete_metric(id)
                .await
                .map_err(|e| e.to_string())?;
            // The indexer row goes last, so no object outlives it after a power loss.
            metricd.storage.sync().await.map_err(|e| e.to_string())?;
            metricd
                .indexer
                .expunge_metric(id)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(()) => info!(metric_id = %id, "Expunged deleted metric."),
            Err(e) => warn!(metric_id = %id, error = %e, "Cannot expunge deleted metric."),
        }
    }
}

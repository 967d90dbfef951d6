//! metricd: turns incoming measures into aggregates (the processing loop) and expunges deleted
//! metrics (the janitor), shared/spec/engine.md §5.
//!
//! Every worker treats all sacks as its tasks and skips the sacks whose lock another process
//! holds (engine.md §5.3, "no partitioning"); the sack → worker assignment is this one choice.

mod janitor;
mod processing;

use std::sync::Arc;
use std::time::Duration;

use gnocchi_indexer::Indexer;
use gnocchi_storage::{AggregateStorage, Incoming};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use processing::process_sacks;

/// The timings of metricd (`[metricd]` of gnocchi.conf).
#[derive(Debug, Clone)]
pub struct MetricdSettings {
    /// Time between two scans of every sack (`metric_processing_delay`).
    pub processing_delay: Duration,
    /// Time between two janitor passes (`metric_cleanup_delay`).
    pub cleanup_delay: Duration,
    /// Sacks processed at the same time (`workers`; one per CPU by default).
    pub workers: usize,
    /// Whether a scan that processed measures, or a wake-up from the API, starts the next scan
    /// after a short spacing instead of after `processing_delay` (`greedy`).
    pub greedy: bool,
}

/// What metricd works on: the three stores, and a wake-up the API pokes after accepting
/// measures when both run in one process.
#[derive(Clone)]
pub struct Metricd {
    /// The indexer (metrics and their archive policies).
    pub indexer: Arc<dyn Indexer>,
    /// Where pending measures wait.
    pub incoming: Arc<dyn Incoming>,
    /// Where aggregates go.
    pub storage: Arc<dyn AggregateStorage>,
    /// Timings.
    pub settings: MetricdSettings,
    /// Notified when new measures arrive, to process them before the next scheduled scan.
    pub wake: Arc<Notify>,
}

/// Runs the processing loop and the janitor until `shutdown` is cancelled. The metric in hand
/// is finished (splits written, then its batches deleted) before returning.
pub async fn run(metricd: Metricd, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    tracker.spawn(processing::run(metricd.clone(), shutdown.clone()));
    tracker.spawn(janitor::run(metricd, shutdown));
    tracker.close();
    tracker.wait().await;
}

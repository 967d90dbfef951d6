//! Running the API and metricd until SIGTERM/SIGINT, alone or together.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gnocchi_core::config::Config;
use gnocchi_metricd::{Metricd, MetricdSettings};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Stores;

/// How long a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// Logs to stderr, filtered by `RUST_LOG` (default `info`, `debug` with `[DEFAULT] debug`).
pub fn init_logging(debug: bool) {
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Resolves when the process receives SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Which services this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Services {
    /// The HTTP API.
    pub api: bool,
    /// The processing loop and the janitor.
    pub metricd: bool,
}

/// Runs the selected services until SIGTERM/SIGINT, then shuts them down gracefully.
pub async fn run_services(
    config: &Config,
    stores: Stores,
    services: Services,
) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    // In one process, the API wakes metricd as soon as measures are queued.
    let wake = Arc::new(Notify::new());
    let mut api_task = None;
    if services.api {
        let (host, port) = (config.api.host.as_str(), config.api.port);
        let listener =
            TcpListener::bind((host, port)).with_context(|| format!("binding {host}:{port}"))?;
        let mut state = gnocchi_api::AppState::new(
            config,
            stores.indexer.clone(),
            stores.incoming.clone(),
            stores.storage.clone(),
        )
        .context("preparing the API")?;
        if services.metricd && config.metricd.greedy {
            let wake = wake.clone();
            state.set_measures_listener(Arc::new(move || wake.notify_one()));
        }
        tracing::info!(%host, port, "Listening.");
        api_task = Some(tracker.spawn(gnocchi_api::run(listener, state, token.child_token())));
    }
    if services.metricd {
        let metricd = Metricd {
            indexer: stores.indexer.clone(),
            incoming: stores.incoming.clone(),
            storage: stores.storage.clone(),
            settings: MetricdSettings {
                processing_delay: Duration::from_secs(config.metricd.metric_processing_delay),
                cleanup_delay: Duration::from_secs(config.metricd.metric_cleanup_delay),
                workers: config.metricd.effective_workers() as usize,
                greedy: config.metricd.greedy,
            },
            wake,
        };
        tracing::info!(sacks = stores.incoming.sacks(), "Processing measures.");
        tracker.spawn(gnocchi_metricd::run(metricd, token.child_token()));
    }
    tracker.close();
    if let Some(api) = api_task {
        tokio::select! {
            _ = shutdown_signal() => {}
            result = api => {
                // The server stopped by itself: report why.
                token.cancel();
                result.context("joining the API server")?.context("serving the API")?;
                return Ok(());
            }
        }
    } else {
        shutdown_signal().await;
    }
    tracing::info!("Shutting down.");
    token.cancel();
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("Shutdown timed out.");
    }
    Ok(())
}

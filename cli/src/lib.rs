//! Shared start-up code of the gnocchi-rs programs: logging, signals, running the API.

use std::net::TcpListener;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

/// Binds the API address and serves until SIGTERM/SIGINT.
pub async fn serve_api(host: &str, port: u16) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind((host, port)).with_context(|| format!("binding {host}:{port}"))?;
    tracing::info!(%host, port, "Listening.");
    let token = CancellationToken::new();
    let server = tokio::spawn(gnocchi_api::run(
        listener,
        gnocchi_api::AppState::default(),
        token.child_token(),
    ));
    shutdown_signal().await;
    token.cancel();
    server.await.context("joining the API server")??;
    Ok(())
}

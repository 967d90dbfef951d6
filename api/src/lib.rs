//! The HTTP API of gnocchi-rs: routes, authentication, policy, request and response shapes.
//!
//! Handlers validate input, make one call into the indexer or storage and shape the response;
//! no SQL and no codec work happen here.

mod routes;

use std::net::TcpListener;

use actix_web::{web, App, HttpServer};
use tokio_util::sync::CancellationToken;

/// Everything the handlers share.
#[derive(Clone, Default)]
pub struct AppState {}

/// Registers every route on an actix service config; used by `run` and by in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(configure))
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

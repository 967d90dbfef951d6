//! The HTTP API of gnocchi-rs: routes, authentication, policy, request and response shapes.
//!
//! Handlers validate input, make one call into the indexer or storage and shape the response;
//! no SQL and no codec work happen here. The binaries build an [`AppState`] and call [`run`];
//! tests build the same application with [`app`].

mod auth;
mod body;
mod cors;
mod error;
mod negotiate;
mod pagination;
mod policy;
mod proxy;
mod pyjson;
mod query;
mod request_span;
mod resource_id;
mod routes;
mod search_filter;
mod settings;
mod validate;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use gnocchi_indexer::Indexer;
use gnocchi_storage::{AggregateStorage, Incoming};
use tokio_util::sync::CancellationToken;

pub use error::{ApiError, Description};
pub use policy::{PolicyEnforcer, PolicyFileError};
pub use settings::{
    AuthMode, CorsSettings, KeystoneSettings, Settings, StateError, AGGREGATES_SLICE_POINTS,
};

/// Called after measures were queued (in `gnocchi serve`, wakes metricd).
pub type MeasuresListener = Arc<dyn Fn() + Send + Sync>;

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration pieces the API reads.
    pub(crate) settings: Arc<Settings>,
    /// The policy rules (defaults plus `[oslo_policy] policy_file`).
    pub(crate) policy: Arc<PolicyEnforcer>,
    /// Archive policies, rules, metrics and resources.
    pub(crate) indexer: Arc<dyn Indexer>,
    /// Where measures are queued.
    pub(crate) incoming: Arc<dyn Incoming>,
    /// Where aggregates are read.
    pub(crate) storage: Arc<dyn AggregateStorage>,
    /// Told whenever measures were queued.
    pub(crate) measures_listener: Option<MeasuresListener>,
    /// The Keystone client and its token cache, shared by every worker (keystone mode only).
    pub(crate) keystone: Option<Arc<auth::KeystoneAuth>>,
}

impl AppState {
    /// Builds the state from the configuration and the opened drivers; loads
    /// `[oslo_policy] policy_file` when it exists (errors name the file).
    pub fn new(
        config: &gnocchi_core::config::Config,
        indexer: Arc<dyn Indexer>,
        incoming: Arc<dyn Incoming>,
        storage: Arc<dyn AggregateStorage>,
    ) -> Result<Self, StateError> {
        let settings = Settings::from_config(config)?;
        Self::from_settings(settings, indexer, incoming, storage).map_err(StateError::PolicyFile)
    }

    /// Registers the callback run after measures are queued.
    pub fn set_measures_listener(&mut self, listener: MeasuresListener) {
        self.measures_listener = Some(listener);
    }

    /// Builds the state from settings and opened drivers; loads the policy file if one is
    /// configured (the error names the file).
    pub fn from_settings(
        settings: Settings,
        indexer: Arc<dyn Indexer>,
        incoming: Arc<dyn Incoming>,
        storage: Arc<dyn AggregateStorage>,
    ) -> Result<Self, PolicyFileError> {
        let policy = match &settings.policy_file {
            Some(path) => PolicyEnforcer::from_file(path)?,
            None => PolicyEnforcer::with_defaults(),
        };
        let keystone = match &settings.auth_mode {
            AuthMode::Keystone(ks) => Some(Arc::new(auth::KeystoneAuth::new((**ks).clone()))),
            AuthMode::Basic | AuthMode::RemoteUser { .. } | AuthMode::NoAuth => None,
        };
        Ok(Self {
            keystone,
            settings: Arc::new(settings),
            policy: Arc::new(policy),
            indexer,
            incoming,
            storage,
            measures_listener: None,
        })
    }
}

/// A narrow, unstable facade over the request-body parsers for the criterion benches
/// (`api/benches`), which link the crate from outside. Not part of the crate's promised surface.
#[doc(hidden)]
pub mod __bench {
    use crate::routes::v1::{batch, measures};
    use crate::ApiError;

    /// Decodes and validates a `POST /v1/batch/metrics/measures` body as the handler does
    /// (before any indexer lookup); the number of measures.
    pub fn parse_metrics_batch(payload: &[u8]) -> Result<usize, ApiError> {
        Ok(batch::read_metrics_body(payload)?
            .values()
            .map(Vec::len)
            .sum())
    }

    /// Only the general path of [`parse_metrics_batch`] (a `serde_json::Value` tree).
    pub fn parse_metrics_batch_general(payload: &[u8]) -> Result<usize, ApiError> {
        let body = crate::body::decode(payload)?;
        Ok(batch::parse_metrics_body(&body)?
            .values()
            .map(Vec::len)
            .sum())
    }

    /// Decodes and validates a `POST /v1/batch/resources/metrics/measures` body as the handler
    /// does for a caller whose creator string is `creator` (before any indexer lookup); the
    /// number of measures.
    pub fn parse_resources_batch(payload: &[u8], creator: &str) -> Result<usize, ApiError> {
        let resources = batch::read_resources_body(payload, creator)?;
        Ok(resources
            .iter()
            .flat_map(|(_, _, entries)| entries)
            .map(|e| e.measures.len())
            .sum())
    }

    /// Only the general path of [`parse_resources_batch`] (a `serde_json::Value` tree).
    pub fn parse_resources_batch_general(payload: &[u8], creator: &str) -> Result<usize, ApiError> {
        let body = crate::body::decode(payload)?;
        let resources = batch::parse_resources_body(&body, creator)?;
        Ok(resources
            .iter()
            .flat_map(|(_, _, entries)| entries)
            .map(|e| e.measures.len())
            .sum())
    }

    /// Parses a `POST /v1/metric/{id}/measures` body as the handler does (the borrowed fast
    /// path, then the general one); the number of measures.
    pub fn parse_metric_measures(payload: &[u8]) -> Result<usize, ApiError> {
        let measures = match measures::parse_measures_fast(payload) {
            Some(parsed) => parsed?,
            None => measures::parse_measures(&crate::body::decode(payload)?)?,
        };
        Ok(measures.len())
    }

    /// Only the general path of `POST /v1/metric/{id}/measures` (a `serde_json::Value` tree,
    /// then validation), which is also what the batch endpoints use per metric.
    pub fn parse_metric_measures_general(payload: &[u8]) -> Result<usize, ApiError> {
        Ok(measures::parse_measures(&crate::body::decode(payload)?)?.len())
    }
}

/// Registers every route on an actix service config.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// The whole application (routes, error rendering, path normalisation, CORS), as served by
/// [`run`] and exercised in process by tests.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.settings.max_request_body_size;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(limit))
        .configure(configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(error::render_errors))
        // Outside the error renderer: its 401 and 503 keep keystonemiddleware's bodies.
        .wrap(from_fn(auth::keystone_gate))
        // shared/spec/api.md §1.1: trailing slashes and empty segments are ignored.
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .wrap(from_fn(cors::cors))
        .wrap(from_fn(request_span::request_span))
}

/// Threads of each HTTP worker that run its blocking work (storage reads, incoming writes
/// waiting on a shared sync, aggregation). Each thread keeps its own allocator cache and may
/// hold a storage reader with its page cache: actix's default of hundreds per worker took the
/// API from 60 to 130 MiB under 8 concurrent aggregates requests, at no gain in throughput.
const BLOCKING_THREADS_PER_WORKER: usize = 8;

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let server = HttpServer::new(move || app(state.clone()))
        .disable_signals()
        .shutdown_timeout(10)
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

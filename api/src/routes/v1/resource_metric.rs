//! Metrics addressed by name under a resource (shared/spec/api.md §6.8):
//! `/v1/resource/{type}/{rid}/metric/{name}[/measures]` behave as `/v1/metric/{id}[/measures]`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::measures;
use super::metric::{describe, remove, show, LoadedMetric};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::resource_id::transform;
use crate::AppState;

/// The resource type every resource also belongs to.
const GENERIC: &str = "generic";

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/resource/{type}/{rid}/metric/{name}", "GET, DELETE")
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::routes::resource("/resource/{type}/{rid}/metric/{name}/measures", "GET, POST")
            .route(web::get().to(get_measures))
            .route(web::post().to(post_measures)),
    );
}

/// Finds the active metric `name` of resource `rid` (transformed with the caller's creator).
/// The lookup is by (resource, name) only, whatever type the resource has; when it fails, the
/// error says whether the resource (in `type`) or only the metric is missing.
async fn lookup(
    state: &AppState,
    caller: &Caller,
    path: &(String, String, String),
) -> Result<LoadedMetric, ApiError> {
    let (type_name, rid, name) = path;
    state.indexer.resource_type(type_name).await?;
    let missing_resource = || ApiError::not_found(format!("Resource {rid} does not exist"));
    let id = transform(rid, Some(&caller.creator)).map_err(|_| missing_resource())?;
    if let Some(metric) = state.indexer.resource_metric(id, name).await? {
        return describe(state, metric).await;
    }
    let restrict = (type_name != GENERIC).then_some(type_name.as_str());
    state.indexer.resource(restrict, id).await?;
    Err(ApiError::not_found(format!("Metric {name} does not exist")))
}

async fn get(
    path: web::Path<(String, String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    show(&caller, lookup(&state, &caller, &path).await?)
}

async fn delete(
    path: web::Path<(String, String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let loaded = lookup(&state, &caller, &path).await?;
    remove(&caller, &state, loaded).await
}

async fn get_measures(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let loaded = lookup(&state, &caller, &path).await?;
    measures::read(&req, &caller, &state, &loaded).await
}

async fn post_measures(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let loaded = lookup(&state, &caller, &path).await?;
    measures::push(&req, &caller, &state, &loaded, &payload).await
}

//! `/v1/archive_policy` (shared/spec/api.md §4).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::archive_policy_body::{parse_create, parse_update, to_json};
use crate::auth::{
    Authorized, Caller, CreateArchivePolicy, DeleteArchivePolicy, ListArchivePolicy,
};
use crate::error::ApiError;
use crate::proxy::encode_segment;
use crate::routes::{created, json_response};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/archive_policy", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        crate::routes::resource("/archive_policy/{name}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

async fn create(
    req: HttpRequest,
    caller: Authorized<CreateArchivePolicy>,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body::json(&req, &payload)?;
    let policy = parse_create(&body, &state.settings.default_aggregation_methods)?;
    let repr = to_json(&policy);
    caller.enforce("create archive policy", &repr)?;
    state.indexer.create_archive_policy(&policy).await?;
    let path = format!("/v1/archive_policy/{}", encode_segment(&policy.name));
    Ok(created(&req, &path, &repr))
}

async fn list(
    _caller: Authorized<ListArchivePolicy>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policies = state.indexer.list_archive_policies().await?;
    let items: Vec<Value> = policies.iter().map(to_json).collect();
    Ok(json_response(StatusCode::OK, &Value::Array(items)))
}

async fn get(
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.indexer.archive_policy(&name).await?;
    let repr = to_json(&policy);
    caller.enforce("get archive policy", &repr)?;
    Ok(json_response(StatusCode::OK, &repr))
}

async fn update(
    req: HttpRequest,
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let current = state.indexer.archive_policy(&name).await?;
    caller.enforce("update archive policy", &to_json(&current))?;
    let body = body::json(&req, &payload)?;
    let wanted = parse_update(&body, &current)?;
    let back_window = body.get("back_window").map(|_| wanted.back_window);
    let updated = state
        .indexer
        .update_archive_policy(&current.name, &wanted.definition, back_window)
        .await?;
    Ok(json_response(StatusCode::OK, &to_json(&updated)))
}

async fn delete(
    name: web::Path<String>,
    _caller: Authorized<DeleteArchivePolicy>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.indexer.delete_archive_policy(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

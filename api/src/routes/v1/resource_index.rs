//! `GET /v1/resource`: every resource type with its listing URL (shared/spec/api.md §9.10).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{base_url, json_response};
use crate::AppState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/resource", "GET").route(web::get().to(index)));
}

async fn index(
    req: HttpRequest,
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let base = format!("{}/v1/resource", base_url(&req));
    let types: Map<String, Value> = state
        .indexer
        .list_resource_types()
        .await?
        .into_iter()
        .map(|t| {
            let url = format!("{base}/{}", t.name);
            (t.name, Value::String(url))
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Object(types)))
}

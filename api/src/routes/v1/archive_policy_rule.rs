//! `/v1/archive_policy_rule` (shared/spec/api.md §5).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::ArchivePolicyRule;
use serde_json::{json, Value};

use crate::auth::{Authorized, Caller, CreateArchivePolicyRule, ListArchivePolicyRule};
use crate::error::ApiError;
use crate::proxy::encode_segment;
use crate::routes::{created, json_response};
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/archive_policy_rule", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        crate::routes::resource("/archive_policy_rule/{name}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(rename))
            .route(web::delete().to(delete)),
    );
}

fn to_json(r: &ArchivePolicyRule) -> Value {
    json!({
        "name": r.name,
        "metric_pattern": r.metric_pattern,
        "archive_policy_name": r.archive_policy_name,
    })
}

/// Reads an object of required string keys and nothing else, in body order.
fn string_fields(body: &Value, keys: &[&str]) -> Result<Vec<String>, Invalid> {
    let root = Path::root();
    let map = validate::object(body, &root)?;
    let mut out = vec![None; keys.len()];
    for (k, v) in map {
        let p = root.key(k);
        match keys.iter().position(|want| want == k) {
            Some(i) => out[i] = Some(validate::string(v, &p)?.to_owned()),
            None => return Err(Invalid::key("extra keys not allowed", &p)),
        }
    }
    validate::required_keys(map, keys, &root)?;
    out.into_iter()
        .zip(keys)
        .map(|(v, k)| v.ok_or_else(|| Invalid::key("required key not provided", &root.key(k))))
        .collect()
}

async fn create(
    req: HttpRequest,
    caller: Authorized<CreateArchivePolicyRule>,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body::json(&req, &payload)?;
    let mut fields =
        string_fields(&body, &["name", "metric_pattern", "archive_policy_name"])?.into_iter();
    let mut next = || fields.next().unwrap_or_default();
    let rule = ArchivePolicyRule {
        name: next(),
        metric_pattern: next(),
        archive_policy_name: next(),
    };
    let repr = to_json(&rule);
    caller.enforce("create archive policy rule", &repr)?;
    state
        .indexer
        .create_archive_policy_rule(&rule)
        .await
        .map_err(|e| match e {
            gnocchi_indexer::Error::ArchivePolicyNotFound { name } => ApiError::object(
                StatusCode::BAD_REQUEST,
                "Archive policy does not exist",
                None,
                Some(Value::String(name)),
            ),
            e => e.into(),
        })?;
    let path = format!("/v1/archive_policy_rule/{}", encode_segment(&rule.name));
    Ok(created(&req, &path, &repr))
}

async fn list(
    _caller: Authorized<ListArchivePolicyRule>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rules = state.indexer.list_archive_policy_rules().await?;
    let items: Vec<Value> = rules.iter().map(to_json).collect();
    Ok(json_response(StatusCode::OK, &Value::Array(items)))
}

async fn get(
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.indexer.archive_policy_rule(&name).await?;
    let repr = to_json(&rule);
    caller.enforce("get archive policy rule", &repr)?;
    Ok(json_response(StatusCode::OK, &repr))
}

async fn rename(
    req: HttpRequest,
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let rule = state.indexer.archive_policy_rule(&name).await?;
    let body = body::json(&req, &payload)?;
    let new_name = string_fields(&body, &["name"])?.pop().unwrap_or_default();
    caller.enforce("update archive policy rule", &to_json(&rule))?;
    let renamed = state
        .indexer
        .rename_archive_policy_rule(&rule.name, &new_name)
        .await?;
    Ok(json_response(StatusCode::OK, &to_json(&renamed)))
}

async fn delete(
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.indexer.archive_policy_rule(&name).await?;
    caller.enforce("delete archive policy rule", &to_json(&rule))?;
    state.indexer.delete_archive_policy_rule(&rule.name).await?;
    Ok(HttpResponse::NoContent().finish())
}

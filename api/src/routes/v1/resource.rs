//! `/v1/resource/{type}` and `/v1/search/resource/{type}` (shared/spec/api.md §9, §10.1):
//! create, get, patch, delete, list, history, the resource's metrics, batch delete and search.

use std::collections::HashMap;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use gnocchi_core::time::format_datetime;
use gnocchi_core::{ArchivePolicy, Metric};
use gnocchi_indexer::{
    AttributeValue, Filter, MetricFilter, NewResource, Resource, ResourceQuery, ResourceType,
    ResourceUpdate,
};
use serde_json::{json, Map, Value};

use super::metric::{creator_parts, listing_json};
use super::resource_body::{self, metric_error, metric_set};
use super::resource_type::encode_segment;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::transform;
use crate::routes::json_response;
use crate::validate::Path;
use crate::{body, pagination, search_filter, AppState};

/// The resource type every resource also belongs to.
const GENERIC: &str = "generic";

/// The default sort of resource listings (§1.10).
const DEFAULT_SORT: [&str; 2] = ["revision_start:asc", "started_at:asc"];

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/resource/{type}", "GET, POST, DELETE")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .route(web::delete().to(batch_delete)),
    )
    .service(
        crate::routes::resource("/resource/{type}/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::routes::resource("/resource/{type}/{id}/history", "GET")
            .route(web::get().to(history)),
    )
    .service(
        crate::routes::resource("/resource/{type}/{id}/metric", "GET, POST")
            .route(web::get().to(metrics))
            .route(web::post().to(append_metrics)),
    )
    .service(
        crate::routes::resource("/search/resource/{type}", "GET, POST")
            .route(web::post().to(search))
            .route(web::get().to(search)),
    );
}

fn dt(d: DateTime<Utc>) -> String {
    format_datetime(d.timestamp_nanos_opt().unwrap_or(i64::MAX))
}

fn attribute_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::Null => Value::Null,
        AttributeValue::String(s) => json!(s),
        AttributeValue::Uuid(u) => json!(u.to_string()),
        AttributeValue::Number(n) => json!(n),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Datetime(d) => json!(dt(*d)),
    }
}

/// The representation of a resource (§9.1): generic keys, `metrics`, and the attributes the
/// indexer filled (none in generic views).
pub(crate) fn resource_json(r: &Resource) -> Value {
    let (user, project) = r
        .creator
        .as_deref()
        .map(creator_parts)
        .map_or((Value::Null, Value::Null), |(u, p)| (json!(u), json!(p)));
    let metrics: Map<String, Value> = r
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.to_string())))
        .collect();
    let mut o = Map::new();
    o.insert("id".into(), json!(r.id.to_string()));
    o.insert("original_resource_id".into(), json!(r.original_resource_id));
    o.insert("type".into(), json!(r.type_name));
    o.insert("creator".into(), json!(r.creator));
    o.insert("created_by_user_id".into(), user);
    o.insert("created_by_project_id".into(), project);
    o.insert("user_id".into(), json!(r.user_id));
    o.insert("project_id".into(), json!(r.project_id));
    o.insert("started_at".into(), json!(dt(r.started_at)));
    o.insert("ended_at".into(), json!(r.ended_at.map(dt)));
    o.insert("revision_start".into(), json!(dt(r.revision_start)));
    o.insert("revision_end".into(), json!(r.revision_end.map(dt)));
    o.insert("metrics".into(), Value::Object(metrics));
    for (k, v) in &r.attributes {
        o.insert(k.clone(), attribute_json(v));
    }
    Value::Object(o)
}

/// The strong ETag of a resource revision (§1.11).
fn etag(r: &Resource) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(r.id.to_string().as_bytes());
    h.update(dt(r.revision_start).as_bytes());
    format!("\"{}\"", h.digest())
}

fn last_modified(r: &Resource) -> DateTime<Utc> {
    DateTime::from_timestamp(r.revision_start.timestamp(), 0).unwrap_or(r.revision_start)
}

fn with_cache_headers(mut res: HttpResponse, r: &Resource) -> HttpResponse {
    let lm = last_modified(r)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for (name, value) in [(header::ETAG, etag(r)), (header::LAST_MODIFIED, lm)] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
    res
}

fn http_date(req: &HttpRequest, name: header::HeaderName) -> Option<DateTime<Utc>> {
    let v = req.headers().get(name)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(v.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn etag_matches(list: &str, tag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/") == tag
    })
}

/// The conditional request headers (§1.11): `Err` with 412, or `Ok(true)` for a 304.
fn not_modified(req: &HttpRequest, r: &Resource) -> Result<bool, ApiError> {
    let tag = etag(r);
    let lm = last_modified(r);
    let precondition = || ApiError::new(StatusCode::PRECONDITION_FAILED, crate::Description::Empty);
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match text(header::IF_MATCH) {
        Some(m) if !etag_matches(&m, &tag) => return Err(precondition()),
        Some(_) => {}
        None => {
            if http_date(req, header::IF_UNMODIFIED_SINCE).is_some_and(|d| d < lm) {
                return Err(precondition());
            }
        }
    }
    match text(header::IF_NONE_MATCH) {
        Some(m) if etag_matches(&m, &tag) => {
            if get {
                return Ok(true);
            }
            return Err(precondition());
        }
        Some(_) => {}
        None => {
            if get && http_date(req, header::IF_MODIFIED_SINCE).is_some_and(|d| d >= lm) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn restrict(type_name: &str) -> Option<&str> {
    (type_name != GENERIC).then_some(type_name)
}

/// Finds resource `rid` of `type_name` (404s), transformed with the caller's creator.
async fn lookup(
    state: &AppState,
    caller: &Caller,
    type_name: &str,
    rid: &str,
) -> Result<(ResourceType, Resource), ApiError> {
    let t = state.indexer.resource_type(type_name).await?;
    let id = transform(rid, Some(&caller.creator))
        .map_err(|_| ApiError::not_found(format!("Resource {rid} does not exist")))?;
    let r = state.indexer.resource(restrict(type_name), id).await?;
    Ok((t, r))
}

async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let type_name = path.into_inner();
    let t = state.indexer.resource_type(&type_name).await?;
    let body = body::json(&req, &payload)?;
    let b = resource_body::parse(&body, &t, &caller.creator, true)?;
    let Some((original, id)) = b.id.clone() else {
        return Err(ApiError::internal("validated body without id"));
    };
    let metrics = match &b.metrics {
        Some(m) => {
            metric_set(
                &state,
                &caller,
                m,
                &Path::root().key("metrics"),
                Some((id, &original)),
                &caller.creator,
            )
            .await?
        }
        None => Default::default(),
    };
    let mut target = body.as_object().cloned().unwrap_or_default();
    target.insert("resource_type".into(), json!(type_name));
    target.insert("id".into(), json!(id.to_string()));
    target.insert("original_resource_id".into(), json!(original));
    target.insert("creator".into(), json!(caller.creator));
    caller.enforce("create resource", &Value::Object(target))?;
    let new = NewResource {
        id,
        original_resource_id: original,
        type_name: type_name.clone(),
        creator: Some(caller.creator.clone()),
        user_id: b.user_id.flatten(),
        project_id: b.project_id.flatten(),
        started_at: b.started_at,
        ended_at: b.ended_at.flatten(),
        metrics: metrics.created,
        linked_metrics: metrics.linked,
        attributes: b.attributes,
    };
    let r = state
        .indexer
        .create_resource(&new)
        .await
        .map_err(metric_error)?;
    let path = format!("/v1/resource/{}/{}", encode_segment(&type_name), r.id);
    let res = crate::routes::created(&req, &path, &resource_json(&r));
    Ok(with_cache_headers(res, &r))
}

async fn get(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (_, r) = lookup(&state, &caller, &type_name, &rid).await?;
    let v = resource_json(&r);
    caller.enforce("get resource", &v)?;
    if not_modified(&req, &r)? {
        return Ok(with_cache_headers(HttpResponse::NotModified().finish(), &r));
    }
    Ok(with_cache_headers(json_response(StatusCode::OK, &v), &r))
}

async fn patch(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (t, r) = lookup(&state, &caller, &type_name, &rid).await?;
    caller.enforce("update resource", &resource_json(&r))?;
    not_modified(&req, &r)?;
    let body = body::json(&req, &payload)?;
    let creator = r.creator.clone().unwrap_or_else(|| caller.creator.clone());
    let b = resource_body::parse(&body, &t, &creator, false)?;
    let metrics = match &b.metrics {
        Some(m) => Some(
            metric_set(
                &state,
                &caller,
                m,
                &Path::root().key("metrics"),
                Some((r.id, &r.original_resource_id)),
                &creator,
            )
            .await?,
        ),
        None => None,
    };
    let update = ResourceUpdate {
        user_id: b.user_id,
        project_id: b.project_id,
        started_at: b.started_at,
        ended_at: b.ended_at,
        attributes: b.attributes,
        metrics,
    };
    if update == ResourceUpdate::default() {
        return Ok(with_cache_headers(
            json_response(StatusCode::OK, &resource_json(&r)),
            &r,
        ));
    }
    let updated = state
        .indexer
        .update_resource(restrict(&type_name), r.id, &update)
        .await
        .map_err(metric_error)?;
    Ok(with_cache_headers(
        json_response(StatusCode::OK, &resource_json(&updated)),
        &updated,
    ))
}

async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (_, r) = lookup(&state, &caller, &type_name, &rid).await?;
    caller.enforce("delete resource", &resource_json(&r))?;
    not_modified(&req, &r)?;
    state
        .indexer
        .delete_resource(restrict(&type_name), r.id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The visibility filter of a listing (§2.6); `None` when the caller sees everything.
fn visibility(
    caller: &Caller,
    state: &AppState,
    rule: &str,
    type_name: &str,
) -> Result<Option<Filter>, ApiError> {
    // §2.5: basic and remoteuser modes do not restrict listings.
    if !state.settings.auth_mode.restricts_listings() {
        return Ok(None);
    }
    if caller.allows(rule, &json!({"resource_type": type_name})) {
        return Ok(None);
    }
    let project = caller.project_id().unwrap_or("");
    let mut any = Vec::new();
    if caller.allows(
        rule,
        &json!({"resource_type": type_name, "project_id": project}),
    ) {
        any.push(Filter::eq("project_id", project));
    }
    if caller.allows(
        rule,
        &json!({"resource_type": type_name, "created_by_project_id": project}),
    ) {
        any.push(if project.is_empty() {
            Filter::eq("creator", Value::Null)
        } else {
            Filter::Like {
                field: "creator".into(),
                pattern: json!(format!("%:{project}")),
            }
        });
    }
    if any.is_empty() {
        return Err(ApiError::forbidden_with("Insufficient privileges"));
    }
    Ok(Some(Filter::Or(any)))
}

fn and(a: Option<Filter>, b: Option<Filter>) -> Option<Filter> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Filter::And(vec![a, b])),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Answers a listing or search: `details`, `history`, `attrs`, pagination, Link header.
async fn answer_listing(
    req: &HttpRequest,
    state: &AppState,
    type_name: &str,
    filter: Option<Filter>,
) -> Result<HttpResponse, ApiError> {
    let query = Query::of(req);
    let details = query.bool("details", false)?;
    let history = query.bool("history", false)?;
    let attrs = query.all("attrs");
    let page = pagination::page(&query, state.settings.max_limit, &DEFAULT_SORT)?;
    let rq = ResourceQuery {
        type_name: type_name.to_owned(),
        filter,
        history,
        details,
        page: page.clone(),
    };
    let resources = state.indexer.list_resources(&rq).await?;
    let items: Vec<Value> = resources
        .iter()
        .map(|r| {
            let v = resource_json(r);
            if attrs.is_empty() {
                return v;
            }
            let Value::Object(o) = v else { return v };
            Value::Object(
                o.into_iter()
                    .filter(|(k, _)| attrs.contains(&k.as_str()))
                    .collect(),
            )
        })
        .collect();
    let mut res = json_response(StatusCode::OK, &Value::Array(items));
    let last = resources.last().map(|r| r.marker(history));
    if let Some(link) = pagination::next_link(req, &query, &page, resources.len(), last) {
        if let Ok(v) = header::HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let type_name = path.into_inner();
    state.indexer.resource_type(&type_name).await?;
    let filter = visibility(&caller, &state, "list resource", &type_name)?;
    answer_listing(&req, &state, &type_name, filter).await
}

/// The filter of a search or batch delete: the JSON body when not empty, else `filter=`.
fn request_filter(
    req: &HttpRequest,
    payload: &[u8],
    caller: &Caller,
) -> Result<Option<Filter>, ApiError> {
    if !payload.iter().all(u8::is_ascii_whitespace) {
        let v = body::decode(payload)?;
        return search_filter::from_json(&v, &caller.creator);
    }
    match Query::of(req).first("filter") {
        Some(f) => {
            let v = search_filter::parse_string(f)?;
            search_filter::from_json(&v, &caller.creator)
        }
        None => Ok(None),
    }
}

async fn search(
    req: HttpRequest,
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let type_name = path.into_inner();
    state.indexer.resource_type(&type_name).await?;
    let filter = request_filter(&req, &payload, &caller)?;
    let query = Query::of(&req);
    query.bool("details", false)?;
    query.bool("history", false)?;
    let visible = visibility(&caller, &state, "search resource", &type_name)?;
    answer_listing(&req, &state, &type_name, and(filter, visible)).await
}

async fn batch_delete(
    req: HttpRequest,
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let type_name = path.into_inner();
    state.indexer.resource_type(&type_name).await?;
    let filter = request_filter(&req, &payload, &caller)?.ok_or_else(|| {
        ApiError::bad_request(
            "caution: the query can not be empty, or it will delete entire database",
        )
    })?;
    let visible = visibility(&caller, &state, "delete resources", &type_name)?;
    let filter = and(Some(filter), visible).unwrap_or(Filter::And(Vec::new()));
    let deleted = state.indexer.delete_resources(&type_name, &filter).await?;
    Ok(json_response(StatusCode::OK, &json!({"deleted": deleted})))
}

async fn history(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (_, r) = lookup(&state, &caller, &type_name, &rid).await?;
    caller.enforce("get resource", &resource_json(&r))?;
    let query = Query::of(&req);
    query.bool("details", false)?;
    let page = pagination::page(&query, state.settings.max_limit, &DEFAULT_SORT)?;
    let revisions = state
        .indexer
        .resource_history(&type_name, r.id, &page)
        .await?;
    let items: Vec<Value> = revisions.iter().map(resource_json).collect();
    let mut res = json_response(StatusCode::OK, &Value::Array(items));
    let last = revisions.last().map(|r| r.marker(true));
    if let Some(link) = pagination::next_link(&req, &query, &page, revisions.len(), last) {
        if let Ok(v) = header::HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

/// The listing shape of `metrics` (§6.1).
async fn metrics_json(state: &AppState, metrics: &[Metric]) -> Result<Value, ApiError> {
    let policies: HashMap<String, ArchivePolicy> = state
        .indexer
        .list_archive_policies()
        .await?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    Ok(Value::Array(
        metrics
            .iter()
            .map(|m| listing_json(m, policies.get(&m.archive_policy_name)))
            .collect(),
    ))
}

async fn metrics(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (_, r) = lookup(&state, &caller, &type_name, &rid).await?;
    caller.enforce("get resource", &resource_json(&r))?;
    let filter = MetricFilter {
        resource_id: Some(r.id),
        ..MetricFilter::default()
    };
    let metrics = state
        .indexer
        .list_metrics(&filter, &gnocchi_indexer::Page::default())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &metrics_json(&state, &metrics).await?,
    ))
}

async fn append_metrics(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (type_name, rid) = path.into_inner();
    let (_, r) = lookup(&state, &caller, &type_name, &rid).await?;
    caller.enforce("update resource", &resource_json(&r))?;
    let body = body::json(&req, &payload)?;
    let root = Path::root();
    let m = crate::validate::object(&body, &root)?;
    let creator = r.creator.clone().unwrap_or_else(|| caller.creator.clone());
    let set = metric_set(
        &state,
        &caller,
        m,
        &root,
        Some((r.id, &r.original_resource_id)),
        &creator,
    )
    .await?;
    let metrics = state
        .indexer
        .append_resource_metrics(r.id, &set)
        .await
        .map_err(metric_error)?;
    Ok(json_response(
        StatusCode::OK,
        &metrics_json(&state, &metrics).await?,
    ))
}

//! `POST /v1/aggregates` (shared/spec/api.md §11.1, engine.md §6.2–§6.5): the operations
//! language over metrics named by id, or over the metrics of the resources a search finds.
//!
//! The handler validates the parameters and the body, resolves the references to metrics,
//! reads their series and hands them to the engine (`gnocchi_storage::evaluate`); the numbers
//! and the output shapes are the engine's.

pub(crate) mod errors;
pub(crate) mod fetch;
mod glob;
pub(crate) mod params;
pub(crate) mod resources;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::ArchivePolicy;
use gnocchi_indexer::Resource;
use gnocchi_storage::{
    evaluate_draining, measures_json, parse_operations, plan_granularities, AggregatesError,
    Column, ColumnName, ColumnPolicy, EvalOptions, Filling, Measures, Operation, Reference,
};
use serde_json::{json, Value};
use uuid::Uuid;

use self::errors::aggregates_error;
use self::params::Window;
use super::metric::{describe_with, LoadedMetric};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::parse_uuid;
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/aggregates", "POST").route(web::post().to(post)));
}

/// The validated body: the operations and, in resource mode, the type and the search.
struct AggregatesBody<'a> {
    operations: &'a Value,
    resource: Option<(&'a str, &'a Value)>,
}

/// `{"operations": …[, "resource_type": …, "search": …]}`, voluptuous-style errors.
fn parse_body(body: &Value) -> Result<AggregatesBody<'_>, Invalid> {
    let root = Path::root();
    let map = validate::object(body, &root)?;
    if let Some(k) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "operations" | "resource_type" | "search"))
    {
        return Err(Invalid::key("extra keys not allowed", &root.key(k)));
    }
    validate::required_keys(map, &["operations"], &root)?;
    let operations = &map["operations"];
    let resource = match (map.get("resource_type"), map.get("search")) {
        (None, None) => None,
        (Some(t), Some(search)) => {
            let t = validate::string(t, &root.key("resource_type"))?;
            if !(search.is_object() || search.is_string()) {
                return Err(Invalid::value("expected a dictionary", &root.key("search")));
            }
            Some((t, search))
        }
        _ => {
            return Err(Invalid::key(
                "some but not all values in the same group of inclusion 'resource'",
                &root.key("resource"),
            ))
        }
    };
    Ok(AggregatesBody {
        operations,
        resource,
    })
}

/// The request parameters of §11.1, validated in Gnocchi's order.
struct Params {
    details: bool,
    use_history: bool,
    window: Window,
    groupby: Vec<String>,
}

fn parse_params(query: &Query) -> Result<Params, ApiError> {
    let details = query.bool("details", false)?;
    let use_history = query.bool("use_history", false)?;
    let window = Window::parse(query)?;
    let groupby = query
        .all("groupby")
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(Params {
        details,
        use_history,
        window,
        groupby,
    })
}

async fn post(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let params = parse_params(&Query::of(&req))?;
    let body = body::json(&req, &payload)?;
    let parsed = parse_body(&body)?;
    let operation = parse_operations(parsed.operations)?;
    match parsed.resource {
        None => metric_mode(&state, &caller, operation, &params).await,
        Some((type_name, search)) => {
            resources::resource_mode(&state, &caller, operation, &params, type_name, search).await
        }
    }
}

/// The options of one evaluation (engine.md §6.2).
pub(crate) fn options(window: &Window, granularities: Vec<i64>, filling: Filling) -> EvalOptions {
    EvalOptions {
        granularities,
        start_ns: window.start_ns,
        stop_ns: window.stop_ns,
        filling,
    }
}

/// Evaluates off the async runtime; gives the columns back for rendering, their points of the
/// evaluated granularities taken out as the grid was built.
pub(crate) async fn run(
    operation: Operation,
    mut columns: Vec<Column>,
    options: EvalOptions,
) -> Result<(Result<Measures, AggregatesError>, Vec<Column>), ApiError> {
    tokio::task::spawn_blocking(move || {
        let measures = evaluate_draining(&operation, &mut columns, &options);
        (measures, columns)
    })
    .await
    .map_err(|e| ApiError::internal(format!("aggregates evaluation task failed: {e}")))
}

/// `(name, aggregation)` of each column, for error details.
fn column_pairs(columns: &[ColumnPolicy<'_>]) -> Vec<(String, String)> {
    columns
        .iter()
        .map(|c| (c.name.to_owned(), c.aggregation.to_owned()))
        .collect()
}

/// `{"measures": <measures>[, "references": <references>]}` as JSON text (the measures may
/// hold NaN and infinities, which `serde_json::Value` cannot).
fn response_text(measures: &str, references: Option<&[Value]>) -> String {
    match references {
        None => format!("{{\"measures\": {measures}}}"),
        Some(refs) => format!(
            "{{\"measures\": {measures}, \"references\": {}}}",
            crate::pyjson::to_string(&Value::Array(refs.to_vec()))
        ),
    }
}

fn json_text(text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(text)
}

/// 400 `Invalid metric references` (api.md §11.1 metric-id mode, step 1).
fn invalid_references(refs: &[Reference]) -> ApiError {
    ApiError::object(
        StatusCode::BAD_REQUEST,
        "Invalid metric references",
        Some("badly formed hexadecimal UUID string".to_owned()),
        Some(Value::Array(
            refs.iter()
                .map(|r| json!([r.metric, r.aggregation]))
                .collect(),
        )),
    )
}

/// Loads the active metrics `ids` (distinct, in request order): 404 `Unknown metrics` listing
/// the missing ones; then `get metric` on each (403).
async fn load_metrics(
    state: &AppState,
    caller: &Caller,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, LoadedMetric>, ApiError> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let found = state.indexer.metrics_by_ids(&sorted).await?;
    let missing: Vec<Value> = sorted
        .iter()
        .filter(|id| !found.iter().any(|m| m.id == **id))
        .map(|id| Value::String(id.to_string()))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::object(
            StatusCode::NOT_FOUND,
            "Unknown metrics",
            Some("Provided metrics don't exists".to_owned()),
            Some(Value::Array(missing)),
        ));
    }
    // One read per distinct policy and one for every resource, not two reads per metric.
    let mut policies: HashMap<String, ArchivePolicy> = HashMap::new();
    for m in &found {
        if !policies.contains_key(&m.archive_policy_name) {
            let p = state.indexer.archive_policy(&m.archive_policy_name).await?;
            policies.insert(m.archive_policy_name.clone(), p);
        }
    }
    let mut resource_ids: Vec<Uuid> = found.iter().filter_map(|m| m.resource_id).collect();
    resource_ids.sort_unstable();
    resource_ids.dedup();
    let resources: HashMap<Uuid, Resource> = if resource_ids.is_empty() {
        HashMap::new()
    } else {
        let rows = state.indexer.resources_by_ids(&resource_ids).await?;
        rows.into_iter().map(|r| (r.id, r)).collect()
    };
    let mut by_id: HashMap<Uuid, _> = found.into_iter().map(|m| (m.id, m)).collect();
    let mut loaded = HashMap::with_capacity(by_id.len());
    for id in ids {
        let Some(metric) = by_id.remove(id) else {
            continue;
        };
        let policy = policies[&metric.archive_policy_name].clone();
        let resource = metric.resource_id.and_then(|rid| resources.get(&rid));
        let l = describe_with(metric, policy, resource);
        caller.enforce("get metric", &l.detail)?;
        loaded.insert(*id, l);
    }
    Ok(loaded)
}

/// Metric-id mode (api.md §11.1): references are metric UUIDs.
async fn metric_mode(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    params: &Params,
) -> Result<HttpResponse, ApiError> {
    let refs = operation.references();
    let ids = refs
        .iter()
        .map(|r| parse_uuid(&r.metric))
        .collect::<Option<Vec<Uuid>>>()
        .ok_or_else(|| invalid_references(&refs))?;
    let mut order: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in &ids {
        if !order.contains(id) {
            order.push(*id);
        }
    }
    let loaded = load_metrics(state, caller, &order).await?;
    let get = |id: &Uuid| {
        loaded
            .get(id)
            .ok_or_else(|| ApiError::internal(format!("metric {id} was not loaded")))
    };
    let names: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let mut policies = Vec::with_capacity(refs.len());
    for ((r, id), name) in refs.iter().zip(&ids).zip(&names) {
        policies.push(ColumnPolicy {
            name,
            aggregation: &r.aggregation,
            policy: &get(id)?.policy,
        });
    }
    let pairs = column_pairs(&policies);
    let granularities = plan_granularities(&policies, params.window.granularity_ns)
        .map_err(|e| aggregates_error(e, &pairs))?;
    let mut reads = Vec::with_capacity(refs.len());
    for ((r, id), name) in refs.iter().zip(&ids).zip(names) {
        reads.push(fetch::ColumnRead {
            read: fetch::Read {
                metric: *id,
                policy: &get(id)?.policy,
                method: fetch::method(&r.aggregation)?,
            },
            reference: r.clone(),
            name: ColumnName::Metric { metric_id: name },
        });
    }
    let filling = Filling::from_params(params.window.fill, params.window.needed_overlap);
    let (measures, columns) = fetch::evaluate_by_granularity(
        state,
        &operation,
        reads,
        &granularities,
        &params.window,
        filling,
    )
    .await?;
    let measures = measures.map_err(|e| aggregates_error(e, &pairs))?;
    let references: Option<Vec<Value>> = params.details.then(|| {
        order
            .iter()
            .filter_map(|id| loaded.get(id).map(|l| l.detail.clone()))
            .collect()
    });
    Ok(json_text(response_text(
        &measures_json(&measures, &columns),
        references.as_deref(),
    )))
}

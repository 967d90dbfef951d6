//! Batch measure ingestion (shared/spec/api.md §7): `/v1/batch/metrics/measures` and
//! `/v1/batch/resources/metrics/measures` (with `create_metrics`).

use std::collections::{BTreeMap, HashMap};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::{Measure, Metric};
use serde_json::{json, Value};
use uuid::Uuid;

use super::measures::parse_measures;
use super::metric::DescribeCache;
use super::resource_body::new_metric;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::{parse_uuid, transform};
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

mod fast;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/batch/metrics/measures", "POST")
            .route(web::post().to(metrics_measures)),
    )
    .service(
        crate::routes::resource("/batch/resources/metrics/measures", "POST")
            .route(web::post().to(resources_metrics_measures)),
    );
}

/// The rule each metric of a batch must pass.
const POST_MEASURES: &str = "post measures";

/// Enforces `post measures` on every metric, then queues everything at once (§7.1, §7.2).
/// `verdict` is the rule's outcome when no metric can change it (an admin): then no metric's
/// details are read.
async fn enqueue(
    state: &AppState,
    caller: &Caller,
    batches: Vec<(Metric, Vec<Measure>)>,
    verdict: Option<bool>,
    mut details: DescribeCache,
) -> Result<HttpResponse, ApiError> {
    let mut queued = Vec::with_capacity(batches.len());
    for (metric, measures) in batches {
        match verdict {
            Some(true) => {}
            Some(false) => caller.enforce(POST_MEASURES, &Value::Null)?,
            None => caller.enforce(POST_MEASURES, &details.detail(state, &metric).await?)?,
        }
        queued.push((metric.id, measures));
    }
    queue(state, queued).await
}

/// Queues the non-empty batches at once and wakes metricd.
async fn queue(
    state: &AppState,
    mut queued: Vec<(Uuid, Vec<Measure>)>,
) -> Result<HttpResponse, ApiError> {
    queued.retain(|(_, measures)| !measures.is_empty());
    if !queued.is_empty() {
        state.incoming.add_measures(&queued).await?;
        if let Some(listener) = &state.measures_listener {
            listener();
        }
    }
    Ok(HttpResponse::Accepted()
        .insert_header((header::CONTENT_LENGTH, 0))
        .finish())
}

fn unknown_metrics(mut names: Vec<String>) -> ApiError {
    names.sort();
    ApiError::bad_request(format!("Unknown metrics: {}", names.join(", ")))
}

/// Reads a `/v1/batch/metrics/measures` body: its common shape without a JSON tree, any other
/// through [`parse_metrics_body`].
pub(crate) fn read_metrics_body(payload: &[u8]) -> Result<BTreeMap<Uuid, Vec<Measure>>, ApiError> {
    match fast::metrics_body(payload) {
        Some(parsed) => parsed,
        None => parse_metrics_body(&body::decode(payload)?),
    }
}

/// Reads a `/v1/batch/resources/metrics/measures` body: its common shape without a JSON tree,
/// any other through [`parse_resources_body`].
#[allow(clippy::type_complexity)]
pub(crate) fn read_resources_body(
    payload: &[u8],
    creator: &str,
) -> Result<Vec<(Uuid, String, Vec<Entry>)>, ApiError> {
    match fast::resources_body(payload, creator) {
        Some(parsed) => parsed,
        None => parse_resources_body(&body::decode(payload)?, creator),
    }
}

/// The measures of a `/v1/batch/metrics/measures` body, by metric id.
pub(crate) fn parse_metrics_body(body: &Value) -> Result<BTreeMap<Uuid, Vec<Measure>>, ApiError> {
    let root = Path::root();
    let m = validate::object(body, &root)?;
    let mut wanted: BTreeMap<Uuid, Vec<Measure>> = BTreeMap::new();
    for (k, v) in m {
        let id = parse_uuid(k)
            .ok_or_else(|| Invalid::key("badly formed hexadecimal UUID string", &root.key(k)))?;
        wanted.entry(id).or_default().extend(parse_measures(v)?);
    }
    Ok(wanted)
}

async fn metrics_measures(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    body::require_json_type(&req)?;
    let wanted = read_metrics_body(&payload)?;
    let ids: Vec<Uuid> = wanted.keys().copied().collect();
    let found = state.indexer.metrics_by_ids(&ids).await?;
    let mut by_id: HashMap<Uuid, Metric> = found.into_iter().map(|m| (m.id, m)).collect();
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !by_id.contains_key(id))
        .map(Uuid::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(unknown_metrics(missing));
    }
    let batches = wanted
        .into_iter()
        .filter_map(|(id, measures)| by_id.remove(&id).map(|m| (m, measures)))
        .collect();
    let verdict = caller.verdict_without_target(POST_MEASURES);
    enqueue(&state, &caller, batches, verdict, DescribeCache::default()).await
}

/// One metric entry of the resources batch: its measures and, for creation, its definition.
pub(crate) struct Entry {
    name: String,
    pub(crate) measures: Vec<Measure>,
    archive_policy_name: Option<String>,
    unit: Option<String>,
}

fn parse_entry(name: &str, v: &Value, path: &Path) -> Result<Entry, ApiError> {
    let mut e = Entry {
        name: name.to_owned(),
        measures: Vec::new(),
        archive_policy_name: None,
        unit: None,
    };
    match v {
        Value::Object(o) => {
            let mut measures = None;
            for (k, v) in o {
                let p = path.key(k);
                match k.as_str() {
                    "measures" => measures = Some(parse_measures(v)?),
                    "archive_policy_name" => {
                        e.archive_policy_name = Some(validate::string(v, &p)?.to_owned());
                    }
                    "unit" => e.unit = Some(validate::string(v, &p)?.to_owned()),
                    _ => return Err(Invalid::key("extra keys not allowed", &p).into()),
                }
            }
            e.measures = measures
                .ok_or_else(|| Invalid::key("required key not provided", &path.key("measures")))?;
        }
        v => e.measures = parse_measures(v)?,
    }
    Ok(e)
}

/// A `/v1/batch/resources/metrics/measures` body: (stored id, id as given, entries), in body
/// order; resource ids are transformed with `creator`.
pub(crate) fn parse_resources_body(
    body: &Value,
    creator: &str,
) -> Result<Vec<(Uuid, String, Vec<Entry>)>, ApiError> {
    let root = Path::root();
    let m = validate::object(body, &root)?;
    let mut resources = Vec::with_capacity(m.len());
    for (rid, metrics) in m {
        let p = root.key(rid);
        let id = transform(rid, Some(creator)).map_err(|e| Invalid::value(e.message(), &p))?;
        let metrics = validate::object(metrics, &p)?;
        let mut entries = Vec::with_capacity(metrics.len());
        for (name, v) in metrics {
            entries.push(parse_entry(name, v, &p.key(name))?);
        }
        resources.push((id, rid.clone(), entries));
    }
    Ok(resources)
}

async fn resources_metrics_measures(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let create = Query::of(&req).bool("create_metrics", false)?;
    body::require_json_type(&req)?;
    let resources = read_resources_body(&payload, &caller.creator)?;
    if resources.iter().all(|(_, _, e)| e.is_empty()) {
        return Ok(HttpResponse::Accepted()
            .insert_header((header::CONTENT_LENGTH, 0))
            .finish());
    }
    let ids: Vec<Uuid> = resources.iter().map(|(id, _, _)| *id).collect();
    let verdict = caller.verdict_without_target(POST_MEASURES);
    let mut details = DescribeCache::default();
    let existing: HashMap<Uuid, BTreeMap<String, Uuid>> = state
        .indexer
        .resources_by_ids(&ids)
        .await?
        .into_iter()
        .map(|r| {
            if verdict.is_none() {
                details.know_resource(&r);
            }
            (r.id, r.metrics)
        })
        .collect();
    let mut metric_ids: Vec<(Uuid, Vec<Measure>)> = Vec::new();
    let mut created: Vec<(Metric, Vec<Measure>)> = Vec::new();
    let mut unknown_metric_names = Vec::new();
    let mut unknown_resources: Vec<Value> = Vec::new();
    for (id, original, entries) in resources {
        let known = existing.get(&id);
        for entry in entries {
            if let Some(mid) = known.and_then(|k| k.get(&entry.name)) {
                metric_ids.push((*mid, entry.measures));
                continue;
            }
            if !create {
                unknown_metric_names.push(format!("{id}/{}", entry.name));
                continue;
            }
            if known.is_none() {
                let item = json!({"resource_id": id.to_string(), "original_resource_id": original});
                if !unknown_resources.contains(&item) {
                    unknown_resources.push(item);
                }
                break;
            }
            let new = new_metric(
                &state,
                &caller,
                &entry.name,
                entry.archive_policy_name.as_deref(),
                entry.unit.clone(),
                Some((id, &original)),
                &caller.creator,
            )
            .await?;
            match state.indexer.create_metric(&new).await {
                Ok(metric) => created.push((metric, entry.measures)),
                // Created concurrently: use the existing one (§7.2 step 4).
                Err(gnocchi_indexer::Error::NamedMetricExists { .. }) => {
                    match state.indexer.resource_metric(id, &entry.name).await? {
                        Some(metric) => created.push((metric, entry.measures)),
                        None => unknown_metric_names.push(format!("{id}/{}", entry.name)),
                    }
                }
                Err(e @ gnocchi_indexer::Error::ArchivePolicyNotFound { .. }) => {
                    return Err(ApiError::from(e).with_status(StatusCode::BAD_REQUEST))
                }
                Err(gnocchi_indexer::Error::ResourceNotFound { .. }) => {
                    unknown_resources.push(
                        json!({"resource_id": id.to_string(), "original_resource_id": original}),
                    );
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !unknown_resources.is_empty() {
        return Err(ApiError::object(
            StatusCode::BAD_REQUEST,
            "Unknown resources",
            None,
            Some(Value::Array(unknown_resources)),
        ));
    }
    if !unknown_metric_names.is_empty() {
        return Err(unknown_metrics(unknown_metric_names));
    }
    if verdict == Some(true) {
        // Allowed on any metric: the ids read with the resources are all the queue needs.
        let created = created
            .into_iter()
            .map(|(metric, measures)| (metric.id, measures));
        return queue(&state, created.chain(metric_ids).collect()).await;
    }
    let wanted: Vec<Uuid> = metric_ids.iter().map(|(id, _)| *id).collect();
    let mut found: HashMap<Uuid, Metric> = state
        .indexer
        .metrics_by_ids(&wanted)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut batches = created;
    for (id, measures) in metric_ids {
        match found.get(&id) {
            Some(m) => batches.push((m.clone(), measures)),
            None => return Err(unknown_metrics(vec![id.to_string()])),
        }
    }
    found.clear();
    enqueue(&state, &caller, batches, verdict, details).await
}

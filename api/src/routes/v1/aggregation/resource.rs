//! `POST /v1/aggregation/resource/{type}/metric/{name}` (shared/spec/api.md §11.3): the
//! cross-metric aggregation of the metrics named `{name}` of the resources a search finds,
//! optionally per group of resource attributes.

use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_indexer::{Page, Resource, ResourceQuery, SortKey};
use serde_json::Value;

use super::{aggregate_metrics, json_text, Legacy};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::routes::v1::aggregates::params::Window;
use crate::routes::v1::aggregates::resources::{group_of, search_filter};
use crate::routes::v1::metric::{describe, LoadedMetric};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/aggregation/resource/{type}/metric/{name}", "POST")
            .route(web::post().to(post)),
    )
    // §11.3: a missing metric name is a 405.
    .service(crate::routes::resource(
        "/aggregation/resource/{type}/metric",
        "POST",
    ));
}

/// The metrics named `name` of `resources` (resources lacking one are skipped), loaded, sorted
/// by id and authorised with `get metric`.
async fn metrics_of(
    state: &AppState,
    caller: &Caller,
    resources: &[&Resource],
    name: &str,
) -> Result<Vec<LoadedMetric>, ApiError> {
    let mut ids: Vec<uuid::Uuid> = resources
        .iter()
        .filter_map(|r| r.metrics.get(name).copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for m in state.indexer.metrics_by_ids(&ids).await? {
        let loaded = describe(state, m).await?;
        caller.enforce("get metric", &loaded.detail)?;
        out.push(loaded);
    }
    Ok(out)
}

async fn post(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (type_name, name) = path.into_inner();
    state.indexer.resource_type(&type_name).await?;
    let query = Query::of(&req);
    // The JSON body when not empty, else the `filter` parameter, else every resource.
    let search = if !payload.iter().all(u8::is_ascii_whitespace) {
        Some(body::json(&req, &payload)?)
    } else {
        query.first("filter").map(|f| Value::String(f.to_owned()))
    };
    let filter = search_filter(&caller, &state, &type_name, search.as_ref())?;
    let mut groupby: Vec<String> = query
        .all("groupby")
        .into_iter()
        .map(str::to_owned)
        .collect();
    groupby.sort_unstable();
    groupby.dedup();
    // Like a search with default pagination: the first `max_limit` resources only.
    let rq = ResourceQuery {
        type_name: type_name.clone(),
        filter,
        history: false,
        details: false,
        page: Page {
            sort: groupby
                .iter()
                .map(|g| SortKey::asc(g))
                .chain(std::iter::once(SortKey::asc("id")))
                .collect(),
            limit: Some(state.settings.max_limit),
            marker: None,
        },
    };
    let resources = match state.indexer.list_resources(&rq).await {
        Ok(r) => r,
        Err(gnocchi_indexer::Error::InvalidSortKey { .. }) => {
            return Err(ApiError::bad_request("Invalid groupby attribute"))
        }
        Err(e) => return Err(e.into()),
    };
    let window = Window::parse(&query)?;
    let legacy = Legacy::parse(&query)?;
    if groupby.is_empty() {
        let all: Vec<&Resource> = resources.iter().collect();
        let metrics = metrics_of(&state, &caller, &all, &name).await?;
        return Ok(json_text(
            aggregate_metrics(&state, &metrics, &window, &legacy).await?,
        ));
    }
    let mut groups: Vec<(serde_json::Map<String, Value>, Vec<&Resource>)> = Vec::new();
    for r in &resources {
        let key = group_of(r, &groupby);
        match groups.last_mut() {
            Some((k, members)) if *k == key => members.push(r),
            _ => groups.push((key, vec![r])),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, members) in groups {
        let metrics = metrics_of(&state, &caller, &members, &name).await?;
        let points = aggregate_metrics(&state, &metrics, &window, &legacy).await?;
        out.push(format!(
            "{{\"group\": {}, \"measures\": {points}}}",
            crate::pyjson::to_string(&Value::Object(key))
        ));
    }
    Ok(json_text(format!("[{}]", out.join(", "))))
}

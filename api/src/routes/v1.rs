//! `/v1`: the API index, capabilities and status (shared/spec/api.md §3.2–§3.4), and the
//! sub-collections.

mod aggregates;
mod aggregation;
mod archive_policy;
mod archive_policy_body;
mod archive_policy_rule;
pub(crate) mod batch;
pub(crate) mod measures;
mod metric;
mod resource;
mod resource_body;
mod resource_index;
mod resource_metric;
mod resource_type;
mod search_metric;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::AggregationMethod;
use serde_json::{json, Map, Value};

use super::{base_url, json_response};
use crate::auth::{Authorized, GetStatus};
use crate::error::ApiError;
use crate::query::Query;
use crate::AppState;

/// The sub-collections listed by the index, in its order.
const COLLECTIONS: [&str; 12] = [
    "aggregates",
    "aggregation",
    "archive_policy",
    "archive_policy_rule",
    "batch",
    "capabilities",
    "influxdb",
    "metric",
    "resource",
    "resource_type",
    "search",
    "status",
];

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(index))
        .route("/capabilities", web::get().to(capabilities))
        .route("/status", web::get().to(status))
        .configure(aggregates::configure)
        .configure(aggregation::configure)
        .configure(archive_policy::configure)
        .configure(archive_policy_rule::configure)
        .configure(metric::configure)
        .configure(measures::configure)
        .configure(resource_index::configure)
        .configure(resource_metric::configure)
        .configure(resource_type::configure)
        .configure(resource::configure)
        .configure(batch::configure)
        .configure(search_metric::configure);
}

async fn index(req: HttpRequest) -> HttpResponse {
    let base = format!("{}/v1", base_url(&req));
    let mut links = vec![json!({"rel": "self", "href": base})];
    links.extend(
        COLLECTIONS
            .iter()
            .map(|c| json!({"rel": c, "href": format!("{base}/{c}")})),
    );
    json_response(StatusCode::OK, &json!({"version": "1.0", "links": links}))
}

async fn capabilities() -> HttpResponse {
    let methods: Vec<String> = AggregationMethod::all()
        .iter()
        .map(ToString::to_string)
        .collect();
    json_response(StatusCode::OK, &json!({"aggregation_methods": methods}))
}

async fn status(
    req: HttpRequest,
    _caller: Authorized<GetStatus>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let details = Query::of(&req).bool("details", true)?;
    let retry = |e: gnocchi_storage::Error| {
        tracing::warn!(error = %e, "Computing the backlog failed.");
        ApiError::unavailable("Unable to generate status. Please retry.")
    };
    // One count serves the summary and the details: pending batches per metric (engine.md
    // §5.6), counted from the packs' headers, not by reading the measures.
    let pending = state.incoming.measures_to_process().await.map_err(retry)?;
    let measures: u64 = pending.iter().map(|(_, batches)| batches).sum();
    let mut storage = Map::new();
    storage.insert(
        "summary".into(),
        json!({"metrics": pending.len(), "measures": measures}),
    );
    if details {
        let per_metric = pending
            .iter()
            .map(|(metric, batches)| (metric.to_string(), json!(batches)))
            .collect();
        storage.insert("measures_to_process".into(), Value::Object(per_metric));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "storage": storage,
            "metricd": {"processors": null, "statistics": {}},
        }),
    ))
}

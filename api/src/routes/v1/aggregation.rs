//! The deprecated cross-metric aggregation (shared/spec/api.md §11.2, §11.3, engine.md §6.7):
//! `GET|POST /v1/aggregation/metric`, and the calendar resampling of single-metric reads
//! (engine.md §6.1.3) it shares with `GET /v1/metric/{id}/measures`.

mod resource;

use std::str::FromStr;

use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::time::{format_seconds_float, parse_timespan_positive, TimeInput};
use gnocchi_core::AggregationMethod;
use gnocchi_storage::{
    points_json, read_measures, resample_calendar, AggregatesError, CalendarUnit, ColumnName,
    Filling, Measures, MeasuresQuery, Operation, OutputPoint, Period, ReduceMethod, Reference,
};
use serde_json::Value;
use uuid::Uuid;

use super::aggregates::errors::aggregates_error;
use super::aggregates::fetch;
use super::aggregates::params::Window;
use super::measures::refresh;
use super::metric::{describe, LoadedMetric};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::parse_uuid;
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/aggregation/metric", "GET, POST")
            .route(web::get().to(get_metric))
            .route(web::post().to(post_metric)),
    )
    .configure(resource::configure);
}

fn json_text(text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(text)
}

/// A calendar-resampled single-metric read (engine.md §6.1.3) as JSON text: the stored series
/// of `query`'s one granularity, resampled to `unit`. With `start`, the read begins at the
/// calendar period containing it, so that period's bucket is whole (Gnocchi answers 500 there).
pub(crate) async fn read_calendar(
    state: &AppState,
    loaded: &LoadedMetric,
    query: &MeasuresQuery,
    unit: CalendarUnit,
) -> Result<String, ApiError> {
    let read = MeasuresQuery {
        start_ns: query.start_ns.map(|s| unit.floor(s)),
        resample_ns: None,
        ..*query
    };
    let points = read_measures(
        state.storage.as_ref(),
        &loaded.policy,
        loaded.metric.id,
        &read,
    )
    .await?;
    let (method, start_ns) = (query.method, query.start_ns);
    tokio::task::spawn_blocking(move || {
        resample_calendar(&points, unit, method, start_ns).map(|out| points_json(&out))
    })
    .await
    .map_err(|e| ApiError::internal(format!("calendar resample task failed: {e}")))?
    .map_err(|e| calendar_error(e, unit))
}

/// engine.md §10.2: a calendar resample of a `rate:` method is a 400 (Gnocchi answers 500).
fn calendar_error(e: gnocchi_storage::Error, unit: CalendarUnit) -> ApiError {
    match e {
        gnocchi_storage::Error::CalendarRateResample { method } => ApiError::bad_request(format!(
            "Aggregation method '{method}' cannot be resampled to the calendar period '{unit}'"
        )),
        e => e.into(),
    }
}

/// `resample`: a calendar letter or a positive timespan (api.md §11.2 step 4).
fn resample_period(value: &str) -> Result<Period, ApiError> {
    if let Some(unit) = CalendarUnit::from_letter(value) {
        return Ok(Period::Calendar(unit));
    }
    parse_timespan_positive(&TimeInput::Text(value))
        .map(Period::Fixed)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// 404 `Aggregation method '<agg>' at granularity '<g>' for metric <id> does not exist`.
fn aggregation_missing(agg: &str, granularity_ns: i64, metric: Uuid) -> ApiError {
    ApiError::not_found(format!(
        "Aggregation method '{agg}' at granularity '{}' for metric {metric} does not exist",
        format_seconds_float(granularity_ns)
    ))
}

async fn get_metric(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = Query::of(&req);
    let ids = query
        .all("metric")
        .iter()
        .enumerate()
        .map(|(i, m)| {
            parse_uuid(m).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid input: not a valid value @ data[{i}]"))
            })
        })
        .collect::<Result<Vec<Uuid>, ApiError>>()?;
    cross_metric(&state, &caller, &query, &ids).await
}

async fn post_metric(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body::json(&req, &payload)?;
    let ids = metric_ids(&body)?;
    cross_metric(&state, &caller, &Query::of(&req), &ids).await
}

/// The body of `POST /v1/aggregation/metric`: a list of metric UUIDs.
fn metric_ids(body: &Value) -> Result<Vec<Uuid>, Invalid> {
    let root = Path::root();
    validate::list(body, &root)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .and_then(parse_uuid)
                .ok_or_else(|| Invalid::value("not a valid value", &root.index(i)))
        })
        .collect()
}

/// The legacy parameters beyond [`Window`] (api.md §11.2).
pub(crate) struct Legacy<'a> {
    aggregation: &'a str,
    reaggregation: Option<&'a str>,
    resample: Option<&'a str>,
    refresh: bool,
}

impl<'a> Legacy<'a> {
    /// `aggregation` (default `mean`), `reaggregation`, `resample`, `refresh`.
    pub(crate) fn parse(query: &'a Query) -> Result<Self, ApiError> {
        Ok(Self {
            aggregation: query.first("aggregation").unwrap_or("mean"),
            reaggregation: query.first("reaggregation"),
            resample: query.first("resample"),
            refresh: query.bool("refresh", false)?,
        })
    }
}

/// `GET|POST /v1/aggregation/metric` over `ids` (api.md §11.2, in its order of checks).
async fn cross_metric(
    state: &AppState,
    caller: &Caller,
    query: &Query,
    ids: &[Uuid],
) -> Result<HttpResponse, ApiError> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let found = state.indexer.metrics_by_ids(&sorted).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|m| m.id == **id)) {
        return Err(ApiError::not_found(format!(
            "Metric {missing} does not exist"
        )));
    }
    let window = Window::parse(query)?;
    let legacy = Legacy::parse(query)?;
    let mut metrics = Vec::with_capacity(found.len());
    for m in found {
        let loaded = describe(state, m).await?;
        caller.enforce("get metric", &loaded.detail)?;
        metrics.push(loaded);
    }
    Ok(json_text(
        aggregate_metrics(state, &metrics, &window, &legacy).await?,
    ))
}

/// Steps 4 to 9 of api.md §11.2 over loaded metrics (sorted by id), already authorised: the
/// JSON text of the points.
pub(crate) async fn aggregate_metrics(
    state: &AppState,
    metrics: &[LoadedMetric],
    window: &Window,
    legacy: &Legacy<'_>,
) -> Result<String, ApiError> {
    if metrics.is_empty() {
        return Ok("[]".to_owned());
    }
    let resample = match legacy.resample {
        None => None,
        Some(r) => {
            if window.granularity_ns.is_none() {
                return Err(ApiError::bad_request(
                    "A granularity must be specified to resample",
                ));
            }
            Some(resample_period(r)?)
        }
    };
    let has = |m: &LoadedMetric, g: i64| m.policy.definition.iter().any(|d| d.granularity_ns == g);
    let granularities = match window.granularity_ns {
        Some(g) => {
            if let Some(m) = metrics.iter().find(|m| !has(m, g)) {
                return Err(aggregation_missing(legacy.aggregation, g, m.metric.id));
            }
            vec![g]
        }
        None => {
            let mut common: Vec<i64> = metrics[0]
                .policy
                .definition
                .iter()
                .map(|d| d.granularity_ns)
                .filter(|&g| g > 0 && metrics.iter().all(|m| has(m, g)))
                .collect();
            common.sort_unstable_by(|a, b| b.cmp(a));
            common.dedup();
            if common.is_empty() {
                let references = pairs(metrics, legacy.aggregation);
                return Err(aggregates_error(
                    AggregatesError::NoGranularityMatch {
                        references: references.clone(),
                    },
                    &references,
                ));
            }
            common
        }
    };
    if legacy.refresh {
        for m in metrics {
            refresh(state, m).await?;
        }
    }
    if let [one] = metrics {
        return single_metric(state, one, window, legacy.aggregation, resample).await;
    }
    let method = AggregationMethod::from_str(legacy.aggregation)
        .ok()
        .filter(|method| {
            metrics
                .iter()
                .all(|m| m.policy.aggregation_methods.contains(method))
        });
    let Some(method) = method else {
        let m = metrics
            .iter()
            .find(|m| {
                AggregationMethod::from_str(legacy.aggregation).map_or(true, |method| {
                    !m.policy.aggregation_methods.contains(&method)
                })
            })
            .unwrap_or(&metrics[0]);
        let first = m.policy.definition.first().map_or(0, |d| d.granularity_ns);
        return Err(aggregation_missing(legacy.aggregation, first, m.metric.id));
    };
    let pairs = pairs(metrics, legacy.aggregation);
    let reaggregation_name = legacy.reaggregation.unwrap_or(legacy.aggregation);
    let reaggregation = ReduceMethod::from_str(reaggregation_name).map_err(|()| {
        aggregates_error_reason(
            format!("Invalid reaggregation method '{reaggregation_name}'"),
            &pairs,
        )
    })?;
    let names: Vec<String> = metrics.iter().map(|m| m.metric.id.to_string()).collect();
    let operation = Operation::legacy_cross_metric(&names, method, reaggregation, resample);
    let reads = metrics
        .iter()
        .zip(names)
        .map(|(m, name)| fetch::ColumnRead {
            read: fetch::Read {
                metric: m.metric.id,
                policy: &m.policy,
                method,
            },
            reference: Reference::new(name.clone(), method.to_string()),
            name: ColumnName::Metric { metric_id: name },
        })
        .collect();
    let filling = Filling::legacy(window.fill, window.needed_overlap);
    let (measures, _) =
        fetch::evaluate_by_granularity(state, &operation, reads, &granularities, window, filling)
            .await?;
    match measures.map_err(|e| aggregates_error(e, &pairs))? {
        Measures::Aggregated(points) => Ok(points_json(&points)),
        Measures::PerColumn(_) => Err(ApiError::internal(
            "the legacy cross-metric tree did not aggregate",
        )),
    }
}

/// 400 `Metrics cannot be aggregated` with a reason of ours.
fn aggregates_error_reason(reason: String, pairs: &[(String, String)]) -> ApiError {
    ApiError::object(
        actix_web::http::StatusCode::BAD_REQUEST,
        "Metrics cannot be aggregated",
        Some(reason),
        Some(Value::Array(
            pairs
                .iter()
                .map(|(n, a)| serde_json::json!([n, a]))
                .collect(),
        )),
    )
}

fn pairs(metrics: &[LoadedMetric], aggregation: &str) -> Vec<(String, String)> {
    metrics
        .iter()
        .map(|m| (m.metric.id.to_string(), aggregation.to_owned()))
        .collect()
}

/// One metric: its series exactly as `GET /v1/metric/{id}/measures` reads it (api.md §11.2
/// step 8).
async fn single_metric(
    state: &AppState,
    loaded: &LoadedMetric,
    window: &Window,
    aggregation: &str,
    resample: Option<Period>,
) -> Result<String, ApiError> {
    let id = loaded.metric.id.to_string();
    let method = AggregationMethod::from_str(aggregation)
        .ok()
        .filter(|m| loaded.policy.aggregation_methods.contains(m))
        .ok_or_else(|| ApiError::aggregation_not_found(&id, aggregation))?;
    let mut query = MeasuresQuery {
        method,
        granularity_ns: window.granularity_ns,
        start_ns: window.start_ns,
        stop_ns: window.stop_ns,
        resample_ns: None,
    };
    match resample {
        Some(Period::Calendar(unit)) => read_calendar(state, loaded, &query, unit).await,
        fixed => {
            if let Some(Period::Fixed(r)) = fixed {
                query.resample_ns = Some(r);
            }
            let points: Vec<OutputPoint> = read_measures(
                state.storage.as_ref(),
                &loaded.policy,
                loaded.metric.id,
                &query,
            )
            .await?
            .into_iter()
            .map(|p| OutputPoint {
                timestamp_ns: p.timestamp_ns,
                period: Period::Fixed(p.granularity_ns),
                value: p.value,
            })
            .collect();
            Ok(points_json(&points))
        }
    }
}

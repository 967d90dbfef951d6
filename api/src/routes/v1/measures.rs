//! `/v1/metric/{id}/measures` (shared/spec/api.md §6.6, §6.7): push measures (202) and read
//! aggregates.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::time::{
    format_seconds_float, parse_python_float, parse_timespan_positive, parse_timestamp,
    parse_timestamps, TimeInput,
};
use gnocchi_core::{AggregationMethod, Measure};
use gnocchi_indexer::ProcessedMetric;
use gnocchi_storage::{process_pending, read_measures, sack_of, CalendarUnit, MeasuresQuery};
use serde_json::Value;

use super::metric::{load, LoadedMetric};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pyjson::measure_triples_to_string;
use crate::query::Query;
use crate::{body, AppState};

/// How often `refresh=true` retries a sack lock held by metricd.
const LOCK_RETRY: Duration = Duration::from_millis(50);

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/metric/{id}/measures", "GET, POST")
            .route(web::post().to(post))
            .route(web::get().to(get)),
    );
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn invalid(reason: impl Into<String>) -> ApiError {
    ApiError::invalid_input(reason, Vec::new())
}

/// Python `float()` of a measure value; NaN and infinities are refused (§6.6).
fn measure_value(v: Option<&Value>) -> Option<f64> {
    let f = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_python_float(s)?,
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    f.is_finite().then_some(f)
}

/// Validates a measures body: format, then timestamps as one batch, then values.
pub(crate) fn parse_measures(body: &Value) -> Result<Vec<Measure>, ApiError> {
    let format = || invalid("unexpected measures format");
    let items = body.as_array().ok_or_else(format)?;
    let mut objects = Vec::with_capacity(items.len());
    for item in items {
        let obj = item.as_object().ok_or_else(format)?;
        let ts = obj.get("timestamp").ok_or_else(format)?;
        objects.push((ts, obj.get("value")));
    }
    let inputs = objects
        .iter()
        .map(|(ts, _)| TimeInput::from_json(ts))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("unexpected timestamp 'Unable to convert timestamps'"))?;
    let timestamps = parse_timestamps(inputs, now_ns())
        .map_err(|e| invalid(format!("unexpected timestamp '{e}'")))?;
    objects
        .iter()
        .zip(timestamps)
        .map(|((_, value), ts)| {
            measure_value(*value)
                .map(|v| Measure::new(ts, v))
                .ok_or_else(|| invalid("unexpected measures value"))
        })
        .collect()
}

/// A measure timestamp borrowed from the body: a number or a string.
enum FastTimestamp<'a> {
    Number(f64),
    Text(&'a str),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for FastTimestamp<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FastTimestamp<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(FastTimestamp::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(FastTimestamp::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(FastTimestamp::Number(v as f64))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FastTimestamp::Text(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The common shape `{"timestamp": <number or string>, "value": <number>}`; other keys are
/// ignored, as on the general path. Only objects are accepted (not `[ts, value]` lists).
pub(crate) struct FastMeasure<'a> {
    timestamp: FastTimestamp<'a>,
    value: f64,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for FastMeasure<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FastMeasure<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a measure object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error as _;
                let (mut timestamp, mut value) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "timestamp" => timestamp = Some(map.next_value()?),
                        "value" => value = Some(map.next_value()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(FastMeasure {
                    timestamp: timestamp.ok_or_else(|| A::Error::missing_field("timestamp"))?,
                    value: value.ok_or_else(|| A::Error::missing_field("value"))?,
                })
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Parses the common measures body without building a JSON tree per measure; `None` when the
/// body has any other shape (escaped strings, string values, errors), which the general path
/// then handles with its exact messages.
pub(crate) fn parse_measures_fast(payload: &[u8]) -> Option<Result<Vec<Measure>, ApiError>> {
    let items: Vec<FastMeasure<'_>> = serde_json::from_slice(payload).ok()?;
    Some(fast_measures(&items))
}

/// The measures of a list read in the common shape, validated as [`parse_measures`] does.
pub(crate) fn fast_measures(items: &[FastMeasure<'_>]) -> Result<Vec<Measure>, ApiError> {
    let inputs = items.iter().map(|m| match m.timestamp {
        FastTimestamp::Number(n) => TimeInput::Number(n),
        FastTimestamp::Text(t) => TimeInput::Text(t),
    });
    parse_timestamps(inputs, now_ns())
        .map_err(|e| invalid(format!("unexpected timestamp '{e}'")))
        .map(|ts| {
            ts.into_iter()
                .zip(items)
                .map(|(t, m)| Measure::new(t, m.value))
                .collect()
        })
}

async fn post(
    req: HttpRequest,
    id: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let loaded = load(&state, &id).await?;
    push(&req, &caller, &state, &loaded, &payload).await
}

/// `POST …/measures` of a found metric (§6.6 order: policy, 415, decode, validate, enqueue).
pub(crate) async fn push(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
    loaded: &LoadedMetric,
    payload: &[u8],
) -> Result<HttpResponse, ApiError> {
    caller.enforce("post measures", &loaded.detail)?;
    body::require_json_type(req)?;
    let measures = match parse_measures_fast(payload) {
        Some(parsed) => parsed?,
        None => parse_measures(&body::decode(payload)?)?,
    };
    if !measures.is_empty() {
        state
            .incoming
            .add_measures(&[(loaded.metric.id, measures)])
            .await?;
        if let Some(listener) = &state.measures_listener {
            listener();
        }
    }
    Ok(HttpResponse::Accepted()
        .insert_header((header::CONTENT_LENGTH, 0))
        .finish())
}

/// The validated read parameters (§6.7 steps 2–5).
struct ReadParams {
    query: MeasuresQuery,
    refresh: bool,
    /// A calendar `resample` (engine.md §6.1.3), applied after the read.
    calendar: Option<CalendarUnit>,
}

fn single<'a>(query: &'a Query, name: &str) -> Result<Option<&'a str>, ApiError> {
    let values = query.all(name);
    match values.as_slice() {
        [] => Ok(None),
        [v] => Ok(Some(v)),
        _ => Err(ApiError::argument_value(
            name,
            format!("{name} must be given at most once"),
        )),
    }
}

fn read_params(query: &Query, loaded: &LoadedMetric) -> Result<ReadParams, ApiError> {
    let granularity = single(query, "granularity")?;
    let mut calendar = None;
    let resample = match single(query, "resample")? {
        None => None,
        Some(r) => {
            if granularity.is_none() {
                return Err(ApiError::bad_request(
                    "A granularity must be specified to resample",
                ));
            }
            // api.md §1.8: calendar letters are recognised before the timespan parser.
            calendar = CalendarUnit::from_letter(r);
            match calendar {
                Some(_) => None,
                None => Some(
                    parse_timespan_positive(&TimeInput::Text(r))
                        .map_err(|e| ApiError::bad_request(e.to_string()))?,
                ),
            }
        }
    };
    let now = now_ns();
    let instant = |name: &str| -> Result<Option<i64>, ApiError> {
        single(query, name)?
            .map(|v| {
                parse_timestamp(&TimeInput::Text(v), now).map_err(|_| {
                    ApiError::argument_value(name, "Must be a datetime or a timestamp")
                })
            })
            .transpose()
    };
    let start_ns = instant("start")?;
    let stop_ns = instant("stop")?;
    let granularity_ns = granularity
        .map(|g| {
            parse_timespan_positive(&TimeInput::Text(g))
                .map_err(|e| ApiError::argument_value("granularity", e.to_string()))
        })
        .transpose()?;
    let name = single(query, "aggregation")?.unwrap_or("mean");
    let metric = loaded.metric.id.to_string();
    let method: AggregationMethod = name
        .parse()
        .ok()
        .filter(|m| loaded.policy.aggregation_methods.contains(m))
        .ok_or_else(|| ApiError::aggregation_not_found(&metric, name))?;
    if let Some(g) = granularity_ns {
        if !loaded
            .policy
            .definition
            .iter()
            .any(|d| d.granularity_ns == g)
        {
            return Err(ApiError::not_found(format!(
                "Aggregation method '{name}' at granularity '{}' for metric {metric} does not \
                 exist",
                format_seconds_float(g)
            )));
        }
    }
    let refresh = query.bool("refresh", false)?;
    Ok(ReadParams {
        query: MeasuresQuery {
            method,
            granularity_ns,
            start_ns,
            stop_ns,
            resample_ns: resample,
        },
        refresh,
        calendar,
    })
}

/// Processes the metric's pending measures now (`refresh=true`), waiting up to
/// `[api] operation_timeout` for metricd to release the metric's sack.
pub(crate) async fn refresh(state: &AppState, loaded: &LoadedMetric) -> Result<(), ApiError> {
    let id = loaded.metric.id;
    let sack = sack_of(id, state.incoming.sacks());
    let deadline = Instant::now() + state.settings.operation_timeout;
    let lock = loop {
        if let Some(lock) = state.incoming.lock_sack(sack, false).await? {
            break lock;
        }
        if Instant::now() >= deadline {
            return Err(ApiError::unavailable(format!(
                "Unable to refresh metric: {id}. Metric is locked. Please try again."
            )));
        }
        tokio::time::sleep(LOCK_RETRY).await;
    };
    let outcome = process_pending(
        state.incoming.as_ref(),
        state.storage.as_ref(),
        &loaded.policy,
        id,
    )
    .await?;
    if let Err(e) = state.storage.sync().await {
        state.incoming.abandon_sack(sack);
        return Err(e.into());
    }
    state.incoming.commit_sack(sack).await?;
    drop(lock);
    if let Some(newest) = outcome.and_then(|o| o.newest_measure_ns) {
        state
            .indexer
            .mark_metrics_processed(&[ProcessedMetric {
                id,
                newest_measure_ns: newest,
            }])
            .await?;
    }
    Ok(())
}

async fn get(
    req: HttpRequest,
    id: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let loaded = load(&state, &id).await?;
    read(&req, &caller, &state, &loaded).await
}

/// `GET …/measures` of a found metric (§6.7).
pub(crate) async fn read(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
    loaded: &LoadedMetric,
) -> Result<HttpResponse, ApiError> {
    caller.enforce("get measures", &loaded.detail)?;
    let params = read_params(&Query::of(req), loaded)?;
    if params.refresh {
        refresh(state, loaded).await?;
    }
    if let Some(unit) = params.calendar {
        let text = super::aggregation::read_calendar(state, loaded, &params.query, unit).await?;
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(text));
    }
    let points = read_measures(
        state.storage.as_ref(),
        &loaded.policy,
        loaded.metric.id,
        &params.query,
    )
    .await?;
    let text = measure_triples_to_string(
        points
            .iter()
            .map(|p| (p.timestamp_ns, p.granularity_ns, p.value)),
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(body: Value) -> String {
        match parse_measures(&body).expect_err("invalid").description() {
            crate::error::Description::Object { reason, .. } => reason.clone().unwrap_or_default(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn accepts_every_timestamp_and_value_form() {
        let m = parse_measures(&json!([
            {"timestamp": "2014-10-06T14:33:57", "value": 43.1},
            {"timestamp": "2014-10-06T15:34:12+01:00", "value": "12"},
            {"timestamp": "2014-10-06T14:34:13", "value": true, "extra": 1},
        ]))
        .expect("valid");
        assert_eq!(m[0], Measure::new(1_412_606_037_000_000_000, 43.1));
        assert_eq!(m[1], Measure::new(1_412_606_052_000_000_000, 12.0));
        assert_eq!(m[2].value, 1.0);
        let m = parse_measures(&json!([{"timestamp": 1425652437.0, "value": 1}])).expect("valid");
        assert_eq!(m[0].timestamp, 1_425_652_437_000_000_000);
        assert!(parse_measures(&json!([])).expect("valid").is_empty());
    }

    #[test]
    fn fast_path_agrees_with_the_general_path() {
        for body in [
            json!([{"timestamp": "2014-10-06T14:33:57", "value": 43.1},
                   {"timestamp": "2014-10-06T15:34:12+01:00", "value": 12, "x": [1]}]),
            json!([{"timestamp": 1425652437.5, "value": -1e-7}]),
            json!([{"timestamp": "1915-03-06T14:33:57", "value": 1}]),
            json!([{"timestamp": 1478012832, "value": 1}, {"timestamp": "-5 minutes", "value": 1}]),
            json!([]),
        ] {
            let text = body.to_string();
            let fast = parse_measures_fast(text.as_bytes()).expect("common shape");
            let general = parse_measures(&body);
            match (fast, general) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.description(), b.description()),
                (a, b) => panic!("{body}: {a:?} vs {b:?}"),
            }
        }
        for other in [
            json!([{"timestamp": "2014-10-06T14:33:57", "value": "12"}]),
            json!([{"value": 1}]),
            json!([["2014-10-06T14:33:57", 1]]),
            json!({"timestamp": 1, "value": 1}),
        ] {
            assert!(
                parse_measures_fast(other.to_string().as_bytes()).is_none(),
                "{other}"
            );
        }
    }

    #[test]
    fn rejects_bad_measures() {
        assert_eq!(reason(json!(1)), "unexpected measures format");
        assert_eq!(
            reason(json!([["2015-03-06T14:33:57", 43.1]])),
            "unexpected measures format"
        );
        assert_eq!(reason(json!([{"value": 1}])), "unexpected measures format");
        assert_eq!(
            reason(json!([{"timestamp": "1915-03-06T14:33:57", "value": 1}])),
            "unexpected timestamp 'Timestamp must be after Epoch'"
        );
        assert_eq!(
            reason(json!([{"timestamp": 1478012832, "value": 1},
                {"timestamp": "-5 minutes", "value": 2}])),
            "unexpected timestamp 'Unable to convert timestamps'"
        );
        for bad in [
            json!("foobar"),
            json!(null),
            json!("nan"),
            json!("inf"),
            json!({}),
        ] {
            assert_eq!(
                reason(json!([{"timestamp": "2015-03-06T14:33:57", "value": bad}])),
                "unexpected measures value"
            );
        }
        assert_eq!(
            reason(json!([{"timestamp": "2015-03-06T14:33:57"}])),
            "unexpected measures value"
        );
    }
}

//! Request bodies of resources (shared/spec/api.md §9.2, §9.4, §9.8): generic fields, typed
//! attributes and metric specs, validated with voluptuous-style messages.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use gnocchi_core::time::{parse_timestamp, TimeInput};
use gnocchi_indexer::{AttributeValue, MetricSet, NewMetric, ResourceType};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::resource_type::value_message;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::resource_id::{parse_uuid, transform};
use crate::validate::{self, Invalid, Path};
use crate::AppState;

/// The longest unit, in characters.
const MAX_UNIT_CHARS: usize = 31;

pub(crate) fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A timestamp field (`started_at`, `ended_at`).
fn timestamp(v: &Value, path: &Path) -> Result<DateTime<Utc>, Invalid> {
    let bad = || Invalid::value("not a valid value", path);
    let input = TimeInput::from_json(v).ok_or_else(bad)?;
    let ns = parse_timestamp(&input, now_ns()).map_err(|_| bad())?;
    DateTime::from_timestamp_micros(ns.div_euclid(1000)).ok_or_else(bad)
}

fn optional_string(v: &Value, path: &Path) -> Result<Option<String>, Invalid> {
    match v {
        Value::Null => Ok(None),
        v => Ok(Some(validate::string(v, path)?.to_owned())),
    }
}

/// The body of a creation or a PATCH, validated against the type.
#[derive(Default)]
pub(crate) struct ResourceBody {
    /// `id` as submitted and transformed (creation only).
    pub(crate) id: Option<(String, Uuid)>,
    pub(crate) user_id: Option<Option<String>>,
    pub(crate) project_id: Option<Option<String>>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) ended_at: Option<Option<DateTime<Utc>>>,
    pub(crate) attributes: BTreeMap<String, AttributeValue>,
    /// The raw `metrics` object, resolved by [`metric_set`].
    pub(crate) metrics: Option<Map<String, Value>>,
}

/// Validates a resource body for type `t`; `creation` requires `id` and the required
/// attributes and refuses nulls for the timestamps only on update.
pub(crate) fn parse(
    body: &Value,
    t: &ResourceType,
    creator: &str,
    creation: bool,
) -> Result<ResourceBody, ApiError> {
    let root = Path::root();
    let m = validate::object(body, &root)?;
    let mut out = ResourceBody::default();
    for (k, v) in m {
        let p = root.key(k);
        match k.as_str() {
            "id" if creation => {
                let s = validate::string(v, &p)?;
                let id =
                    transform(s, Some(creator)).map_err(|e| Invalid::value(e.message(), &p))?;
                out.id = Some((s.to_owned(), id));
            }
            "user_id" => out.user_id = Some(optional_string(v, &p)?),
            "project_id" => out.project_id = Some(optional_string(v, &p)?),
            "started_at" => {
                if v.is_null() && !creation {
                    return Err(Invalid::value("not a valid value", &p).into());
                }
                if !v.is_null() {
                    out.started_at = Some(timestamp(v, &p)?);
                }
            }
            "ended_at" => {
                if v.is_null() {
                    if !creation {
                        return Err(Invalid::value("not a valid value", &p).into());
                    }
                } else {
                    out.ended_at = Some(Some(timestamp(v, &p)?));
                }
            }
            "metrics" => {
                let metrics = validate::object(v, &p)?;
                // Validated with the body (before `id` is found missing), as Gnocchi does.
                if metrics.keys().any(|n| n.contains('/')) {
                    return Err(ApiError::bad_request("'/' is not supported in metric name"));
                }
                out.metrics = Some(metrics.clone());
            }
            name => match t.attributes.get(name) {
                Some(def) => {
                    if v.is_null() && def.required {
                        let e = AttributeValue::from_json(&def.attribute_type, &json!([]), 0)
                            .err()
                            .map_or_else(|| "not a valid value".to_owned(), |e| value_message(&e));
                        return Err(Invalid::value(e, &p).into());
                    }
                    let value = AttributeValue::from_json(&def.attribute_type, v, now_ns())
                        .map_err(|e| Invalid::value(value_message(&e), &p))?;
                    out.attributes.insert(name.to_owned(), value);
                }
                None => return Err(Invalid::key("extra keys not allowed", &p).into()),
            },
        }
    }
    if creation {
        if out.id.is_none() {
            return Err(Invalid::key("required key not provided", &root.key("id")).into());
        }
        if let Some((name, _)) = t
            .attributes
            .iter()
            .find(|(n, d)| d.required && !out.attributes.contains_key(*n))
        {
            return Err(Invalid::key("required key not provided", &root.key(name)).into());
        }
    }
    Ok(out)
}

/// The archive policy of a new metric: the given one, else the first matching rule (400).
pub(crate) async fn resolve_policy(
    state: &AppState,
    given: Option<&str>,
    name: &str,
) -> Result<String, ApiError> {
    if let Some(n) = given {
        return Ok(n.to_owned());
    }
    match state
        .indexer
        .archive_policy_for_metric_name(Some(name))
        .await?
    {
        Some(p) => Ok(p.name),
        None => Err(ApiError::bad_request(format!(
            "No archive policy name specified and no archive policy rule found matching the \
             metric name {name}"
        ))),
    }
}

/// Validates a new metric definition named `name` (like `POST /v1/metric`), enforces
/// `create metric` and returns it, not yet created.
pub(crate) async fn new_metric(
    state: &AppState,
    caller: &Caller,
    name: &str,
    archive_policy_name: Option<&str>,
    unit: Option<String>,
    resource: Option<(Uuid, &str)>,
    creator: &str,
) -> Result<NewMetric, ApiError> {
    if name.contains('/') {
        return Err(ApiError::bad_request("'/' is not supported in metric name"));
    }
    let policy = resolve_policy(state, archive_policy_name, name).await?;
    caller.enforce(
        "create metric",
        &json!({
            "creator": creator,
            "archive_policy_name": policy,
            "resource_id": resource.map(|r| r.0.to_string()),
            "original_resource_id": resource.map(|r| r.1),
            "name": name,
            "unit": unit,
        }),
    )?;
    Ok(NewMetric {
        id: Uuid::new_v4(),
        archive_policy_name: policy,
        name: Some(name.to_owned()),
        unit,
        resource_id: resource.map(|r| r.0),
        creator: creator.to_owned(),
    })
}

/// Resolves a `metrics` object (name → UUID string or `{archive_policy_name?, unit?}`).
pub(crate) async fn metric_set(
    state: &AppState,
    caller: &Caller,
    metrics: &Map<String, Value>,
    path: &Path,
    resource: Option<(Uuid, &str)>,
    creator: &str,
) -> Result<MetricSet, ApiError> {
    let mut set = MetricSet::default();
    for (name, spec) in metrics {
        let p = path.key(name);
        match spec {
            Value::String(s) => {
                let id = parse_uuid(s)
                    .ok_or_else(|| Invalid::value("badly formed hexadecimal UUID string", &p))?;
                set.linked.insert(name.clone(), id);
            }
            Value::Object(o) => {
                let mut policy = None;
                let mut unit = None;
                for (k, v) in o {
                    let kp = p.key(k);
                    match k.as_str() {
                        "archive_policy_name" => {
                            policy = optional_string(v, &kp)?;
                        }
                        "unit" => {
                            let u = optional_string(v, &kp)?;
                            if u.as_ref()
                                .is_some_and(|u| u.chars().count() > MAX_UNIT_CHARS)
                            {
                                return Err(Invalid::value(
                                    format!("length of value must be at most {MAX_UNIT_CHARS}"),
                                    &kp,
                                )
                                .into());
                            }
                            unit = u;
                        }
                        _ => return Err(Invalid::key("extra keys not allowed", &kp).into()),
                    }
                }
                set.created.push(
                    new_metric(
                        state,
                        caller,
                        name,
                        policy.as_deref(),
                        unit,
                        resource,
                        creator,
                    )
                    .await?,
                );
            }
            _ => return Err(Invalid::value("expected a dictionary", &p).into()),
        }
    }
    Ok(set)
}

/// Maps the metric errors of a resource creation or update to their 400s (§9.2, §9.4).
pub(crate) fn metric_error(e: gnocchi_indexer::Error) -> ApiError {
    use gnocchi_indexer::Error as E;
    match e {
        e @ (E::ArchivePolicyNotFound { .. } | E::MetricNotFound { .. }) => {
            ApiError::from(e).with_status(StatusCode::BAD_REQUEST)
        }
        e => e.into(),
    }
}

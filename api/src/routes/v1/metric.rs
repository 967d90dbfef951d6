//! `/v1/metric` (shared/spec/api.md §6.1–§6.5): create, list, get, delete, and the three JSON
//! shapes of a metric.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::time::format_datetime;
use gnocchi_core::{ArchivePolicy, Metric, MetricStatus};
use gnocchi_indexer::{MetricFilter, NewMetric, Resource};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::archive_policy_body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::{parse_uuid, transform};
use crate::routes::{created, json_response};
use crate::validate::{self, Invalid, Path};
use crate::{body, pagination, AppState};

/// The longest unit, in characters.
const MAX_UNIT_CHARS: usize = 31;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/metric", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        crate::routes::resource("/metric/{id}", "GET, DELETE")
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    );
}

/// `created_by_user_id` / `created_by_project_id` from a creator string (§2.2).
pub(crate) fn creator_parts(creator: &str) -> (String, String) {
    match creator.split_once(':') {
        Some((u, p)) => (u.to_owned(), p.to_owned()),
        None => (creator.to_owned(), String::new()),
    }
}

fn common(m: &Metric) -> Map<String, Value> {
    let (user, project) = creator_parts(&m.creator);
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id.to_string()));
    o.insert("creator".into(), json!(m.creator));
    o.insert("name".into(), json!(m.name));
    o.insert("unit".into(), json!(m.unit));
    o.insert("created_by_user_id".into(), json!(user));
    o.insert("created_by_project_id".into(), json!(project));
    o
}

/// The creation shape.
fn creation_json(m: &Metric) -> Value {
    let mut o = common(m);
    o.insert(
        "resource_id".into(),
        json!(m.resource_id.map(|r| r.to_string())),
    );
    o.insert("archive_policy_name".into(), json!(m.archive_policy_name));
    Value::Object(o)
}

/// The listing shape.
pub(crate) fn listing_json(m: &Metric, policy: Option<&ArchivePolicy>) -> Value {
    let mut o = common(m);
    o.insert(
        "resource_id".into(),
        json!(m.resource_id.map(|r| r.to_string())),
    );
    o.insert(
        "archive_policy".into(),
        policy.map_or(Value::Null, archive_policy_body::to_json),
    );
    Value::Object(o)
}

/// The generic representation of a resource, without `metrics` (§6.1).
fn resource_json(r: &Resource) -> Value {
    let (user, project) = r
        .creator
        .as_deref()
        .map(creator_parts)
        .map_or((Value::Null, Value::Null), |(u, p)| (json!(u), json!(p)));
    let dt = |d: chrono::DateTime<chrono::Utc>| {
        format_datetime(d.timestamp_nanos_opt().unwrap_or(i64::MAX))
    };
    json!({
        "id": r.id.to_string(),
        "type": r.type_name,
        "creator": r.creator,
        "created_by_user_id": user,
        "created_by_project_id": project,
        "started_at": dt(r.started_at),
        "ended_at": r.ended_at.map(dt),
        "revision_start": dt(r.revision_start),
        "revision_end": r.revision_end.map(dt),
        "user_id": r.user_id,
        "project_id": r.project_id,
        "original_resource_id": r.original_resource_id,
    })
}

/// A metric with its policy and resource: the detailed shape and the policy target.
pub(crate) struct LoadedMetric {
    /// The metric.
    pub(crate) metric: Metric,
    /// Its archive policy.
    pub(crate) policy: ArchivePolicy,
    /// The detailed shape, also the target of the metric's policy rules.
    pub(crate) detail: Value,
}

/// Looks up the active metric named by a path segment: 404 `Metric <id> does not exist`.
pub(crate) async fn load(state: &AppState, id: &str) -> Result<LoadedMetric, ApiError> {
    let not_found = || ApiError::not_found(format!("Metric {id} does not exist"));
    let uuid = parse_uuid(id).ok_or_else(not_found)?;
    let described = match state.indexer.described_metric(uuid).await {
        Ok(d) => d,
        Err(gnocchi_indexer::Error::MetricNotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    Ok(describe_with(
        described.metric,
        described.policy,
        described.resource.as_ref(),
    ))
}

/// Loads the policy and resource of `metric` and builds its detailed shape.
pub(crate) async fn describe(state: &AppState, metric: Metric) -> Result<LoadedMetric, ApiError> {
    let policy = state
        .indexer
        .archive_policy(&metric.archive_policy_name)
        .await?;
    let resource = match metric.resource_id {
        Some(rid) => match state.indexer.resource(None, rid).await {
            Ok(r) => Some(r),
            Err(gnocchi_indexer::Error::ResourceNotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    Ok(describe_with(metric, policy, resource.as_ref()))
}

/// [`describe`] from a policy and resource the caller has read (`None`: no resource, or gone).
pub(crate) fn describe_with(
    metric: Metric,
    policy: ArchivePolicy,
    resource: Option<&Resource>,
) -> LoadedMetric {
    let mut o = common(&metric);
    o.insert(
        "archive_policy".into(),
        archive_policy_body::to_json(&policy),
    );
    o.insert(
        "resource".into(),
        resource.map_or(Value::Null, resource_json),
    );
    LoadedMetric {
        metric,
        policy,
        detail: Value::Object(o),
    }
}

/// [`describe`] for the many metrics of one batch request: each archive policy and resource is
/// read from the indexer once, not once per metric.
#[derive(Default)]
pub(crate) struct DescribeCache {
    policies: HashMap<String, Value>,
    resources: HashMap<Uuid, Value>,
}

impl DescribeCache {
    /// Records a resource the request has already read, sparing its lookup.
    pub(crate) fn know_resource(&mut self, r: &Resource) {
        self.resources.insert(r.id, resource_json(r));
    }

    /// The detailed shape of `metric`, the target of its policy rules, as `describe` builds it.
    pub(crate) async fn detail(
        &mut self,
        state: &AppState,
        metric: &Metric,
    ) -> Result<Value, ApiError> {
        let name = &metric.archive_policy_name;
        if !self.policies.contains_key(name) {
            let policy = state.indexer.archive_policy(name).await?;
            self.policies
                .insert(name.clone(), archive_policy_body::to_json(&policy));
        }
        let resource = match metric.resource_id {
            Some(rid) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.resources.entry(rid) {
                    let found = match state.indexer.resource(None, rid).await {
                        Ok(r) => resource_json(&r),
                        Err(gnocchi_indexer::Error::ResourceNotFound { .. }) => Value::Null,
                        Err(e) => return Err(e.into()),
                    };
                    slot.insert(found);
                }
                self.resources[&rid].clone()
            }
            None => Value::Null,
        };
        let mut o = common(metric);
        o.insert("archive_policy".into(), self.policies[name].clone());
        o.insert("resource".into(), resource);
        Ok(Value::Object(o))
    }
}

/// The validated body of `POST /v1/metric`.
#[derive(Default)]
struct MetricBody {
    archive_policy_name: Option<String>,
    name: Option<String>,
    unit: Option<String>,
    resource_id: Option<String>,
}

fn parse_body(body: &Value) -> Result<MetricBody, Invalid> {
    let root = Path::root();
    let map = validate::object(body, &root)?;
    let mut out = MetricBody::default();
    for (k, v) in map {
        let p = root.key(k);
        let slot = match k.as_str() {
            "archive_policy_name" => &mut out.archive_policy_name,
            "name" => &mut out.name,
            "unit" => &mut out.unit,
            "resource_id" => &mut out.resource_id,
            _ => return Err(Invalid::key("extra keys not allowed", &p)),
        };
        // A null is the same as leaving the key out.
        if v.is_null() {
            continue;
        }
        let s = validate::string(v, &p)?;
        if k == "unit" && s.chars().count() > MAX_UNIT_CHARS {
            return Err(Invalid::value(
                format!("length of value must be at most {MAX_UNIT_CHARS}"),
                &p,
            ));
        }
        *slot = Some(s.to_owned());
    }
    Ok(out)
}

async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body::json(&req, &payload)?;
    let b = parse_body(&body)?;
    if b.name.as_deref().is_some_and(|n| n.contains('/')) {
        return Err(ApiError::bad_request("'/' is not supported in metric name"));
    }
    let policy_name = match &b.archive_policy_name {
        Some(n) => n.clone(),
        None => match state
            .indexer
            .archive_policy_for_metric_name(b.name.as_deref())
            .await?
        {
            Some(p) => p.name,
            None => {
                return Err(ApiError::bad_request(format!(
                    "No archive policy name specified and no archive policy rule found matching \
                     the metric name {}",
                    b.name.as_deref().unwrap_or("None")
                )))
            }
        },
    };
    let resource_id = match &b.resource_id {
        None => None,
        Some(rid) => {
            if b.name.is_none() {
                return Err(ApiError::object(
                    StatusCode::BAD_REQUEST,
                    "Attribute value error",
                    Some("Name cannot be null if resource_id is not null".into()),
                    Some(json!("name")),
                ));
            }
            let id = transform(rid, Some(&caller.creator))
                .map_err(|e| Invalid::value(e.message(), &Path::root().key("resource_id")))?;
            Some(id)
        }
    };
    caller.enforce(
        "create metric",
        &json!({
            "creator": caller.creator,
            "archive_policy_name": policy_name,
            "resource_id": resource_id.map(|r| r.to_string()),
            "original_resource_id": b.resource_id,
            "name": b.name,
            "unit": b.unit,
        }),
    )?;
    let new = NewMetric {
        id: Uuid::new_v4(),
        archive_policy_name: policy_name,
        name: b.name.clone(),
        unit: b.unit,
        resource_id,
        creator: caller.creator.clone(),
    };
    let metric = state
        .indexer
        .create_metric(&new)
        .await
        .map_err(|e| match e {
            gnocchi_indexer::Error::NamedMetricExists { name, .. } => ApiError::object(
                StatusCode::BAD_REQUEST,
                "Named metric already exists",
                None,
                Some(Value::String(name)),
            ),
            e @ (gnocchi_indexer::Error::ArchivePolicyNotFound { .. }
            | gnocchi_indexer::Error::ResourceNotFound { .. }) => {
                ApiError::from(e).with_status(StatusCode::BAD_REQUEST)
            }
            e => e.into(),
        })?;
    let res = created(
        &req,
        &format!("/v1/metric/{}", metric.id),
        &creation_json(&metric),
    );
    Ok(res)
}

/// The filters of `GET /v1/metric` (§6.3).
fn filter(query: &Query) -> Result<MetricFilter, ApiError> {
    let single = |name: &str| -> Result<Option<String>, ApiError> {
        let values = query.all(name);
        match values.as_slice() {
            [] => Ok(None),
            [v] => Ok(Some((*v).to_owned())),
            _ => Err(ApiError::bad_request(format!(
                "Invalid input: expected str for dictionary value @ data['{name}']"
            ))),
        }
    };
    let mut f = MetricFilter {
        name: single("name")?,
        unit: single("unit")?,
        archive_policy_name: single("archive_policy_name")?,
        creator: single("creator")?,
        ..MetricFilter::default()
    };
    if let Some(id) = single("id")? {
        f.id = Some(parse_uuid(&id).ok_or_else(|| {
            ApiError::bad_request(
                "Invalid input: badly formed hexadecimal UUID string for dictionary value @ \
                 data['id']",
            )
        })?);
    }
    let (user, project) = (single("user_id")?, single("project_id")?);
    if user.is_some() || project.is_some() {
        f.creator = Some(format!(
            "{}:{}",
            user.unwrap_or_default(),
            project.unwrap_or_default()
        ));
    }
    f.status = match single("status")?.as_deref() {
        None => None,
        Some("active") => Some(MetricStatus::Active),
        Some("delete") => Some(MetricStatus::Delete),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid input: not a valid value for dictionary value @ data['status']",
            ))
        }
    };
    Ok(f)
}

/// One page of `GET /v1/metric` as `caller` may see it (api.md §2.6, rule `list metric`). Only
/// noauth and keystone modes restrict; the metrics created from the caller's project or attached
/// to a resource of its project are kept, checked here page by page because the indexer has no
/// creator-suffix filter.
async fn visible_page(
    caller: &Caller,
    state: &AppState,
    filter: &MetricFilter,
    page: &gnocchi_indexer::Page,
) -> Result<Vec<Metric>, ApiError> {
    const RULE: &str = "list metric";
    if !state.settings.auth_mode.restricts_listings() || caller.allows(RULE, &json!({})) {
        return Ok(state.indexer.list_metrics(filter, page).await?);
    }
    let project = caller.project_id().unwrap_or("");
    let by_creator =
        !project.is_empty() && caller.allows(RULE, &json!({"created_by_project_id": project}));
    let by_resource = caller.allows(RULE, &json!({"resource": {"project_id": project}}));
    if !by_creator && !by_resource {
        return Err(ApiError::forbidden_with("Insufficient privileges"));
    }
    let suffix = format!(":{project}");
    let mut projects: HashMap<Uuid, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    let mut cursor = page.clone();
    loop {
        let batch = state.indexer.list_metrics(filter, &cursor).await?;
        let full = cursor.limit.is_some_and(|l| batch.len() as u64 >= l);
        cursor.marker = batch.last().map(|m| m.id.to_string());
        for m in batch {
            let mut keep = by_creator && m.creator.ends_with(&suffix);
            if let (false, true, Some(rid)) = (keep, by_resource, m.resource_id) {
                let owner = match projects.get(&rid) {
                    Some(p) => p.clone(),
                    None => {
                        let p = match state.indexer.resource(None, rid).await {
                            Ok(r) => r.project_id,
                            Err(gnocchi_indexer::Error::ResourceNotFound { .. }) => None,
                            Err(e) => return Err(e.into()),
                        };
                        projects.insert(rid, p.clone());
                        p
                    }
                };
                keep = owner.as_deref() == Some(project);
            }
            if keep {
                out.push(m);
                if page.limit.is_some_and(|l| out.len() as u64 >= l) {
                    return Ok(out);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = Query::of(&req);
    let filter = filter(&query)?;
    let page = pagination::page(&query, state.settings.max_limit, &["id:asc"])?;
    if let Some(marker) = &page.marker {
        if parse_uuid(marker).is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid pagination: `Invalid marker: `{marker}''"
            )));
        }
    }
    let metrics = visible_page(&caller, &state, &filter, &page).await?;
    let policies: HashMap<String, ArchivePolicy> = state
        .indexer
        .list_archive_policies()
        .await?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let items: Vec<Value> = metrics
        .iter()
        .map(|m| listing_json(m, policies.get(&m.archive_policy_name)))
        .collect();
    let mut res = json_response(StatusCode::OK, &Value::Array(items));
    let last = metrics.last().map(|m| m.id.to_string());
    if let Some(link) = pagination::next_link(&req, &query, &page, metrics.len(), last) {
        if let Ok(v) = header::HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

async fn get(
    id: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    show(&caller, load(&state, &id).await?)
}

async fn delete(
    id: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    remove(&caller, &state, load(&state, &id).await?).await
}

/// `GET` of a found metric: rule `get metric`, then the detailed shape.
pub(crate) fn show(caller: &Caller, loaded: LoadedMetric) -> Result<HttpResponse, ApiError> {
    caller.enforce("get metric", &loaded.detail)?;
    Ok(json_response(StatusCode::OK, &loaded.detail))
}

/// `DELETE` of a found metric: rule `delete metric`, then mark it deleted.
pub(crate) async fn remove(
    caller: &Caller,
    state: &AppState,
    loaded: LoadedMetric,
) -> Result<HttpResponse, ApiError> {
    caller.enforce("delete metric", &loaded.detail)?;
    state.indexer.delete_metric(loaded.metric.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

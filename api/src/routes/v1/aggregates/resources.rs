//! Resource mode of `POST /v1/aggregates` (shared/spec/api.md §11.1, engine.md §6.5, §6.6):
//! references are metric names or globs over the metrics of the resources a search finds,
//! optionally grouped by resource attributes, optionally per resource revision.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use gnocchi_core::time::format_datetime;
use gnocchi_core::ArchivePolicy;
use gnocchi_indexer::{CmpOp, Filter, Page, Resource, ResourceQuery, SortKey};
use gnocchi_storage::{
    apply_usage_coefficient, measures_json, merge_consecutive_timestamps, plan_granularities,
    points_json, Column, ColumnName, ColumnPolicy, Filling, Measures, Operation, OutputPoint,
    Reference,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::errors::aggregates_error;
use super::glob::fnmatch;
use super::params::Window;
use super::{fetch, json_text, response_text, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{search_filter, AppState};

/// A metric of a found resource with what evaluating it needs.
struct MetricInfo {
    policy_name: String,
}

/// Everything looked up once for a request.
struct Catalogue {
    metrics: HashMap<Uuid, MetricInfo>,
    policies: HashMap<String, ArchivePolicy>,
}

impl Catalogue {
    fn policy(&self, metric: Uuid) -> Result<&ArchivePolicy, ApiError> {
        self.metrics
            .get(&metric)
            .and_then(|m| self.policies.get(&m.policy_name))
            .ok_or_else(|| ApiError::internal(format!("metric {metric} was not loaded")))
    }
}

/// One column to be: the reference (glob), the resource, the metric name and id.
struct Matched<'a> {
    reference: &'a Reference,
    resource: &'a Resource,
    metric_name: &'a str,
    metric: Uuid,
}

/// The columns of `resources`, in order: per resource, per reference, per matching metric.
fn matching<'a>(resources: &[&'a Resource], refs: &'a [Reference]) -> Vec<Matched<'a>> {
    let mut out = Vec::new();
    for r in resources {
        for reference in refs {
            for (name, id) in &r.metrics {
                if fnmatch(&reference.metric, name) {
                    out.push(Matched {
                        reference,
                        resource: r,
                        metric_name: name,
                        metric: *id,
                    });
                }
            }
        }
    }
    out
}

/// 404 `Metric ['<ref>', ...] does not exist` (sorted distinct references, Python repr).
fn no_metric(refs: &[Reference]) -> ApiError {
    let mut names: Vec<&str> = refs.iter().map(|r| r.metric.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let list = Value::Array(names.into_iter().map(|n| json!(n)).collect());
    ApiError::not_found(format!(
        "Metric {} does not exist",
        crate::pyjson::python_repr(&list)
    ))
}

/// The visibility filter of a resource search (api.md §2.6): only noauth mode restricts.
// TODO(integration): the same rule as `resource::visibility`, which is private there.
fn visibility(
    caller: &Caller,
    state: &AppState,
    type_name: &str,
) -> Result<Option<Filter>, ApiError> {
    const RULE: &str = "search resource";
    if !state.settings.auth_mode.restricts_listings()
        || caller.allows(RULE, &json!({"resource_type": type_name}))
    {
        return Ok(None);
    }
    let project = caller.project_id().unwrap_or("");
    let mut any = Vec::new();
    if caller.allows(
        RULE,
        &json!({"resource_type": type_name, "project_id": project}),
    ) {
        any.push(Filter::eq("project_id", project));
    }
    if caller.allows(
        RULE,
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

/// ANDs optional filters.
pub(crate) fn and(filters: Vec<Option<Filter>>) -> Option<Filter> {
    let mut all: Vec<Filter> = filters.into_iter().flatten().collect();
    match all.len() {
        0 => None,
        1 => all.pop(),
        _ => Some(Filter::And(all)),
    }
}

/// The search of the body (a JSON filter or the string syntax) and the caller's visibility.
pub(crate) fn search_filter(
    caller: &Caller,
    state: &AppState,
    type_name: &str,
    search: Option<&Value>,
) -> Result<Option<Filter>, ApiError> {
    let filter = match search {
        None => None,
        Some(Value::String(s)) => {
            search_filter::from_json(&search_filter::parse_string(s)?, &caller.creator)?
        }
        Some(v) => search_filter::from_json(v, &caller.creator)?,
    };
    Ok(and(vec![filter, visibility(caller, state, type_name)?]))
}

/// Loads the metrics (and their policies) the matched columns name.
async fn catalogue(state: &AppState, matched: &[Matched<'_>]) -> Result<Catalogue, ApiError> {
    let mut ids: Vec<Uuid> = matched.iter().map(|m| m.metric).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut metrics = HashMap::with_capacity(ids.len());
    let mut policies = HashMap::new();
    for m in state.indexer.metrics_by_ids(&ids).await? {
        if !policies.contains_key(&m.archive_policy_name) {
            let p = state.indexer.archive_policy(&m.archive_policy_name).await?;
            policies.insert(m.archive_policy_name.clone(), p);
        }
        metrics.insert(
            m.id,
            MetricInfo {
                policy_name: m.archive_policy_name,
            },
        );
    }
    Ok(Catalogue { metrics, policies })
}

/// Plans, reads and evaluates the matched columns over `[start, stop)`.
async fn evaluate_matched(
    state: &AppState,
    operation: &Operation,
    matched: &[Matched<'_>],
    cat: &Catalogue,
    window: &Window,
) -> Result<(Measures, Vec<Column>), ApiError> {
    // A metric deleted since the search is left out.
    let matched: Vec<&Matched<'_>> = matched
        .iter()
        .filter(|m| cat.metrics.contains_key(&m.metric))
        .collect();
    let names: Vec<String> = matched.iter().map(|m| m.metric.to_string()).collect();
    let mut policies = Vec::with_capacity(matched.len());
    for (m, name) in matched.iter().zip(&names) {
        policies.push(ColumnPolicy {
            name,
            aggregation: &m.reference.aggregation,
            policy: cat.policy(m.metric)?,
        });
    }
    let pairs: Vec<(String, String)> = policies
        .iter()
        .map(|c| (c.name.to_owned(), c.aggregation.to_owned()))
        .collect();
    let granularities = plan_granularities(&policies, window.granularity_ns)
        .map_err(|e| aggregates_error(e, &pairs))?;
    let mut reads = Vec::with_capacity(matched.len());
    for m in &matched {
        reads.push(fetch::ColumnRead {
            read: fetch::Read {
                metric: m.metric,
                policy: cat.policy(m.metric)?,
                method: fetch::method(&m.reference.aggregation)?,
            },
            reference: m.reference.clone(),
            name: ColumnName::ResourceMetric {
                resource_id: m.resource.id.to_string(),
                metric_name: m.metric_name.to_owned(),
            },
        });
    }
    let filling = Filling::from_params(window.fill, window.needed_overlap);
    let (measures, columns) =
        fetch::evaluate_by_granularity(state, operation, reads, &granularities, window, filling)
            .await?;
    let measures = measures.map_err(|e| aggregates_error(e, &pairs))?;
    Ok((measures, columns))
}

/// The resources the columns come from, each once, in order.
fn referenced(matched: &[Matched<'_>]) -> Vec<Value> {
    let mut seen: Vec<Uuid> = Vec::new();
    let mut out = Vec::new();
    for m in matched {
        if !seen.contains(&m.resource.id) {
            seen.push(m.resource.id);
            out.push(super::super::resource::resource_json(m.resource));
        }
    }
    out
}

/// The group key of a resource: `{attr: <JSON value>}` for each groupby attribute.
pub(crate) fn group_of(resource: &Resource, groupby: &[String]) -> Map<String, Value> {
    let v = super::super::resource::resource_json(resource);
    groupby
        .iter()
        .map(|g| (g.clone(), v.get(g).cloned().unwrap_or(Value::Null)))
        .collect()
}

/// Resource mode (api.md §11.1 steps 1–7).
pub(super) async fn resource_mode(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    params: &Params,
    type_name: &str,
    search: &Value,
) -> Result<HttpResponse, ApiError> {
    match state.indexer.resource_type(type_name).await {
        Ok(_) => {}
        Err(gnocchi_indexer::Error::ResourceTypeNotFound { .. }) => {
            return Err(ApiError::object(
                StatusCode::BAD_REQUEST,
                "Resource type does not exist",
                None,
                Some(json!(type_name)),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let mut groupby = params.groupby.clone();
    groupby.sort_unstable();
    groupby.dedup();
    let history = params.use_history && !groupby.is_empty();
    let window = &params.window;
    let mut filters = vec![search_filter(caller, state, type_name, Some(search))?];
    if history {
        if let (Some(start), Some(stop)) = (window.start_ns, window.stop_ns) {
            // engine.md §6.6 step 1: revisions overlapping [start, stop).
            filters.push(Some(Filter::cmp(
                CmpOp::Lt,
                "revision_start",
                format_datetime(stop),
            )));
            filters.push(Some(Filter::Or(vec![
                Filter::cmp(CmpOp::Ge, "revision_end", format_datetime(start)),
                Filter::eq("revision_end", Value::Null),
            ])));
        }
    }
    let query = ResourceQuery {
        type_name: type_name.to_owned(),
        filter: and(filters),
        history,
        details: false,
        page: Page {
            sort: groupby.iter().map(|g| SortKey::asc(g)).collect(),
            limit: None,
            marker: None,
        },
    };
    let resources = state.indexer.list_resources(&query).await?;
    let refs = operation.references();
    let all: Vec<&Resource> = resources.iter().collect();
    let matched = matching(&all, &refs);
    let cat = catalogue(state, &matched).await?;
    if groupby.is_empty() {
        if matched.is_empty() {
            return Err(no_metric(&refs));
        }
        let (measures, columns) =
            evaluate_matched(state, &operation, &matched, &cat, window).await?;
        let references = params.details.then(|| referenced(&matched));
        return Ok(json_text(response_text(
            &measures_json(&measures, &columns),
            references.as_deref(),
        )));
    }
    // Consecutive resources with the same key form a group (the listing is sorted by it).
    let mut groups: Vec<(Map<String, Value>, Vec<&Resource>)> = Vec::new();
    for r in &resources {
        let key = group_of(r, &groupby);
        match groups.last_mut() {
            Some((k, members)) if *k == key => members.push(r),
            _ => groups.push((key, vec![r])),
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (key, members) in groups {
        let matched = matching(&members, &refs);
        if matched.is_empty() {
            continue;
        }
        let inner = if history {
            let h = History {
                members: &members,
                all: &resources,
            };
            match history_points(state, &operation, &h, &refs, &cat, window).await? {
                Some(points) => format!("{{\"aggregated\": {}}}", points_json(&points)),
                None => continue,
            }
        } else {
            let (measures, columns) =
                evaluate_matched(state, &operation, &matched, &cat, window).await?;
            measures_json(&measures, &columns)
        };
        let references = params.details.then(|| referenced(&matched));
        out.push(format!(
            "{{\"group\": {}, \"measures\": {}}}",
            crate::pyjson::to_string(&Value::Object(key)),
            response_text(&inner, references.as_deref())
        ));
    }
    if out.is_empty() {
        return Err(no_metric(&refs));
    }
    Ok(json_text(format!("[{}]", out.join(", "))))
}

fn to_ns(d: chrono::DateTime<chrono::Utc>) -> i64 {
    d.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The revisions of one group, and every revision found (to know each resource's first).
struct History<'a> {
    members: &'a [&'a Resource],
    all: &'a [Resource],
}

/// `use_history=true` for one group (engine.md §6.6 steps 2–5): each revision evaluated over
/// its window, scaled by the usage coefficient, concatenated, equal timestamps summed. `None`
/// when the group has no point.
async fn history_points(
    state: &AppState,
    operation: &Operation,
    history: &History<'_>,
    refs: &[Reference],
    cat: &Catalogue,
    window: &Window,
) -> Result<Option<Vec<OutputPoint>>, ApiError> {
    let mut ordered: Vec<&Resource> = history.members.to_vec();
    ordered.sort_by_key(|r| (r.id, r.revision_start));
    let mut points = Vec::new();
    for r in ordered {
        let first = !history
            .all
            .iter()
            .any(|o| o.id == r.id && o.revision_start < r.revision_start);
        // The first revision begins at `start`; later ones at their revision start, raised to
        // `start`.
        let lo = if first {
            window.start_ns
        } else {
            let rs = to_ns(r.revision_start);
            Some(window.start_ns.map_or(rs, |s| s.max(rs)))
        };
        let hi = match (r.revision_end.map(to_ns), window.stop_ns) {
            (Some(e), Some(s)) => Some(e.min(s)),
            (e, s) => e.or(s),
        };
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo >= hi {
                continue;
            }
        }
        let matched = matching(&[r], refs);
        if matched.is_empty() {
            continue;
        }
        let rev_window = Window {
            start_ns: lo,
            stop_ns: hi,
            ..*window
        };
        let (measures, _) = evaluate_matched(state, operation, &matched, cat, &rev_window).await?;
        let Measures::Aggregated(mut rev_points) = measures else {
            return Err(ApiError::bad_request(
                "use_history requires operations that aggregate the series (e.g. \
                 '(aggregate mean (metric ...))')",
            ));
        };
        apply_usage_coefficient(&mut rev_points, lo, hi);
        points.extend(rev_points);
    }
    let points = merge_consecutive_timestamps(points);
    Ok((!points.is_empty()).then_some(points))
}

//! `POST /v1/search/metric` (shared/spec/api.md §10.6): the aggregate values of some metrics
//! that satisfy a predicate.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_core::time::{format_timestamp, parse_timespan_positive, parse_timestamp, TimeInput};
use gnocchi_core::AggregationMethod;
use gnocchi_storage::{read_measures, MeasuresQuery};
use serde_json::{json, Map, Value};

use super::metric::describe;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;
use crate::resource_id::parse_uuid;
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/search/metric", "POST").route(web::post().to(search)));
}

/// A binary operator of the metric query language.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Mod,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl Op {
    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "=" | "==" | "eq" => Op::Eq,
            "!=" | "≠" | "ne" => Op::Ne,
            "<" | "lt" => Op::Lt,
            "<=" | "≤" | "le" => Op::Le,
            ">" | "gt" => Op::Gt,
            ">=" | "≥" | "ge" => Op::Ge,
            "%" | "mod" => Op::Mod,
            "+" | "add" => Op::Add,
            "-" | "sub" => Op::Sub,
            "*" | "×" | "mul" => Op::Mul,
            "/" | "÷" | "div" => Op::Div,
            "**" | "^" | "pow" => Op::Pow,
            _ => return None,
        })
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        let t = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            Op::Eq => t(a == b),
            Op::Ne => t(a != b),
            Op::Lt => t(a < b),
            Op::Le => t(a <= b),
            Op::Gt => t(a > b),
            Op::Ge => t(a >= b),
            // Python's modulo takes the sign of the divisor.
            Op::Mod => a - b * (a / b).floor(),
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Pow => a.powf(b),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Number(f64),
    Query(Box<MQuery>),
}

#[derive(Debug, Clone, PartialEq)]
enum MQuery {
    /// `{op: x}` (one operand, applied to the value) or `{op: [a, b]}`.
    Binary(Op, Vec<Operand>),
    And(Vec<MQuery>),
    Or(Vec<MQuery>),
    /// Passes validation, fails evaluation (§10.6).
    Not,
}

fn operand(v: &Value, path: &Path) -> Result<Operand, Invalid> {
    match v {
        Value::Number(n) => Ok(Operand::Number(n.as_f64().unwrap_or(f64::NAN))),
        Value::Object(_) => Ok(Operand::Query(Box::new(mquery(v, path)?))),
        _ => Err(Invalid::value("expected Real", path)),
    }
}

fn mquery(v: &Value, path: &Path) -> Result<MQuery, Invalid> {
    let m = validate::object(v, path)?;
    if m.len() != 1 {
        let why = if m.is_empty() { "at least" } else { "at most" };
        return Err(Invalid::value(
            format!("length of value must be {why} 1"),
            path,
        ));
    }
    let Some((k, v)) = m.iter().next() else {
        return Err(Invalid::value("length of value must be at least 1", path));
    };
    let p = path.key(k);
    match k.as_str() {
        "and" | "or" | "∧" | "∨" => {
            let items = validate::list(v, &p)?;
            if items.is_empty() {
                return Err(Invalid::value("length of value must be at least 1", &p));
            }
            let subs = items
                .iter()
                .enumerate()
                .map(|(i, item)| mquery(item, &p.index(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if k == "and" || k == "∧" {
                MQuery::And(subs)
            } else {
                MQuery::Or(subs)
            })
        }
        "not" => {
            mquery(v, &p)?;
            Ok(MQuery::Not)
        }
        name => {
            let op = Op::from_name(name).ok_or_else(|| Invalid::key("not a valid value", &p))?;
            let operands = match v {
                Value::Array(items) => {
                    if items.len() != 2 {
                        return Err(Invalid::value("length of value must be exactly 2", &p));
                    }
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| operand(item, &p.index(i)))
                        .collect::<Result<Vec<_>, _>>()?
                }
                v => vec![operand(v, &p)?],
            };
            Ok(MQuery::Binary(op, operands))
        }
    }
}

fn eval_operand(o: &Operand, v: f64) -> Result<f64, ApiError> {
    match o {
        Operand::Number(n) => Ok(*n),
        Operand::Query(q) => eval(q, v),
    }
}

fn eval(q: &MQuery, v: f64) -> Result<f64, ApiError> {
    let truthy = |x: f64| x != 0.0 && !x.is_nan();
    Ok(match q {
        MQuery::Binary(op, operands) => match operands.as_slice() {
            [x] => op.apply(v, eval_operand(x, v)?),
            [a, b] => op.apply(eval_operand(a, v)?, eval_operand(b, v)?),
            _ => return Err(ApiError::bad_request("Invalid query")),
        },
        MQuery::And(subs) => {
            let mut all = true;
            for s in subs {
                all &= truthy(eval(s, v)?);
            }
            f64::from(u8::from(all))
        }
        MQuery::Or(subs) => {
            let mut any = false;
            for s in subs {
                any |= truthy(eval(s, v)?);
            }
            f64::from(u8::from(any))
        }
        MQuery::Not => return Err(ApiError::bad_request("Unknown operator not")),
    })
}

async fn search(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let query = Query::of(&req);
    let mut loaded = Vec::new();
    for id in query.all("metric_id") {
        let uuid = parse_uuid(id).ok_or_else(|| {
            ApiError::argument_value("metric_id", "badly formed hexadecimal UUID string")
        })?;
        // §10.6: unknown metrics are left out.
        match state.indexer.metric(uuid).await {
            Ok(m) => loaded.push(describe(&state, m).await?),
            Err(gnocchi_indexer::Error::MetricNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for l in &loaded {
        caller.enforce("search metric", &l.detail)?;
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("No query specified in body"));
    }
    let q = mquery(&body::decode(&payload)?, &Path::root())?;
    // Gnocchi builds the predicate before reading any point: `not` fails even without data.
    eval(&q, 0.0)?;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let instant = |name: &str| -> Result<Option<i64>, ApiError> {
        query
            .first(name)
            .map(|v| {
                parse_timestamp(&TimeInput::Text(v), now)
                    .map_err(|_| ApiError::bad_request(format!("Invalid value for {name}")))
            })
            .transpose()
    };
    let start_ns = instant("start")?;
    let stop_ns = instant("stop")?;
    let method_name = query.first("aggregation").unwrap_or("mean");
    let method: AggregationMethod = method_name.parse().map_err(|_| {
        ApiError::argument_value("aggregation", format!("Invalid aggregation {method_name}"))
    })?;
    let granularities = query
        .all("granularity")
        .into_iter()
        .map(|g| {
            parse_timespan_positive(&TimeInput::Text(g))
                .map_err(|e| ApiError::argument_value("granularity", e.to_string()))
        })
        .collect::<Result<Vec<i64>, _>>()?;
    let mut out = Map::new();
    for l in &loaded {
        let mut wanted: Vec<i64> = if granularities.is_empty() {
            l.policy
                .definition
                .iter()
                .map(|d| d.granularity_ns)
                .collect()
        } else {
            granularities.clone()
        };
        wanted.sort_unstable_by(|a, b| b.cmp(a));
        wanted.dedup();
        let mut points = Vec::new();
        for g in wanted {
            let known = l.policy.aggregation_methods.contains(&method)
                && l.policy.definition.iter().any(|d| d.granularity_ns == g);
            if !known {
                return Err(ApiError::object(
                    StatusCode::BAD_REQUEST,
                    "Aggregation does not exist",
                    None,
                    Some(json!({
                        "granularity": g as f64 / 1e9,
                        "aggregation_method": method_name,
                    })),
                ));
            }
            let mq = MeasuresQuery {
                granularity_ns: Some(g),
                start_ns,
                stop_ns,
                ..MeasuresQuery::new(method)
            };
            for p in read_measures(state.storage.as_ref(), &l.policy, l.metric.id, &mq).await? {
                let keep = eval(&q, p.value)?;
                if keep != 0.0 && !keep.is_nan() {
                    points.push(json!([
                        format_timestamp(p.timestamp_ns),
                        p.granularity_ns as f64 / 1e9,
                        p.value
                    ]));
                }
            }
        }
        out.insert(l.metric.id.to_string(), Value::Array(points));
    }
    Ok(crate::routes::json_response(
        StatusCode::OK,
        &Value::Object(out),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeps(q: Value, v: f64) -> bool {
        let q = mquery(&q, &Path::root()).expect("valid");
        eval(&q, v).expect("evaluates") != 0.0
    }

    #[test]
    fn predicates_evaluate_like_gnocchi() {
        let q = json!({"and": [{">=": [{"+": 23}, 50]}, {"!=": 55}]});
        assert!(keeps(q.clone(), 30.0));
        assert!(!keeps(q.clone(), 55.0));
        assert!(!keeps(q, 20.0));
        assert!(keeps(json!({"∨": [{"=": 1}, {"=": 12}]}), 12.0));
        assert!(keeps(json!({"=": [{"%": 5}, 2]}), -3.0));
        let not = mquery(&json!({"not": {"=": 1}}), &Path::root()).expect("valid");
        assert!(eval(&not, 1.0).is_err());
        let e = mquery(&json!({"nope": 1}), &Path::root()).expect_err("invalid");
        assert_eq!(e.reason(), "not a valid value @ data['nope']");
    }
}

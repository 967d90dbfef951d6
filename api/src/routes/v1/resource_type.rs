//! `/v1/resource_type` (shared/spec/api.md §8): create, list, get, JSON-Patch update, delete.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gnocchi_indexer::{AttributeDefinition, AttributeType, AttributeValue, ResourceType};
use serde_json::{Map, Number, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::json_response;
use crate::validate::{self, Invalid, Path};
use crate::{body, AppState};

/// Longest attribute name, in characters.
const MAX_ATTRIBUTE_NAME_CHARS: usize = 63;

/// Names a type attribute cannot take (§8.2).
const RESERVED_NAMES: [&str; 14] = [
    "id",
    "type",
    "metrics",
    "revision",
    "revision_start",
    "revision_end",
    "started_at",
    "ended_at",
    "user_id",
    "project_id",
    "created_by_user_id",
    "created_by_project_id",
    "get_metric",
    "creator",
];

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/resource_type", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        crate::routes::resource("/resource_type/{name}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

/// Percent-encodes a path segment, `/` left as is (§1.11).
pub(crate) fn encode_segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEG: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(s, SEG).to_string()
}

fn number(v: &Value, path: &Path) -> Result<Option<Number>, Invalid> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n.clone())),
        _ => Err(Invalid::value("expected Real", path)),
    }
}

fn length_bound(v: &Value, path: &Path, min: i64) -> Result<u32, Invalid> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| Invalid::value("expected int", path))?;
    if n < min {
        return Err(Invalid::value(
            format!("value must be at least {min}"),
            path,
        ));
    }
    if n > 256 {
        return Err(Invalid::value("value must be at most 256", path));
    }
    u32::try_from(n).map_err(|_| Invalid::value("expected int", path))
}

/// An attribute definition, with its raw `options.fill` when `with_options`.
struct Parsed {
    definition: AttributeDefinition,
    fill: Option<Value>,
}

fn parse_definition(v: &Value, path: &Path, with_options: bool) -> Result<Parsed, Invalid> {
    let m = validate::object(v, path)?;
    let type_name = match m.get("type") {
        None => return Err(Invalid::key("required key not provided", &path.key("type"))),
        Some(t) => validate::string(t, &path.key("type"))?,
    };
    let allowed: &[&str] = match type_name {
        "string" => &["type", "required", "options", "min_length", "max_length"],
        "number" => &["type", "required", "options", "min", "max"],
        "uuid" | "bool" | "datetime" => &["type", "required", "options"],
        _ => return Err(Invalid::value("not a valid value", &path.key("type"))),
    };
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) || (k == "options" && !with_options) {
            return Err(Invalid::key("extra keys not allowed", &path.key(k)));
        }
    }
    let required = match m.get("required") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Invalid::value("expected bool", &path.key("required"))),
    };
    let bounds_error = |min: String, max: String| {
        Invalid::key(
            format!(
                "Resource attribute value min (or min_length) {min} must be less  than or equal \
                 to max (or max_length) {max}!"
            ),
            &Path::root(),
        )
    };
    let attribute_type = match type_name {
        "string" => {
            let min_length = match m.get("min_length") {
                None => 0,
                Some(v) => length_bound(v, &path.key("min_length"), 0)?,
            };
            let max_length = match m.get("max_length") {
                None => 256,
                Some(v) => length_bound(v, &path.key("max_length"), 1)?,
            };
            if min_length > max_length {
                return Err(bounds_error(min_length.to_string(), max_length.to_string()));
            }
            AttributeType::String {
                min_length,
                max_length,
            }
        }
        "number" => {
            let min = match m.get("min") {
                None => None,
                Some(v) => number(v, &path.key("min"))?,
            };
            let max = match m.get("max") {
                None => None,
                Some(v) => number(v, &path.key("max"))?,
            };
            if let (Some(a), Some(b)) = (&min, &max) {
                if a.as_f64() > b.as_f64() {
                    return Err(bounds_error(a.to_string(), b.to_string()));
                }
            }
            AttributeType::Number { min, max }
        }
        "uuid" => AttributeType::Uuid,
        "bool" => AttributeType::Bool,
        _ => AttributeType::Datetime,
    };
    let fill = match m.get("options") {
        None => None,
        Some(o) => {
            let op = path.key("options");
            let o = validate::object(o, &op)?;
            if let Some(k) = o.keys().find(|k| k.as_str() != "fill") {
                return Err(Invalid::key("extra keys not allowed", &op.key(k)));
            }
            o.get("fill").cloned()
        }
    };
    Ok(Parsed {
        definition: AttributeDefinition {
            attribute_type,
            required,
            fill: None,
        },
        fill,
    })
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = name.chars().count() <= MAX_ATTRIBUTE_NAME_CHARS
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && !RESERVED_NAMES.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid input: Resource attribute name {name} is invalid"
        )))
    }
}

/// The message of a value rejected by an attribute (§8.2).
pub(crate) fn value_message(e: &gnocchi_indexer::AttributeValueError) -> String {
    use gnocchi_indexer::AttributeValueError as E;
    match e {
        E::ExpectedStr => "expected str".into(),
        E::TooShort(n) => format!("length of value must be at least {n}"),
        E::TooLong(n) => format!("length of value must be at most {n}"),
        E::BadUuid => "badly formed hexadecimal UUID string".into(),
        E::ExpectedReal => "expected Real".into(),
        E::BelowMin(n) => format!("value must be at least {n}"),
        E::AboveMax(n) => format!("value must be at most {n}"),
        E::ExpectedBool => "expected bool".into(),
        E::BadTimestamp => "not a valid value".into(),
    }
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Builds `fill` of an added or modified attribute (§8.5).
fn fill_of(name: &str, parsed: &Parsed) -> Result<Option<AttributeValue>, ApiError> {
    let bad = |why: String| {
        ApiError::bad_request(format!(
            "Invalid input: Option 'fill' of resource attribute {name} is invalid: {why}"
        ))
    };
    match &parsed.fill {
        None | Some(Value::Null) => {
            if parsed.definition.required {
                Err(bad("must not be empty if required=True".into()))
            } else {
                Ok(None)
            }
        }
        Some(v) => AttributeValue::from_json(&parsed.definition.attribute_type, v, now_ns())
            .map(Some)
            .map_err(|e| bad(value_message(&e))),
    }
}

fn created(req: &HttpRequest, t: &ResourceType) -> HttpResponse {
    let path = format!("/v1/resource_type/{}", encode_segment(&t.name));
    crate::routes::created(req, &path, &t.to_json())
}

async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = body::json(&req, &payload)?;
    let root = Path::root();
    let m = validate::object(&body, &root)?;
    let mut name = None;
    let mut attributes = BTreeMap::new();
    for (k, v) in m {
        let p = root.key(k);
        match k.as_str() {
            "name" => name = Some(validate::string(v, &p)?.to_owned()),
            "attributes" => {
                for (an, def) in validate::object(v, &p)? {
                    let parsed = parse_definition(def, &p.key(an), false)?;
                    attributes.insert(an.clone(), parsed.definition);
                }
            }
            _ => return Err(Invalid::key("extra keys not allowed", &p).into()),
        }
    }
    let name = name.ok_or_else(|| Invalid::key("required key not provided", &root.key("name")))?;
    for an in attributes.keys() {
        check_name(an)?;
    }
    caller.enforce("create resource type", &body)?;
    let t = state
        .indexer
        .create_resource_type(&name, &attributes)
        .await?;
    Ok(created(&req, &t))
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.enforce("list resource type", &Value::Object(Map::new()))?;
    let types: Vec<Value> = state
        .indexer
        .list_resource_types()
        .await?
        .iter()
        .map(ResourceType::to_json)
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(types)))
}

async fn get(
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let t = state.indexer.resource_type(&name).await?;
    let v = t.to_json();
    caller.enforce("get resource type", &v)?;
    Ok(json_response(StatusCode::OK, &v))
}

async fn delete(
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let t = state.indexer.resource_type(&name).await?;
    caller.enforce("delete resource type", &t.to_json())?;
    state.indexer.delete_resource_type(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A validated JSON-Patch operation (§8.5: `add` and `remove` under `/attributes`).
struct PatchOp {
    add: Option<Value>,
    path: Vec<String>,
}

fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, Invalid> {
    let root = Path::root();
    let items = validate::list(body, &root)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = root.index(i);
        let m = validate::object(item, &p)?;
        let mut op = None;
        let mut path = None;
        let mut value = None;
        for (k, v) in m {
            let kp = p.key(k);
            match k.as_str() {
                "op" => match v.as_str() {
                    Some(o @ ("add" | "remove")) => op = Some(o),
                    _ => return Err(Invalid::value("not a valid value", &kp)),
                },
                "path" => match v.as_str() {
                    Some(s) if s.starts_with("/attributes") => path = Some(s),
                    _ => return Err(Invalid::value("not a valid value", &kp)),
                },
                "value" => value = Some(v),
                _ => return Err(Invalid::key("extra keys not allowed", &kp)),
            }
        }
        let op = op.ok_or_else(|| Invalid::key("required key not provided", &p.key("op")))?;
        let path = path.ok_or_else(|| Invalid::key("required key not provided", &p.key("path")))?;
        let segments: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let add = if op == "add" {
            let v =
                value.ok_or_else(|| Invalid::key("required key not provided", &p.key("value")))?;
            Some(v.clone())
        } else {
            None
        };
        out.push(PatchOp {
            add,
            path: segments,
        });
    }
    Ok(out)
}

/// Applies one operation to the representation (RFC 6902 `add` / `remove` on objects).
fn apply(doc: &mut Value, op: &PatchOp) -> Result<(), ApiError> {
    let Some((last, parents)) = op.path.split_last() else {
        return Err(ApiError::bad_request("Invalid JSON patch path"));
    };
    let mut cur = &mut *doc;
    for seg in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(seg),
            _ => None,
        }
        .ok_or_else(|| ApiError::bad_request(format!("can't resolve path member '{seg}'")))?;
    }
    let Value::Object(m) = cur else {
        return Err(ApiError::bad_request(format!(
            "can't resolve path member '{last}'"
        )));
    };
    match &op.add {
        Some(v) => {
            m.insert(last.clone(), v.clone());
        }
        None => {
            if m.shift_remove(last).is_none() {
                return Err(ApiError::bad_request(format!(
                    "can't remove a non-existent object '{last}'"
                )));
            }
        }
    }
    Ok(())
}

async fn patch(
    req: HttpRequest,
    name: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = state.indexer.resource_type(&name).await?;
    let mut doc = t.to_json();
    caller.enforce("update resource type", &doc)?;
    body::require_media_type(&req, "application/json-patch+json")?;
    let ops = parse_patch(&body::decode(&payload)?)?;
    for op in &ops {
        apply(&mut doc, op)?;
    }
    let string_invalid =
        |e: Invalid| ApiError::bad_request(format!("Invalid input: {}", e.reason()));
    let attrs = doc
        .get("attributes")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let root = Path::root().key("attributes");
    let attrs = validate::object(&attrs, &root).map_err(string_invalid)?;
    let mut new = BTreeMap::new();
    let mut changed = attrs.len() != t.attributes.len();
    for (an, def) in attrs {
        let parsed = parse_definition(def, &root.key(an), true).map_err(string_invalid)?;
        check_name(an)?;
        let mut definition = parsed.definition.clone();
        match t.attributes.get(an) {
            Some(old) if *old == definition && parsed.fill.is_none() => {}
            Some(old) => {
                if old.attribute_type.name() != definition.attribute_type.name() {
                    return Err(ApiError::bad_request(format!(
                        "Type update is not available yet. Changing {} to {} for attribute {an} \
                         of resource {}",
                        old.attribute_type.name(),
                        definition.attribute_type.name(),
                        t.name
                    )));
                }
                if *old != definition {
                    changed = true;
                    definition.fill = fill_of(an, &parsed)?;
                }
            }
            None => {
                changed = true;
                definition.fill = fill_of(an, &parsed)?;
            }
        }
        new.insert(an.clone(), definition);
    }
    if !changed {
        return Ok(json_response(StatusCode::OK, &t.to_json()));
    }
    let updated = state.indexer.update_resource_type(&t.name, &new).await?;
    Ok(json_response(StatusCode::OK, &updated.to_json()))
}

//! The one API error type and its rendering (shared/spec/api.md §1.5, Appendix A).
//!
//! Handlers return [`ApiError`]; actix's `ResponseError` cannot see the request, so
//! [`render_errors`] (a middleware) re-renders every error response as JSON or plain text
//! according to the request's `Accept` header. Domain errors reach `ApiError` through the
//! exhaustive conversions at the bottom of this file; Gnocchi's message texts are built here.

use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::negotiate::{self, ErrorFormat};
use crate::pyjson;

/// What a client reads in `description`.
#[derive(Debug, Clone, PartialEq)]
pub enum Description {
    /// `""`: the status explanation carries the meaning (bare 401/403, routing 404/405).
    Empty,
    /// A message string.
    Text(String),
    /// An object with a `cause` and optional `reason` and `detail`.
    Object {
        /// Short category, e.g. `Invalid input`.
        cause: String,
        /// Human message.
        reason: Option<String>,
        /// What is at fault: a string, a path list or an object.
        detail: Option<Value>,
    },
}

impl Description {
    fn to_json(&self) -> Value {
        match self {
            Description::Empty => Value::String(String::new()),
            Description::Text(t) => Value::String(t.clone()),
            Description::Object {
                cause,
                reason,
                detail,
            } => {
                let mut m = serde_json::Map::new();
                m.insert("cause".into(), Value::String(cause.clone()));
                if let Some(r) = reason {
                    m.insert("reason".into(), Value::String(r.clone()));
                }
                if let Some(d) = detail {
                    m.insert("detail".into(), d.clone());
                }
                Value::Object(m)
            }
        }
    }

    /// The detail paragraph of the plain-text body.
    fn to_plain(&self) -> String {
        match self {
            Description::Empty => String::new(),
            Description::Text(t) => t.clone(),
            Description::Object { .. } => pyjson::python_repr(&self.to_json()),
        }
    }
}

/// An error answered to a client: a status and a description.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: errors travel in every `Result` of the crate and should stay small.
    description: Box<Description>,
    /// The internal cause of a 5xx, logged once and never shown.
    source: Option<Box<str>>,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
}

impl ApiError {
    /// Builds an error from its parts.
    pub fn new(status: StatusCode, description: Description) -> Self {
        Self {
            status,
            description: Box::new(description),
            source: None,
            allow: None,
        }
    }

    /// 405 with the methods the resource supports.
    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        let mut e = Self::new(StatusCode::METHOD_NOT_ALLOWED, Description::Empty);
        e.allow = Some(allow);
        e
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The description answered.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Changes the status, for errors whose code depends on the endpoint (an unknown archive
    /// policy is 404 on GET and 400 on metric creation).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    fn text(status: StatusCode, msg: impl Into<String>) -> Self {
        Self::new(status, Description::Text(msg.into()))
    }

    /// 400 with a message string.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::text(StatusCode::BAD_REQUEST, msg)
    }

    /// 404 with a message string.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::text(StatusCode::NOT_FOUND, msg)
    }

    /// 409 with a message string.
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::text(StatusCode::CONFLICT, msg)
    }

    /// 503 with a message string.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::text(StatusCode::SERVICE_UNAVAILABLE, msg)
    }

    /// A bare 401 (basic mode: missing or malformed credentials).
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, Description::Empty)
    }

    /// 403 with a message string (`Insufficient privileges`, §2.6).
    pub(crate) fn forbidden_with(msg: impl Into<String>) -> Self {
        Self::text(StatusCode::FORBIDDEN, msg)
    }

    /// A bare 403 (a failed policy check).
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, Description::Empty)
    }

    /// An error whose description is an object.
    pub fn object(
        status: StatusCode,
        cause: impl Into<String>,
        reason: Option<String>,
        detail: Option<Value>,
    ) -> Self {
        Self::new(
            status,
            Description::Object {
                cause: cause.into(),
                reason,
                detail,
            },
        )
    }

    /// 400 `Invalid input` with a voluptuous-style reason and the path of the culprit.
    pub fn invalid_input(reason: impl Into<String>, detail: Vec<String>) -> Self {
        Self::object(
            StatusCode::BAD_REQUEST,
            "Invalid input",
            Some(reason.into()),
            Some(Value::Array(
                detail.into_iter().map(Value::String).collect(),
            )),
        )
    }

    /// 400 `Argument value error` about one query parameter.
    pub fn argument_value(param: &str, reason: impl Into<String>) -> Self {
        Self::object(
            StatusCode::BAD_REQUEST,
            "Argument value error",
            Some(reason.into()),
            Some(Value::String(param.to_owned())),
        )
    }

    /// 400 `Unable to decode body`.
    pub fn undecodable_body(reason: impl Into<String>) -> Self {
        Self::object(
            StatusCode::BAD_REQUEST,
            "Unable to decode body",
            Some(reason.into()),
            Some(json!([])),
        )
    }

    /// A 500 whose cause is logged, never shown.
    pub fn internal(source: impl fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            description: Box::new(Description::Empty),
            source: Some(source.to_string().into()),
            allow: None,
        }
    }

    /// A 503 naming the unreachable component (`indexer`, `storage`); its cause is logged,
    /// never shown.
    pub fn backend_unavailable(component: &str, source: impl fmt::Display) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            description: Box::new(Description::Text(format!(
                "The {component} is unavailable, please try again later"
            ))),
            source: Some(source.to_string().into()),
            allow: None,
        }
    }

    /// 413: the body exceeds `[api] max_request_body_size`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than {limit} bytes ([api] max_request_body_size)"),
        )
    }

    /// Builds the error for a response actix produced without an `ApiError` (routing 404/405,
    /// extractor failures).
    fn from_status(status: StatusCode, limit: usize) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::payload_too_large(limit)
        } else {
            Self::new(status, Description::Empty)
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.status.as_u16(),
            self.description.to_plain()
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// A JSON rendering; [`render_errors`] replaces it with the negotiated one.
    fn error_response(&self) -> HttpResponse {
        render(self, &RenderContext::default())
    }
}

/// Request facts some explanations quote (§1.5 table).
#[derive(Default)]
struct RenderContext {
    format: ErrorFormat,
    method: Option<Method>,
    accept: Option<String>,
    content_type: Option<String>,
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

fn explanation(status: StatusCode, ctx: &RenderContext) -> String {
    let method = ctx.method.as_ref().map(Method::as_str).unwrap_or("");
    match status.as_u16() {
        400 => "The server could not comply with the request since it is either malformed or \
                otherwise incorrect."
            .into(),
        401 => "This server could not verify that you are authorized to access the document \
                you requested.  Either you supplied the wrong credentials (e.g., bad password), \
                or your browser does not understand how to supply the credentials required."
            .into(),
        403 => "Access was denied to this resource.".into(),
        404 => "The resource could not be found.".into(),
        405 => format!("The method {method} is not allowed for this resource."),
        406 => format!(
            "The resource could not be generated that was acceptable to your browser (content \
             of type {}.",
            ctx.accept.as_deref().unwrap_or("")
        ),
        409 => "There was a conflict when trying to complete your request.".into(),
        412 => "Request precondition failed.".into(),
        413 => "The request is larger than the server is willing or able to process.".into(),
        415 => format!(
            "The request media type {} is not supported by this server.",
            ctx.content_type.as_deref().unwrap_or("")
        ),
        501 => format!("The request method {method} is not implemented for this server."),
        503 => "The server is currently unavailable. Please try again at a later time.".into(),
        _ => "The server has either erred or is incapable of performing the requested \
              operation."
            .into(),
    }
}

fn render(err: &ApiError, ctx: &RenderContext) -> HttpResponse {
    let status = err.status;
    let mut builder = HttpResponse::build(status);
    match ctx.format {
        ErrorFormat::Json => {
            let body = json!({
                "code": status.as_u16(),
                "title": title(status),
                "description": err.description.to_json(),
            });
            builder
                .content_type("application/json")
                .body(pyjson::to_string(&body))
        }
        ErrorFormat::Plain => {
            let body = format!(
                "{} {}\n\n{} \n\n {}  ",
                status.as_u16(),
                title(status),
                explanation(status, ctx),
                err.description.to_plain()
            );
            builder.content_type("text/plain; charset=UTF-8").body(body)
        }
    }
}

/// Middleware: renders every error response (handler errors, extractor failures, routing
/// 404/405) in Gnocchi's shape, chosen by `Accept`; logs 5xx causes once.
pub(crate) async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let header_str = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let accept = header_str(header::ACCEPT);
    let ctx = RenderContext {
        format: negotiate::error_format(accept.as_deref()),
        method: Some(req.method().clone()),
        accept,
        content_type: header_str(header::CONTENT_TYPE),
    };
    let limit = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|s| s.settings.max_request_body_size)
        .unwrap_or(0);
    // Inner layers answer errors as responses; an `Err` here (none is known) keeps actix's
    // rendering, since the request is gone.
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body());
    }
    let api = match res.response().error() {
        Some(e) => match e.as_error::<ApiError>() {
            Some(api) => clone_error(api),
            None => ApiError::from_status(status, limit),
        },
        // actix's own routing answers (405 of a resource) carry no error.
        None => ApiError::from_status(status, limit),
    };
    log(&api, res.request());
    let mut rendered = render(&api, &ctx);
    if let Some(allow) = api.allow {
        rendered
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    }
    Ok(res.into_response(rendered))
}

fn clone_error(e: &ApiError) -> ApiError {
    ApiError {
        status: e.status,
        description: e.description.clone(),
        source: e.source.clone(),
        allow: e.allow,
    }
}

fn log(err: &ApiError, req: &actix_web::HttpRequest) {
    if err.status.is_server_error() {
        tracing::error!(
            status = err.status.as_u16(),
            method = %req.method(),
            path = req.path(),
            cause = err.source.as_deref().unwrap_or("none"),
            "Request failed."
        );
    } else {
        tracing::debug!(
            status = err.status.as_u16(),
            method = %req.method(),
            path = req.path(),
            description = %err.description.to_plain(),
            "Request rejected."
        );
    }
}

impl From<gnocchi_indexer::Error> for ApiError {
    fn from(e: gnocchi_indexer::Error) -> Self {
        use gnocchi_core::time::format_seconds_float;
        use gnocchi_indexer::Error as E;
        match e {
            E::ArchivePolicyNotFound { name } => {
                Self::not_found(format!("Archive policy {name} does not exist"))
            }
            E::ArchivePolicyExists { name } => {
                Self::conflict(format!("Archive policy {name} already exists"))
            }
            E::ArchivePolicyInUse { name } => {
                Self::bad_request(format!("Archive policy {name} is still in use"))
            }
            E::ArchivePolicyGranularitiesAddedOrDropped { name } => Self::bad_request(format!(
                "Archive policy {name} does not support change: Cannot add or drop granularities"
            )),
            E::ArchivePolicyGranularityChanged {
                name,
                granularity_ns,
            } => Self::bad_request(format!(
                "Archive policy {name} does not support change: {} granularity interval was \
                 changed",
                format_seconds_float(granularity_ns)
            )),
            E::ArchivePolicyRuleNotFound { name } => {
                Self::not_found(format!("Archive policy rule {name} does not exist"))
            }
            E::ArchivePolicyRuleExists { name } => {
                Self::conflict(format!("Archive policy rule {name} already exists"))
            }
            E::ArchivePolicyRuleRenameExists { name, new_name } => Self::bad_request(format!(
                "Archive policy rule {name} does not support change: Archive policy rule \
                 {new_name} already exists."
            )),
            E::MetricNotFound { id } => Self::not_found(format!("Metric {id} does not exist")),
            E::MetricExists { id } => Self::conflict(format!("Metric {id} already exists")),
            E::NamedMetricExists { name, .. } => {
                Self::conflict(format!("Named metric {name} already exists"))
            }
            E::ResourceNotFound { id } => Self::not_found(format!("Resource {id} does not exist")),
            E::ResourceExists { id } => Self::conflict(format!("Resource {id} already exists")),
            E::ResourceTypeNotFound { name } => {
                Self::not_found(format!("Resource type {name} does not exist"))
            }
            E::ResourceTypeExists { name } => {
                Self::conflict(format!("Resource type {name} already exists"))
            }
            E::ResourceTypeInUse { name } => {
                Self::bad_request(format!("Resource type {name} is still in use"))
            }
            E::ResourceTypeNotActive { name, state } => Self::bad_request(format!(
                "Resource type {name} state is {} (expected: active)",
                state.as_str()
            )),
            E::InvalidAttributeName { name } => Self::bad_request(format!(
                "Invalid input: Resource attribute name {name} is invalid"
            )),
            E::AttributeTypeChange {
                type_name,
                attribute,
                old,
                new,
            } => Self::bad_request(format!(
                "Type update is not available yet. Changing {old} to {new} for attribute \
                 {attribute} of resource {type_name}"
            )),
            E::MissingFill { attribute } => Self::bad_request(format!(
                "Invalid input: Option 'fill' of resource attribute {attribute} is invalid: \
                 must not be empty if required=True"
            )),
            E::UnknownAttribute {
                type_name,
                attribute,
            } => Self::bad_request(format!(
                "Resource type {type_name} has no {attribute} attribute"
            )),
            E::InvalidAttributeValue { attribute, .. } => Self::invalid_input(
                format!("not a valid value for dictionary value @ data['{attribute}']"),
                vec![attribute],
            ),
            E::MissingRequiredAttribute { attribute, .. } => Self::invalid_input(
                format!("required key not provided @ data['{attribute}']"),
                vec![attribute],
            ),
            E::StartAfterEnd => Self::bad_request("Start timestamp cannot be after end timestamp"),
            E::InvalidEndedAt {
                type_name,
                ended_at,
            } => Self::bad_request(format!(
                "Value {} for attribute ended_at on resource type {type_name} is invalid",
                gnocchi_core::time::format_datetime(
                    ended_at.timestamp_nanos_opt().unwrap_or(i64::MAX)
                )
            )),
            E::InvalidFilterValue { field, value } => {
                let shown = match &value {
                    Value::String(s) => s.clone(),
                    other => crate::pyjson::python_repr(other),
                };
                Self::bad_request(format!("Invalid value: `{shown}' for field `{field}'"))
            }
            E::InvalidSortKey { key } => Self::bad_request(format!(
                "Invalid pagination: `Sort key supplied is invalid: {key}'"
            )),
            E::InvalidSortDirection { .. } => Self::bad_request(
                "Invalid pagination: `Unknown sort direction, must be one of: asc-nullsfirst, \
                 asc-nullslast, desc-nullsfirst, desc-nullslast'",
            ),
            E::InvalidMarker { marker } => {
                Self::bad_request(format!("Invalid pagination: `Invalid marker: `{marker}''"))
            }
            e @ E::Connect { .. } => Self::backend_unavailable("indexer", error_chain(&e)),
            // A lost connection or an exhausted pool is an outage, not a fault of ours.
            e @ E::Query { .. } if e.is_retryable() => {
                Self::backend_unavailable("indexer", error_chain(&e))
            }
            e @ (E::InvalidUrl { .. }
            | E::UnsupportedScheme { .. }
            | E::Migrate { .. }
            | E::Query { .. }
            | E::CorruptRow { .. }) => Self::internal(error_chain(&e)),
        }
    }
}

impl From<gnocchi_storage::Error> for ApiError {
    fn from(e: gnocchi_storage::Error) -> Self {
        use gnocchi_core::time::format_seconds_float;
        use gnocchi_storage::Error as E;
        match e {
            E::AggregationMethodNotInPolicy { metric, method } => {
                Self::aggregation_not_found(&metric.to_string(), &method.to_string())
            }
            E::GranularityNotInPolicy {
                metric,
                method,
                granularity_ns,
            } => Self::not_found(format!(
                "Aggregation method '{method}' at granularity '{}' for metric {metric} does not \
                 exist",
                format_seconds_float(granularity_ns)
            )),
            E::ResampleWithoutGranularity => {
                Self::bad_request("A granularity must be specified to resample")
            }
            E::NonPositiveResample { .. } => Self::bad_request("Timespan must be positive"),
            E::CalendarRateResample { method } => Self::bad_request(format!(
                "Aggregation method '{method}' cannot be resampled to a calendar period"
            )),
            e @ (E::Io { .. } | E::Database { .. } | E::NotInitialised { .. }) => {
                Self::backend_unavailable("storage", error_chain(&e))
            }
            e @ (E::CorruptConfig { .. }
            | E::InvalidLayout { .. }
            | E::SackOutOfRange { .. }
            | E::BlockingTask { .. }) => Self::internal(error_chain(&e)),
        }
    }
}

impl ApiError {
    /// 404 `Aggregation method does not exist for this metric` (§6.7 step 4).
    pub(crate) fn aggregation_not_found(metric: &str, method: &str) -> Self {
        Self::object(
            StatusCode::NOT_FOUND,
            "Aggregation method does not exist for this metric",
            None,
            Some(json!({"metric": metric, "aggregation_method": method})),
        )
    }
}

/// The error and its sources, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(res: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes_limited(res.into_body(), 1 << 20);
        let bytes = futures_util::FutureExt::now_or_never(bytes)
            .expect("an in-memory body is ready")
            .expect("within the limit")
            .expect("readable");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    fn plain() -> RenderContext {
        RenderContext {
            format: ErrorFormat::Plain,
            method: Some(Method::POST),
            accept: None,
            content_type: Some("text/plain".into()),
        }
    }

    #[test]
    fn plain_text_has_status_explanation_and_detail() {
        let e = ApiError::invalid_input(
            "extra keys not allowed @ data['cowsay']",
            vec!["cowsay".into()],
        );
        let text = body_of(render(&e, &plain()));
        assert!(text.starts_with("400 Bad Request\n\n"), "{text}");
        assert!(text.contains("The server could not comply with the request"));
        assert!(text.contains("'cause': 'Invalid input'"), "{text}");
        assert!(
            text.contains("extra keys not allowed @ data['cowsay']"),
            "{text}"
        );
        let e = ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, Description::Empty);
        let text = body_of(render(&e, &plain()));
        assert!(text.contains("The request media type text/plain is not supported"));
    }

    #[test]
    fn json_wraps_code_title_description() {
        let e = ApiError::conflict("Archive policy large already exists");
        let text = body_of(render(&e, &RenderContext::default()));
        assert_eq!(
            text,
            r#"{"code": 409, "title": "Conflict", "description": "Archive policy large already exists"}"#
        );
    }

    #[test]
    fn server_errors_say_nothing_internal() {
        let e = ApiError::internal("SELECT * FROM secret failed at /var/lib/gnocchi");
        let text = body_of(render(&e, &RenderContext::default()));
        assert_eq!(
            text,
            r#"{"code": 500, "title": "Internal Server Error", "description": ""}"#
        );
        let text = body_of(render(&e, &plain()));
        assert!(!text.contains("secret"), "{text}");
        let e: ApiError = gnocchi_storage::Error::ResampleWithoutGranularity.into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}

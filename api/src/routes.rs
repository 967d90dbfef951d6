//! The route table (shared/spec/api.md §0.1).

mod root;
pub(crate) mod v1;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::negotiate;

/// Registers `/`, `/healthcheck` and the `/v1` tree.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    root::configure(cfg);
    cfg.service(
        web::scope("/v1")
            .wrap(actix_web::middleware::from_fn(negotiate::require_json))
            .configure(v1::configure),
    );
}

/// The default service: 404 for unknown paths.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        crate::error::Description::Empty,
    ))
}

/// A JSON response with Python's formatting.
pub(crate) fn json_response(
    status: actix_web::http::StatusCode,
    v: &serde_json::Value,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(crate::pyjson::to_string(v))
}

/// 201 with `repr` and `Location: <base URL><path>`; `path` starts with `/v1/` and is encoded.
pub(crate) fn created(req: &HttpRequest, path: &str, repr: &serde_json::Value) -> HttpResponse {
    let mut res = json_response(actix_web::http::StatusCode::CREATED, repr);
    let location = format!("{}{path}", base_url(req));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&location) {
        res.headers_mut()
            .insert(actix_web::http::header::LOCATION, v);
    }
    res
}

/// The request's external base URL (`scheme://host[/prefix]`).
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let proxy = req
        .app_data::<web::Data<crate::AppState>>()
        .is_some_and(|s| s.settings.enable_proxy_headers_parsing);
    crate::proxy::base_url(req, proxy)
}

/// A resource answering 405 with `Allow: <allow>` for the methods it lacks (§1.1).
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::method_not_allowed(allow))
    }))
}

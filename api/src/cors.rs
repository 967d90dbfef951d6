//! CORS around the whole application, as oslo.middleware does it (shared/spec/api.md §1.13).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::settings::CorsSettings;
use crate::AppState;

/// Headers a preflight may always ask for.
const SIMPLE_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "cache-control",
    "content-language",
    "expires",
    "last-modified",
    "pragma",
];

/// The matched `Access-Control-Allow-Origin` value, if `origin` is allowed.
fn allowed_origin(cors: &CorsSettings, origin: &str) -> Option<String> {
    if cors.allowed_origin.iter().any(|o| o == origin) {
        Some(origin.to_owned())
    } else if cors.allowed_origin.iter().any(|o| o == "*") {
        Some("*".to_owned())
    } else {
        None
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn preflight_headers(cors: &CorsSettings, req: &ServiceRequest, origin: &str, out: &mut HeaderMap) {
    let Some(allow_origin) = allowed_origin(cors, origin) else {
        return;
    };
    let header_str = |name: HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(method) = header_str(header::ACCESS_CONTROL_REQUEST_METHOD) else {
        return;
    };
    if !cors
        .allow_methods
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
    {
        return;
    }
    let requested: Vec<&str> = header_str(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|h| {
            h.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let permitted = |h: &str| {
        SIMPLE_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(h))
            || cors.allow_headers.iter().any(|a| a.eq_ignore_ascii_case(h))
    };
    if !requested.iter().all(|h| permitted(h)) {
        return;
    }
    set(out, header::VARY, "Origin");
    set(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allow_origin);
    if cors.allow_credentials {
        set(out, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    if let Some(age) = cors.max_age {
        set(out, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    set(out, header::ACCESS_CONTROL_ALLOW_METHODS, method);
    if !requested.is_empty() {
        set(
            out,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &requested.join(","),
        );
    }
}

/// Middleware: preflight answers and CORS headers on actual requests.
pub(crate) async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let cors = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.cors.clone())
        .unwrap_or_default();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(origin), false) = (origin, cors.allowed_origin.is_empty()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if req.method() == Method::OPTIONS {
        let mut extra = HeaderMap::new();
        preflight_headers(&cors, &req, &origin, &mut extra);
        let res = next.call(req).await?;
        let mut res = if res.status().is_success() {
            res.map_into_boxed_body()
        } else {
            res.into_response(HttpResponse::Ok().finish())
        };
        for (k, v) in extra.iter() {
            res.headers_mut().insert(k.clone(), v.clone());
        }
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(allow_origin) = allowed_origin(&cors, &origin) {
        let headers = res.headers_mut();
        if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            set(headers, header::VARY, "Origin");
            set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allow_origin);
            if cors.allow_credentials {
                set(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
            }
            if !cors.expose_headers.is_empty() {
                set(
                    headers,
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    &cors.expose_headers.join(","),
                );
            }
        }
    }
    Ok(res)
}

//! One root tracing span per request (method, route template, status, request id) and the
//! `X-Openstack-Request-Id` header oslo.middleware adds to every Gnocchi response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The response header naming the request, as oslo.middleware's `request_id` sets it.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-openstack-request-id");

/// Middleware: runs the request inside its span and tags the response with its id.
pub(crate) async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        request_id = %request_id,
    );
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.record(
        "route",
        res.request()
            .match_pattern()
            .as_deref()
            .unwrap_or("unmatched"),
    );
    span.record("status", res.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    Ok(res)
}

//! `GET /` (versions document) and `/healthcheck` (shared/spec/api.md §3.1, §3.5).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{base_url, json_response};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(versions))
        .route("/healthcheck", web::get().to(healthcheck))
        .route("/healthcheck", web::head().to(healthcheck_head));
}

async fn versions(req: HttpRequest) -> HttpResponse {
    let base = base_url(&req);
    json_response(
        StatusCode::OK,
        &json!({
            "build": env!("CARGO_PKG_VERSION"),
            "versions": [{
                "status": "CURRENT",
                "links": [{"rel": "self", "href": format!("{base}/v1/")}],
                "id": "v1.0",
                "updated": "2015-03-19",
            }],
        }),
    )
}

async fn healthcheck(req: HttpRequest) -> HttpResponse {
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        json_response(StatusCode::OK, &json!({"detailed": false, "reasons": []}))
    } else {
        HttpResponse::Ok()
            .content_type("text/plain; charset=UTF-8")
            .body("OK")
    }
}

async fn healthcheck_head() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

//! `GET /` (versions document) and `/healthcheck` (shared/spec/api.md §3.1, §3.5).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(versions))
        .route("/healthcheck", web::get().to(healthcheck))
        .route("/healthcheck", web::head().to(healthcheck));
}

async fn versions(req: HttpRequest) -> HttpResponse {
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    HttpResponse::Ok().json(json!({
        "build": env!("CARGO_PKG_VERSION"),
        "versions": [{
            "id": "v1.0",
            "status": "CURRENT",
            "updated": "2015-03-19",
            "links": [{"href": format!("{base}/v1/"), "rel": "self"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.metric-v1+json"}],
        }],
    }))
}

async fn healthcheck() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

//! Error rendering, negotiation, routing, auth and body limits (shared/spec/api.md §1, §2).

use actix_web::test::TestRequest;
use gnocchi_api::Settings;
use serde_json::json;

use crate::common::{env, env_with, ADMIN, FOOBAR};

#[actix_web::test]
async fn errors_are_plain_text_unless_json_is_preferred() {
    let env = env().await;
    let req = TestRequest::get()
        .uri("/v1/archive_policy/nope")
        .insert_header(("authorization", FOOBAR));
    let r = env.send(req).await;
    assert_eq!(r.status, 404);
    assert!(r
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/plain"));
    assert!(r.text.contains("404 Not Found"), "{}", r.text);
    assert!(r.text.contains("The resource could not be found."));
    assert!(r.text.contains("Archive policy nope does not exist"));

    let r = env.get("/v1/archive_policy/nope", FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": 404, "title": "Not Found",
               "description": "Archive policy nope does not exist"})
    );
}

#[actix_web::test]
async fn not_acceptable_comes_before_everything() {
    let env = env().await;
    for accept in ["text/plain", "text/html"] {
        let req = TestRequest::get()
            .uri("/v1/archive_policy")
            .insert_header(("accept", accept));
        let r = env.send(req).await;
        assert_eq!(r.status, 406);
        assert!(r.text.contains("406 Not Acceptable"), "{}", r.text);
    }
}

#[actix_web::test]
async fn routing_errors_use_the_same_shape() {
    let env = env().await;
    let r = env.get("/nowhere", FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["title"], "Not Found");
    let r = env
        .json("PUT", "/v1/archive_policy", ADMIN, json!({}))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let req = TestRequest::default()
        .method(actix_web::http::Method::HEAD)
        .uri("/v1/archive_policy");
    assert_eq!(env.send(req).await.status, 405);
    let r = env.get("/v1/resource/", FOOBAR).await;
    assert_eq!(
        r.json()["generic"],
        "http://localhost:8080/v1/resource/generic"
    );
    assert_eq!(env.get("/v1/resoue", FOOBAR).await.status, 404);
    // Trailing slashes and empty segments are ignored.
    assert_eq!(env.get("/v1/capabilities/", FOOBAR).await.status, 200);
    assert_eq!(
        env.get("/v1/", FOOBAR).await.json()["links"]
            .as_array()
            .map(Vec::len),
        Some(13)
    );
}

#[actix_web::test]
async fn credentials_are_required_and_checked() {
    let env = env().await;
    let body = json!({"name": "medium", "definition": [{"granularity": "1 second"}]});
    for auth in ["", "basic hello:", "Bearer abc"] {
        let r = env
            .json("POST", "/v1/archive_policy", auth, body.clone())
            .await;
        assert_eq!(r.status, 401, "{auth:?}");
    }
    // 403 before body validation for a non-admin.
    let r = env
        .json(
            "POST",
            "/v1/archive_policy",
            FOOBAR,
            json!({"cowsay": "moo"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["description"], "");
    let req = TestRequest::post()
        .uri("/v1/archive_policy")
        .insert_header(("authorization", FOOBAR))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string());
    let r = env.send(req).await;
    assert!(
        r.text.contains("Access was denied to this resource"),
        "{}",
        r.text
    );
    // 403 before 404 on delete.
    let r = env
        .json("DELETE", "/v1/archive_policy/nope", FOOBAR, json!({}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(env.get("/v1/status", FOOBAR).await.status, 403);
    let r = env.get("/v1/status", ADMIN).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["storage"].as_object().map(|o| o.len()), Some(2));
    let r = env.get("/v1/status?details=False", ADMIN).await;
    assert_eq!(r.json()["storage"].as_object().map(|o| o.len()), Some(1));
    let r = env.get("/v1/status?details=maybe", ADMIN).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["description"]
        .as_str()
        .unwrap_or("")
        .starts_with("Unable to parse `details': Unrecognized value 'maybe'"));
}

#[actix_web::test]
async fn bodies_are_type_checked_and_decoded() {
    let env = env().await;
    let req = TestRequest::post()
        .uri("/v1/archive_policy")
        .insert_header(("authorization", ADMIN))
        .insert_header(("content-type", "text/plain"))
        .set_payload("{}");
    let r = env.send(req).await;
    assert_eq!(r.status, 415);
    assert!(r.text.contains("Unsupported Media Type"));
    let req = TestRequest::post()
        .uri("/v1/archive_policy")
        .insert_header(("authorization", ADMIN))
        .insert_header(("accept", "application/json"))
        .insert_header(("content-type", "application/json; charset=utf-8"))
        .set_payload("{not json");
    let r = env.send(req).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["cause"], "Unable to decode body");
    assert_eq!(r.json()["description"]["detail"], json!([]));
    let r = env
        .json("POST", "/v1/archive_policy", ADMIN, json!([1]))
        .await;
    assert_eq!(r.json()["description"]["reason"], "expected a dictionary");
}

#[actix_web::test]
async fn oversized_bodies_are_413() {
    let settings = Settings {
        max_request_body_size: 64,
        ..Settings::default()
    };
    let env = env_with(settings).await;
    let big = json!({"name": "x".repeat(200), "definition": [{"granularity": 1}]});
    let r = env.json("POST", "/v1/archive_policy", ADMIN, big).await;
    assert_eq!(r.status, 413);
    let d = r.json()["description"].as_str().unwrap_or("").to_owned();
    assert!(d.contains("[api] max_request_body_size"), "{d}");
}

#[actix_web::test]
async fn versions_document_honours_proxy_headers() {
    let env = env().await;
    let req = TestRequest::get()
        .uri("/")
        .insert_header(("forwarded", "for=192.0.2.60;proto=http;host=foobar"))
        .insert_header(("x-forwarded-prefix", "/gnocchi"));
    let r = env.send(req).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["versions"][0]["links"][0]["href"],
        "http://foobar/gnocchi/v1/"
    );
    let r = env.send(TestRequest::get().uri("/healthcheck")).await;
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    assert!(r
        .header("x-openstack-request-id")
        .is_some_and(|id| id.starts_with("req-")));
}

#[actix_web::test]
async fn cors_preflight() {
    let settings = Settings {
        cors: gnocchi_api::CorsSettings {
            allowed_origin: vec!["http://foobar.com".into()],
            ..Default::default()
        },
        ..Settings::default()
    };
    let env = env_with(settings).await;
    let req = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/v1/status")
        .insert_header(("origin", "http://notallowed.com"))
        .insert_header(("access-control-request-method", "GET"));
    let r = env.send(req).await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    let req = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/v1/status")
        .insert_header(("origin", "http://foobar.com"))
        .insert_header(("access-control-request-method", "GET"));
    let r = env.send(req).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://foobar.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET"));
}

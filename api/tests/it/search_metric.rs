//! `POST /v1/search/metric` (shared/spec/api.md §10.6): parameter and body errors.

use serde_json::json;

use crate::common::{env, FOOBAR};

#[actix_web::test]
async fn search_metric_errors_and_empty_results() {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [{"granularity": "1 second"}]}))
        .await;
    let m = env
        .metric(FOOBAR, json!({"archive_policy_name": "low"}))
        .await;
    let url = |q: &str| format!("/v1/search/metric?metric_id={m}{q}");
    let r = env
        .json("POST", &url("&granularity=1s"), FOOBAR, json!({"=": 12}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({m.clone(): []}));
    let r = env
        .json(
            "POST",
            &url("&granularity=1s&granularity=300"),
            FOOBAR,
            json!({"=": 12}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Aggregation does not exist",
               "detail": {"granularity": 300.0, "aggregation_method": "mean"}})
    );
    let r = env
        .json(
            "POST",
            &url("&start=foobar"),
            FOOBAR,
            json!({"∧": [{"≥": 1000}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"], "Invalid value for start");
    let r = env.json("POST", &url(""), FOOBAR, json!({"nope": 1})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["cause"], "Invalid input");
    let r = env
        .json("POST", &url(""), FOOBAR, json!({"not": {"=": 1}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["description"], "Unknown operator not");
}

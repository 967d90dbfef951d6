//! Batch measure ingestion (shared/spec/api.md §7).

use serde_json::json;

use crate::common::{env, FOOBAR};

#[actix_web::test]
async fn batch_metrics_and_resources() {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [{"granularity": "1 second"}]}))
        .await;
    let m = env
        .metric(FOOBAR, json!({"archive_policy_name": "low"}))
        .await;
    let measures = json!([{"timestamp": "2015-03-06T14:33:57", "value": 43.1}]);
    let r = env
        .json(
            "POST",
            "/v1/batch/metrics/measures",
            FOOBAR,
            json!({m.clone(): measures}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let missing = "37aec8b7-c0d9-445b-8ab9-d3c6312dcf5c";
    let r = env
        .json(
            "POST",
            "/v1/batch/metrics/measures",
            FOOBAR,
            json!({m.clone(): measures, missing: measures}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        format!("Unknown metrics: {missing}")
    );
    let r = env
        .json(
            "POST",
            "/v1/batch/metrics/measures",
            FOOBAR,
            json!({m.clone(): [{"x": 1}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("unexpected measures format"), "{}", r.text);

    let r = env
        .json(
            "POST",
            "/v1/resource/generic",
            FOOBAR,
            json!({"id": "host1"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let rid = r.json()["id"].as_str().expect("id").to_owned();
    let body = json!({"host1": {"cpu": measures, "mem": {"archive_policy_name": "low", "measures": measures}}});
    let r = env
        .json(
            "POST",
            "/v1/batch/resources/metrics/measures",
            FOOBAR,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        format!("Unknown metrics: {rid}/cpu, {rid}/mem")
    );
    let r = env
        .json(
            "POST",
            "/v1/batch/resources/metrics/measures?create_metrics=true",
            FOOBAR,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 400, "cpu has no policy and no rule");
    assert!(r
        .text
        .contains("no archive policy rule found matching the metric name cpu"));
    let rule = json!({"name": "all", "metric_pattern": "*", "archive_policy_name": "low"});
    assert_eq!(
        env.json(
            "POST",
            "/v1/archive_policy_rule",
            crate::common::ADMIN,
            rule
        )
        .await
        .status,
        201
    );
    let r = env
        .json(
            "POST",
            "/v1/batch/resources/metrics/measures?create_metrics=true",
            FOOBAR,
            body,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = env
        .get(&format!("/v1/resource/generic/{rid}"), FOOBAR)
        .await;
    let metrics = r.json()["metrics"].clone();
    assert!(
        metrics["cpu"].is_string() && metrics["mem"].is_string(),
        "{metrics}"
    );

    let r = env
        .json(
            "POST",
            "/v1/batch/resources/metrics/measures?create_metrics=true",
            FOOBAR,
            json!({"foobar": {"cpu": measures}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Unknown resources", "detail": [
            {"resource_id": "2fbfbb20-8d56-5e1e-afb9-b3007da11fdf", "original_resource_id": "foobar"}
        ]})
    );
}

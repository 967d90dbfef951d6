//! Pushing and reading measures (shared/spec/api.md §6.6, §6.7).

use serde_json::{json, Value};

use crate::common::{env, Env, ADMIN, FOOBAR, FOOBAZ};

async fn setup() -> (Env, String) {
    let env = env().await;
    env.policy(json!({"name": "cookies", "definition": [
        {"granularity": "1 second"}, {"granularity": "5 minutes"}]}))
        .await;
    let id = env
        .metric(FOOBAR, json!({"archive_policy_name": "cookies"}))
        .await;
    (env, id)
}

fn reason(v: &Value) -> &str {
    v["description"]["reason"].as_str().unwrap_or("")
}

#[actix_web::test]
async fn bad_measures_are_400_and_nothing_is_stored() {
    let (env, id) = setup().await;
    let path = format!("/v1/metric/{id}/measures");
    for (body, want) in [
        (
            json!([{"timestamp": "1915-03-06T14:33:57", "value": 43.1}]),
            "unexpected timestamp 'Timestamp must be after Epoch'",
        ),
        (
            json!([["2015-03-06T14:33:57", 43.1]]),
            "unexpected measures format",
        ),
        (json!(1), "unexpected measures format"),
        (
            json!([{"timestamp": "2015-03-06T14:33:57", "value": "nan"}]),
            "unexpected measures value",
        ),
        (
            json!([{"timestamp": "2015-03-06T14:33:57", "value": "inf"}]),
            "unexpected measures value",
        ),
        (
            json!([{"timestamp": "2015-03-06T14:33:57", "value": 12},
                {"timestamp": "2015-03-06T14:34:12", "value": "foobar"}]),
            "unexpected measures value",
        ),
        (
            json!([{"timestamp": 1478012832, "value": 1}, {"timestamp": "-5 minutes", "value": 1}]),
            "unexpected timestamp 'Unable to convert timestamps'",
        ),
    ] {
        let r = env.json("POST", &path, FOOBAR, body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(reason(&r.json()), want, "{body}");
        assert_eq!(r.json()["description"]["detail"], json!([]));
    }
    let r = env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    assert_eq!(r.text, "[]");
    assert_eq!(env.json("POST", &path, FOOBAZ, json!([])).await.status, 403);
    let r = env
        .json("POST", "/v1/metric/fake/measures", FOOBAR, json!([]))
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn measures_round_trip_with_refresh() {
    let (env, id) = setup().await;
    let path = format!("/v1/metric/{id}/measures");
    let r = env
        .json(
            "POST",
            &path,
            FOOBAR,
            json!([{"timestamp": 1425652437.0, "value": 43.1}]),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.text, "");
    assert_eq!(r.header("content-length"), Some("0"));
    let r = env
        .json(
            "POST",
            &path,
            FOOBAR,
            json!([
            {"timestamp": "2015-03-06T14:34:12", "value": 12},
            {"timestamp": "2015-03-06T14:34:15", "value": 16},
            {"timestamp": "2015-03-06T14:35:12", "value": 9},
            {"timestamp": "2015-03-06T14:35:15", "value": 11}]),
        )
        .await;
    assert_eq!(r.status, 202);
    let r = env
        .get(&format!("{path}?refresh=true&granularity=1"), FOOBAR)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text,
        "[[\"2015-03-06T14:33:57+00:00\", 1.0, 43.1], [\"2015-03-06T14:34:12+00:00\", 1.0, 12.0], \
         [\"2015-03-06T14:34:15+00:00\", 1.0, 16.0], [\"2015-03-06T14:35:12+00:00\", 1.0, 9.0], \
         [\"2015-03-06T14:35:15+00:00\", 1.0, 11.0]]"
    );
    let r = env
        .get(&format!("{path}?start=2015-03-06T14:34"), FOOBAR)
        .await;
    let v = r.json();
    // 5-minute buckets first (start rounded down), then the 1-second ones from 14:34.
    assert_eq!(v[0], json!(["2015-03-06T14:30:00+00:00", 300.0, 23.7]));
    assert_eq!(v[1], json!(["2015-03-06T14:35:00+00:00", 300.0, 10.0]));
    assert_eq!(v[2], json!(["2015-03-06T14:34:12+00:00", 1.0, 12.0]));
    assert_eq!(v.as_array().map(Vec::len), Some(6));
    let r = env
        .get(&format!("{path}?resample=60&granularity=1"), FOOBAR)
        .await;
    assert_eq!(
        r.json(),
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 43.1],
            ["2015-03-06T14:34:00+00:00", 60.0, 14.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 10.0]
        ])
    );
}

#[actix_web::test]
async fn read_parameter_errors() {
    let (env, id) = setup().await;
    let path = format!("/v1/metric/{id}/measures");
    let r = env.get(&format!("{path}?aggregation=wtf"), FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Aggregation method does not exist for this metric",
               "detail": {"metric": id, "aggregation_method": "wtf"}})
    );
    let r = env.get(&format!("{path}?granularity=42"), FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["description"],
        format!("Aggregation method 'mean' at granularity '42.0' for metric {id} does not exist")
    );
    let r = env.get(&format!("{path}?granularity=foobar"), FOOBAR).await;
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Argument value error", "reason": "Unable to parse timespan",
               "detail": "granularity"})
    );
    let r = env.get(&format!("{path}?start=notatime"), FOOBAR).await;
    assert_eq!(r.json()["description"]["detail"], "start");
    let r = env.get(&format!("{path}?resample=60"), FOOBAR).await;
    assert_eq!(
        r.json()["description"],
        "A granularity must be specified to resample"
    );
    let r = env
        .get(&format!("{path}?resample=abc&granularity=1"), FOOBAR)
        .await;
    assert_eq!(r.status, 400);
    let r = env.get(&format!("{path}?refresh=maybe"), FOOBAR).await;
    assert_eq!(r.status, 400);
    assert_eq!(env.get(&path, FOOBAZ).await.status, 403);
}

/// `/v1/status` counts pending batches, not points, per metric and in the summary
/// (engine.md §5.6): two POSTs of three points and one of two are three batches.
#[actix_web::test]
async fn status_counts_pending_batches() {
    let (env, first) = setup().await;
    let second = env
        .metric(FOOBAR, json!({"archive_policy_name": "cookies"}))
        .await;
    let points = |n: i64| -> Value {
        (0..n)
            .map(|i| json!({"timestamp": 1_600_000_000 + i, "value": i}))
            .collect()
    };
    for (id, n) in [(&first, 3), (&first, 3), (&second, 2)] {
        let path = format!("/v1/metric/{id}/measures");
        assert_eq!(env.json("POST", &path, FOOBAR, points(n)).await.status, 202);
    }
    let r = env.get("/v1/status", ADMIN).await;
    assert_eq!(r.status, 200);
    let storage = &r.json()["storage"];
    assert_eq!(storage["summary"], json!({"metrics": 2, "measures": 3}));
    assert_eq!(
        storage["measures_to_process"],
        json!({first.as_str(): 2, second.as_str(): 1})
    );
}

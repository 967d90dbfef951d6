//! `/v1/aggregates` in metric-id mode, the legacy `/v1/aggregation/metric` and calendar
//! resampling of single-metric reads (shared/spec/api.md §11.1, §11.2, engine.md §6.1.3).

use serde_json::{json, Value};

use crate::common::{env, Env, FOOBAR, FOOBAZ};

/// Two metrics on a 1 s + 60 s policy with processed measures, and one on a 5 s policy.
async fn setup() -> (Env, String, String, String) {
    let env = env().await;
    env.policy(json!({"name": "cookies", "definition": [
        {"granularity": "1 second"}, {"granularity": "60 second"}]}))
        .await;
    env.policy(json!({"name": "cake", "definition": [{"granularity": "5 second"}]}))
        .await;
    let m1 = env
        .metric(FOOBAR, json!({"archive_policy_name": "cookies"}))
        .await;
    let m2 = env
        .metric(FOOBAR, json!({"archive_policy_name": "cookies"}))
        .await;
    let m3 = env
        .metric(FOOBAR, json!({"archive_policy_name": "cake"}))
        .await;
    for (id, values) in [
        (&m1, [43.1, 12.0, -16.0, 9.0, 11.0]),
        (&m2, [2.0, 4.0, 5.0, 10.0, 15.0]),
    ] {
        let ts = ["14:33:57", "14:34:12", "14:34:15", "14:35:12", "14:35:15"];
        let body: Vec<Value> = ts
            .iter()
            .zip(values)
            .map(|(t, v)| json!({"timestamp": format!("2015-03-06T{t}"), "value": v}))
            .collect();
        post_processed(&env, id, body).await;
    }
    (env, m1, m2, m3)
}

/// Posts `measures` to metric `id` (202) and has them processed (`refresh=true`, 200).
async fn post_processed(env: &Env, id: &str, measures: Vec<Value>) {
    let path = format!("/v1/metric/{id}/measures");
    let r = env
        .json("POST", &path, FOOBAR, Value::Array(measures))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn aggregates(env: &Env, qs: &str, operations: Value) -> crate::common::Resp {
    env.json(
        "POST",
        &format!("/v1/aggregates{qs}"),
        FOOBAR,
        json!({ "operations": operations }),
    )
    .await
}

#[actix_web::test]
async fn metric_mode_series_per_metric_and_aggregated() {
    let (env, m1, m2, _) = setup().await;
    let r = aggregates(
        &env,
        "?granularity=60",
        json!(["metric", [m1, "max"], [m2, "min"]]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "no references: {v}"
    );
    assert_eq!(
        v["measures"][&m1]["max"],
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 43.1],
            ["2015-03-06T14:34:00+00:00", 60.0, 12.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 11.0]
        ])
    );
    assert_eq!(
        v["measures"][&m2]["min"],
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 2.0],
            ["2015-03-06T14:34:00+00:00", 60.0, 4.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 10.0]
        ])
    );
    // The string form; a trailing extra parenthesis is ignored; `-` of two series aggregates.
    let r = aggregates(
        &env,
        "?details=true&start=2015-03-06T14:34:00&stop=2015-03-06T14:35:13",
        json!(format!("(- (metric {m1} mean) (metric {m2} mean)))")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["measures"]["aggregated"],
        json!([
            ["2015-03-06T14:34:00+00:00", 60.0, -6.5],
            ["2015-03-06T14:35:00+00:00", 60.0, -2.5],
            ["2015-03-06T14:34:12+00:00", 1.0, 8.0],
            ["2015-03-06T14:34:15+00:00", 1.0, -21.0],
            ["2015-03-06T14:35:12+00:00", 1.0, -1.0]
        ])
    );
    let refs = v["references"].as_array().expect("references");
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["id"], json!(m1));
    assert_eq!(refs[0]["archive_policy"]["name"], "cookies");
    // A metric listed twice is referenced once.
    let r = aggregates(
        &env,
        "?details=true&granularity=1",
        json!([
            "aggregate",
            "mean",
            ["metric", [m1, "mean"], [m2, "mean"], [m2, "mean"]]
        ]),
    )
    .await;
    let v = r.json();
    assert_eq!(v["references"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["measures"]["aggregated"][0],
        json!(["2015-03-06T14:33:57+00:00", 1.0, 22.55])
    );
}

#[actix_web::test]
async fn metric_mode_nan_and_infinity_are_rendered_or_dropped() {
    let (env, m1, _, _) = setup().await;
    let ops = json!(format!("(/ (metric {m1} mean) 0)"));
    let r = aggregates(&env, "?granularity=60", ops.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["measures"][&m1]["mean"], json!([]));
    let r = aggregates(&env, "?granularity=60&fill=null", ops).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("60.0, Infinity]"), "{}", r.text);
    assert!(r.text.contains("60.0, -Infinity]"), "{}", r.text);
}

fn description(r: &crate::common::Resp) -> Value {
    r.json()["description"].clone()
}

#[actix_web::test]
async fn metric_mode_errors() {
    let (env, m1, m2, m3) = setup().await;
    let r = aggregates(&env, "", json!([])).await;
    assert_eq!(r.status, 400);
    let d = description(&r);
    assert_eq!(d["cause"], "Invalid input");
    assert_eq!(d["detail"], json!(["operations"]));
    assert!(d["reason"]
        .as_str()
        .is_some_and(|s| s.starts_with("Operation must not be empty")));
    let r = aggregates(&env, "", json!("(metroc foo bar")).await;
    assert_eq!(r.status, 400);
    let d = description(&r);
    assert_eq!(d["cause"], "Invalid operations");
    assert_eq!(d["reason"], "Fail to parse the operations string");
    let r = aggregates(&env, "", json!(["+", 1, 2])).await;
    assert_eq!(
        description(&r),
        json!({"cause": "Operations is invalid", "reason": "At least one 'metric' is required",
               "detail": ["+", 1, 2]})
    );
    let r = aggregates(&env, "", json!(["metric", "foobar", "mean"])).await;
    assert_eq!(r.status, 400);
    let d = description(&r);
    assert_eq!(d["cause"], "Invalid metric references");
    assert_eq!(d["detail"], json!([["foobar", "mean"]]));
    let unknown = "8c062a7e-9f9f-4b1c-9996-9d0328512ab7";
    let r = aggregates(&env, "", json!(["metric", [m1, "mean"], [unknown, "mean"]])).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        description(&r),
        json!({"cause": "Unknown metrics", "reason": "Provided metrics don't exists",
               "detail": [unknown]})
    );
    let r = aggregates(&env, "", json!(["metric", [m1, "what?"], [m2, "mean"]])).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        description(&r),
        json!({"cause": "Metrics with unknown aggregation", "detail": [[m1, "what?"]]})
    );
    let r = aggregates(&env, "", json!(["metric", [m1, "mean"], [m3, "mean"]])).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        description(&r),
        json!({"cause": "Metrics cannot be aggregated", "reason": "No granularity match",
               "detail": [[m1, "mean"], [m3, "mean"]]})
    );
    let r = aggregates(&env, "?granularity=123", json!(["metric", m1, "mean"])).await;
    assert_eq!(
        description(&r),
        json!({"cause": "Metrics cannot be aggregated", "reason": "Granularities are missing",
               "detail": [[m1, "mean", 123.0]]})
    );
    let r = aggregates(
        &env,
        "?granularity=1",
        json!(["rolling", "mean", 20, ["metric", m1, "mean"]]),
    )
    .await;
    assert_eq!(
        description(&r),
        json!({"cause": "Metrics cannot be aggregated",
               "reason": "Rolling window '20' is greater than serie length '5'",
               "detail": [[m1, "mean"]]})
    );
    // Parameters are checked before the body, in Gnocchi's order.
    let r = env
        .json(
            "POST",
            "/v1/aggregates?start=notadate&fill=x",
            FOOBAR,
            json!(null),
        )
        .await;
    assert_eq!(
        description(&r),
        json!({"cause": "Argument value error", "detail": "start",
               "reason": "Must be a datetime or a timestamp"})
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregates",
            FOOBAR,
            json!({"operations": ["metric", m1, "mean"], "x": 1}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        description(&r)["reason"],
        "extra keys not allowed @ data['x']"
    );
    let r = env.json("POST", "/v1/aggregates", FOOBAR, json!({})).await;
    assert_eq!(
        description(&r)["reason"],
        "required key not provided @ data['operations']"
    );
    // `get metric` is enforced on every metric.
    let r = env
        .json(
            "POST",
            "/v1/aggregates",
            FOOBAZ,
            json!({"operations": ["metric", m1, "mean"]}),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn legacy_cross_metric_aggregation() {
    let (env, m1, m2, _) = setup().await;
    let base = format!("/v1/aggregation/metric?metric={m1}&metric={m2}");
    let r = env.get(&format!("{base}&granularity=60"), FOOBAR).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 22.55],
            ["2015-03-06T14:34:00+00:00", 60.0, 1.25],
            ["2015-03-06T14:35:00+00:00", 60.0, 11.25]
        ])
    );
    let r = env
        .get(
            &format!("{base}&granularity=1&resample=60&reaggregation=min"),
            FOOBAR,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 2.0],
            ["2015-03-06T14:34:00+00:00", 60.0, -2.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 10.0]
        ])
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregation/metric?granularity=60&aggregation=max",
            FOOBAR,
            json!([m1, m2]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The reaggregation defaults to the aggregation: max of the maxima.
    assert_eq!(
        r.json()[0],
        json!(["2015-03-06T14:33:00+00:00", 60.0, 43.1])
    );
    // One metric reads like its measures, resample included.
    let r = env
        .get(
            &format!("/v1/aggregation/metric?metric={m1}&granularity=1&resample=60"),
            FOOBAR,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 43.1],
            ["2015-03-06T14:34:00+00:00", 60.0, -2.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 10.0]
        ])
    );
    assert_eq!(env.get("/v1/aggregation/metric", FOOBAR).await.text, "[]");
}

#[actix_web::test]
async fn legacy_cross_metric_errors() {
    let (env, m1, m2, m3) = setup().await;
    let r = env
        .get("/v1/aggregation/metric?metric=foobar", FOOBAR)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        description(&r),
        "Invalid input: not a valid value @ data[0]"
    );
    let unknown = "cee6ef1f-52cc-4a16-bbb5-648aedfd1c37";
    let r = env
        .get(
            &format!("/v1/aggregation/metric?metric={m1}&metric={unknown}"),
            FOOBAR,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(description(&r), format!("Metric {unknown} does not exist"));
    let base = format!("/v1/aggregation/metric?metric={m1}&metric={m2}");
    let r = env.get(&format!("{base}&aggregation=wtf"), FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        description(&r),
        format!(
            "Aggregation method 'wtf' at granularity '1.0' for metric {} does not exist",
            m1.clone().min(m2.clone())
        )
    );
    let r = env
        .get(
            &format!("/v1/aggregation/metric?metric={m1}&aggregation=last"),
            FOOBAR,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        description(&r),
        json!({"cause": "Aggregation method does not exist for this metric",
               "detail": {"metric": m1, "aggregation_method": "last"}})
    );
    let r = env.get(&format!("{base}&granularity=42"), FOOBAR).await;
    assert_eq!(r.status, 404);
    assert!(description(&r)
        .as_str()
        .is_some_and(|s| s.starts_with("Aggregation method 'mean' at granularity '42.0'")));
    let r = env.get(&format!("{base}&resample=60"), FOOBAR).await;
    assert_eq!(
        description(&r),
        "A granularity must be specified to resample"
    );
    let r = env
        .get(&format!("{base}&granularity=1&fill=asdf"), FOOBAR)
        .await;
    assert_eq!(description(&r)["detail"], "fill");
    let r = env.get(&format!("{base}&metric={m3}"), FOOBAR).await;
    assert_eq!(r.status, 400);
    assert_eq!(description(&r)["reason"], "No granularity match");
    // The default needed_overlap is 100%: a series missing a point fails without `fill`.
    let late = env
        .metric(FOOBAR, json!({"archive_policy_name": "cookies"}))
        .await;
    let path = format!("/v1/metric/{late}/measures");
    env.json(
        "POST",
        &path,
        FOOBAR,
        json!([{"timestamp": "2015-03-06T14:35:12", "value": 1}]),
    )
    .await;
    env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    let r = env
        .get(&format!("/v1/aggregation/metric?metric={m1}&metric={late}&granularity=1&start=2015-03-06T14:34:00"), FOOBAR)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(description(&r)["cause"], "Metrics cannot be aggregated");
    assert_eq!(env.get(&base, FOOBAZ).await.status, 403);
}

#[actix_web::test]
async fn calendar_resample_of_single_metric_reads() {
    let env = env().await;
    env.policy(
        json!({"name": "daily", "aggregation_methods": ["mean", "rate:mean"],
        "definition": [{"granularity": "1 day", "points": 1000}]}),
    )
    .await;
    let id = env
        .metric(FOOBAR, json!({"archive_policy_name": "daily"}))
        .await;
    let path = format!("/v1/metric/{id}/measures");
    let body: Vec<Value> = [
        ("2015-03-01", 10),
        ("2015-03-06", 12),
        ("2015-04-01", 2),
        ("2015-04-06", 4),
        ("2015-10-06", 7),
        ("2016-01-06", 12),
        ("2016-02-06", 4),
    ]
    .iter()
    .map(|(d, v)| json!({"timestamp": format!("{d}T14:34:12"), "value": v}))
    .collect();
    assert_eq!(
        env.json("POST", &path, FOOBAR, Value::Array(body))
            .await
            .status,
        202
    );
    env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    let r = env
        .get(&format!("{path}?resample=Q&granularity=86400"), FOOBAR)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            ["2015-01-01T00:00:00+00:00", "Q", 11.0],
            ["2015-04-01T00:00:00+00:00", "Q", 3.0],
            ["2015-10-01T00:00:00+00:00", "Q", 7.0],
            ["2016-01-01T00:00:00+00:00", "Q", 8.0]
        ])
    );
    // `start` is rounded down to its calendar period, whose bucket stays whole.
    let r = env
        .get(
            &format!("{path}?resample=M&granularity=86400&start=2015-03-05"),
            FOOBAR,
        )
        .await;
    assert_eq!(r.json()[0], json!(["2015-03-01T00:00:00+00:00", "M", 11.0]));
    let r = env
        .get(
            &format!("{path}?resample=W&granularity=86400&stop=2015-04-01"),
            FOOBAR,
        )
        .await;
    assert_eq!(r.json(), json!([["2015-03-01T00:00:00+00:00", "W", 11.0]]));
    // The legacy route reads one metric the same way.
    let r = env
        .get(
            &format!("/v1/aggregation/metric?metric={id}&resample=Y&granularity=86400"),
            FOOBAR,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([
            ["2015-01-01T00:00:00+00:00", "Y", 7.0],
            ["2016-01-01T00:00:00+00:00", "Y", 8.0]
        ])
    );
    // engine.md §10.2: a calendar resample of a rate is a 400, not Gnocchi's 500.
    let r = env
        .get(
            &format!("{path}?resample=M&granularity=86400&aggregation=rate:mean"),
            FOOBAR,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = env.get(&format!("{path}?resample=M"), FOOBAR).await;
    assert_eq!(
        description(&r),
        "A granularity must be specified to resample"
    );
}

/// Three generic resources with `cpu.util` (and more) metrics on a 1 s + 300 s policy.
async fn resources() -> Env {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [
        {"granularity": "1 second"}, {"granularity": "300 seconds"}]}))
        .await;
    for (id, project, metrics, values) in [
        (
            "1ed9c196-4c9f-4ba8-a5be-c9a71a82aac4",
            "p1",
            vec!["cpu.util", "cpu.idle", "noway"],
            [43.1, 12.0],
        ),
        (
            "2447cd7e-48a6-4c50-a991-6677cc0d00e6",
            "p1",
            vec!["cpu.util"],
            [23.0, 8.0],
        ),
        (
            "33333bc5-5948-4f29-b7df-7de607660452",
            "p2",
            vec!["cpu.util"],
            [230.0, 45.41],
        ),
    ] {
        let m: serde_json::Map<String, Value> = metrics
            .iter()
            .map(|n| (n.to_string(), json!({"archive_policy_name": "low"})))
            .collect();
        let r = env
            .json(
                "POST",
                "/v1/resource/generic",
                FOOBAR,
                json!({"id": id, "user_id": "u", "project_id": project, "metrics": m}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let path = format!("/v1/resource/generic/{id}/metric/cpu.util/measures");
        let body = json!([{"timestamp": "2015-03-06T14:33:57", "value": values[0]},
                          {"timestamp": "2015-03-06T14:34:12", "value": values[1]}]);
        assert_eq!(env.json("POST", &path, FOOBAR, body).await.status, 202);
        let r = env.get(&format!("{path}?refresh=true"), FOOBAR).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    env
}

async fn search(env: &Env, qs: &str, search: Value, operations: &str) -> crate::common::Resp {
    env.json(
        "POST",
        &format!("/v1/aggregates{qs}"),
        FOOBAR,
        json!({"resource_type": "generic", "search": search, "operations": operations}),
    )
    .await
}

#[actix_web::test]
async fn resource_mode_per_resource_glob_and_groupby() {
    let env = resources().await;
    let (r1, r2) = (
        "1ed9c196-4c9f-4ba8-a5be-c9a71a82aac4",
        "2447cd7e-48a6-4c50-a991-6677cc0d00e6",
    );
    let r = search(
        &env,
        "?details=true&granularity=1",
        json!("project_id = 'p1'"),
        "(metric (cpu.* mean) (*way mean))",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["measures"][r1]["cpu.util"]["mean"],
        json!([
            ["2015-03-06T14:33:57+00:00", 1.0, 43.1],
            ["2015-03-06T14:34:12+00:00", 1.0, 12.0]
        ])
    );
    assert_eq!(v["measures"][r1]["cpu.idle"]["mean"], json!([]));
    assert_eq!(v["measures"][r1]["noway"]["mean"], json!([]));
    assert_eq!(
        v["measures"][r2]["cpu.util"]["mean"][0],
        json!(["2015-03-06T14:33:57+00:00", 1.0, 23.0])
    );
    let refs = v["references"].as_array().expect("references");
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["id"], r1);
    assert!(refs[0]["metrics"]["cpu.util"].is_string());
    // A JSON search over every resource, aggregated.
    let r = search(
        &env,
        "?granularity=300",
        json!({}),
        "(aggregate mean (metric cpu.util mean))",
    )
    .await;
    assert_eq!(
        r.json()["measures"]["aggregated"],
        json!([["2015-03-06T14:30:00+00:00", 300.0, 60.251666666666665]])
    );
    // Groups in attribute order, nested `measures`.
    let r = search(
        &env,
        "?groupby=project_id&granularity=1",
        json!({}),
        "(aggregate max (metric cpu.util mean))",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"group": {"project_id": "p1"}, "measures": {"measures": {"aggregated": [
                ["2015-03-06T14:33:57+00:00", 1.0, 43.1], ["2015-03-06T14:34:12+00:00", 1.0, 12.0]]}}},
            {"group": {"project_id": "p2"}, "measures": {"measures": {"aggregated": [
                ["2015-03-06T14:33:57+00:00", 1.0, 230.0], ["2015-03-06T14:34:12+00:00", 1.0, 45.41]]}}}
        ])
    );
    // The legacy route aggregates the named metric of each resource.
    let r = env
        .json(
            "POST",
            "/v1/aggregation/resource/generic/metric/cpu.util?granularity=1&groupby=project_id",
            FOOBAR,
            json!({"=": {"project_id": "p1"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"group": {"project_id": "p1"}, "measures": [
            ["2015-03-06T14:33:57+00:00", 1.0, 33.05], ["2015-03-06T14:34:12+00:00", 1.0, 10.0]]}])
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregation/resource/generic/metric/nothere",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "[]"));
}

#[actix_web::test]
async fn resource_mode_errors() {
    let env = resources().await;
    let r = search(
        &env,
        "",
        json!({}),
        "(aggregate mean (metric (notexists mean) (foobar mean)))",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        description(&r),
        "Metric ['foobar', 'notexists'] does not exist"
    );
    let r = search(&env, "?groupby=unit", json!({}), "(metric cpu.util mean)").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        description(&r),
        "Invalid pagination: `Sort key supplied is invalid: unit'"
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregates",
            FOOBAR,
            json!({"resource_type": "nope", "search": {}, "operations": "(metric cpu.util mean)"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        description(&r),
        json!({"cause": "Resource type does not exist", "detail": "nope"})
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregates",
            FOOBAR,
            json!({"resource_type": "generic", "operations": "(metric cpu.util mean)"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .json(
            "POST",
            "/v1/aggregation/resource/generic/metric/cpu.util?groupby=unit",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!(description(&r), "Invalid groupby attribute");
    let r = env
        .json(
            "POST",
            "/v1/aggregation/resource/nope/metric/cpu.util",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, description(&r)),
        (404, json!("Resource type nope does not exist"))
    );
    assert_eq!(
        env.get("/v1/aggregation/resource/generic/metric/cpu.util", FOOBAR)
            .await
            .status,
        405
    );
    let r = env
        .json(
            "POST",
            "/v1/aggregation/resource/generic/metric",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 405);
}

#[actix_web::test]
async fn resource_mode_use_history_groups_per_revision() {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [{"granularity": "1 second"}]}))
        .await;
    let id = "c14fafd8-2e50-4a1a-ac13-319c82fb2f65";
    let r = env
        .json(
            "POST",
            "/v1/resource/generic",
            FOOBAR,
            json!({"id": id, "project_id": "old",
                   "metrics": {"vm.uptime": {"archive_policy_name": "low"}}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let path = format!("/v1/resource/generic/{id}/metric/vm.uptime/measures");
    let push = |ts: &'static str| json!([{"timestamp": ts, "value": 1}]);
    env.json("POST", &path, FOOBAR, push("2015-03-06T14:00:00"))
        .await;
    let r = env
        .json(
            "PATCH",
            &format!("/v1/resource/generic/{id}"),
            FOOBAR,
            json!({"project_id": "new"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    env.json("POST", &path, FOOBAR, push("2099-01-01T01:00:00"))
        .await;
    env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    let ops = "(aggregate mean (metric vm.uptime mean))";
    let r = search(&env, "?groupby=project_id&use_history=true", json!({}), ops).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"group": {"project_id": "new"}, "measures": {"measures": {"aggregated": [
                ["2099-01-01T01:00:00+00:00", 1.0, 1.0]]}}},
            {"group": {"project_id": "old"}, "measures": {"measures": {"aggregated": [
                ["2015-03-06T14:00:00+00:00", 1.0, 1.0]]}}}
        ])
    );
    // Without history, the current attributes group every point.
    let r = search(&env, "?groupby=project_id", json!({}), ops).await;
    assert_eq!(
        r.json(),
        json!([{"group": {"project_id": "new"}, "measures": {"measures": {"aggregated": [
            ["2015-03-06T14:00:00+00:00", 1.0, 1.0], ["2099-01-01T01:00:00+00:00", 1.0, 1.0]]}}}])
    );
}

// engine.md §10.2: Gnocchi answers 500 to `aggregate count` / `rolling count`; counts are floats.
#[actix_web::test]
async fn spec_10_2_aggregate_count_answers_float_counts() {
    let (env, m1, m2, _) = setup().await;
    let r = aggregates(
        &env,
        "?granularity=60",
        json!(["aggregate", "count", ["metric", [m1, "mean"], [m2, "mean"]]]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["measures"]["aggregated"],
        json!([
            ["2015-03-06T14:33:00+00:00", 60.0, 2.0],
            ["2015-03-06T14:34:00+00:00", 60.0, 2.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 2.0]
        ])
    );
    assert!(r.text.contains(", 2.0]"), "float counts: {}", r.text);
    let r = aggregates(
        &env,
        "?granularity=60",
        json!(["rolling", "count", 2, ["metric", m1, "mean"]]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["measures"][&m1]["mean"],
        json!([
            ["2015-03-06T14:34:00+00:00", 60.0, 2.0],
            ["2015-03-06T14:35:00+00:00", 60.0, 2.0]
        ])
    );
}

// engine.md §10.2: a calendar resample across metrics (`/v1/aggregation/metric`; calendar
// units are not part of the operations language, api.md §1.8) with `start` rounds `start` down to
// the calendar period (Gnocchi: 500).
#[actix_web::test]
async fn spec_10_2_calendar_resample_across_metrics_with_start() {
    let (env, m1, m2, _) = setup().await;
    let r = env
        .get(
            &format!(
                "/v1/aggregation/metric?metric={m1}&metric={m2}&granularity=60&resample=M\
                 &start=2015-03-06T14:34:00"
            ),
            FOOBAR,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let points = r.json();
    assert_eq!(points.as_array().map(Vec::len), Some(1), "{points}");
    assert_eq!(points[0][0], json!("2015-03-01T00:00:00+00:00"), "{points}");
    assert_eq!(points[0][1], json!("M"), "{points}");
}

// engine.md §10.2: an empty measures batch is not enqueued, so it cannot block the sack; the
// next batch is processed.
#[actix_web::test]
async fn spec_10_2_empty_batch_does_not_block_processing() {
    let (env, m1, _, _) = setup().await;
    let path = format!("/v1/metric/{m1}/measures");
    let r = env.json("POST", &path, FOOBAR, json!([])).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let later = json!([{"timestamp": "2015-03-06T14:40:00", "value": 7.0}]);
    let r = env.json("POST", &path, FOOBAR, later).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = env
        .get(&format!("{path}?refresh=true&granularity=60"), FOOBAR)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let last = v.as_array().and_then(|a| a.last()).cloned();
    assert_eq!(
        last,
        Some(json!(["2015-03-06T14:40:00+00:00", 60.0, 7.0])),
        "{v}"
    );
}

/// Two metrics of 1-second points over about 4.5 hours (5 splits of 1 hour), with gaps, kept
/// for 12 000 points; `slice_points` set for the evaluation.
async fn long_window(slice_points: usize) -> (Env, String, String) {
    let env = crate::common::env_with(gnocchi_api::Settings {
        aggregates_slice_points: slice_points,
        ..gnocchi_api::Settings::default()
    })
    .await;
    env.policy(json!({"name": "seconds", "definition": [
        {"granularity": "1 second", "points": 12000}]}))
        .await;
    let a = env
        .metric(FOOBAR, json!({"archive_policy_name": "seconds"}))
        .await;
    let b = env
        .metric(FOOBAR, json!({"archive_policy_name": "seconds"}))
        .await;
    let base = 1_425_600_000i64; // 2015-03-06T00:00:00Z
    for (id, from, to, skip) in [(&a, 0, 14_400, 5), (&b, 1_800, 16_000, 3)] {
        let body: Vec<Value> = (from..to)
            .filter(|i| i % skip != 1)
            .map(|i| json!({"timestamp": base + i, "value": (i % 97) as f64 - 40.0}))
            .collect();
        post_processed(&env, id, body).await;
    }
    (env, a, b)
}

/// A window evaluated one split at a time answers exactly as the same window evaluated whole.
#[actix_web::test]
async fn long_windows_streamed_slice_by_slice_answer_as_whole() {
    let (whole, a, b) = long_window(gnocchi_api::AGGREGATES_SLICE_POINTS).await;
    let (sliced, a2, b2) = long_window(1).await;
    let queries = [
        ("", r#"(aggregate mean (metric (A mean) (B mean)))"#),
        ("?fill=0", r#"(aggregate max (metric (A mean) (B mean)))"#),
        ("?fill=null", r#"(metric (A mean) (B mean))"#),
        (
            "?needed_overlap=10",
            r#"(aggregate sum (metric (A mean) (B mean)))"#,
        ),
        ("?needed_overlap=0", r#"(* (metric (A mean) (B mean)) 2)"#),
        (
            "?needed_overlap=90",
            r#"(aggregate mean (metric (A mean) (B mean)))"#,
        ),
        (
            "?start=2015-03-06T01:10:00&needed_overlap=10",
            r#"(abs (metric (A mean) (B mean)))"#,
        ),
        (
            "?stop=2015-03-06T03:00:30&needed_overlap=10",
            r#"(metric (A mean) (B mean))"#,
        ),
        (
            "?start=2015-03-06T00:40:00&stop=2015-03-06T04:00:00&fill=-1",
            r#"(- (metric A mean) (metric B mean))"#,
        ),
        ("", r#"(rolling mean 3 (metric A mean))"#),
    ];
    let mut answered = 0;
    for (qs, ops) in queries {
        let one = aggregates(&whole, qs, json!(ops.replace('A', &a).replace('B', &b))).await;
        let two = aggregates(&sliced, qs, json!(ops.replace('A', &a2).replace('B', &b2))).await;
        assert_eq!(
            one.status, two.status,
            "{qs} {ops}: {} vs {}",
            one.text, two.text
        );
        let renamed = two.text.replace(&a2, &a).replace(&b2, &b);
        assert_eq!(one.text, renamed, "{qs} {ops}");
        if one.status == 200 {
            answered += 1;
            assert!(
                one.text.len() > 10_000,
                "{qs} {ops}: a long answer: {}",
                one.text
            );
        }
    }
    assert!(answered >= 8, "most queries answer: {answered}");
}

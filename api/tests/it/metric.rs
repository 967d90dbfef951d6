//! Metrics (shared/spec/api.md §6.1–§6.5).

use serde_json::json;

use crate::common::{env, ADMIN, FOOBAR, FOOBAZ};

#[actix_web::test]
async fn metric_create_get_delete() {
    let env = env().await;
    env.policy(json!({"name": "cookies", "definition": [{"granularity": "1 second"}]}))
        .await;
    let rule =
        json!({"name": "r", "metric_pattern": "disk.io.*", "archive_policy_name": "cookies"});
    assert_eq!(
        env.json("POST", "/v1/archive_policy_rule", ADMIN, rule)
            .await
            .status,
        201
    );

    let r = env
        .json(
            "POST",
            "/v1/metric",
            FOOBAR,
            json!({"name": "disk.io.rate", "unit": "B/s"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let m = r.json();
    assert_eq!(m["archive_policy_name"], "cookies");
    assert_eq!(m["creator"], "foobar");
    assert_eq!(m["created_by_project_id"], "");
    assert_eq!(m["resource_id"], json!(null));
    let id = m["id"].as_str().expect("id").to_owned();
    assert_eq!(
        r.header("location").map(str::to_owned),
        Some(format!("http://localhost:8080/v1/metric/{id}"))
    );

    for (body, want) in [
        (
            json!({"name": "disk/io"}),
            "'/' is not supported in metric name",
        ),
        (
            json!({"name": "volume.io.rate"}),
            "No archive policy name specified and no archive policy rule found matching the \
             metric name volume.io.rate",
        ),
        (
            json!({"archive_policy_name": "bad-cookie"}),
            "Archive policy bad-cookie does not exist",
        ),
    ] {
        let r = env.json("POST", "/v1/metric", FOOBAR, body).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["description"], want);
    }
    let r = env
        .json(
            "POST",
            "/v1/metric",
            FOOBAR,
            json!({"name": "disk.io.rate", "unit": "x".repeat(33)}),
        )
        .await;
    assert_eq!(r.json()["description"]["detail"], json!(["unit"]));
    let r = env
        .json(
            "POST",
            "/v1/metric",
            FOOBAR,
            json!({"archive_policy_name": "cookies",
            "resource_id": "foo"}),
        )
        .await;
    assert_eq!(r.json()["description"]["cause"], "Attribute value error");

    let r = env.get(&format!("/v1/metric/{id}"), FOOBAR).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["archive_policy"]["name"], "cookies");
    assert_eq!(r.json()["resource"], json!(null));
    assert_eq!(
        env.get(&format!("/v1/metric/{id}"), FOOBAZ).await.status,
        403
    );
    let r = env.get("/v1/metric/foobar", FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["description"], "Metric foobar does not exist");

    let path = format!("/v1/metric/{id}");
    assert_eq!(
        env.json("DELETE", &path, FOOBAZ, json!({})).await.status,
        403
    );
    assert_eq!(
        env.json("DELETE", &path, FOOBAR, json!({})).await.status,
        204
    );
    assert_eq!(
        env.json("DELETE", &path, FOOBAR, json!({})).await.status,
        404
    );
}

#[actix_web::test]
async fn metric_list_filters_and_pages() {
    let env = env().await;
    env.policy(json!({"name": "first_archive", "definition": [{"granularity": 1}]}))
        .await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let auth = if i % 2 == 0 { FOOBAR } else { FOOBAZ };
        ids.push(
            env.metric(
                auth,
                json!({"archive_policy_name": "first_archive",
                "name": format!("m{i}")}),
            )
            .await,
        );
    }
    ids.sort();
    let r = env.get("/v1/metric", FOOBAR).await;
    let list = r.json();
    assert_eq!(list.as_array().map(Vec::len), Some(7));
    assert_eq!(list[0]["archive_policy"]["name"], "first_archive");
    assert_eq!(list[0]["id"], ids[0]);
    let link = r.header("link").expect("a full page has a Link").to_owned();
    assert_eq!(
        link,
        format!(
            "<http://localhost:8080/v1/metric?limit=7&marker={}&sort=id%3Aasc>; rel=\"next\"",
            ids[6]
        )
    );
    let r = env
        .get(
            "/v1/metric?archive_policy_name=first_archive&limit=2&sort=name:desc",
            FOOBAR,
        )
        .await;
    let list = r.json();
    assert_eq!(list[0]["name"], "m7");
    let marker = list[1]["id"].as_str().expect("id");
    assert_eq!(
        r.header("link").map(str::to_owned),
        Some(format!(
            "<http://localhost:8080/v1/metric?archive_policy_name=first_archive&limit=2&\
             marker={marker}&sort=name%3Adesc>; rel=\"next\""
        ))
    );
    let r = env.get("/v1/metric?creator=foobaz", FOOBAR).await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(4));
    assert!(r.header("link").is_none());
    let r = env.get("/v1/metric?status=delete", FOOBAR).await;
    assert_eq!(r.text, "[]");
    for bad in [
        "/v1/metric?sort=nonexistent_key:asc",
        "/v1/metric?limit=0",
        "/v1/metric?limit=x",
        "/v1/metric?marker=foobar",
        "/v1/metric?name=a&name=b",
        "/v1/metric?status=nope",
    ] {
        let r = env.get(bad, FOOBAR).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = env.get("/v1/metric?sort=nonexistent_key:asc", FOOBAR).await;
    assert!(r
        .text
        .contains("Sort key supplied is invalid: nonexistent_key"));
}

#[actix_web::test]
async fn named_metrics_under_a_resource() {
    let env = env().await;
    env.policy(json!({"name": "cookies", "definition": [{"granularity": "1 second"}]}))
        .await;
    // Resources are created through the indexer: their routes are not part of this crate yet.
    let rid = uuid::Uuid::parse_str("2fbfbb20-8d56-5e1e-afb9-b3007da11fdf").expect("uuid");
    let indexer = env.indexer.clone().expect("indexer");
    indexer
        .create_resource(&gnocchi_indexer::NewResource {
            id: rid,
            original_resource_id: "foobar".into(),
            type_name: "generic".into(),
            creator: Some("foobar".into()),
            ..Default::default()
        })
        .await
        .expect("resource");
    let body = json!({"archive_policy_name": "cookies", "name": "cpu", "resource_id": "foobar"});
    let r = env.json("POST", "/v1/metric", FOOBAR, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["resource_id"], rid.to_string());
    let r = env.json("POST", "/v1/metric", FOOBAR, body).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Named metric already exists", "detail": "cpu"})
    );

    let r = env
        .get("/v1/resource/generic/foobar/metric/cpu", FOOBAR)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["resource"]["id"], rid.to_string());
    assert_eq!(r.json()["resource"]["original_resource_id"], "foobar");
    let r = env
        .get("/v1/resource/generic/foobar/metric/unknown", FOOBAR)
        .await;
    assert_eq!(r.json()["description"], "Metric unknown does not exist");
    // The same original id names another resource for another user.
    let r = env
        .get("/v1/resource/generic/foobar/metric/cpu", FOOBAZ)
        .await;
    assert_eq!(r.status, 404);
    let r = env
        .get("/v1/resource/nosuchtype/foobar/metric/cpu", FOOBAR)
        .await;
    assert_eq!(
        r.json()["description"],
        "Resource type nosuchtype does not exist"
    );

    let path = format!("/v1/resource/generic/{rid}/metric/cpu/measures");
    let r = env
        .json(
            "POST",
            &path,
            FOOBAR,
            json!([{"timestamp": "2015-03-06T14:33:57", "value": 4}]),
        )
        .await;
    assert_eq!(r.status, 202);
    let r = env.get(&format!("{path}?refresh=true"), FOOBAR).await;
    assert_eq!(r.json(), json!([["2015-03-06T14:33:57+00:00", 1.0, 4.0]]));
    let r = env
        .json(
            "POST",
            "/v1/resource/generic/foobar/metric/cpu",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 405);
    let r = env
        .json(
            "DELETE",
            "/v1/resource/generic/foobar/metric/cpu",
            FOOBAR,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204);
}

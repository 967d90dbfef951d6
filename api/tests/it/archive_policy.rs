//! Archive policies and rules (shared/spec/api.md §4, §5).

use serde_json::json;

use crate::common::{env, ADMIN, FOOBAR};

#[actix_web::test]
async fn archive_policy_lifecycle() {
    let env = env().await;
    let r = env.get("/v1/archive_policy", FOOBAR).await;
    assert_eq!(r.text, "[]");
    let r = env
        .policy(json!({"name": "medium", "definition": [
            {"granularity": "1 second", "points": 20}, {"granularity": "2 second"}]}))
        .await;
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/v1/archive_policy/medium")
    );
    assert!(r.text.contains("\"name\": \"medium\""), "{}", r.text);
    let r = env.get("/v1/archive_policy/medium", FOOBAR).await;
    assert_eq!(r.json()["definition"][0]["timespan"], "0:00:20");
    assert_eq!(r.json()["definition"][1]["points"], json!(null));

    let r = env
        .json(
            "PATCH",
            "/v1/archive_policy//medium",
            ADMIN,
            json!({"definition": [
            {"granularity": "1 second", "points": 50}, {"granularity": "2 second"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["definition"][0]["timespan"], "0:00:50");
    let r = env
        .json(
            "PATCH",
            "/v1/archive_policy/medium",
            ADMIN,
            json!({"definition": [
            {"granularity": "5 second", "points": 20}, {"granularity": "2 second"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Archive policy medium does not support change: 1.0 granularity interval was changed"
    );

    let r = env
        .json(
            "POST",
            "/v1/archive_policy",
            ADMIN,
            json!({"name": "medium",
            "definition": [{"granularity": 1}]}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["title"], "Conflict");

    let r = env
        .policy(json!({"name": "✔éñ☃", "definition": [{"granularity": "1 minute", "points": 20}]}))
        .await;
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/v1/archive_policy/%E2%9C%94%C3%A9%C3%B1%E2%98%83")
    );
    let r = env
        .get("/v1/archive_policy/%E2%9C%94%C3%A9%C3%B1%E2%98%83", FOOBAR)
        .await;
    assert_eq!(r.json()["name"], "✔éñ☃");
    let r = env
        .json(
            "DELETE",
            "/v1/archive_policy/%E2%9C%94%C3%A9%C3%B1%E2%98%83",
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204);

    env.metric(FOOBAR, json!({"archive_policy_name": "medium"}))
        .await;
    let r = env
        .json("DELETE", "/v1/archive_policy/medium", ADMIN, json!({}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Archive policy medium is still in use"
    );
}

#[actix_web::test]
async fn archive_policy_validation_messages() {
    let env = env().await;
    let r = env
        .json(
            "POST",
            "/v1/archive_policy",
            ADMIN,
            json!({"name": "m",
            "definition": [{"cowsay": "moo"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Invalid input",
               "reason": "extra keys not allowed @ data['definition'][0]['cowsay']",
               "detail": ["definition", "0", "cowsay"]})
    );
}

#[actix_web::test]
async fn archive_policy_rules() {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [{"granularity": 300}]}))
        .await;
    let rule = |name: &str, pattern: &str| json!({"name": name, "metric_pattern": pattern, "archive_policy_name": "low"});
    let r = env
        .json("POST", "/v1/archive_policy_rule", FOOBAR, rule("r1", "*"))
        .await;
    assert_eq!(r.status, 403);
    for (n, p) in [("r1", "*"), ("r2", "disk.foo.*"), ("r3", "disk.*")] {
        let r = env
            .json("POST", "/v1/archive_policy_rule", ADMIN, rule(n, p))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = env.get("/v1/archive_policy_rule", FOOBAR).await;
    let patterns: Vec<_> = r
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|x| x["metric_pattern"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(patterns, ["disk.foo.*", "disk.*", "*"]);
    let r = env
        .json(
            "POST",
            "/v1/archive_policy_rule",
            ADMIN,
            json!({"name": "x",
            "metric_pattern": "*", "archive_policy_name": "nope"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        json!({"cause": "Archive policy does not exist", "detail": "nope"})
    );
    let r = env
        .json("POST", "/v1/archive_policy_rule", ADMIN, rule("r1", "a"))
        .await;
    assert_eq!(r.status, 409);
    let r = env
        .json(
            "PATCH",
            "/v1/archive_policy_rule/r1",
            ADMIN,
            json!({"name": "r2"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["description"]
        .as_str()
        .unwrap_or("")
        .contains("Archive policy rule r2 already exists."));
    let r = env
        .json(
            "PATCH",
            "/v1/archive_policy_rule/r1",
            ADMIN,
            json!({"name": "r9"}),
        )
        .await;
    assert_eq!(r.json()["name"], "r9");
    let r = env
        .json("DELETE", "/v1/archive_policy_rule/nope", FOOBAR, json!({}))
        .await;
    assert_eq!(r.status, 404);
    let r = env
        .json("DELETE", "/v1/archive_policy_rule/r9", FOOBAR, json!({}))
        .await;
    assert_eq!(r.status, 403);
    let r = env
        .json("DELETE", "/v1/archive_policy_rule/r9", ADMIN, json!({}))
        .await;
    assert_eq!(r.status, 204);
}

//! Resources (shared/spec/api.md §9): create, get, patch, delete, list, history, metrics,
//! batch delete, and concurrent creation.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::common::{env, Env, ADMIN, FOOBAR, FOOBAZ};

fn delete(path: &str, auth: &str) -> TestRequest {
    TestRequest::delete()
        .uri(path)
        .insert_header(("authorization", auth))
        .insert_header(("accept", "application/json"))
}

async fn setup() -> Env {
    let env = env().await;
    env.policy(json!({"name": "low", "definition": [{"granularity": "1 second"}]}))
        .await;
    env
}

#[actix_web::test]
async fn resource_create_get_patch_delete() {
    let env = setup().await;
    let r = env
        .json(
            "POST",
            "/v1/resource/generic",
            FOOBAR,
            json!({"id": "75C44741-CC60-4033-804E-2D3098C7D2E9", "user_id": "u", "project_id": "p",
                   "metrics": {"cpu": {"archive_policy_name": "low"}}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = "75c44741-cc60-4033-804e-2d3098c7d2e9";
    assert_eq!(
        r.header("location").map(str::to_owned),
        Some(format!("http://localhost:8080/v1/resource/generic/{id}"))
    );
    let etag = r.header("etag").expect("etag").to_owned();
    assert!(r.header("last-modified").is_some());
    let v = r.json();
    assert_eq!(v.as_object().expect("object").len(), 13);
    assert_eq!(v["id"], id);
    assert_eq!(
        v["original_resource_id"],
        "75C44741-CC60-4033-804E-2D3098C7D2E9"
    );
    assert_eq!(v["creator"], "foobar");
    assert_eq!(v["created_by_project_id"], "");
    assert!(v["metrics"]["cpu"].is_string());

    let r = env
        .json("POST", "/v1/resource/generic", FOOBAR, json!({"id": id}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["description"],
        format!("Resource {id} already exists")
    );

    for (body, reason) in [
        (
            json!({"id": "a/b"}),
            "'/' is not supported in resource id for dictionary value @ data['id']",
        ),
        (
            json!({"id": "x", "type": "generic"}),
            "extra keys not allowed @ data['type']",
        ),
        (
            json!({"user_id": "u"}),
            "required key not provided @ data['id']",
        ),
    ] {
        let r = env.json("POST", "/v1/resource/generic", FOOBAR, body).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json()["description"]["reason"], reason);
    }
    let r = env
        .json(
            "POST",
            "/v1/resource/generic",
            FOOBAR,
            json!({"id": "x", "started_at": "2014-01-02", "ended_at": "2014-01-01"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Start timestamp cannot be after end timestamp"
    );
    let r = env
        .json(
            "POST",
            "/v1/resource/generic",
            FOOBAR,
            json!({"id": "x", "metrics": {"m": {"archive_policy_name": "noexist"}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Archive policy noexist does not exist"
    );
    assert_eq!(env.get("/v1/resource/generic/x", FOOBAR).await.status, 404);

    // GET, conditional GET, and the UUID5 rule for another user.
    let r = env.get(&format!("/v1/resource/generic/{id}"), FOOBAR).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let req = TestRequest::get()
        .uri(&format!("/v1/resource/generic/{id}"))
        .insert_header(("authorization", FOOBAR))
        .insert_header(("if-none-match", etag.as_str()));
    assert_eq!(env.send(req).await.status, 304);
    let r = env.get("/v1/resource/generic/noexist", FOOBAR).await;
    assert_eq!(r.status, 404);
    // The message names the transformed id (UUID5 of `noexist` for foobar).
    assert_eq!(
        r.get_description(),
        "Resource d796ab8b-15a0-576a-b2cc-38d0535ea5b6 does not exist"
    );

    // PATCH: no change keeps the revision; a change makes one.
    let path = format!("/v1/resource/generic/{id}");
    let before = env.get(&path, FOOBAR).await.json();
    let r = env
        .json("PATCH", &path, FOOBAR, json!({"user_id": "u"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["revision_start"], before["revision_start"]);
    let r = env.json("PATCH", &path, FOOBAR, json!({"id": "y"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["detail"], json!(["id"]));
    let r = env
        .json("PATCH", &path, FOOBAR, json!({"user_id": "u2"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user_id"], "u2");
    let r = env
        .json(
            "PATCH",
            &path,
            FOOBAR,
            json!({"metrics": {"m": "00000000-0000-0000-0000-000000000000"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Metric 00000000-0000-0000-0000-000000000000 does not exist"
    );

    let r = env.get(&format!("{path}/history"), FOOBAR).await;
    assert_eq!(r.status, 200);
    let revs = r.json();
    assert_eq!(revs.as_array().expect("list").len(), 2);
    assert_eq!(revs[0]["user_id"], "u");
    assert_eq!(revs[1]["user_id"], "u2");
    assert_eq!(revs[1]["revision_end"], Value::Null);

    // The resource's metrics: append, conflict, list.
    let r = env
        .json(
            "POST",
            &format!("{path}/metric"),
            FOOBAR,
            json!({"mem": {"archive_policy_name": "low"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json().as_array().expect("list").len(), 2);
    let r = env
        .json(
            "POST",
            &format!("{path}/metric"),
            FOOBAR,
            json!({"mem": {"archive_policy_name": "low"}}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["description"], "Named metric mem already exists");
    let r = env.get(&format!("{path}/metric"), FOOBAR).await;
    let mut names: Vec<String> = r
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or("").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["cpu", "mem"]);

    // Listing and attrs.
    let r = env
        .get("/v1/resource/generic?attrs=id&attrs=foo", FOOBAZ)
        .await;
    assert_eq!(r.json(), json!([{"id": id}]));

    let r = env.send(delete(&path, FOOBAR)).await;
    assert_eq!(r.status, 204);
    assert_eq!(env.get(&path, FOOBAR).await.status, 404);
    assert_eq!(env.get("/v1/metric", FOOBAR).await.json(), json!([]));
}

trait Description {
    fn get_description(&self) -> Value;
}

impl Description for crate::common::Resp {
    fn get_description(&self) -> Value {
        self.json()["description"].clone()
    }
}

#[actix_web::test]
async fn resource_listing_pages_and_search() {
    let env = setup().await;
    for (i, project) in ["a", "b", "a"].iter().enumerate() {
        let r = env
            .json(
                "POST",
                "/v1/resource/generic",
                FOOBAR,
                json!({"id": format!("res{i}"), "project_id": project}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = env
        .get("/v1/resource/generic?limit=2&sort=id", FOOBAR)
        .await;
    assert_eq!(r.json().as_array().expect("list").len(), 2);
    let link = r.header("link").expect("a full page has a Link").to_owned();
    assert!(link.contains("limit=2&marker="), "{link}");
    assert!(link.ends_with("&sort=id%3Aasc>; rel=\"next\""), "{link}");
    let r = env
        .get("/v1/resource/generic?sort=nonexistent_key", FOOBAR)
        .await;
    assert_eq!(r.status, 400);
    assert!(r
        .text
        .contains("Sort key supplied is invalid: nonexistent_key"));

    let r = env
        .json(
            "POST",
            "/v1/search/resource/generic",
            FOOBAR,
            json!({"=": {"project_id": "a"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json().as_array().expect("list").len(), 2);
    let r = env
        .json(
            "POST",
            "/v1/search/resource/generic",
            FOOBAR,
            json!({"=": {"id": "res1"}}),
        )
        .await;
    assert_eq!(r.json()[0]["original_resource_id"], "res1");
    let req = TestRequest::post()
        .uri("/v1/search/resource/generic?filter=project_id%20%3D%20%22b%22%20or%20id%3Dres0")
        .insert_header(("authorization", FOOBAR));
    let r = env.send(req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json().as_array().expect("list").len(), 2);
    let req = TestRequest::post()
        .uri("/v1/search/resource/generic?filter=id%20%3D%3D%20foobar")
        .insert_header(("authorization", FOOBAR))
        .insert_header(("accept", "application/json"));
    let r = env.send(req).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["description"]
        .as_str()
        .expect("text")
        .starts_with("Invalid filter: Expected"));
    let r = env
        .json(
            "POST",
            "/v1/search/resource/generic",
            FOOBAR,
            json!({"=": {"flavor": "a"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Resource type generic has no flavor attribute"
    );
    let r = env
        .json(
            "POST",
            "/v1/search/resource/generic",
            FOOBAR,
            json!({"and": {"project_id": "a"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["detail"], json!(["and"]));

    // Batch delete by filter.
    let r = env
        .json("DELETE", "/v1/resource/generic", FOOBAR, json!({}))
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .json(
            "DELETE",
            "/v1/resource/generic",
            FOOBAR,
            json!({"in": {"id": []}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("length of value must be at least 1"));
    let r = env
        .json(
            "DELETE",
            "/v1/resource/generic",
            FOOBAR,
            json!({"=": {"project_id": "a"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"deleted": 2}));
    assert_eq!(
        env.get("/v1/resource/generic", FOOBAR)
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// §9.2: of concurrent creations of the same resource exactly one wins; the others are 409.
#[actix_web::test]
async fn concurrent_creation_is_one_201_and_409s() {
    let env = setup().await;
    let attempts = (0..8).map(|_| {
        env.json(
            "POST",
            "/v1/resource/generic",
            ADMIN,
            json!({"id": "conflict"}),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "{statuses:?}"
    );
    for r in results.iter().filter(|r| r.status == 409) {
        assert_eq!(
            r.json()["description"],
            "Resource da19a545-af76-5081-9a88-f370baab66c6 already exists"
        );
    }
}

/// §2.6: in noauth mode a non-admin lists only resources of its project or created by it.
#[actix_web::test]
async fn noauth_listing_is_filtered_by_project() {
    let env = crate::common::env_with(gnocchi_api::Settings {
        auth_mode: gnocchi_api::AuthMode::NoAuth,
        ..gnocchi_api::Settings::default()
    })
    .await;
    let create = |user: &'static str, project: &'static str, body: Value| {
        TestRequest::post()
            .uri("/v1/resource/generic")
            .insert_header(("x-user-id", user))
            .insert_header(("x-project-id", project))
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_string())
    };
    for (user, project, body) in [
        ("u1", "p1", json!({"id": "mine"})),
        ("u2", "p2", json!({"id": "owned", "project_id": "p1"})),
        ("u2", "p2", json!({"id": "other"})),
    ] {
        let r = env.send(create(user, project, body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let list = |roles: &'static str| {
        TestRequest::get()
            .uri("/v1/resource/generic?sort=original_resource_id")
            .insert_header(("x-user-id", "u3"))
            .insert_header(("x-project-id", "p1"))
            .insert_header(("x-roles", roles))
    };
    let ids = |r: &crate::common::Resp| -> Vec<Value> {
        r.json()
            .as_array()
            .expect("list")
            .iter()
            .map(|x| x["original_resource_id"].clone())
            .collect()
    };
    let r = env.send(list("member")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), [json!("mine"), json!("owned")]);
    let r = env.send(list("admin")).await;
    assert_eq!(ids(&r).len(), 3);
}

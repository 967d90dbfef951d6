//! Resource types (shared/spec/api.md §8): create, list, get, JSON-Patch update, delete.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::common::{env, Env, ADMIN, FOOBAR};

async fn patch(env: &Env, name: &str, body: Value) -> crate::common::Resp {
    let req = TestRequest::patch()
        .uri(&format!("/v1/resource_type/{name}"))
        .insert_header(("authorization", ADMIN))
        .insert_header(("accept", "application/json"))
        .insert_header(("content-type", "application/json-patch+json"))
        .set_payload(body.to_string());
    env.send(req).await
}

#[actix_web::test]
async fn resource_type_lifecycle() {
    let env = env().await;
    let body = json!({"name": "my_custom_resource", "attributes": {
        "name": {"type": "string", "min_length": 2, "max_length": 5},
        "uuid": {"type": "uuid"},
        "int": {"type": "number", "required": false, "min": -2, "max": 3},
    }});
    let r = env
        .json("POST", "/v1/resource_type", FOOBAR, body.clone())
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = env
        .json("POST", "/v1/resource_type", ADMIN, body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/v1/resource_type/my_custom_resource")
    );
    assert_eq!(
        r.json(),
        json!({"name": "my_custom_resource", "state": "active", "attributes": {
            "name": {"type": "string", "required": true, "min_length": 2, "max_length": 5},
            "uuid": {"type": "uuid", "required": true},
            "int": {"type": "number", "required": false, "min": -2, "max": 3},
        }})
    );
    let r = env.json("POST", "/v1/resource_type", ADMIN, body).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["description"],
        "Resource type my_custom_resource already exists"
    );

    let bad = json!({"name": "x", "attributes": {"project_id": {"type": "string"}}});
    let r = env.json("POST", "/v1/resource_type", ADMIN, bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Invalid input: Resource attribute name project_id is invalid"
    );
    let bad = json!({"name": "x", "attributes": {"foo": {"type": "string", "noexist": 1}}});
    let r = env.json("POST", "/v1/resource_type", ADMIN, bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["cause"], "Invalid input");

    let r = env.get("/v1/resource_type", FOOBAR).await;
    let names: Vec<Value> = r
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("generic"), json!("my_custom_resource")]);
    let r = env.get("/v1/resource_type/nope", FOOBAR).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["description"], "Resource type nope does not exist");

    // A resource to be filled by the patch.
    let r = env
        .json(
            "POST",
            "/v1/resource/my_custom_resource",
            ADMIN,
            json!({"id": "r1", "name": "abc", "uuid": "00000000-0000-0000-0000-000000000001"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = patch(
        &env,
        "my_custom_resource",
        json!([{"op": "replace", "path": "/attributes/x"}]),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"]["detail"], json!(["0", "op"]));
    let r = patch(
        &env,
        "my_custom_resource",
        json!([{"op": "remove", "path": "/attributes/nope"}]),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "can't remove a non-existent object 'nope'"
    );
    let r = patch(
        &env,
        "my_custom_resource",
        json!([{"op": "add", "path": "/attributes/newint", "value": {"type": "number", "required": true}}]),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Invalid input: Option 'fill' of resource attribute newint is invalid: must not be empty if required=True"
    );
    let r = patch(
        &env,
        "my_custom_resource",
        json!([{"op": "add", "path": "/attributes/name", "value": {"type": "number"}}]),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Type update is not available yet. Changing string to number for attribute name of resource my_custom_resource"
    );
    let r = patch(
        &env,
        "my_custom_resource",
        json!([
            {"op": "add", "path": "/attributes/newint", "value": {"type": "number", "required": true, "options": {"fill": 15}}},
            {"op": "remove", "path": "/attributes/int"},
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let attrs = &r.json()["attributes"];
    assert_eq!(
        attrs["newint"],
        json!({"type": "number", "required": true, "min": null, "max": null})
    );
    assert!(attrs.get("int").is_none());
    let r = env.get("/v1/resource/my_custom_resource/r1", ADMIN).await;
    assert_eq!(r.json()["newint"], json!(15.0));
    assert!(r.json().get("int").is_none());

    let r = env
        .send(
            TestRequest::delete()
                .uri("/v1/resource_type/my_custom_resource")
                .insert_header(("authorization", ADMIN))
                .insert_header(("accept", "application/json")),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["description"],
        "Resource type my_custom_resource is still in use"
    );
    let r = env
        .send(
            TestRequest::delete()
                .uri("/v1/resource/my_custom_resource/r1")
                .insert_header(("authorization", ADMIN)),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = env
        .send(
            TestRequest::delete()
                .uri("/v1/resource_type/my_custom_resource")
                .insert_header(("authorization", FOOBAR)),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = env
        .send(
            TestRequest::delete()
                .uri("/v1/resource_type/my_custom_resource")
                .insert_header(("authorization", ADMIN)),
        )
        .await;
    assert_eq!(r.status, 204);
}

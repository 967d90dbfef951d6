//! Every rule of the default policy table (shared/spec/api.md §2.4), at the endpoints of §2.5,
//! for an allowed and a denied identity, and the listing visibility of §2.6.
//!
//! noauth mode is the one whose callers carry a project and roles (`X-User-Id`,
//! `X-Project-Id`, `X-Roles`), so every helper rule of the table can be told apart: admin,
//! creator (same user, or same project), resource owner (the resource's `project_id` is the
//! caller's project), the service role, and a stranger.

use actix_web::test::TestRequest;
use gnocchi_api::{AuthMode, Settings};
use serde_json::{json, Value};

use crate::common::{env_with, Env, Resp};

/// One caller: user, project, roles.
#[derive(Debug, Clone, Copy)]
struct Who {
    user: &'static str,
    project: &'static str,
    roles: &'static str,
}

const ADMIN: Who = Who {
    user: "root",
    project: "ops",
    roles: "admin",
};
/// Creates the fixtures.
const ALICE: Who = Who {
    user: "alice",
    project: "pa",
    roles: "",
};
/// Alice's project: `creator` matches through `created_by_project_id`.
const BOB: Who = Who {
    user: "bob",
    project: "pa",
    roles: "",
};
/// Member of the project the fixtures' resource belongs to (`project_id`), not its creator.
const CAROL: Who = Who {
    user: "carol",
    project: "pc",
    roles: "",
};
/// A service user of yet another project (e.g. Ceilometer posting on others' resources).
const SVC: Who = Who {
    user: "ceilometer",
    project: "services",
    roles: "service",
};
/// Nothing to do with anything here.
const EVE: Who = Who {
    user: "eve",
    project: "pe",
    roles: "",
};

struct Fixture {
    env: Env,
    /// A generic resource created by ALICE with `project_id` CAROL's project.
    resource: String,
    /// Metric `cpu` of that resource.
    attached: String,
    /// A metric of ALICE without a resource.
    standalone: String,
}

async fn call(env: &Env, method: &str, path: &str, who: Who, body: Option<Value>) -> Resp {
    let mut req = TestRequest::default()
        .method(method.parse().expect("method"))
        .uri(path)
        .insert_header(("x-user-id", who.user))
        .insert_header(("x-project-id", who.project))
        .insert_header(("accept", "application/json"));
    if !who.roles.is_empty() {
        req = req.insert_header(("x-roles", who.roles));
    }
    if let Some(body) = body {
        let patch = method == "PATCH" && path.starts_with("/v1/resource_type/");
        let content_type = if patch {
            "application/json-patch+json"
        } else {
            "application/json"
        };
        req = req
            .insert_header(("content-type", content_type))
            .set_payload(body.to_string());
    }
    env.send(req).await
}

async fn ok(env: &Env, method: &str, path: &str, who: Who, body: Value, status: u16) -> Value {
    let r = call(env, method, path, who, Some(body)).await;
    assert_eq!(r.status, status, "{method} {path} as {who:?}: {}", r.text);
    if r.text.is_empty() {
        Value::Null
    } else {
        r.json()
    }
}

async fn fixture() -> Fixture {
    let env = env_with(Settings {
        auth_mode: AuthMode::NoAuth,
        ..Settings::default()
    })
    .await;
    ok(
        &env,
        "POST",
        "/v1/archive_policy",
        ADMIN,
        json!({"name": "p", "definition": [{"granularity": "1 minute", "points": 60}]}),
        201,
    )
    .await;
    let rid = "7a7ed0c7-1b4a-4f3e-9d7f-000000000001";
    let r = ok(
        &env,
        "POST",
        "/v1/resource/generic",
        ALICE,
        json!({"id": rid, "project_id": CAROL.project,
               "metrics": {"cpu": {"archive_policy_name": "p"}}}),
        201,
    )
    .await;
    let attached = r["metrics"]["cpu"].as_str().expect("metric id").to_owned();
    let m = ok(
        &env,
        "POST",
        "/v1/metric",
        ALICE,
        json!({"archive_policy_name": "p"}),
        201,
    )
    .await;
    Fixture {
        env,
        resource: rid.to_owned(),
        attached,
        standalone: m["id"].as_str().expect("metric id").to_owned(),
    }
}

/// One row of the table: a request and the status each caller gets.
struct Row {
    method: &'static str,
    path: String,
    body: Option<Value>,
    cases: &'static [(Who, u16)],
}

async fn check(env: &Env, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for row in rows {
        for &(who, want) in row.cases {
            let r = call(env, row.method, &row.path, who, row.body.clone()).await;
            if r.status != want {
                failures.push(format!(
                    "{} {} as {}: {} (wanted {want}): {}",
                    row.method, row.path, who.user, r.status, r.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn row(
    method: &'static str,
    path: String,
    body: Option<Value>,
    cases: &'static [(Who, u16)],
) -> Row {
    Row {
        method,
        path,
        body,
        cases,
    }
}

/// `get status`, the resource type, archive policy and archive policy rule rules: denied
/// callers first, so that the allowed ones act on what is still there.
#[actix_web::test]
async fn admin_and_service_rules_section_2_4() {
    let f = fixture().await;
    let env = &f.env;
    let ap = |name: &str| json!({"name": name, "definition": [{"granularity": "1 hour"}]});
    let rows = vec![
        row(
            "GET",
            "/v1/status".into(),
            None,
            &[(EVE, 403), (SVC, 403), (ADMIN, 200)],
        ),
        // create resource type: admin_or_service.
        row(
            "POST",
            "/v1/resource_type".into(),
            Some(json!({"name": "by-alice"})),
            &[(ALICE, 403)],
        ),
        row(
            "POST",
            "/v1/resource_type".into(),
            Some(json!({"name": "by-svc"})),
            &[(SVC, 201)],
        ),
        row(
            "POST",
            "/v1/resource_type".into(),
            Some(json!({"name": "by-admin"})),
            &[(ADMIN, 201)],
        ),
        // get / list resource type: anyone.
        row(
            "GET",
            "/v1/resource_type/by-svc".into(),
            None,
            &[(EVE, 200)],
        ),
        row("GET", "/v1/resource_type".into(), None, &[(EVE, 200)]),
        // update resource type: admin_or_service.
        row(
            "PATCH",
            "/v1/resource_type/by-svc".into(),
            Some(json!([{"op": "add", "path": "/attributes/a",
                         "value": {"type": "string", "required": false}}])),
            &[(ALICE, 403), (SVC, 200)],
        ),
        // delete resource type: admin only.
        row(
            "DELETE",
            "/v1/resource_type/by-svc".into(),
            None,
            &[(SVC, 403), (ALICE, 403), (ADMIN, 204)],
        ),
        // create archive policy: admin_or_service.
        row(
            "POST",
            "/v1/archive_policy".into(),
            Some(ap("ap-alice")),
            &[(ALICE, 403)],
        ),
        row(
            "POST",
            "/v1/archive_policy".into(),
            Some(ap("ap-svc")),
            &[(SVC, 201)],
        ),
        row(
            "GET",
            "/v1/archive_policy/ap-svc".into(),
            None,
            &[(EVE, 200)],
        ),
        row("GET", "/v1/archive_policy".into(), None, &[(EVE, 200)]),
        // update / delete archive policy: admin only.
        row(
            "PATCH",
            "/v1/archive_policy/ap-svc".into(),
            Some(json!({"definition": [{"granularity": "1 hour", "timespan": "1 day"}]})),
            &[(SVC, 403), (ALICE, 403), (ADMIN, 200)],
        ),
        row(
            "DELETE",
            "/v1/archive_policy/ap-svc".into(),
            None,
            &[(SVC, 403), (ALICE, 403), (ADMIN, 204)],
        ),
        // archive policy rules: admin only, except get and list.
        row(
            "POST",
            "/v1/archive_policy_rule".into(),
            Some(json!({"name": "r", "metric_pattern": "disk.*", "archive_policy_name": "p"})),
            &[(SVC, 403), (ALICE, 403), (ADMIN, 201)],
        ),
        row(
            "GET",
            "/v1/archive_policy_rule/r".into(),
            None,
            &[(EVE, 200)],
        ),
        row("GET", "/v1/archive_policy_rule".into(), None, &[(EVE, 200)]),
        row(
            "PATCH",
            "/v1/archive_policy_rule/r".into(),
            Some(json!({"name": "r2"})),
            &[(SVC, 403), (ALICE, 403), (ADMIN, 200)],
        ),
        row(
            "DELETE",
            "/v1/archive_policy_rule/r2".into(),
            None,
            &[(SVC, 403), (ALICE, 403), (ADMIN, 204)],
        ),
    ];
    check(env, rows).await;
}

/// The resource rules: creator (user or project), owner (`project_id`), service, stranger.
#[actix_web::test]
async fn resource_rules_section_2_4() {
    let f = fixture().await;
    let env = &f.env;
    let res = format!("/v1/resource/generic/{}", f.resource);
    let rows = vec![
        // create resource: anyone.
        row(
            "POST",
            "/v1/resource/generic".into(),
            Some(json!({"id": "7a7ed0c7-1b4a-4f3e-9d7f-0000000000e1"})),
            &[(EVE, 201)],
        ),
        // get resource: admin_or_creator or resource_owner (no service).
        row(
            "GET",
            res.clone(),
            None,
            &[
                (ADMIN, 200),
                (ALICE, 200),
                (BOB, 200),
                (CAROL, 200),
                (SVC, 403),
                (EVE, 403),
            ],
        ),
        row(
            "GET",
            format!("{res}/history"),
            None,
            &[(CAROL, 200), (SVC, 403), (EVE, 403)],
        ),
        row(
            "GET",
            format!("{res}/metric"),
            None,
            &[(CAROL, 200), (SVC, 403), (EVE, 403)],
        ),
        // update resource: admin_or_service or creator (not the owner).
        row(
            "PATCH",
            res.clone(),
            Some(json!({"user_id": "someone"})),
            &[
                (CAROL, 403),
                (EVE, 403),
                (SVC, 200),
                (BOB, 200),
                (ALICE, 200),
                (ADMIN, 200),
            ],
        ),
        row(
            "POST",
            format!("{res}/metric"),
            Some(json!({"mem": {"archive_policy_name": "p"}})),
            &[(CAROL, 403), (EVE, 403), (SVC, 200)],
        ),
        // delete resource: admin_or_creator (neither owner nor service).
        row(
            "DELETE",
            res.clone(),
            None,
            &[(CAROL, 403), (SVC, 403), (EVE, 403), (BOB, 204)],
        ),
    ];
    check(env, rows).await;
}

/// The metric and measures rules, on a metric of a resource of CAROL's project created by
/// ALICE, and on a metric of ALICE without a resource.
#[actix_web::test]
async fn metric_and_measures_rules_section_2_4() {
    let f = fixture().await;
    let env = &f.env;
    let m = format!("/v1/metric/{}", f.attached);
    let lone = format!("/v1/metric/{}", f.standalone);
    let named = format!("/v1/resource/generic/{}/metric/cpu", f.resource);
    let measures = json!([{"timestamp": "2024-01-01T00:00:00", "value": 1.0}]);
    let rows = vec![
        // create metric: anyone.
        row(
            "POST",
            "/v1/metric".into(),
            Some(json!({"archive_policy_name": "p"})),
            &[(EVE, 201)],
        ),
        // get metric: admin_or_service or creator or metric_owner.
        row(
            "GET",
            m.clone(),
            None,
            &[
                (ADMIN, 200),
                (SVC, 200),
                (ALICE, 200),
                (BOB, 200),
                (CAROL, 200),
                (EVE, 403),
            ],
        ),
        row(
            "GET",
            lone.clone(),
            None,
            &[(CAROL, 403), (EVE, 403), (BOB, 200)],
        ),
        row("GET", named.clone(), None, &[(CAROL, 200), (EVE, 403)]),
        // post measures: admin_or_service or creator (the owner may read, not write).
        row(
            "POST",
            format!("{m}/measures"),
            Some(measures.clone()),
            &[
                (CAROL, 403),
                (EVE, 403),
                (SVC, 202),
                (BOB, 202),
                (ALICE, 202),
            ],
        ),
        row(
            "POST",
            format!("{named}/measures"),
            Some(measures.clone()),
            &[(CAROL, 403), (EVE, 403), (SVC, 202)],
        ),
        row(
            "POST",
            "/v1/batch/metrics/measures".into(),
            Some(json!({ f.attached.clone(): measures.clone() })),
            &[(CAROL, 403), (EVE, 403), (SVC, 202)],
        ),
        row(
            "POST",
            "/v1/batch/resources/metrics/measures".into(),
            Some(json!({ f.resource.clone(): {"cpu": measures.clone()} })),
            &[(CAROL, 403), (EVE, 403), (SVC, 202)],
        ),
        // get measures: admin_or_service or creator or metric_owner.
        row(
            "GET",
            format!("{m}/measures"),
            None,
            &[(SVC, 200), (CAROL, 200), (BOB, 200), (EVE, 403)],
        ),
        row(
            "GET",
            format!("{named}/measures"),
            None,
            &[(CAROL, 200), (EVE, 403)],
        ),
        row(
            "GET",
            format!("{lone}/measures"),
            None,
            &[(CAROL, 403), (ALICE, 200)],
        ),
        // The aggregation endpoints check `get metric` on each metric.
        row(
            "POST",
            "/v1/aggregates".into(),
            Some(json!({"operations": ["metric", f.attached.clone(), "mean"]})),
            &[(CAROL, 200), (SVC, 200), (EVE, 403)],
        ),
        row(
            "GET",
            format!("/v1/aggregation/metric?metric={}", f.attached),
            None,
            &[(CAROL, 200), (EVE, 403)],
        ),
        // search metric: admin_or_creator or metric_owner (no service).
        row(
            "POST",
            format!("/v1/search/metric?metric_id={}", f.attached),
            Some(json!({"=": 1})),
            &[(CAROL, 200), (BOB, 200), (SVC, 403), (EVE, 403)],
        ),
        // delete metric: admin_or_creator.
        row(
            "DELETE",
            m.clone(),
            None,
            &[(CAROL, 403), (SVC, 403), (EVE, 403), (BOB, 204)],
        ),
        row("DELETE", lone.clone(), None, &[(EVE, 403), (ADMIN, 204)]),
    ];
    check(env, rows).await;
}

fn ids(r: &Resp) -> Vec<String> {
    r.json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

/// §2.6: a caller that may not list everything sees the resources of its project and those
/// created from its project; the filter applies to searches and batch deletes too.
#[actix_web::test]
async fn resource_listing_visibility_section_2_6() {
    let f = fixture().await;
    let env = &f.env;
    let own = "7a7ed0c7-1b4a-4f3e-9d7f-0000000000e2";
    let body = json!({"id": own, "metrics": {"cpu": {"archive_policy_name": "p"}}});
    ok(env, "POST", "/v1/resource/generic", EVE, body, 201).await;
    let listing = |who| async move {
        let r = call(env, "GET", "/v1/resource/generic", who, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut v = ids(&r);
        v.sort();
        v
    };
    let search = |who| async move {
        let r = call(
            env,
            "POST",
            "/v1/search/resource/generic",
            who,
            Some(json!({})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut v = ids(&r);
        v.sort();
        v
    };
    let both = vec![f.resource.clone(), own.to_owned()];
    assert_eq!(listing(ADMIN).await, both);
    // Creator by project, owner by project_id.
    assert_eq!(listing(BOB).await, vec![f.resource.clone()]);
    assert_eq!(listing(CAROL).await, vec![f.resource.clone()]);
    assert_eq!(listing(EVE).await, vec![own.to_owned()]);
    // `list resource` has no service clause: the service user sees only its own project.
    assert_eq!(listing(SVC).await, Vec::<String>::new());
    // `search resource` does.
    assert_eq!(search(SVC).await, both);
    assert_eq!(search(EVE).await, vec![own.to_owned()]);
    assert_eq!(search(CAROL).await, vec![f.resource.clone()]);

    // Resource-mode aggregates search through the same filter.
    let r = call(
        env,
        "POST",
        "/v1/aggregates?details=true",
        EVE,
        Some(json!({"resource_type": "generic", "search": {},
                    "operations": ["metric", "cpu", "mean"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refs = r.json()["references"].clone();
    assert_eq!(refs.as_array().map(Vec::len), Some(1), "{}", r.text);
    assert_eq!(refs[0]["id"], json!(own), "{}", r.text);

    // A batch delete deletes only what the caller sees.
    let r = call(
        env,
        "DELETE",
        "/v1/resource/generic",
        EVE,
        Some(json!({"in": {"id": [f.resource.clone(), own]}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["deleted"], json!(1), "{}", r.text);
    assert_eq!(listing(ADMIN).await, vec![f.resource.clone()]);
}

/// §2.6 for `GET /v1/metric`: a caller that may not list everything sees the metrics created
/// from its project and those of resources of its project.
#[actix_web::test]
async fn metric_listing_visibility_section_2_6() {
    let f = fixture().await;
    let env = &f.env;
    let eve = ok(
        env,
        "POST",
        "/v1/metric",
        EVE,
        json!({"archive_policy_name": "p"}),
        201,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let listing = |who| async move {
        let r = call(env, "GET", "/v1/metric", who, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut v = ids(&r);
        v.sort();
        v
    };
    let mut all = vec![f.attached.clone(), f.standalone.clone(), eve.clone()];
    all.sort();
    assert_eq!(listing(ADMIN).await, all);
    assert_eq!(listing(EVE).await, vec![eve]);
    let mut alices = vec![f.attached.clone(), f.standalone.clone()];
    alices.sort();
    assert_eq!(listing(BOB).await, alices);
    assert_eq!(listing(CAROL).await, vec![f.attached.clone()]);
}

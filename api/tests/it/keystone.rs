//! `auth_mode = keystone` against a real Keystone (shared/recipes/keystone.md, "What Gnocchi
//! 4.7.1 answers"). The server comes from `eval "$(scripts/keystone-server start DIR)"`; without
//! `GNOCCHI_TEST_KEYSTONE_URL` the tests skip, unless `GNOCCHI_REQUIRE_KEYSTONE=1`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use gnocchi_api::AppState;
use gnocchi_core::config::Config;
use serde_json::{json, Value};

use crate::common::{drivers, Env, Resp};

const KEYSTONE_URL: &str = "GNOCCHI_TEST_KEYSTONE_URL";
const REQUIRE_KEYSTONE: &str = "GNOCCHI_REQUIRE_KEYSTONE";
const UNAUTHORIZED_BODY: &str = "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \
     \"message\": \"The request you have made requires authentication.\"}}";

/// The test Keystone's URL, or `None` (reason printed) when none is configured.
#[allow(clippy::print_stderr)]
fn keystone_url() -> Option<String> {
    let Ok(url) = std::env::var(KEYSTONE_URL) else {
        assert!(
            std::env::var(REQUIRE_KEYSTONE).as_deref() != Ok("1"),
            "{REQUIRE_KEYSTONE}=1 but {KEYSTONE_URL} is unset \
             (eval \"$(scripts/keystone-server start DIR)\")"
        );
        eprintln!("skipped: {KEYSTONE_URL} is unset (see scripts/keystone-server)");
        return None;
    };
    Some(url)
}

/// An application in keystone mode over fresh SQLite and files, logging in as `gnocchi`.
async fn keystone_env(url: &str, token_cache_time: u64) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = format!(
        "[api]\nauth_mode = keystone\n\
         [keystone_authtoken]\nauth_type = password\nauth_url = {url}\n\
         www_authenticate_uri = {url}\nproject_domain_name = Default\n\
         user_domain_name = Default\nproject_name = service\nusername = gnocchi\n\
         password = gnocchi-pass\nregion_name = RegionOne\ntoken_cache_time = {token_cache_time}\n"
    );
    let config = Config::from_ini_str(&conf).expect("config").config;
    let (indexer, incoming, storage) = drivers(dir.path()).await;
    let state = AppState::new(&config, indexer, incoming, storage).expect("state");
    Env::from_state(state, dir)
}

/// A user token from Keystone: project-scoped on `user`'s own project, or system-scoped.
async fn token(url: &str, user: &str, system: bool) -> String {
    let project = match user {
        "gnocchi" | "ceilometer" | "swift" => "service",
        other => other,
    };
    let scope = if system {
        json!({"system": {"all": true}})
    } else {
        json!({"project": {"name": project, "domain": {"id": "default"}}})
    };
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": format!("{user}-pass")}}},
        "scope": scope,
    }});
    let res = reqwest::Client::new()
        .post(format!("{url}/v3/auth/tokens?nocatalog"))
        .json(&body)
        .send()
        .await
        .expect("keystone answers");
    assert_eq!(res.status().as_u16(), 201, "login of {user}");
    res.headers()["x-subject-token"]
        .to_str()
        .expect("ascii token")
        .to_owned()
}

async fn revoke(url: &str, token: &str) {
    let res = reqwest::Client::new()
        .delete(format!("{url}/v3/auth/tokens"))
        .header("X-Auth-Token", token)
        .header("X-Subject-Token", token)
        .send()
        .await
        .expect("keystone answers");
    assert_eq!(res.status().as_u16(), 204, "revocation");
}

/// `method path` with `token` in `header` (none when empty), a JSON body when given.
async fn call(env: &Env, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
    call_with(env, method, path, ("x-auth-token", token), body).await
}

async fn call_with(
    env: &Env,
    method: &str,
    path: &str,
    (header, token): (&str, &str),
    body: Option<Value>,
) -> Resp {
    let mut req = TestRequest::default()
        .method(method.parse().expect("method"))
        .uri(path)
        .insert_header(("accept", "application/json"));
    if !token.is_empty() {
        req = req.insert_header((header, token));
    }
    if let Some(b) = body {
        req = req
            .insert_header(("content-type", "application/json"))
            .set_payload(b.to_string());
    }
    env.send(req).await
}

fn assert_keystone_401(r: &Resp, url: &str) {
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("Keystone uri=\"{url}\"").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text, UNAUTHORIZED_BODY);
}

/// Who a token stands for, asked of Keystone (the test's view, independent of gnocchi-rs).
async fn ids(url: &str, token: &str) -> (String, String) {
    let res = reqwest::Client::new()
        .get(format!("{url}/v3/auth/tokens?nocatalog"))
        .header("X-Auth-Token", token)
        .header("X-Subject-Token", token)
        .send()
        .await
        .expect("keystone answers");
    let v: Value = res.json().await.expect("json");
    (
        v["token"]["user"]["id"].as_str().expect("user").to_owned(),
        v["token"]["project"]["id"]
            .as_str()
            .expect("project")
            .to_owned(),
    )
}

#[actix_web::test]
async fn missing_and_bad_tokens_get_keystonemiddleware_401() {
    let Some(url) = keystone_url() else { return };
    let env = keystone_env(&url, 300).await;
    for path in ["/v1", "/v1/metric", "/v1/status"] {
        assert_keystone_401(&call(&env, "GET", path, "", None).await, &url);
    }
    assert_keystone_401(&call(&env, "GET", "/v1/metric", "   ", None).await, &url);
    assert_keystone_401(
        &call(&env, "GET", "/v1/metric", "garbage", None).await,
        &url,
    );
    let fake = format!("gAAAAAB{}", "x".repeat(170));
    assert_keystone_401(&call(&env, "POST", "/v1/metric", &fake, None).await, &url);
    let huge = "a".repeat(10_000);
    assert_keystone_401(&call(&env, "GET", "/v1/metric", &huge, None).await, &url);
    // HTTP Basic means nothing in keystone mode.
    let basic = call_with(
        &env,
        "GET",
        "/v1/metric",
        ("authorization", "basic YWRtaW46"),
        None,
    );
    assert_keystone_401(&basic.await, &url);
    // The root and the health check need no token.
    assert_eq!(call(&env, "GET", "/", "", None).await.status, 200);
    assert_eq!(
        call(&env, "GET", "/healthcheck", "garbage", None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn members_admins_and_services_across_projects() {
    let Some(url) = keystone_url() else { return };
    let env = keystone_env(&url, 300).await;
    let (admin, demo, alt, swift) = (
        token(&url, "admin", false).await,
        token(&url, "demo", false).await,
        token(&url, "alt_demo", false).await,
        token(&url, "swift", false).await,
    );
    let (demo_user, demo_project) = ids(&url, &demo).await;

    // Roles: admin reads the status, a member does not.
    assert_eq!(
        call(&env, "GET", "/v1/status", &admin, None).await.status,
        200
    );
    assert_eq!(
        call(&env, "GET", "/v1/status", &demo, None).await.status,
        403
    );
    let policy = json!({"name": "ks", "definition": [{"granularity": "1s", "points": 60}]});
    let r = call(
        &env,
        "POST",
        "/v1/archive_policy",
        &demo,
        Some(policy.clone()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call(&env, "POST", "/v1/archive_policy", &admin, Some(policy)).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // A member creates; the creator is "<user id>:<project id>" from the token.
    let body = json!({"archive_policy_name": "ks", "name": "cpu", "unit": "ns"});
    let r = call(&env, "POST", "/v1/metric", &demo, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let m = r.json();
    assert_eq!(m["creator"], format!("{demo_user}:{demo_project}"));
    assert_eq!(m["created_by_project_id"], demo_project.as_str());
    let metric = m["id"].as_str().expect("id").to_owned();
    // X-Storage-Token is accepted like X-Auth-Token.
    let r = call_with(
        &env,
        "GET",
        &format!("/v1/metric/{metric}"),
        ("x-storage-token", &demo),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rid = uuid::Uuid::new_v4().to_string();
    let body = json!({"id": rid, "project_id": demo_project, "user_id": demo_user,
                      "metrics": {"cpu.util": {"archive_policy_name": "ks"}}});
    let r = call(&env, "POST", "/v1/resource/generic", &demo, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let res_metric = r.json()["metrics"]["cpu.util"]
        .as_str()
        .expect("metric")
        .to_owned();

    // Another project's member: 403 on the object, filtered listings and searches.
    let measures = json!([{"timestamp": "2026-12-01T12:00:00", "value": 1.0}]);
    let denied = [
        ("GET", format!("/v1/resource/generic/{rid}"), None),
        ("GET", format!("/v1/metric/{metric}"), None),
        ("GET", format!("/v1/metric/{res_metric}"), None),
        (
            "GET",
            format!("/v1/resource/generic/{rid}/metric/cpu.util/measures"),
            None,
        ),
        (
            "POST",
            format!("/v1/resource/generic/{rid}/metric/cpu.util/measures"),
            Some(measures.clone()),
        ),
        (
            "POST",
            "/v1/batch/metrics/measures".to_owned(),
            Some(json!({ &metric: measures.clone() })),
        ),
        ("DELETE", format!("/v1/metric/{metric}"), None),
        ("DELETE", format!("/v1/resource/generic/{rid}"), None),
    ];
    for (method, path, body) in denied {
        let r = call(&env, method, &path, &alt, body).await;
        assert_eq!(r.status, 403, "{method} {path} by alt_demo: {}", r.text);
    }
    let r = call(&env, "GET", "/v1/resource/generic", &alt, None).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    let r = call(&env, "GET", "/v1/metric", &alt, None).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    let r = call(&env, "GET", "/v1/metric", &demo, None).await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{}", r.text);
    let search = json!({"=": {"id": rid}});
    let r = call(
        &env,
        "POST",
        "/v1/search/resource/generic",
        &alt,
        Some(search.clone()),
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!([])));

    // The owner and admin see it.
    let r = call(&env, "GET", "/v1/resource/generic", &demo, None).await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.text);
    let r = call(
        &env,
        "POST",
        "/v1/search/resource/generic",
        &admin,
        Some(search),
    )
    .await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.text);
    let path = format!("/v1/resource/generic/{rid}");
    assert_eq!(call(&env, "GET", &path, &admin, None).await.status, 200);

    // The service role may post measures on other projects' metrics (rule admin_or_service).
    let batch = json!({ &metric: measures.clone(), &res_metric: measures.clone() });
    let r = call(
        &env,
        "POST",
        "/v1/batch/metrics/measures",
        &swift,
        Some(batch),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let path = format!("/v1/metric/{metric}/measures");
    let r = call(&env, "POST", &path, &swift, Some(measures.clone())).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // ... but not delete them (admin_or_creator).
    let path = format!("/v1/metric/{metric}");
    assert_eq!(call(&env, "DELETE", &path, &swift, None).await.status, 403);
    assert_eq!(call(&env, "DELETE", &path, &demo, None).await.status, 204);
}

#[actix_web::test]
async fn system_scoped_tokens_read_but_do_not_create() {
    let Some(url) = keystone_url() else { return };
    let env = keystone_env(&url, 300).await;
    let system = token(&url, "admin", true).await;
    assert_eq!(
        call(&env, "GET", "/v1/status", &system, None).await.status,
        200
    );
    let body = json!({"archive_policy_name": "low"});
    let r = call(&env, "POST", "/v1/metric", &system, Some(body)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("project-scoped token"), "{}", r.text);
}

#[actix_web::test]
async fn revoked_token_is_refused_once_its_cache_entry_ends() {
    let Some(url) = keystone_url() else { return };
    let env = keystone_env(&url, 2).await;
    let t = token(&url, "demo", false).await;
    assert_eq!(call(&env, "GET", "/v1/metric", &t, None).await.status, 200);
    revoke(&url, &t).await;
    let revoked_at = Instant::now();
    // A token revoked before this process saw it is refused at once.
    let other = token(&url, "demo", false).await;
    revoke(&url, &other).await;
    assert_keystone_401(&call(&env, "GET", "/v1/metric", &other, None).await, &url);
    // Still cached (as keystonemiddleware does): accepted until token_cache_time ends.
    if revoked_at.elapsed() < Duration::from_secs(1) {
        assert_eq!(call(&env, "GET", "/v1/metric", &t, None).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_keystone_401(&call(&env, "GET", "/v1/metric", &t, None).await, &url);
}

/// A Keystone of this test's own, which it may stop and restart.
struct OwnKeystone {
    dir: PathBuf,
}

impl OwnKeystone {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/keystone-server")
    }

    /// Starts it; returns its URL.
    fn start(&self, token_expiration: u32) -> String {
        let out = std::process::Command::new(Self::script())
            .arg("start")
            .arg(&self.dir)
            .args(["--token-expiration", &token_expiration.to_string()])
            .output()
            .expect("run scripts/keystone-server");
        assert!(
            out.status.success(),
            "keystone-server start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("GNOCCHI_TEST_KEYSTONE_URL="))
            .expect("the URL line")
            .to_owned()
    }

    fn stop(&self) {
        let out = std::process::Command::new(Self::script())
            .arg("stop")
            .arg(&self.dir)
            .output()
            .expect("run scripts/keystone-server");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnKeystone {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

#[actix_web::test]
async fn keystone_outage_then_recovery_then_token_expiry() {
    if keystone_url().is_none() {
        return;
    }
    let base = tempfile::tempdir().expect("tempdir");
    let ks = OwnKeystone {
        dir: base.path().join("ks"),
    };
    let url = ks.start(20);
    let env = keystone_env(&url, 300).await;
    let cached = token(&url, "demo", false).await;
    let unseen = token(&url, "demo", false).await;
    assert_eq!(
        call(&env, "GET", "/v1/metric", &cached, None).await.status,
        200
    );

    ks.stop();
    // Cached tokens keep working; new ones get 503 after a short, bounded retry.
    assert_eq!(
        call(&env, "GET", "/v1/metric", &cached, None).await.status,
        200
    );
    let t0 = Instant::now();
    let r = call(&env, "GET", "/v1/metric", &unseen, None).await;
    let waited = t0.elapsed();
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], 503);
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");

    // Back by itself once Keystone is.
    assert_eq!(ks.start(20), url);
    let fresh = token(&url, "demo", false).await;
    let never_used = token(&url, "demo", false).await;
    let issued = Instant::now();
    assert_eq!(
        call(&env, "GET", "/v1/metric", &fresh, None).await.status,
        200
    );

    // A 20 s token: refused once expired, cached or not.
    tokio::time::sleep(Duration::from_secs(21).saturating_sub(issued.elapsed())).await;
    assert_keystone_401(&call(&env, "GET", "/v1/metric", &fresh, None).await, &url);
    assert_keystone_401(
        &call(&env, "GET", "/v1/metric", &never_used, None).await,
        &url,
    );
}

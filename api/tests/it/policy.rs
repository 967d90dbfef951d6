//! `AppState::new` from a `gnocchi.conf` model and `[oslo_policy] policy_file`
//! (shared/spec/api.md §2.3).

use gnocchi_api::AppState;
use gnocchi_core::config::{AuthMode, Config};

use crate::common::{drivers, Env, FOOBAR};

fn write(path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path).expect("create policy file");
    f.write_all(text.as_bytes()).expect("write policy file");
}

#[actix_web::test]
async fn policy_file_overrides_default_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.yaml");
    write(&file, "\"get status\": \"\"\n");
    let mut config = Config::default();
    config.oslo_policy.policy_file = file.display().to_string();
    let (indexer, incoming, storage) = drivers(dir.path()).await;
    let state = AppState::new(&config, indexer, incoming, storage).expect("state");
    let env = Env::from_state(state, dir);
    assert_eq!(env.get("/v1/status", FOOBAR).await.status, 200);
}

#[actix_web::test]
async fn invalid_policy_file_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.json");
    write(&file, "{\"get status\": \"(role:admin\"}");
    let mut config = Config::default();
    config.oslo_policy.policy_file = file.display().to_string();
    let (indexer, incoming, storage) = drivers(dir.path()).await;
    let err = AppState::new(&config, indexer, incoming, storage)
        .err()
        .expect("a broken policy file is refused");
    let msg = err.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(msg.contains("[oslo_policy] policy_file"), "{msg}");
}

#[actix_web::test]
async fn remoteuser_mode_reads_the_configured_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.api.auth_mode = AuthMode::Remoteuser;
    config.api.remote_user_header = Some("X-Remote-User".into());
    let (indexer, incoming, storage) = drivers(dir.path()).await;
    let state = AppState::new(&config, indexer, incoming, storage).expect("state");
    let env = Env::from_state(state, dir);
    let req = actix_web::test::TestRequest::get()
        .uri("/v1/status")
        .insert_header(("x-remote-user", "admin"));
    assert_eq!(env.send(req).await.status, 200);
    let req = actix_web::test::TestRequest::get()
        .uri("/v1/status")
        .insert_header(("x-remote-user", "foobar"));
    assert_eq!(env.send(req).await.status, 403);
    let req = actix_web::test::TestRequest::get().uri("/v1/status");
    assert_eq!(env.send(req).await.status, 401);
}

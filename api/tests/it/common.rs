//! Fixtures: a fresh application per test and small request helpers.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use gnocchi_api::{AppState, Settings};
use gnocchi_indexer::{Indexer, SqliteIndexer};
use gnocchi_storage::{FileIncoming, FileStorage};
use serde_json::Value;

pub const ADMIN: &str = "basic YWRtaW46";
pub const FOOBAR: &str = "basic Zm9vYmFyOg==";
pub const FOOBAZ: &str = "basic Zm9vYmF6Og==";

/// A test server's state and the directory keeping its files alive.
pub struct Env {
    pub state: AppState,
    /// The indexer behind the state, to set up what no route of this crate creates yet.
    pub indexer: Option<Arc<dyn Indexer>>,
    _dir: tempfile::TempDir,
}

/// Opened drivers over fresh files in `dir`.
pub async fn drivers(
    dir: &std::path::Path,
) -> (
    Arc<dyn Indexer>,
    Arc<dyn gnocchi_storage::Incoming>,
    Arc<dyn gnocchi_storage::AggregateStorage>,
) {
    let url = format!("sqlite:///{}", dir.join("index.db").display());
    let indexer = SqliteIndexer::open(&url).await.expect("open indexer");
    indexer.upgrade().await.expect("upgrade indexer");
    let inc = dir.join("incoming");
    FileIncoming::upgrade(&inc, 8).expect("upgrade incoming");
    let incoming = FileIncoming::open(&inc).expect("open incoming");
    let sto = dir.join("storage");
    FileStorage::upgrade(&sto, 2).expect("upgrade storage");
    let storage = FileStorage::open(&sto).expect("open storage");
    (Arc::new(indexer), Arc::new(incoming), Arc::new(storage))
}

impl Env {
    /// Wraps an already built state.
    pub fn from_state(state: AppState, dir: tempfile::TempDir) -> Self {
        Self {
            state,
            indexer: None,
            _dir: dir,
        }
    }
}

/// A fresh state with the conformance harness's settings (shared/spec/api.md §0).
pub async fn env_with(mut settings: Settings) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let (indexer, incoming, storage) = drivers(dir.path()).await;
    settings.enable_proxy_headers_parsing = true;
    let state =
        AppState::from_settings(settings, indexer.clone(), incoming, storage).expect("state");
    Env {
        state,
        indexer: Some(indexer),
        _dir: dir,
    }
}

pub async fn env() -> Env {
    let settings = Settings {
        max_limit: 7,
        ..Settings::default()
    };
    env_with(settings).await
}

/// One response, read whole.
pub struct Resp {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn read<B: MessageBody>(res: ServiceResponse<B>) -> Resp {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    Resp {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

impl Env {
    /// Sends `req` to a fresh instance of the application over this state.
    pub async fn send(&self, req: TestRequest) -> Resp {
        let app = test::init_service(gnocchi_api::app(self.state.clone())).await;
        let res = app.call(req.to_request()).await;
        match res {
            Ok(res) => read(res).await,
            Err(e) => panic!("service error escaped the error middleware: {e}"),
        }
    }

    /// A JSON request as `auth`, asking for JSON errors.
    pub async fn json(&self, method: &str, path: &str, auth: &str, body: Value) -> Resp {
        let req = TestRequest::default()
            .method(method.parse().expect("method"))
            .uri(path)
            .insert_header(("authorization", auth))
            .insert_header(("accept", "application/json"))
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_string());
        self.send(req).await
    }

    /// A GET as `auth`.
    pub async fn get(&self, path: &str, auth: &str) -> Resp {
        let req = TestRequest::get()
            .uri(path)
            .insert_header(("authorization", auth))
            .insert_header(("accept", "application/json"));
        self.send(req).await
    }

    /// Creates an archive policy as admin.
    pub async fn policy(&self, body: Value) -> Resp {
        let r = self.json("POST", "/v1/archive_policy", ADMIN, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r
    }

    /// Creates a metric as `auth`, returning its id.
    pub async fn metric(&self, auth: &str, body: Value) -> String {
        let r = self.json("POST", "/v1/metric", auth, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_str().expect("id").to_owned()
    }
}

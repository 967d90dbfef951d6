//! `auth_mode = keystone`: user tokens validated against Keystone v3, as keystonemiddleware's
//! `auth_token` does for Gnocchi (shared/recipes/keystone.md, "What Gnocchi 4.7.1 answers").
//!
//! A middleware in front of `/v1` takes the token from `X-Auth-Token` (or `X-Storage-Token`),
//! looks it up in the process-wide [`TokenCache`], else asks Keystone
//! (`GET /v3/auth/tokens`, the service user's token as `X-Auth-Token`, the user's as
//! `X-Subject-Token`) and puts the resulting [`TokenIdentity`] in the request's extensions,
//! where [`super::Caller`] finds it. The service user logs in with its password and renews its
//! token before it expires. Keystone unreachable: a few retries within a bounded time, then 503.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::token_cache::{TokenCache, Validation};
use crate::settings::KeystoneSettings;
use crate::AppState;

/// The headers a client sends its token in; the second is Swift's name, accepted by
/// keystonemiddleware too.
const TOKEN_HEADERS: [&str; 2] = ["x-auth-token", "x-storage-token"];
/// Longer tokens are refused without asking Keystone (fernet tokens are about 200 bytes; a
/// JWS token with many roles stays well under this).
const MAX_TOKEN_LEN: usize = 8192;
/// Most tokens the cache holds.
const CACHE_CAPACITY: usize = 10_000;
/// Waits between attempts when Keystone cannot be reached (keystonemiddleware: 0.5, 1, 2 s).
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];
/// One Keystone request, connection included, unless `http_connect_timeout` says otherwise.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The service token is renewed this long before it expires (or at a third of its life).
const RENEW_MARGIN: Duration = Duration::from_secs(60);
/// keystonemiddleware's 401 body, always JSON whatever `Accept` says.
const UNAUTHORIZED_BODY: &str = "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \
     \"message\": \"The request you have made requires authentication.\"}}";

/// Who a valid token stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenIdentity {
    /// `token.user.id`.
    pub(crate) user_id: String,
    /// `token.project.id`; `None` for system- and domain-scoped tokens.
    pub(crate) project_id: Option<String>,
    /// `token.domain.id` of a domain-scoped token.
    pub(crate) domain_id: Option<String>,
    /// `token.roles[].name`.
    pub(crate) roles: Vec<String>,
    /// `token.expires_at`.
    pub(crate) expires_at: SystemTime,
}

impl TokenIdentity {
    /// `"<user id>:<project id>"`, the creator recorded on what the caller creates.
    pub(crate) fn creator(&self) -> String {
        format!(
            "{}:{}",
            self.user_id,
            self.project_id.as_deref().unwrap_or("")
        )
    }
}

/// Why a token could not be checked.
#[derive(Debug)]
enum Failure {
    /// No token, or Keystone says it is not valid: 401.
    Unauthorized,
    /// Keystone could not be asked (down, timing out, refusing the service user): 503.
    Unavailable(String),
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenFields,
}

#[derive(Deserialize)]
struct TokenFields {
    expires_at: String,
    #[serde(default)]
    issued_at: Option<String>,
    user: Named,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    domain: Option<Named>,
    #[serde(default)]
    roles: Vec<Role>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
}

#[derive(Deserialize)]
struct Role {
    name: String,
}

struct ServiceToken {
    token: String,
    renew_at: Instant,
}

/// The Keystone client and token cache of a process; one `Arc` in [`AppState`].
pub(crate) struct KeystoneAuth {
    settings: KeystoneSettings,
    http: reqwest::Client,
    cache: TokenCache,
    /// An async mutex: held across the login request so concurrent requests wait for one
    /// login instead of each making their own.
    service_token: tokio::sync::Mutex<Option<ServiceToken>>,
}

impl KeystoneAuth {
    /// A client for the Keystone of `settings`.
    pub(crate) fn new(settings: KeystoneSettings) -> Self {
        let timeout = settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .danger_accept_invalid_certs(settings.insecure)
            .build()
            .expect("a rustls client with built-in roots and no client certificate builds");
        Self {
            cache: TokenCache::new(settings.token_cache_time, CACHE_CAPACITY),
            settings,
            http,
            service_token: tokio::sync::Mutex::new(None),
        }
    }

    /// The identity behind `token`, from the cache or from Keystone.
    async fn authenticate(&self, token: &str) -> Result<Arc<TokenIdentity>, Failure> {
        if let Some(v) = self.cache.get(token, Instant::now()) {
            return match v {
                Validation::Valid(identity) if identity.expires_at > SystemTime::now() => {
                    Ok(identity)
                }
                Validation::Valid(_) | Validation::Invalid => Err(Failure::Unauthorized),
            };
        }
        let validation = self.validate_with_retries(token).await?;
        let valid_for = match &validation {
            Validation::Valid(identity) => Some(
                identity
                    .expires_at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default(),
            ),
            Validation::Invalid => None,
        };
        self.cache
            .put(token, validation.clone(), valid_for, Instant::now());
        match validation {
            Validation::Valid(identity) if valid_for.is_some_and(|d| !d.is_zero()) => Ok(identity),
            Validation::Valid(_) | Validation::Invalid => Err(Failure::Unauthorized),
        }
    }

    async fn validate_with_retries(&self, token: &str) -> Result<Validation, Failure> {
        let mut delays = RETRY_DELAYS.iter().take(self.settings.max_retries as usize);
        loop {
            match self.validate_once(token).await {
                Err(Failure::Unavailable(why)) => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(reason = %why, "Keystone request failed, retrying.");
                        tokio::time::sleep(*delay).await;
                    }
                    None => {
                        tracing::warn!(reason = %why, "Keystone is unavailable.");
                        return Err(Failure::Unavailable(why));
                    }
                },
                other => return other,
            }
        }
    }

    async fn validate_once(&self, token: &str) -> Result<Validation, Failure> {
        let service = self.service_token().await?;
        let url = format!("{}/auth/tokens?nocatalog", self.settings.v3_url);
        let res = self
            .http
            .get(&url)
            .header("X-Auth-Token", &service)
            .header("X-Subject-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("GET {url}: {e}")))?;
        match res.status().as_u16() {
            200 => {
                let body: TokenBody = res.json().await.map_err(|e| {
                    Failure::Unavailable(format!("unexpected token validation body: {e}"))
                })?;
                Ok(Validation::Valid(Arc::new(identity_of(body.token)?)))
            }
            // Unknown, malformed, expired or revoked subject token.
            400 | 404 => Ok(Validation::Invalid),
            // Our own token was refused (revoked, or Keystone lost its keys): log in again.
            401 => {
                self.forget_service_token(&service).await;
                Err(Failure::Unavailable(
                    "Keystone refused the service token".into(),
                ))
            }
            status => Err(Failure::Unavailable(format!(
                "token validation answered {status} (does [keystone_authtoken] username have \
                 the admin or service role?)"
            ))),
        }
    }

    /// The service user's token, logging in when there is none or it is about to expire.
    async fn service_token(&self) -> Result<String, Failure> {
        let mut guard = self.service_token.lock().await;
        if let Some(t) = guard.as_ref() {
            if Instant::now() < t.renew_at {
                return Ok(t.token.clone());
            }
        }
        let fresh = self.login().await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    async fn forget_service_token(&self, token: &str) {
        let mut guard = self.service_token.lock().await;
        if guard.as_ref().is_some_and(|t| t.token == token) {
            *guard = None;
        }
    }

    async fn login(&self) -> Result<ServiceToken, Failure> {
        let url = format!("{}/auth/tokens?nocatalog", self.settings.v3_url);
        let res = self
            .http
            .post(&url)
            .json(&self.settings.login_body())
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("POST {url}: {e}")))?;
        let status = res.status().as_u16();
        if status != 201 && status != 200 {
            let reason = if status == 401 {
                "check [keystone_authtoken] username, password and project_name".to_owned()
            } else {
                format!("status {status}")
            };
            return Err(Failure::Unavailable(format!(
                "the service user could not log in to Keystone: {reason}"
            )));
        }
        let token = res
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Failure::Unavailable("Keystone login without a token".into()))?;
        let body: TokenBody = res
            .json()
            .await
            .map_err(|e| Failure::Unavailable(format!("unexpected login body: {e}")))?;
        let expires = parse_time(&body.token.expires_at)?;
        let issued = body
            .token
            .issued_at
            .as_deref()
            .map(parse_time)
            .transpose()?
            .unwrap_or_else(SystemTime::now);
        let life = expires.duration_since(issued).unwrap_or_default();
        let left = expires
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let margin = RENEW_MARGIN.min(life / 3);
        tracing::info!(
            expires_in_secs = left.as_secs(),
            "Logged in to Keystone as the service user."
        );
        Ok(ServiceToken {
            token,
            renew_at: Instant::now() + left.saturating_sub(margin),
        })
    }
}

fn parse_time(s: &str) -> Result<SystemTime, Failure> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(SystemTime::from)
        .map_err(|e| Failure::Unavailable(format!("Keystone sent a bad time {s:?}: {e}")))
}

fn identity_of(t: TokenFields) -> Result<TokenIdentity, Failure> {
    Ok(TokenIdentity {
        expires_at: parse_time(&t.expires_at)?,
        user_id: t.user.id,
        project_id: t.project.map(|p| p.id),
        domain_id: t.domain.map(|d| d.id),
        roles: t.roles.into_iter().map(|r| r.name).collect(),
    })
}

/// The client's token: the first non-empty token header.
fn token_of(req: &ServiceRequest) -> Option<&str> {
    TOKEN_HEADERS.iter().find_map(|name| {
        req.headers()
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// Whether `path` is served without a token (keystonemiddleware only guards `/v1`).
fn is_public(path: &str) -> bool {
    !(path == "/v1" || path.starts_with("/v1/"))
}

fn unauthorized(uri: &str) -> HttpResponse {
    let mut res = HttpResponse::Unauthorized();
    if let Ok(v) = header::HeaderValue::from_str(&format!("Keystone uri=\"{uri}\"")) {
        res.insert_header((header::WWW_AUTHENTICATE, v));
    }
    res.content_type("application/json").body(UNAUTHORIZED_BODY)
}

fn unavailable() -> HttpResponse {
    let body = json!({"error": {
        "code": 503,
        "title": "Service Unavailable",
        "message": "The identity service (Keystone) is unavailable, please try again later",
    }});
    HttpResponse::ServiceUnavailable()
        .content_type("application/json")
        .body(body.to_string())
}

/// A token without a project (system- or domain-scoped) may read but not create: everything a
/// caller creates records a project. Gnocchi fails on such requests without answering.
fn needs_project(identity: &TokenIdentity, method: &Method) -> bool {
    identity.project_id.is_none()
        && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn forbidden_without_project() -> HttpResponse {
    let body = json!({
        "code": 403,
        "title": "Forbidden",
        "description": "This request needs a project-scoped token: system- and domain-scoped \
                        tokens may only read",
    });
    HttpResponse::Forbidden()
        .content_type("application/json")
        .body(body.to_string())
}

/// Middleware: in keystone mode, authenticates every `/v1` request (see the module docs).
/// Other modes pass through.
pub(crate) async fn keystone_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let keystone = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.keystone.clone());
    let Some(keystone) = keystone else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if is_public(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let uri = keystone.settings.www_authenticate_uri.clone();
    let token = match token_of(&req) {
        Some(t) if t.len() <= MAX_TOKEN_LEN => t.to_owned(),
        _ => return Ok(req.into_response(unauthorized(&uri))),
    };
    match keystone.authenticate(&token).await {
        Ok(identity) if needs_project(&identity, req.method()) => {
            Ok(req.into_response(forbidden_without_project()))
        }
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(Failure::Unauthorized) => Ok(req.into_response(unauthorized(&uri))),
        Err(Failure::Unavailable(_)) => Ok(req.into_response(unavailable())),
    }
}

/// The policy credentials of a token (shared/spec/api.md §2.2, keystone row).
pub(crate) fn credentials(identity: &TokenIdentity) -> crate::policy::Credentials {
    let mut creds = crate::policy::Credentials::default();
    creds.attrs.insert("user".into(), Some(identity.creator()));
    creds
        .attrs
        .insert("user_id".into(), Some(identity.user_id.clone()));
    creds
        .attrs
        .insert("project_id".into(), identity.project_id.clone());
    creds
        .attrs
        .insert("domain_id".into(), identity.domain_id.clone());
    creds.roles = identity.roles.clone();
    creds
}

/// The token identity the gate stored on `req`, if any.
pub(crate) fn identity_of_request(req: &actix_web::HttpRequest) -> Option<Arc<TokenIdentity>> {
    req.extensions().get::<Arc<TokenIdentity>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use serde_json::Value;

    #[test]
    fn only_v1_needs_a_token() {
        assert!(is_public("/"));
        assert!(is_public("/healthcheck"));
        assert!(is_public("/v10"));
        assert!(!is_public("/v1"));
        assert!(!is_public("/v1/metric"));
    }

    #[test]
    fn token_bodies_give_identities() {
        let body: TokenBody = serde_json::from_value(json!({"token": {
            "expires_at": "2026-12-02T08:24:08.000000Z",
            "user": {"id": "u1", "name": "demo"},
            "project": {"id": "p1", "name": "demo"},
            "roles": [{"id": "r", "name": "member"}, {"id": "r2", "name": "reader"}],
        }}))
        .expect("parses");
        let id = identity_of(body.token).expect("valid");
        assert_eq!(id.creator(), "u1:p1");
        assert_eq!(id.roles, ["member", "reader"]);
        let system: TokenBody = serde_json::from_value(json!({"token": {
            "expires_at": "2026-12-02T08:24:08Z", "user": {"id": "a"}, "system": {"all": true},
        }}))
        .expect("parses");
        let id = identity_of(system.token).expect("valid");
        assert_eq!(id.creator(), "a:");
        assert!(needs_project(&id, &Method::POST));
        assert!(!needs_project(&id, &Method::GET));
    }

    #[test]
    fn unauthorized_is_keystonemiddleware_shaped() {
        let res = unauthorized("http://ks:5000");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Keystone uri=\"http://ks:5000\"")
        );
        assert_eq!(UNAUTHORIZED_BODY.len(), 114);
        let v: Value = serde_json::from_str(UNAUTHORIZED_BODY).expect("json");
        assert_eq!(v["error"]["code"], 401);
    }
}

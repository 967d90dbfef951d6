//! Who is calling (shared/spec/api.md §2.1, §2.2) and the extractors that enforce policy rules
//! (§2.4, §2.5).
//!
//! [`Caller`] authenticates (401 first) and carries the policy; [`Authorized`] additionally
//! checks a rule against the empty target before the handler runs, so a handler that takes it
//! cannot forget the check.

mod keystone;
mod token_cache;

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::policy::{Credentials, PolicyEnforcer};
use crate::settings::AuthMode;
use crate::AppState;

pub(crate) use keystone::{keystone_gate, KeystoneAuth};

/// The user name that gets the `admin` role in basic and remoteuser modes.
const ADMIN_USER: &str = "admin";

/// Standard alphabet, padding optional: clients differ on it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An authenticated caller.
#[derive(Clone)]
pub(crate) struct Caller {
    /// The creator string stored on what the caller creates (§2.2).
    pub(crate) creator: String,
    creds: Credentials,
    policy: Arc<PolicyEnforcer>,
}

impl Caller {
    /// Checks rule `rule` on `target`: 403 with an empty description when it fails.
    pub(crate) fn enforce(&self, rule: &str, target: &Value) -> Result<(), ApiError> {
        if self.policy.check(rule, &self.creds, target) {
            Ok(())
        } else {
            tracing::debug!(rule, user = %self.creator, "Policy check failed.");
            Err(ApiError::forbidden())
        }
    }

    /// The outcome of rule `rule` when no target could change it; `None` when the target
    /// decides it.
    pub(crate) fn verdict_without_target(&self, rule: &str) -> Option<bool> {
        self.policy.check_without_target(rule, &self.creds)
    }

    /// Whether rule `rule` passes on `target`, without failing.
    pub(crate) fn allows(&self, rule: &str, target: &Value) -> bool {
        self.policy.check(rule, &self.creds, target)
    }

    /// The caller's project id, when the authentication mode knows one (noauth, keystone).
    pub(crate) fn project_id(&self) -> Option<&str> {
        self.creds
            .attrs
            .get("project_id")
            .and_then(|p| p.as_deref())
    }
}

/// The user name of the `Authorization: Basic` header; `None` when absent or malformed.
fn basic_user(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, encoded) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let user = match decoded.split_once(':') {
        Some((user, _password)) => user,
        None => decoded.as_str(),
    };
    Some(user.to_owned())
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// noauth mode (§2.1, §2.2): identity headers are trusted as sent.
fn noauth(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let user = header(req, "x-user-id");
    let project = header(req, "x-project-id");
    let creator = match (user, project) {
        (Some(u), Some(p)) => format!("{u}:{p}"),
        (Some(u), None) => u.to_owned(),
        (None, Some(p)) => p.to_owned(),
        (None, None) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                crate::error::Description::Text("Unable to determine current user".into()),
            ))
        }
    };
    let mut creds = Credentials::default();
    creds.attrs.insert("user".into(), Some(creator.clone()));
    creds
        .attrs
        .insert("user_id".into(), user.map(str::to_owned));
    creds
        .attrs
        .insert("project_id".into(), project.map(str::to_owned));
    creds.attrs.insert(
        "domain_id".into(),
        header(req, "x-domain-id").map(str::to_owned),
    );
    if let Some(roles) = header(req, "x-roles") {
        creds.roles = roles.split(',').map(str::to_owned).collect();
    }
    Ok(Caller {
        creator,
        creds,
        policy: state.policy.clone(),
    })
}

/// keystone mode: the identity the gate found for the token (`None` outside `/v1`, where
/// no handler needs a caller).
fn keystone(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let identity = keystone::identity_of_request(req).ok_or_else(ApiError::unauthorized)?;
    Ok(Caller {
        creator: identity.creator(),
        creds: keystone::credentials(&identity),
        policy: state.policy.clone(),
    })
}

fn identify(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let user = match &state.settings.auth_mode {
        AuthMode::NoAuth => return noauth(req, state),
        AuthMode::Keystone(_) => return keystone(req, state),
        AuthMode::Basic => basic_user(req),
        AuthMode::RemoteUser { header: name } => header(req, name).map(str::to_owned),
    }
    .ok_or_else(ApiError::unauthorized)?;
    let mut creds = Credentials::default();
    creds.attrs.insert("user".into(), Some(user.clone()));
    if user == ADMIN_USER {
        creds.roles.push("admin".into());
    }
    Ok(Caller {
        creator: user,
        creds,
        policy: state.policy.clone(),
    })
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state is not registered"))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state_of(req).and_then(|state| identify(req, &state)))
    }
}

/// A policy rule checked with the empty target `{}` before the handler runs.
pub(crate) trait Rule {
    /// The rule name of §2.4.
    const NAME: &'static str;
}

/// An authenticated caller for whom rule `R` passed on `{}`.
pub(crate) struct Authorized<R: Rule> {
    caller: Caller,
    _rule: PhantomData<R>,
}

impl<R: Rule> Deref for Authorized<R> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<R: Rule> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = state_of(req)?;
            let caller = identify(req, &state)?;
            caller.enforce(R::NAME, &json!({}))?;
            Ok(Self {
                caller,
                _rule: PhantomData,
            })
        })())
    }
}

macro_rules! rules {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $name, "` rule.")]
            pub(crate) struct $ty;
            impl Rule for $ty {
                const NAME: &'static str = $name;
            }
        )*
    };
}

rules! {
    GetStatus => "get status",
    CreateArchivePolicy => "create archive policy",
    ListArchivePolicy => "list archive policy",
    DeleteArchivePolicy => "delete archive policy",
    CreateArchivePolicyRule => "create archive policy rule",
    ListArchivePolicyRule => "list archive policy rule",
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn user_of(header: &str) -> Option<String> {
        basic_user(
            &TestRequest::default()
                .insert_header(("authorization", header))
                .to_http_request(),
        )
    }

    #[test]
    fn basic_credentials() {
        assert_eq!(user_of("basic YWRtaW46").as_deref(), Some("admin"));
        assert_eq!(user_of("Basic Zm9vYmFyOg==").as_deref(), Some("foobar"));
        assert_eq!(user_of("BASIC Zm9vYmFyOg").as_deref(), Some("foobar"));
        assert_eq!(user_of("basic hello:"), None);
        assert_eq!(user_of(""), None);
        assert_eq!(user_of("Bearer YWRtaW46"), None);
        assert_eq!(basic_user(&TestRequest::default().to_http_request()), None);
    }
}

//! The configuration pieces the API reads, copied out of the typed `gnocchi.conf` model once at
//! start-up so handlers never look at raw options.

use std::time::Duration;

use gnocchi_core::AggregationMethod;

/// How callers are identified (`[api] auth_mode`, shared/spec/api.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// HTTP Basic; the password is ignored.
    Basic,
    /// A trusted header set by a fronting proxy names the user.
    RemoteUser {
        /// The header (`[api] remote_user_header`).
        header: String,
    },
    /// `X-User-Id`, `X-Project-Id` and `X-Roles` are trusted as sent (Gnocchi ≤ 3.1).
    NoAuth,
    /// Keystone tokens (`[keystone_authtoken]`); boxed, as it is much larger than the others.
    Keystone(Box<KeystoneSettings>),
}

impl AuthMode {
    /// Whether listings and searches are filtered to what the caller's project may see
    /// (shared/spec/api.md §2.6); basic and remoteuser modes show everything (§2.5).
    pub fn restricts_listings(&self) -> bool {
        matches!(self, AuthMode::NoAuth | AuthMode::Keystone(_))
    }
}

/// `[keystone_authtoken]`, as the token validation uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeystoneSettings {
    /// The identity v3 URL (`auth_url` with `/v3` appended when missing).
    pub v3_url: String,
    /// Sent in `WWW-Authenticate: Keystone uri="..."` (`www_authenticate_uri`, else `auth_url`).
    pub www_authenticate_uri: String,
    /// The service user's password login: `user` and `scope` objects of the v3 auth body.
    pub user: serde_json::Value,
    /// The project scope of the service token.
    pub scope: serde_json::Value,
    /// `token_cache_time`.
    pub token_cache_time: Duration,
    /// `http_connect_timeout`, bounding each Keystone request.
    pub request_timeout: Option<Duration>,
    /// `http_request_max_retries`.
    pub max_retries: u32,
    /// `insecure`.
    pub insecure: bool,
}

impl std::fmt::Debug for KeystoneSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The user object holds the password.
        f.debug_struct("KeystoneSettings")
            .field("v3_url", &self.v3_url)
            .field("www_authenticate_uri", &self.www_authenticate_uri)
            .field("token_cache_time", &self.token_cache_time)
            .finish_non_exhaustive()
    }
}

impl KeystoneSettings {
    /// The body of the service user's `POST /v3/auth/tokens`.
    pub(crate) fn login_body(&self) -> serde_json::Value {
        serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": self.user}},
            "scope": self.scope,
        }})
    }

    /// Reads `[keystone_authtoken]`; `Config::validate` already checked the required options.
    pub fn from_config(ks: &gnocchi_core::config::KeystoneAuthtokenSection) -> Self {
        use serde_json::json;
        let auth_url = ks
            .auth_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/');
        let v3_url = if auth_url.ends_with("/v3") {
            auth_url.to_owned()
        } else {
            format!("{auth_url}/v3")
        };
        let domain = |name: &Option<String>, id: &Option<String>| match (name, id) {
            (_, Some(id)) => json!({"id": id}),
            (Some(name), None) => json!({"name": name}),
            (None, None) => json!({"id": "default"}),
        };
        let user = match &ks.user_id {
            Some(id) => json!({"id": id, "password": ks.password}),
            None => json!({
                "name": ks.username,
                "password": ks.password,
                "domain": domain(&ks.user_domain_name, &ks.user_domain_id),
            }),
        };
        let scope = match &ks.project_id {
            Some(id) => json!({"project": {"id": id}}),
            None => json!({"project": {
                "name": ks.project_name,
                "domain": domain(&ks.project_domain_name, &ks.project_domain_id),
            }}),
        };
        Self {
            v3_url,
            www_authenticate_uri: ks
                .www_authenticate_uri
                .clone()
                .unwrap_or_else(|| auth_url.to_owned()),
            user,
            scope,
            token_cache_time: Duration::from_secs(ks.token_cache_time),
            request_timeout: ks.http_connect_timeout.map(Duration::from_secs),
            max_retries: ks.http_request_max_retries,
            insecure: ks.insecure,
        }
    }
}

/// `[cors]` (oslo.middleware option names, §1.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Allowed origins; `*` allows any; empty disables CORS.
    pub allowed_origin: Vec<String>,
    /// Whether `Access-Control-Allow-Credentials: true` is sent.
    pub allow_credentials: bool,
    /// `Access-Control-Expose-Headers` of actual requests.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age` of preflights.
    pub max_age: Option<u64>,
    /// Methods a preflight may ask for.
    pub allow_methods: Vec<String>,
    /// Headers a preflight may ask for (beyond the simple ones).
    pub allow_headers: Vec<String>,
}

impl Default for CorsSettings {
    fn default() -> Self {
        let list = |s: &str| s.split(',').map(|x| x.trim().to_owned()).collect();
        Self {
            allowed_origin: Vec::new(),
            allow_credentials: true,
            expose_headers: Vec::new(),
            max_age: Some(3600),
            allow_methods: list("OPTIONS, GET, HEAD, POST, PUT, DELETE, TRACE, PATCH"),
            allow_headers: list(
                "Authorization, X-Auth-Token, X-Subject-Token, X-User-Id, X-Domain-Id, \
                 X-Project-Id, X-Roles",
            ),
        }
    }
}

/// What the API needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[api] auth_mode`.
    pub auth_mode: AuthMode,
    /// `[api] max_limit`: the largest page of a listing.
    pub max_limit: u64,
    /// `[api] max_request_body_size` in bytes.
    pub max_request_body_size: usize,
    /// `[api] enable_proxy_headers_parsing`.
    pub enable_proxy_headers_parsing: bool,
    /// `[api] operation_timeout`: how long `refresh=true` waits for a metric's sack lock.
    pub operation_timeout: Duration,
    /// `[archive_policy] default_aggregation_methods`.
    pub default_aggregation_methods: Vec<AggregationMethod>,
    /// `[cors]`.
    pub cors: CorsSettings,
    /// `[oslo_policy] policy_file`, if any.
    pub policy_file: Option<std::path::PathBuf>,
    /// About how many points of all columns an aggregates evaluation holds at once when it
    /// walks a long window slice by slice (not a Gnocchi option; tests make it small).
    pub aggregates_slice_points: usize,
}

/// The default of [`Settings::aggregates_slice_points`]: about 16 MB of points and 8 MB of grid.
pub const AGGREGATES_SLICE_POINTS: usize = 1_000_000;

impl Default for Settings {
    fn default() -> Self {
        Self {
            auth_mode: AuthMode::Basic,
            max_limit: 1000,
            max_request_body_size: 100 * 1024 * 1024,
            enable_proxy_headers_parsing: false,
            operation_timeout: Duration::from_secs(10),
            default_aggregation_methods: ["mean", "min", "max", "sum", "std", "count"]
                .into_iter()
                .map(|m| m.parse().expect("the default method names are valid"))
                .collect(),
            cors: CorsSettings::default(),
            policy_file: None,
            aggregates_slice_points: AGGREGATES_SLICE_POINTS,
        }
    }
}

/// The configuration cannot be served.
#[derive(Debug)]
pub enum StateError {
    /// `[oslo_policy] policy_file` is unreadable or invalid.
    PolicyFile(crate::PolicyFileError),
    /// An option value this API does not implement.
    Unsupported {
        /// `[section] option`.
        option: &'static str,
        /// The value.
        value: String,
    },
    /// An aggregation method name is invalid.
    InvalidMethod {
        /// The name.
        value: String,
    },
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::PolicyFile(e) => e.fmt(f),
            StateError::Unsupported { option, value } => {
                write!(f, "{option} = {value} is not supported by gnocchi-rs")
            }
            StateError::InvalidMethod { value } => write!(
                f,
                "[archive_policy] default_aggregation_methods: {value} is not an aggregation method"
            ),
        }
    }
}

impl std::error::Error for StateError {}

impl Settings {
    /// Copies the options the API reads out of the typed configuration.
    pub fn from_config(config: &gnocchi_core::config::Config) -> Result<Self, StateError> {
        use gnocchi_core::config::AuthMode as Mode;
        let api = &config.api;
        let auth_mode = match api.auth_mode {
            Mode::Basic => AuthMode::Basic,
            Mode::Remoteuser => AuthMode::RemoteUser {
                header: api.remote_user_header.clone().unwrap_or_default(),
            },
            Mode::Noauth => AuthMode::NoAuth,
            Mode::Keystone => AuthMode::Keystone(Box::new(KeystoneSettings::from_config(
                &config.keystone_authtoken,
            ))),
        };
        let default_aggregation_methods = config
            .archive_policy
            .default_aggregation_methods
            .iter()
            .map(|m| {
                m.trim()
                    .parse()
                    .map_err(|_| StateError::InvalidMethod { value: m.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cors = &config.cors;
        let policy_file = std::path::PathBuf::from(&config.oslo_policy.policy_file);
        Ok(Self {
            auth_mode,
            max_limit: u64::from(api.max_limit),
            max_request_body_size: usize::try_from(api.max_request_body_size).unwrap_or(usize::MAX),
            enable_proxy_headers_parsing: api.enable_proxy_headers_parsing,
            operation_timeout: Duration::from_secs(api.operation_timeout),
            default_aggregation_methods,
            cors: CorsSettings {
                allowed_origin: cors.allowed_origin.clone(),
                allow_credentials: cors.allow_credentials,
                expose_headers: cors.expose_headers.clone(),
                max_age: Some(cors.max_age),
                allow_methods: cors.allow_methods.clone(),
                allow_headers: cors.allow_headers.clone(),
            },
            // oslo.policy: a policy file that does not exist means the defaults.
            policy_file: policy_file.exists().then_some(policy_file),
            aggregates_slice_points: AGGREGATES_SLICE_POINTS,
        })
    }
}

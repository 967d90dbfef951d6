//! Query strings: parameters in order (repeats kept), booleans (shared/spec/api.md §1.6).

use actix_web::HttpRequest;

use crate::error::ApiError;

/// The decoded query parameters of a request, in order.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `req`'s query string (`application/x-www-form-urlencoded`).
    pub(crate) fn of(req: &HttpRequest) -> Self {
        Self {
            pairs: form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs, in request order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// A boolean parameter; `default` when absent, 400 when unrecognised.
    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.first(name) {
            None => Ok(default),
            Some(v) => gnocchi_core::time::parse_bool_query(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Unable to parse `{name}': Unrecognized value '{v}', acceptable values are: \
                     '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
                ))
            }),
        }
    }
}

//! JSON request bodies (shared/spec/api.md §1.2): media type check (415), then decoding (400).

use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;
use serde_json::Value;

use crate::error::{ApiError, Description};

/// Whether the request's media type (parameters ignored) is `expected`.
fn has_media_type(req: &HttpRequest, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
}

/// 415 unless the request says `application/json`.
pub(crate) fn require_json_type(req: &HttpRequest) -> Result<(), ApiError> {
    require_media_type(req, "application/json")
}

/// 415 unless the request's media type is `expected`.
pub(crate) fn require_media_type(req: &HttpRequest, expected: &str) -> Result<(), ApiError> {
    if has_media_type(req, expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Description::Empty,
        ))
    }
}

/// Checks the `application/json` media type and decodes the body.
pub(crate) fn json(req: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    require_json_type(req)?;
    decode(body)
}

/// Decodes a JSON body (400 `Unable to decode body`).
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::undecodable_body("Expected object or value"));
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::undecodable_body(format!("body is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| ApiError::undecodable_body(e.to_string()))
}

//! `Accept` handling (shared/spec/api.md §1.4, §1.5): whether JSON may be produced at all
//! (else 406) and which format an error body takes.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;

use crate::error::{ApiError, Description};

/// The rendering of an error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ErrorFormat {
    /// `{"code", "title", "description"}`.
    #[default]
    Json,
    /// webob's three-paragraph text.
    Plain,
}

/// One media range of an `Accept` header.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
}

fn parse(accept: &str) -> Vec<Range<'_>> {
    accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim();
            let (kind, subtype) = media.split_once('/')?;
            let mut q = 1.0f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v.trim().parse().unwrap_or(0.0);
                    }
                }
            }
            Some(Range {
                kind: kind.trim(),
                subtype: subtype.trim(),
                q,
            })
        })
        .collect()
}

/// Quality of `offer` (`type/subtype`) under the most specific matching range; 0 if none.
fn quality(ranges: &[Range<'_>], offer: &str) -> f32 {
    let (ok, os) = offer.split_once('/').unwrap_or((offer, ""));
    let mut best: Option<(u8, f32)> = None;
    for r in ranges {
        let specificity = if r.kind.eq_ignore_ascii_case(ok) && r.subtype.eq_ignore_ascii_case(os) {
            3
        } else if r.kind.eq_ignore_ascii_case(ok) && r.subtype == "*" {
            2
        } else if r.kind == "*" && r.subtype == "*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, r.q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// Whether a JSON response is acceptable under `accept` (absent or empty: yes).
pub(crate) fn json_acceptable(accept: Option<&str>) -> bool {
    match accept.map(str::trim) {
        None | Some("") => true,
        Some(a) => quality(&parse(a), "application/json") > 0.0,
    }
}

/// webob's choice among `text/plain`, `text/html`, `application/json` (ties go to the first):
/// JSON only when it is strictly the best match.
pub(crate) fn error_format(accept: Option<&str>) -> ErrorFormat {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return ErrorFormat::Plain;
    };
    let ranges = parse(accept);
    let json = quality(&ranges, "application/json");
    let plain = quality(&ranges, "text/plain");
    let html = quality(&ranges, "text/html");
    if json > 0.0 && json > plain && json > html {
        ErrorFormat::Json
    } else {
        ErrorFormat::Plain
    }
}

/// Middleware on `/v1`: 406 before anything else when JSON is not acceptable.
pub(crate) async fn require_json(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if !json_acceptable(accept) {
        let err = ApiError::new(StatusCode::NOT_ACCEPTABLE, Description::Empty);
        return Ok(ServiceResponse::from_err(err, req.into_parts().0).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_acceptability_follows_q_values_and_wildcards() {
        for ok in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("application/*"),
            Some("text/plain, application/json; q=0.8"),
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ] {
            assert!(json_acceptable(ok), "{ok:?}");
        }
        for bad in [
            "text/plain",
            "text/html",
            "application/json;q=0, text/plain",
        ] {
            assert!(!json_acceptable(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn errors_are_json_only_when_json_is_preferred() {
        assert_eq!(error_format(None), ErrorFormat::Plain);
        assert_eq!(error_format(Some("*/*")), ErrorFormat::Plain);
        assert_eq!(error_format(Some("application/json")), ErrorFormat::Json);
        assert_eq!(
            error_format(Some("text/plain, application/json; q=0.8")),
            ErrorFormat::Plain
        );
        assert_eq!(
            error_format(Some("application/json, text/plain;q=0.5")),
            ErrorFormat::Json
        );
    }
}

//! The externally visible base URL of a request (shared/spec/api.md §1.11, §1.12): scheme and
//! host, overridden by `Forwarded` or `X-Forwarded-*` when `[api]
//! enable_proxy_headers_parsing` is on, plus the `X-Forwarded-Prefix` script prefix.

use actix_web::http::header;
use actix_web::HttpRequest;

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `scheme://host[/prefix]`, without a trailing slash.
pub(crate) fn base_url(req: &HttpRequest, proxy_headers: bool) -> String {
    let mut scheme = req.uri().scheme_str().unwrap_or("http").to_owned();
    let mut host = header_str(req, header::HOST.as_str())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| req.app_config().host().to_owned());
    let mut prefix = String::new();
    if proxy_headers {
        if let Some(forwarded) = header_str(req, header::FORWARDED.as_str()) {
            let first = forwarded.split(',').next().unwrap_or("");
            for pair in first.split(';') {
                if let Some((k, v)) = pair.split_once('=') {
                    let v = v.trim();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "proto" => scheme = v.to_owned(),
                        "host" => host = v.to_owned(),
                        _ => {}
                    }
                }
            }
        } else {
            if let Some(p) = header_str(req, "x-forwarded-proto") {
                scheme = p.to_owned();
            }
            if let Some(h) = header_str(req, "x-forwarded-host") {
                host = h.to_owned();
            }
        }
        if let Some(p) = header_str(req, "x-forwarded-prefix") {
            prefix = format!("/{}", p.trim_matches('/'));
            if prefix == "/" {
                prefix.clear();
            }
        }
    }
    format!("{scheme}://{host}{prefix}")
}

/// Percent-encodes one path segment (UTF-8; `%20` for space) for a `Location` header.
pub(crate) fn encode_segment(segment: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    /// What Python's `urllib.parse.quote` leaves alone, minus `/` (a segment cannot hold one).
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_and_prefix_apply_only_when_enabled() {
        let req = TestRequest::default()
            .insert_header(("host", "localhost:8041"))
            .insert_header(("forwarded", "for=192.0.2.60;proto=http;host=foobar, host=x"))
            .insert_header(("x-forwarded-prefix", "/gnocchi"))
            .to_http_request();
        assert_eq!(base_url(&req, true), "http://foobar/gnocchi");
        assert_eq!(base_url(&req, false), "http://localhost:8041");
        let req = TestRequest::default()
            .insert_header(("host", "localhost"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-host", "example.org"))
            .to_http_request();
        assert_eq!(base_url(&req, true), "https://example.org");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("✔éñ☃"), "%E2%9C%94%C3%A9%C3%B1%E2%98%83");
        assert_eq!(encode_segment("generic one"), "generic%20one");
        assert_eq!(encode_segment("a.b-c_d"), "a.b-c_d");
    }
}

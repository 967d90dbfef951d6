//! `limit`, `marker`, `sort` and the `Link: <...>; rel="next"` header (shared/spec/api.md
//! §1.10).

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use gnocchi_indexer::{Page, SortKey};

use crate::error::ApiError;
use crate::query::Query;

/// Reads the pagination parameters; `default_sort` applies when no `sort` is given.
pub(crate) fn page(query: &Query, max_limit: u64, default_sort: &[&str]) -> Result<Page, ApiError> {
    let limit = match query.first("limit") {
        None => max_limit,
        Some(v) => {
            let arg = |reason: &str| {
                ApiError::object(
                    StatusCode::BAD_REQUEST,
                    "Argument value error",
                    Some(format!("{reason} for dictionary value @ data['limit']")),
                    None,
                )
            };
            let n: i64 = v.trim().parse().map_err(|_| arg("expected int"))?;
            if n < 1 {
                return Err(arg("value must be at least 1"));
            }
            (n as u64).min(max_limit)
        }
    };
    let given = query.all("sort");
    let sort = if given.is_empty() {
        default_sort.to_vec()
    } else {
        given
    };
    let sort = sort
        .into_iter()
        .map(|s| s.parse::<SortKey>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        sort,
        limit: Some(limit),
        marker: query.first("marker").map(str::to_owned),
    })
}

/// `application/x-www-form-urlencoded` as Python's `urlencode` writes it.
fn form_encode(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b' ');
    utf8_percent_encode(s, FORM).to_string().replace(' ', "+")
}

/// The `Link` header value for the page after `last_marker`, or `None` when the page is not
/// full.
pub(crate) fn next_link(
    req: &HttpRequest,
    query: &Query,
    page: &Page,
    returned: usize,
    last_marker: Option<String>,
) -> Option<String> {
    let limit = page.limit?;
    let marker = last_marker?;
    if (returned as u64) < limit {
        return None;
    }
    let mut params: Vec<(String, String)> = query
        .pairs()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "sort" | "marker"))
        .cloned()
        .collect();
    params.push(("limit".into(), limit.to_string()));
    params.push(("marker".into(), marker));
    params.extend(page.sort.iter().map(|k| ("sort".to_owned(), k.to_string())));
    // A stable sort keeps repeated parameters in their order.
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let qs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect();
    Some(format!(
        "<{}{}?{}>; rel=\"next\"",
        crate::routes::base_url(req),
        req.path(),
        qs.join("&")
    ))
}

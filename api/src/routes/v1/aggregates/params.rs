//! The query parameters shared by `/v1/aggregates` and the legacy `/v1/aggregation/...` routes
//! (shared/spec/api.md §11.1, §11.2): `start`, `stop`, `granularity`, `needed_overlap`, `fill`.

use gnocchi_core::time::{parse_python_float, parse_timespan_positive, parse_timestamp, TimeInput};
use gnocchi_storage::Fill;

use crate::error::ApiError;
use crate::query::Query;

/// The reason of a bad `fill` (api.md §11.1).
const FILL_REASON: &str =
    "Must be a float, 'dropna', 'null', 'ffill', 'bfill', 'full_ffill' or 'full_bfill'";

/// The validated parameters that change numbers (engine.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// Inclusive start (ns).
    pub(crate) start_ns: Option<i64>,
    /// Exclusive stop (ns).
    pub(crate) stop_ns: Option<i64>,
    /// The one granularity asked for (ns).
    pub(crate) granularity_ns: Option<i64>,
    /// `needed_overlap`, a percentage.
    pub(crate) needed_overlap: Option<f64>,
    /// `fill`.
    pub(crate) fill: Option<Fill>,
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A timestamp parameter: 400 `Argument value error` naming it.
fn instant(query: &Query, name: &str, now: i64) -> Result<Option<i64>, ApiError> {
    query
        .first(name)
        .map(|v| {
            parse_timestamp(&TimeInput::Text(v), now)
                .map_err(|_| ApiError::argument_value(name, "Must be a datetime or a timestamp"))
        })
        .transpose()
}

impl Window {
    /// Validates in Gnocchi's order: `needed_overlap`, `start`, `stop`, `granularity`, `fill`.
    pub(crate) fn parse(query: &Query) -> Result<Self, ApiError> {
        let needed_overlap = query
            .first("needed_overlap")
            .map(|v| {
                parse_python_float(v)
                    .ok_or_else(|| ApiError::argument_value("needed_overlap", "Must be a number"))
            })
            .transpose()?;
        let now = now_ns();
        let start_ns = instant(query, "start", now)?;
        let stop_ns = instant(query, "stop", now)?;
        let granularity_ns = query
            .first("granularity")
            .map(|g| {
                parse_timespan_positive(&TimeInput::Text(g))
                    .map_err(|e| ApiError::argument_value("granularity", e.to_string()))
            })
            .transpose()?;
        let fill = query
            .first("fill")
            .map(|f| Fill::parse(f).ok_or_else(|| ApiError::argument_value("fill", FILL_REASON)))
            .transpose()?;
        Ok(Self {
            start_ns,
            stop_ns,
            granularity_ns,
            needed_overlap,
            fill,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(qs: &str) -> Result<Window, ApiError> {
        let req = TestRequest::get()
            .uri(&format!("/v1/aggregates?{qs}"))
            .to_http_request();
        Window::parse(&Query::of(&req))
    }

    fn detail(e: &ApiError) -> String {
        match e.description() {
            crate::error::Description::Object { detail, .. } => detail
                .as_ref()
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn values_are_parsed() {
        let w = parse(
            "start=2015-03-06T14:34:00&stop=1425652513&granularity=60&fill=ffill&needed_overlap=50",
        )
        .expect("valid");
        assert_eq!(w.start_ns, Some(1_425_652_440_000_000_000));
        assert_eq!(w.stop_ns, Some(1_425_652_513_000_000_000));
        assert_eq!(w.granularity_ns, Some(60_000_000_000));
        assert_eq!(w.fill, Some(Fill::Ffill));
        assert_eq!(w.needed_overlap, Some(50.0));
        assert_eq!(parse("fill=0").expect("valid").fill, Some(Fill::Value(0.0)));
        assert_eq!(
            parse("").expect("valid"),
            Window {
                start_ns: None,
                stop_ns: None,
                granularity_ns: None,
                needed_overlap: None,
                fill: None,
            }
        );
    }

    #[test]
    fn errors_name_the_parameter_in_gnocchi_order() {
        for (qs, name) in [
            ("needed_overlap=x&start=x", "needed_overlap"),
            ("start=notadate&stop=notadate", "start"),
            ("stop=notadate&granularity=x", "stop"),
            ("granularity=foobar&fill=x", "granularity"),
            ("granularity=-1", "granularity"),
            ("fill=foobar", "fill"),
        ] {
            let e = parse(qs).expect_err(qs);
            assert_eq!(e.status().as_u16(), 400, "{qs}");
            assert_eq!(detail(&e), name, "{qs}");
        }
    }
}

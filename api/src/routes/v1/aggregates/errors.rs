//! Gnocchi's answers to bad operations and to series that cannot be aggregated
//! (shared/spec/api.md §11.1, Appendix A).

use actix_web::http::StatusCode;
use gnocchi_storage::{AggregatesError, OperationError};
use serde_json::{json, Value};

use crate::error::ApiError;

/// The cause of every combination failure.
const CANNOT_AGGREGATE: &str = "Metrics cannot be aggregated";

const NS_PER_SEC: f64 = 1e9;

impl From<OperationError> for ApiError {
    fn from(e: OperationError) -> Self {
        let bad = StatusCode::BAD_REQUEST;
        match e {
            OperationError::Empty
            | OperationError::NotAList { .. }
            | OperationError::MissingArgument
            | OperationError::InvalidOperation { .. } => {
                ApiError::invalid_input(e.reason(), vec!["operations".to_owned()])
            }
            OperationError::StringSyntax { .. } => ApiError::object(
                bad,
                "Invalid operations",
                Some("Fail to parse the operations string".to_owned()),
                Some(Value::String(e.reason())),
            ),
            OperationError::NoMetric { operations } => ApiError::object(
                bad,
                "Operations is invalid",
                Some("At least one 'metric' is required".to_owned()),
                Some(operations),
            ),
            // `#[non_exhaustive]`: a later variant is still a bad `operations` value.
            e => ApiError::invalid_input(e.reason(), vec!["operations".to_owned()]),
        }
    }
}

fn pairs(pairs: &[(String, String)]) -> Value {
    Value::Array(pairs.iter().map(|(n, a)| json!([n, a])).collect())
}

/// Maps a planning or evaluation error; `columns` are every column's `(name, aggregation)`,
/// the `detail` of the generic "Metrics cannot be aggregated" answer.
pub(crate) fn aggregates_error(e: AggregatesError, columns: &[(String, String)]) -> ApiError {
    let cannot = |reason: String, detail: Value| {
        ApiError::object(
            StatusCode::BAD_REQUEST,
            CANNOT_AGGREGATE,
            Some(reason),
            Some(detail),
        )
    };
    match e {
        AggregatesError::UnknownAggregation { references } => ApiError::object(
            StatusCode::NOT_FOUND,
            "Metrics with unknown aggregation",
            None,
            Some(pairs(&references)),
        ),
        AggregatesError::GranularitiesMissing { ref missing } => {
            let detail = missing
                .iter()
                // Float seconds, as in Gnocchi's detail.
                .map(|(n, a, g)| json!([n, a, *g as f64 / NS_PER_SEC]))
                .collect();
            cannot(e.reason(), Value::Array(detail))
        }
        AggregatesError::NoGranularityMatch { ref references } => {
            let detail = pairs(references);
            cannot(e.reason(), detail)
        }
        e @ (AggregatesError::NoOverlap
        | AggregatesError::NotEnoughOverlap { .. }
        | AggregatesError::RollingWindowTooLarge { .. }
        | AggregatesError::DifferentGranularity { .. }
        | AggregatesError::DifferentTimestamps
        | AggregatesError::ColumnCountMismatch { .. }
        | AggregatesError::InvalidResample { .. }) => cannot(e.reason(), pairs(columns)),
        // `#[non_exhaustive]`: a later variant is classified by its kind.
        e => match e.kind() {
            gnocchi_core::ErrorKind::NotFound => ApiError::object(
                StatusCode::NOT_FOUND,
                e.reason(),
                None,
                Some(pairs(columns)),
            ),
            _ => cannot(e.reason(), pairs(columns)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Description;

    fn parts(e: &ApiError) -> (u16, String, Option<String>, Option<Value>) {
        match e.description() {
            Description::Object {
                cause,
                reason,
                detail,
            } => (
                e.status().as_u16(),
                cause.clone(),
                reason.clone(),
                detail.clone(),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operation_errors() {
        let e: ApiError = OperationError::Empty.into();
        let (status, cause, reason, detail) = parts(&e);
        assert_eq!((status, cause.as_str()), (400, "Invalid input"));
        assert!(reason
            .unwrap_or_default()
            .starts_with("Operation must not be empty"));
        assert_eq!(detail, Some(json!(["operations"])));
        let e: ApiError = OperationError::StringSyntax {
            message: "Expected ')'".into(),
        }
        .into();
        let (_, cause, reason, detail) = parts(&e);
        assert_eq!(cause, "Invalid operations");
        assert_eq!(
            reason.as_deref(),
            Some("Fail to parse the operations string")
        );
        assert_eq!(detail, Some(json!("Expected ')'")));
        let e: ApiError = OperationError::NoMetric {
            operations: json!(["+", 1, 2]),
        }
        .into();
        let (_, cause, reason, detail) = parts(&e);
        assert_eq!(cause, "Operations is invalid");
        assert_eq!(reason.as_deref(), Some("At least one 'metric' is required"));
        assert_eq!(detail, Some(json!(["+", 1, 2])));
    }

    #[test]
    fn aggregation_errors() {
        let cols = vec![("a".to_owned(), "mean".to_owned())];
        let e = aggregates_error(
            AggregatesError::UnknownAggregation {
                references: vec![("a".into(), "what?".into())],
            },
            &cols,
        );
        let (status, cause, reason, detail) = parts(&e);
        assert_eq!(
            (status, cause.as_str(), reason),
            (404, "Metrics with unknown aggregation", None)
        );
        assert_eq!(detail, Some(json!([["a", "what?"]])));
        let e = aggregates_error(
            AggregatesError::GranularitiesMissing {
                missing: vec![("a".into(), "mean".into(), 123_000_000_000)],
            },
            &cols,
        );
        let (status, cause, reason, detail) = parts(&e);
        assert_eq!((status, cause.as_str()), (400, CANNOT_AGGREGATE));
        assert_eq!(reason.as_deref(), Some("Granularities are missing"));
        assert_eq!(detail, Some(json!([["a", "mean", 123.0]])));
        let (status, _, reason, detail) =
            parts(&aggregates_error(AggregatesError::NoOverlap, &cols));
        assert_eq!((status, reason.as_deref()), (400, Some("No overlap")));
        assert_eq!(detail, Some(json!([["a", "mean"]])));
    }
}

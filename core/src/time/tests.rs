//! Cases from shared/spec/api.md §1.3, §1.6–§1.8 and engine.md §1.1, §6.9.

use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_425_652_437 * 1_000_000_000; // 2015-03-06T14:33:57Z

fn ts(s: &str) -> Result<i64, TimeError> {
    parse_timestamp(&TimeInput::Text(s), NOW)
}

fn iso(s: &str) -> String {
    format_timestamp(ts(s).expect("valid timestamp"))
}

fn span(s: &str) -> Result<i64, TimeError> {
    parse_timespan(&TimeInput::Text(s))
}

const S: i64 = 1_000_000_000;

#[test]
fn epoch_numbers_and_numeric_strings() {
    assert_eq!(
        parse_timestamp(&TimeInput::Number(1425652437.0), 0),
        Ok(NOW)
    );
    assert_eq!(ts("1425652437"), Ok(NOW));
    assert_eq!(ts(" 1425652437.5 "), Ok(NOW + S / 2));
    assert_eq!(ts("1.4e9"), Ok(1_400_000_000 * S));
    // "2015" is seconds, not the year.
    assert_eq!(
        format_timestamp(ts("2015").unwrap()),
        "1970-01-01T00:33:35+00:00"
    );
    // engine.md §1.1: computed in f64 then truncated.
    assert_eq!(
        parse_timestamp(&TimeInput::Number(1425652437.1234567), 0),
        Ok(1_425_652_437_123_456_768)
    );
    assert_eq!(ts("1_000"), Ok(1000 * S));
}

#[test]
fn iso_forms() {
    assert_eq!(iso("2015-03-06T14:33:57"), "2015-03-06T14:33:57+00:00");
    assert_eq!(iso("2015-03-06 14:33:57"), "2015-03-06T14:33:57+00:00");
    assert_eq!(
        iso("2015-03-06T15:33:57+01:00"),
        "2015-03-06T14:33:57+00:00"
    );
    assert_eq!(iso("2015-03-06T15:33:57+0100"), "2015-03-06T14:33:57+00:00");
    assert_eq!(iso("2015-03-06T13:33:57-01"), "2015-03-06T14:33:57+00:00");
    assert_eq!(iso("2015-03-06T14:33:57Z"), "2015-03-06T14:33:57+00:00");
    assert_eq!(iso("2014-08-04"), "2014-08-04T00:00:00+00:00");
    assert_eq!(iso("2015-03-06T14:34"), "2015-03-06T14:34:00+00:00");
    assert_eq!(iso("2015-03"), "2015-03-01T00:00:00+00:00");
    assert_eq!(
        ts("2017-05-02T11:11:11.123400+00:00").map(format_datetime),
        Ok("2017-05-02T11:11:11.123400+00:00".to_owned())
    );
    // Fractions to the nanosecond, extra digits dropped.
    assert_eq!(ts("1970-01-01T00:00:01.1234567891"), Ok(1_123_456_789));
    assert_eq!(ts("now"), Ok(NOW));
    assert_eq!(ts("today"), Ok(ts("2015-03-06").unwrap()));
    assert_eq!(ts("2015-02-30"), Err(TimeError::UnableToConvert));
    assert_eq!(ts("2015-03-06T25:00"), Err(TimeError::UnableToConvert));
}

#[test]
fn relative_forms() {
    assert_eq!(ts("-5 minutes"), Ok(NOW - 300 * S));
    assert_eq!(ts("10 minutes"), Ok(NOW + 600 * S));
    assert_eq!(ts("+1 hour"), Ok(NOW + 3600 * S));
    assert_eq!(ts("- 1 day"), Ok(NOW - 86_400 * S));
    assert_eq!(ts("-10s"), Ok(NOW - 10 * S));
}

#[test]
fn timestamp_errors_and_texts() {
    assert_eq!(ts("foobar"), Err(TimeError::UnableToConvert));
    assert_eq!(ts(""), Err(TimeError::UnableToConvert));
    assert_eq!(
        TimeError::UnableToConvert.to_string(),
        "Unable to convert timestamps"
    );
    assert_eq!(ts("-1"), Err(TimeError::BeforeEpoch));
    assert_eq!(ts("1969-12-31T23:59:59"), Err(TimeError::BeforeEpoch));
    assert_eq!(ts("1970-01-01T01:00:00+02:00"), Err(TimeError::BeforeEpoch));
    assert_eq!(
        TimeError::BeforeEpoch.to_string(),
        "Timestamp must be after Epoch"
    );
    // Epoch milliseconds sent as seconds overflow i64 nanoseconds.
    assert_eq!(ts("1425652437000"), Err(TimeError::AfterMax));
    assert_eq!(ts("2263-01-01"), Err(TimeError::AfterMax));
    assert_eq!(ts("2262-04-11T23:47:16"), Ok(9_223_372_036 * S));
    assert_eq!(ts("-100000000 days"), Err(TimeError::BeforeEpoch));
    assert_eq!(ts("nan"), Err(TimeError::UnableToConvert));
    assert_eq!(
        parse_timestamp(&TimeInput::Number(f64::INFINITY), 0),
        Err(TimeError::AfterMax)
    );
}

#[test]
fn batches_take_the_first_form() {
    let v = serde_json::json!([1425652437, "1425652438"]);
    let inputs = v
        .as_array()
        .unwrap()
        .iter()
        .map(|v| TimeInput::from_json(v).unwrap());
    assert_eq!(parse_timestamps(inputs, 0), Ok(vec![NOW, NOW + S]));
    let mixed = [
        TimeInput::Number(1478012832.0),
        TimeInput::Text("-5 minutes"),
    ];
    assert_eq!(
        parse_timestamps(mixed, NOW),
        Err(TimeError::UnableToConvert)
    );
    let mixed = [
        TimeInput::Text("2015-03-06T14:33:57"),
        TimeInput::Number(1425652437.0),
    ];
    assert_eq!(
        parse_timestamps(mixed, NOW),
        Err(TimeError::UnableToConvert)
    );
    let rel = [TimeInput::Text("-5 minutes"), TimeInput::Text("-1 minute")];
    assert_eq!(
        parse_timestamps(rel, NOW),
        Ok(vec![NOW - 300 * S, NOW - 60 * S])
    );
    assert_eq!(TimeInput::from_json(&serde_json::json!(true)), None);
}

#[test]
fn timespans() {
    assert_eq!(parse_timespan(&TimeInput::Number(60.0)), Ok(60 * S));
    assert_eq!(parse_timespan(&TimeInput::Number(0.5)), Ok(S / 2));
    assert_eq!(span("3600.0"), Ok(3600 * S));
    assert_eq!(span("1 minute"), Ok(60 * S));
    assert_eq!(span("1h"), Ok(3600 * S));
    assert_eq!(span("1h30m"), Ok(5400 * S));
    assert_eq!(span("1 day, 2 hours"), Ok(93_600 * S));
    assert_eq!(span("1.5 minutes"), Ok(90 * S));
    assert_eq!(span("7 day"), Ok(7 * 86_400 * S));
    assert_eq!(span("1second"), Ok(S));
    assert_eq!(span("1800s"), Ok(1800 * S));
    assert_eq!(span("30 min"), Ok(1800 * S));
    assert_eq!(span("30 days"), Ok(30 * 86_400 * S));
    assert_eq!(span("2 weeks"), Ok(14 * 86_400 * S));
    assert_eq!(span("1 HOUR"), Ok(3600 * S));
    assert_eq!(span("0:05:00"), Ok(300 * S));
    assert_eq!(span("1:30"), Ok(90 * S));
    assert_eq!(span("0:01:01"), Ok(61 * S));
    assert_eq!(span("1:00:00:00"), Ok(86_400 * S));
    assert_eq!(span(":30"), Ok(30 * S));
    assert_eq!(span("30 days, 0:00:00"), Ok(30 * 86_400 * S));
    assert_eq!(span("1 day, 0:00:00"), Ok(86_400 * S));
    assert_eq!(span("0:00:03.600000"), Ok(3_600_000_000));
    assert_eq!(span("-5 minutes"), Ok(-300 * S));
    assert_eq!(span("0"), Ok(0));
    assert_eq!(span("foobar"), Err(TimeError::UnableToParseTimespan));
    assert_eq!(span("1 month"), Err(TimeError::UnableToParseTimespan));
    assert_eq!(span(""), Err(TimeError::UnableToParseTimespan));
    assert_eq!(
        TimeError::UnableToParseTimespan.to_string(),
        "Unable to parse timespan"
    );
    assert_eq!(
        parse_timespan_positive(&TimeInput::Text("0")),
        Err(TimeError::TimespanNotPositive)
    );
    assert_eq!(
        parse_timespan_positive(&TimeInput::Text("-1 minute")),
        Err(TimeError::TimespanNotPositive)
    );
    assert_eq!(
        TimeError::TimespanNotPositive.to_string(),
        "Timespan must be positive"
    );
    assert_eq!(parse_timespan_positive(&TimeInput::Text("5m")), Ok(300 * S));
}

#[test]
fn timespan_rendering() {
    assert_eq!(format_timespan_python(60 * S), "0:01:00");
    assert_eq!(format_timespan_python(300 * S), "0:05:00");
    assert_eq!(format_timespan_python(3600 * S), "1:00:00");
    assert_eq!(format_timespan_python(S), "0:00:01");
    assert_eq!(format_timespan_python(86_400 * S), "1 day, 0:00:00");
    assert_eq!(format_timespan_python(30 * 86_400 * S), "30 days, 0:00:00");
    assert_eq!(
        format_timespan_python(365 * 86_400 * S),
        "365 days, 0:00:00"
    );
    assert_eq!(format_timespan_python(S / 2), "0:00:00.500000");
    assert_eq!(format_timespan_python(3_600_000_000), "0:00:03.600000");
    assert_eq!(format_timespan_python(-S), "-1 day, 23:59:59");
    assert_eq!(format_seconds_float(300 * S), "300.0");
    assert_eq!(format_seconds_float(42 * S), "42.0");
    assert_eq!(format_seconds_float(S / 2), "0.5");
}

#[test]
fn float_repr() {
    for (v, s) in [
        (42.0, "42.0"),
        (0.1, "0.1"),
        (43.1, "43.1"),
        (2.0, "2.0"),
        (1e-7, "1e-07"),
        (1.5e-7, "1.5e-07"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1.2345e20, "1.2345e+20"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (-3.25, "-3.25"),
        (123456.789, "123456.789"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
        (1e308, "1e+308"),
        (5e-324, "5e-324"),
    ] {
        assert_eq!(python_float_repr(v), s, "repr of {v:e}");
    }
    assert_eq!(python_json_float(f64::NAN), "NaN");
    assert_eq!(python_json_float(f64::INFINITY), "Infinity");
    assert_eq!(python_json_float(f64::NEG_INFINITY), "-Infinity");
    assert_eq!(python_json_float(60.0), "60.0");
}

#[test]
fn python_float_parsing() {
    assert_eq!(parse_python_float(" 12 "), Some(12.0));
    assert_eq!(parse_python_float("1_000"), Some(1000.0));
    assert_eq!(parse_python_float("1__000"), None);
    assert_eq!(parse_python_float("_1"), None);
    assert_eq!(parse_python_float("inf"), Some(f64::INFINITY));
    assert!(parse_python_float("NaN").is_some_and(f64::is_nan));
    assert_eq!(parse_python_float("1e400"), Some(f64::INFINITY));
    assert_eq!(parse_python_float("abc"), None);
    assert_eq!(parse_python_float(""), None);
}

#[test]
fn bool_query() {
    for t in ["1", "t", "true", "on", "y", "yes", "True", " YES "] {
        assert_eq!(parse_bool_query(t), Some(true), "{t}");
    }
    for f in ["0", "f", "false", "off", "n", "no", "False", "OFF"] {
        assert_eq!(parse_bool_query(f), Some(false), "{f}");
    }
    assert_eq!(parse_bool_query("maybe"), None);
    assert_eq!(parse_bool_query(""), None);
}

#[test]
fn timestamp_rendering_truncates_to_seconds() {
    assert_eq!(format_timestamp(NOW + S / 2), "2015-03-06T14:33:57+00:00");
    assert_eq!(format_timestamp(0), "1970-01-01T00:00:00+00:00");
    assert_eq!(format_datetime(NOW), "2015-03-06T14:33:57+00:00");
}

proptest! {
    #[test]
    fn formatted_timestamps_parse_back(secs in 0i64..9_223_372_036) {
        let ns = secs * S;
        let text = format_timestamp(ns);
        prop_assert_eq!(parse_timestamp(&TimeInput::Text(&text), 0), Ok(ns));
    }

    #[test]
    fn formatted_datetimes_parse_back(micros in 0i64..9_223_372_036_000_000) {
        let ns = micros * 1000;
        let text = format_datetime(ns);
        prop_assert_eq!(parse_timestamp(&TimeInput::Text(&text), 0), Ok(ns));
    }

    #[test]
    fn python_timespans_parse_back(micros in 1i64..10_000_000_000_000) {
        let ns = micros * 1000;
        let text = format_timespan_python(ns);
        prop_assert_eq!(parse_timespan(&TimeInput::Text(&text)), Ok(ns));
    }

    #[test]
    fn float_repr_round_trips(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL) {
        prop_assert_eq!(python_float_repr(v).parse::<f64>().ok(), Some(v));
    }
}

//! JSON text as Python's `json.dumps` writes it (shared/spec/api.md §1.3): `", "` and `": "`
//! separators, floats in Python's repr (`60.0`, `1e-07`), and the bare tokens `NaN`,
//! `Infinity`, `-Infinity` where a float is not finite. Also the Python `repr` of a JSON value,
//! used by plain-text error bodies.

use std::fmt::Write as _;

use gnocchi_core::time::{push_python_json_float, push_seconds_float, push_timestamp};
use serde_json::Value;

/// A float as `json.dumps` writes it (Python repr; NaN and infinities as bare tokens).
pub(crate) fn float_repr(v: f64) -> String {
    gnocchi_core::time::python_json_float(v)
}

fn write_str(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON requires; non-ASCII stays raw (UTF-8).
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(v)` with Python's default separators.
pub(crate) fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// A JSON array of `[timestamp, granularity, value]` measure triples, each given as
/// `(timestamp_ns, granularity_ns, value)`: the timestamp as ISO 8601 seconds, the
/// granularity as float seconds (rendered once per run of equal granularities), the value in
/// Python's repr with NaN and infinities as bare tokens. Written straight into one buffer.
pub(crate) fn measure_triples_to_string(
    triples: impl ExactSizeIterator<Item = (i64, i64, f64)>,
) -> String {
    let mut out = String::with_capacity(triples.len() * 48 + 2);
    let mut granularity: Option<(i64, String)> = None;
    out.push('[');
    for (i, (timestamp_ns, granularity_ns, value)) in triples.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("[\"");
        // ISO 8601 digits and punctuation only: nothing JSON would escape.
        push_timestamp(&mut out, timestamp_ns);
        out.push_str("\", ");
        let (last, text) = granularity.get_or_insert_with(|| (granularity_ns, String::new()));
        if *last != granularity_ns || text.is_empty() {
            *last = granularity_ns;
            text.clear();
            push_seconds_float(text, granularity_ns);
        }
        out.push_str(text);
        out.push_str(", ");
        push_python_json_float(&mut out, value);
        out.push(']');
    }
    out.push(']');
    out
}

fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn repr_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(_) => write_value(out, v),
        Value::String(s) => repr_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(out, k);
                out.push_str(": ");
                repr_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's `repr` of a decoded JSON value (plain-text error details, §1.5).
pub(crate) fn python_repr(v: &Value) -> String {
    let mut out = String::new();
    repr_value(&mut out, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_python() {
        for (v, s) in [
            (60.0, "60.0"),
            (43.1, "43.1"),
            (-43.1, "-43.1"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345.0"),
            (0.5, "0.5"),
            (27.55, "27.55"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(float_repr(v), s);
        }
    }

    #[test]
    fn dumps_uses_python_separators() {
        let v = json!({"name": "medium", "points": [20, null], "g": 1.0});
        assert_eq!(
            to_string(&v),
            r#"{"name": "medium", "points": [20, null], "g": 1.0}"#
        );
    }

    #[test]
    fn repr_keeps_strings_verbatim() {
        let v = json!({"reason": "extra keys not allowed @ data['cowsay']", "detail": ["cowsay"]});
        assert_eq!(
            python_repr(&v),
            r#"{'reason': "extra keys not allowed @ data['cowsay']", 'detail': ['cowsay']}"#
        );
    }
}

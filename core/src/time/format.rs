//! Rendering timestamps, timespans and floats exactly as Gnocchi's (Python) responses do.

use chrono::DateTime;

const NS_PER_SEC: i64 = 1_000_000_000;

/// Renders a measure or aggregate timestamp: ISO 8601 truncated to whole seconds with `+00:00`
/// (`2015-03-06T14:33:00+00:00`; shared/spec/api.md §1.3, engine.md §6.9).
pub fn format_timestamp(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    match DateTime::from_timestamp(secs, 0) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        // Unreachable for i64 nanoseconds (±292 years), kept total anyway.
        None => String::from("NaT"),
    }
}

/// Renders a resource datetime attribute (`started_at`, `revision_start`, …) like Python's
/// `isoformat()`: `+00:00` offset and six fractional digits only when the microseconds are not
/// zero (`2017-05-02T11:11:11.123400+00:00`; shared/spec/api.md §1.3).
pub fn format_datetime(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    let micros = ns.rem_euclid(NS_PER_SEC) / 1000;
    let Some(dt) = DateTime::from_timestamp(secs, 0) else {
        return String::from("NaT");
    };
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{micros:06}+00:00")
    }
}

/// Renders a duration as Python's `str(datetime.timedelta)`: `[D day[s], ]H:MM:SS[.ffffff]`
/// (`0:05:00`, `1 day, 0:00:00`, `30 days, 0:00:00`, `0:00:00.500000`). Sub-microsecond
/// nanoseconds are dropped (timedelta has microsecond resolution); negative durations render
/// as Python does (`-1 day, 23:59:59`).
pub fn format_timespan_python(ns: i64) -> String {
    let micros_total = ns.div_euclid(1000);
    let days = micros_total.div_euclid(86_400_000_000);
    let rest = micros_total.rem_euclid(86_400_000_000);
    let micros = rest % 1_000_000;
    let secs = rest / 1_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() == 1 { "" } else { "s" };
        out.push_str(&format!("{days} day{plural}, "));
    }
    out.push_str(&format!("{h}:{m:02}:{s:02}"));
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

/// Renders a float as Python's `repr()`: the shortest text that reads back to the same value,
/// fixed notation between 1e-4 and 1e16 with at least one fractional digit (`42.0`, `0.1`),
/// scientific outside (`1e+16`, `1e-05`, `1.5e-07`), and `inf`, `-inf`, `nan`.
pub fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return String::from("nan");
    }
    if value.is_infinite() {
        return String::from(if value > 0.0 { "inf" } else { "-inf" });
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", value);
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("`{:e}` output always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    // Python switches to scientific notation when the decimal point would sit more than 16
    // digits right of the first digit, or 4+ zeros would follow it.
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// Renders a float as Python's `json.dumps` does: [`python_float_repr`], except that NaN and
/// the infinities become the bare tokens `NaN`, `Infinity`, `-Infinity` (shared/spec/api.md
/// §1.3).
pub fn python_json_float(value: f64) -> String {
    if value.is_nan() {
        String::from("NaN")
    } else if value.is_infinite() {
        String::from(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        python_float_repr(value)
    }
}

/// Renders a duration as float seconds (`300.0`, `0.5`), as granularities appear in measure
/// triples and timespans in error messages (shared/spec/api.md §1.8).
pub fn format_seconds_float(ns: i64) -> String {
    // As Gnocchi divides numpy nanoseconds by one second: f64 arithmetic.
    let secs = ns as f64 / 1e9;
    python_float_repr(secs)
}

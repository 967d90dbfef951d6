//! Rendering timestamps, timespans and floats exactly as Gnocchi's (Python) responses do.
//!
//! The hot renderings (timestamps and floats of measure triples) come as `push_*` appenders
//! that write into a caller's buffer without allocating; the `String`-returning functions are
//! thin wrappers over them.

use std::fmt::Write as _;

use chrono::DateTime;

const NS_PER_SEC: i64 = 1_000_000_000;

/// Renders a measure or aggregate timestamp: ISO 8601 truncated to whole seconds with `+00:00`
/// (`2015-03-06T14:33:00+00:00`; shared/spec/api.md §1.3, engine.md §6.9).
pub fn format_timestamp(ns: i64) -> String {
    let mut out = String::with_capacity(25);
    push_timestamp(&mut out, ns);
    out
}

/// Appends [`format_timestamp`]`(ns)` to `out` without allocating (beyond growing `out`).
pub fn push_timestamp(out: &mut String, ns: i64) {
    push_timestamp_secs(out, ns.div_euclid(NS_PER_SEC));
}

/// Appends the `YYYY-MM-DDTHH:MM:SS+00:00` text of `secs` seconds since the epoch. Years
/// outside 0..=9999 take chrono's path (`NaT` where chrono cannot represent the instant).
fn push_timestamp_secs(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        match DateTime::from_timestamp(secs, 0) {
            Some(dt) => {
                let _ = write!(out, "{}", dt.format("%Y-%m-%dT%H:%M:%S+00:00"));
            }
            None => out.push_str("NaT"),
        }
        return;
    }
    let year = year as u32; // 0..=9999
    let (h, m, s) = (
        (sod / 3600) as u32,
        (sod / 60 % 60) as u32,
        (sod % 60) as u32,
    );
    let mut buf = *b"0000-00-00T00:00:00+00:00";
    let digit = |v: u32| b'0' + (v % 10) as u8;
    buf[0] = digit(year / 1000);
    buf[1] = digit(year / 100);
    buf[2] = digit(year / 10);
    buf[3] = digit(year);
    for (at, v) in [(5, month), (8, day), (11, h), (14, m), (17, s)] {
        buf[at] = digit(v / 10);
        buf[at + 1] = digit(v);
    }
    // Only ASCII digits were written into an ASCII template.
    out.push_str(std::str::from_utf8(&buf).expect("ASCII timestamp"));
}

/// The proleptic Gregorian `(year, month, day)` of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    let mut out = String::with_capacity(24);
    push_python_float_repr(&mut out, value);
    out
}

/// Appends [`python_float_repr`]`(value)` to `out` without allocating (beyond growing `out`).
pub fn push_python_float_repr(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("nan");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `[-]d[.ddd]e[-]<exp>`, at most
    // 1 + 17 + 1 + 1 + 1 + 3 = 24 bytes.
    let mut sci = StackBuf::new();
    // Cannot fail: the text always fits the buffer.
    let _ = write!(sci, "{value:e}");
    let text = sci.as_bytes();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exp_text) = (&text[..e], text.get(e + 1..).unwrap_or_default());
    let (exp_negative, exp_digits) = match exp_text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp_text),
    };
    let magnitude = exp_digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d.wrapping_sub(b'0')));
    let exp = if exp_negative { -magnitude } else { magnitude };
    let mut digit_buf = [0u8; 24];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        digit_buf[n] = b;
        n += 1;
    }
    let digits = std::str::from_utf8(&digit_buf[..n]).expect("ASCII digits");
    if negative {
        out.push('-');
    }
    // Python switches to scientific notation when the decimal point would sit more than 16
    // digits right of the first digit, or 4+ zeros would follow it.
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        // `{:02}` of the magnitude: two digits at least (f64 exponents have three at most).
        let a = exp.unsigned_abs();
        if a >= 100 {
            out.push(ascii_digit(a / 100));
        }
        out.push(ascii_digit(a / 10));
        out.push(ascii_digit(a));
        return;
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        out.push_str("0.");
        push_zeros(out, point.unsigned_abs() as usize);
        out.push_str(digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.push_str(digits);
            push_zeros(out, point - digits.len());
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
}

/// The ASCII digit of `v % 10`.
fn ascii_digit(v: u32) -> char {
    char::from(b'0' + (v % 10) as u8)
}

fn push_zeros(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('0');
    }
}

/// A fixed stack buffer that `write!` can fill, for rendering without heap allocation.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 40],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Renders a float as Python's `json.dumps` does: [`python_float_repr`], except that NaN and
/// the infinities become the bare tokens `NaN`, `Infinity`, `-Infinity` (shared/spec/api.md
/// §1.3).
pub fn python_json_float(value: f64) -> String {
    let mut out = String::with_capacity(24);
    push_python_json_float(&mut out, value);
    out
}

/// Appends [`python_json_float`]`(value)` to `out` without allocating (beyond growing `out`).
pub fn push_python_json_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        push_python_float_repr(out, value);
    }
}

/// Renders a duration as float seconds (`300.0`, `0.5`), as granularities appear in measure
/// triples and timespans in error messages (shared/spec/api.md §1.8).
pub fn format_seconds_float(ns: i64) -> String {
    let mut out = String::with_capacity(24);
    push_seconds_float(&mut out, ns);
    out
}

/// Appends [`format_seconds_float`]`(ns)` to `out` without allocating (beyond growing `out`).
pub fn push_seconds_float(out: &mut String, ns: i64) {
    // As Gnocchi divides numpy nanoseconds by one second: f64 arithmetic.
    let secs = ns as f64 / 1e9;
    push_python_float_repr(out, secs);
}

#[cfg(test)]
mod tests {
    //! The allocation-free appenders against the former `format!`/chrono implementations.

    use proptest::prelude::*;

    use super::*;

    // The former implementations, kept verbatim as oracles.

    fn old_format_timestamp(ns: i64) -> String {
        let secs = ns.div_euclid(NS_PER_SEC);
        match DateTime::from_timestamp(secs, 0) {
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            // Unreachable for i64 nanoseconds (±292 years), kept total anyway.
            None => String::from("NaT"),
        }
    }

    fn old_format_timestamp_secs(secs: i64) -> String {
        match DateTime::from_timestamp(secs, 0) {
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            None => String::from("NaT"),
        }
    }

    fn old_python_float_repr(value: f64) -> String {
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

    fn old_python_json_float(value: f64) -> String {
        if value.is_nan() {
            String::from("NaN")
        } else if value.is_infinite() {
            String::from(if value > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            old_python_float_repr(value)
        }
    }

    fn pushed_timestamp_secs(secs: i64) -> String {
        let mut out = String::from("x");
        push_timestamp_secs(&mut out, secs);
        out.split_off(1)
    }

    fn check_float(v: f64) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            python_float_repr(v),
            old_python_float_repr(v),
            "repr of {:e}",
            v
        );
        prop_assert_eq!(
            python_json_float(v),
            old_python_json_float(v),
            "json of {:e}",
            v
        );
        // Appending keeps what the buffer held.
        let mut out = String::from("[");
        push_python_json_float(&mut out, v);
        prop_assert_eq!(out, format!("[{}", old_python_json_float(v)));
        Ok(())
    }

    #[test]
    fn special_floats_match_the_old_rendering() {
        for v in [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            -5e-324,
            1e-4,
            1e-5,
            9.999999999999999e-5,
            1e16,
            9999999999999998.0,
            1e15,
            1e22,
            1e100,
            1.5e-7,
            0.1,
            42.0,
            300.0,
            0.5,
        ] {
            check_float(v).expect("same text");
        }
    }

    #[test]
    fn timestamp_edges_match_the_old_rendering() {
        for secs in [
            -62_135_596_800, // 0001-01-01T00:00:00
            -62_135_596_801,
            -62_167_219_200, // 0000-01-01T00:00:00
            -62_167_219_201, // year -1: chrono's path
            253_402_300_799, // 9999-12-31T23:59:59
            253_402_300_800, // 10000-01-01: chrono's path
            0,
            -1,
            951_782_400, // 2000-02-29
            i64::MAX / 1_000_000_000,
            i64::MIN / 1_000_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(
                pushed_timestamp_secs(secs),
                old_format_timestamp_secs(secs),
                "{secs}"
            );
        }
        for ns in [i64::MIN, i64::MAX, 0, -1, 1, 999_999_999, -999_999_999] {
            assert_eq!(format_timestamp(ns), old_format_timestamp(ns), "{ns}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn any_float_matches(v in any::<f64>()) {
            check_float(v)?;
        }

        #[test]
        fn floats_near_the_notation_switch_match(
            mantissa in 1.0f64..10.0,
            exp in prop_oneof![-6i32..=-2, 14i32..=18],
            ulps in -3i64..=3,
            negative in any::<bool>(),
        ) {
            let base = mantissa * 10f64.powi(exp);
            let v = f64::from_bits((base.to_bits() as i64 + ulps) as u64);
            check_float(if negative { -v } else { v })?;
            let edge: f64 = if exp < 0 { 1e-4 } else { 1e16 };
            let near = f64::from_bits((edge.to_bits() as i64 + ulps) as u64);
            check_float(near)?;
            check_float(-near)?;
        }

        #[test]
        fn integral_floats_match(i in any::<i64>(), small in -100_000i64..100_000) {
            check_float(i as f64)?;
            check_float(small as f64)?;
            check_float(small as f64 / 1e9)?;
        }

        #[test]
        fn seconds_floats_match(ns in any::<i64>()) {
            prop_assert_eq!(format_seconds_float(ns), old_python_float_repr(ns as f64 / 1e9));
        }

        #[test]
        fn timestamps_over_years_1_to_9999_match(secs in -62_135_596_800i64..253_402_300_799) {
            prop_assert_eq!(pushed_timestamp_secs(secs), old_format_timestamp_secs(secs));
        }

        #[test]
        fn nanosecond_timestamps_match(ns in -(1i64 << 62)..(1i64 << 62)) {
            prop_assert_eq!(format_timestamp(ns), old_format_timestamp(ns));
            let mut out = String::from("[\"");
            push_timestamp(&mut out, ns);
            prop_assert_eq!(out, format!("[\"{}", old_format_timestamp(ns)));
        }
    }
}

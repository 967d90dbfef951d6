//! Parsing timestamps, timespans and query-string booleans.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

use super::TimeError;

const NS_PER_SEC_F: f64 = 1e9;
const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;
/// `num_days_from_ce()` of 1970-01-01.
const DAYS_FROM_CE_TO_EPOCH: i128 = 719_163;

/// One value given where a point in time or a timespan is expected: a JSON number, or text
/// (a JSON string or a query-string parameter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeInput<'a> {
    /// A JSON number: seconds since the epoch (timestamps) or seconds (timespans).
    Number(f64),
    /// A JSON string or a query-string value.
    Text(&'a str),
}

impl<'a> TimeInput<'a> {
    /// Borrows a JSON value as a time input; `None` for anything but a number or a string
    /// (callers report that as their "Unable to convert" error).
    pub fn from_json(value: &'a serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => n.as_f64().map(TimeInput::Number),
            serde_json::Value::String(s) => Some(TimeInput::Text(s)),
            _ => None,
        }
    }
}

impl<'a> From<&'a str> for TimeInput<'a> {
    fn from(s: &'a str) -> Self {
        TimeInput::Text(s)
    }
}

impl From<f64> for TimeInput<'_> {
    fn from(n: f64) -> Self {
        TimeInput::Number(n)
    }
}

/// Which of the three timestamp forms a value has (shared/spec/api.md §1.7); in a batch the
/// first value's form is required of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// Seconds since the epoch (a number or a numeric string).
    Epoch,
    /// An ISO 8601 date/time (or the words `now` / `today`).
    Iso,
    /// A signed timespan relative to now.
    Relative,
}

/// Parses a string the way Python's `float()` does: surrounding whitespace, a sign, digits with
/// single underscores between them, a fraction, an exponent, `inf`/`infinity`/`nan` in any case.
pub fn parse_python_float(input: &str) -> Option<f64> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    let cleaned;
    let s = if s.contains('_') {
        // An underscore is only allowed between two digits.
        let bytes = s.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'_' {
                let before = i.checked_sub(1).map(|j| bytes[j].is_ascii_digit());
                let after = bytes.get(i + 1).map(u8::is_ascii_digit);
                if before != Some(true) || after != Some(true) {
                    return None;
                }
            }
        }
        cleaned = s.replace('_', "");
        cleaned.as_str()
    } else {
        s
    };
    // With underscores removed, Rust's grammar is Python's: sign, digits, fraction, exponent,
    // and inf/infinity/nan in any case.
    s.parse::<f64>().ok()
}

/// Seconds (f64) to nanoseconds, computed in f64 and truncated as Gnocchi does
/// (engine.md §1.1: `1425652437.1234567` becomes `…57.123456768`).
fn seconds_to_ns(seconds: f64) -> Option<i64> {
    let ns = (seconds * NS_PER_SEC_F).trunc();
    // i64::MAX as f64 rounds up to 2^63, which is itself out of range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if !(-LIMIT..LIMIT).contains(&ns) {
        None
    } else {
        // In range and integral (truncated), so the cast is exact.
        Some(ns as i64)
    }
}

fn epoch_seconds(input: &TimeInput<'_>) -> Option<f64> {
    match input {
        TimeInput::Number(n) => Some(*n),
        TimeInput::Text(s) => parse_python_float(s),
    }
}

/// Tells which timestamp form a value has, or `None` if it has none.
pub fn timestamp_kind(input: &TimeInput<'_>) -> Option<TimestampKind> {
    if epoch_seconds(input).is_some() {
        return Some(TimestampKind::Epoch);
    }
    let TimeInput::Text(s) = input else {
        return None;
    };
    if parse_iso(s, 0).is_some() {
        Some(TimestampKind::Iso)
    } else if parse_timespan_text(s).is_some() {
        Some(TimestampKind::Relative)
    } else {
        None
    }
}

fn check_range(ns: Option<i64>, negative_is_before_epoch: bool) -> Result<i64, TimeError> {
    match ns {
        Some(ns) if ns < 0 => Err(TimeError::BeforeEpoch),
        Some(ns) => Ok(ns),
        None if negative_is_before_epoch => Err(TimeError::BeforeEpoch),
        None => Err(TimeError::AfterMax),
    }
}

fn parse_as(input: &TimeInput<'_>, kind: TimestampKind, now_ns: i64) -> Result<i64, TimeError> {
    match kind {
        TimestampKind::Epoch => {
            let secs = epoch_seconds(input).ok_or(TimeError::UnableToConvert)?;
            if secs.is_nan() {
                return Err(TimeError::UnableToConvert);
            }
            check_range(seconds_to_ns(secs), secs < 0.0)
        }
        TimestampKind::Iso => {
            let TimeInput::Text(s) = input else {
                return Err(TimeError::UnableToConvert);
            };
            match parse_iso(s, now_ns).ok_or(TimeError::UnableToConvert)? {
                IsoValue::Ns(ns) => check_range(Some(ns), false),
                IsoValue::OutOfRange { negative } => check_range(None, negative),
            }
        }
        TimestampKind::Relative => {
            let TimeInput::Text(s) = input else {
                return Err(TimeError::UnableToConvert);
            };
            let delta = parse_timespan_text(s).ok_or(TimeError::UnableToConvert)?;
            let ns = i128::from(now_ns) + delta;
            check_range(i64::try_from(ns).ok(), ns < 0)
        }
    }
}

/// Parses one timestamp (shared/spec/api.md §1.7) into nanoseconds since the epoch.
///
/// Tried in order: seconds since the epoch (a JSON number or a string Python's `float()`
/// accepts, converted in f64 and truncated); an ISO 8601 date/time (UTC unless an offset is
/// given; also `now` and `today`); a signed timespan added to `now_ns` (`-5 minutes`).
pub fn parse_timestamp(input: &TimeInput<'_>, now_ns: i64) -> Result<i64, TimeError> {
    let kind = timestamp_kind(input).ok_or(TimeError::UnableToConvert)?;
    parse_as(input, kind, now_ns)
}

/// Parses a list of measure timestamps as a batch: the first value's form decides for all, and a
/// value of another form fails the whole batch with [`TimeError::UnableToConvert`] (we reject
/// mixed lists rather than reproduce Gnocchi's nanosecond quirk, engine.md §1.1).
pub fn parse_timestamps<'a, I>(inputs: I, now_ns: i64) -> Result<Vec<i64>, TimeError>
where
    I: IntoIterator<Item = TimeInput<'a>>,
{
    let mut kind = None;
    let mut out = Vec::new();
    for input in inputs {
        let this = timestamp_kind(&input).ok_or(TimeError::UnableToConvert)?;
        let first = *kind.get_or_insert(this);
        if first != this {
            return Err(TimeError::UnableToConvert);
        }
        out.push(parse_as(&input, this, now_ns)?);
    }
    Ok(out)
}

enum IsoValue {
    Ns(i64),
    OutOfRange { negative: bool },
}

static ISO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (?P<y>\d{4})
        (?: -(?P<mo>\d{2})
          (?: -(?P<d>\d{2})
            (?: [Tt\x20](?P<h>\d{2})
              (?: :(?P<mi>\d{2})
                (?: :(?P<s>\d{2}) (?: [.,](?P<f>\d+) )? )?
              )?
              (?P<tz> [Zz] | [+-]\d{2}(?::?\d{2})? )?
            )?
          )?
        )?$",
    )
    .expect("the ISO 8601 pattern is a valid regex")
});

fn cap_u32(caps: &regex::Captures<'_>, name: &str, default: u32) -> Option<u32> {
    match caps.name(name) {
        Some(m) => m.as_str().parse().ok(),
        None => Some(default),
    }
}

/// The fields of an ISO 8601 date/time as written, before the calendar checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IsoFields {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    offset_secs: i64,
}

fn parse_iso(input: &str, now_ns: i64) -> Option<IsoValue> {
    let s = input.trim();
    if s.eq_ignore_ascii_case("now") {
        return Some(IsoValue::Ns(now_ns));
    }
    if s.eq_ignore_ascii_case("today") {
        return Some(IsoValue::Ns(now_ns.div_euclid(NS_PER_DAY) * NS_PER_DAY));
    }
    // Measures nearly always come as `YYYY-MM-DDTHH:MM:SS[.f][tz]`: read that shape by hand,
    // everything else with the pattern (both give the same fields, tests check it).
    let fields = iso_fields_common(s).or_else(|| iso_fields_pattern(s))?;
    iso_value(fields)
}

/// The fields of `YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)digits][Z|z|±HH[[:]MM]]` in ASCII; `None`
/// for any other text (which the pattern then reads, or rejects).
fn iso_fields_common(s: &str) -> Option<IsoFields> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !seps {
        return None;
    }
    let mut fields = IsoFields {
        year: i32::try_from(num(0..4)?).ok()?,
        month: num(5..7)?,
        day: num(8..10)?,
        hour: num(11..13)?,
        minute: num(14..16)?,
        second: num(17..19)?,
        nanos: 0,
        offset_secs: 0,
    };
    let mut rest = &b[19..];
    if let [b'.' | b',', tail @ ..] = rest {
        let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Up to nanoseconds; extra digits are dropped.
        let kept = &tail[..digits.min(9)];
        let value = kept.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
        fields.nanos = value * 10u32.pow(9 - kept.len() as u32);
        rest = &tail[digits..];
    }
    fields.offset_secs = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let tz: [u8; 4] = match tz {
                [h1, h2] => [*h1, *h2, b'0', b'0'],
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => [*h1, *h2, *m1, *m2],
                _ => return None,
            };
            if !tz.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let hours = i64::from((tz[0] - b'0') * 10 + (tz[1] - b'0'));
            let minutes = i64::from((tz[2] - b'0') * 10 + (tz[3] - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    Some(fields)
}

/// The fields of any form the ISO pattern accepts; `None` when it does not match.
fn iso_fields_pattern(s: &str) -> Option<IsoFields> {
    let caps = ISO_RE.captures(s)?;
    let year: i32 = caps.name("y")?.as_str().parse().ok()?;
    let month = cap_u32(&caps, "mo", 1)?;
    let day = cap_u32(&caps, "d", 1)?;
    let hour = cap_u32(&caps, "h", 0)?;
    let minute = cap_u32(&caps, "mi", 0)?;
    let second = cap_u32(&caps, "s", 0)?;
    let nanos = match caps.name("f") {
        Some(f) => {
            // Up to nanoseconds; extra digits are dropped.
            let digits: String = f
                .as_str()
                .chars()
                .chain("000000000".chars())
                .take(9)
                .collect();
            digits.parse::<u32>().ok()?
        }
        None => 0,
    };
    let offset_secs: i64 = match caps.name("tz").map(|m| m.as_str()) {
        None | Some("Z") | Some("z") => 0,
        Some(tz) => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let digits: String = tz[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i64 = digits.get(0..2)?.parse().ok()?;
            let minutes: i64 = match digits.get(2..4) {
                Some(m) => m.parse().ok()?,
                None => 0,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(IsoFields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset_secs,
    })
}

/// The instant the fields name, after the calendar checks.
fn iso_value(f: IsoFields) -> Option<IsoValue> {
    let date = NaiveDate::from_ymd_opt(f.year, f.month, f.day)?;
    // Validates the clock fields; the value itself is computed below in i128 so that far
    // years report a range error rather than overflow.
    date.and_hms_nano_opt(f.hour, f.minute, f.second, f.nanos)?;
    let days = i128::from(date.num_days_from_ce()) - DAYS_FROM_CE_TO_EPOCH;
    let secs = days * 86_400
        + i128::from(f.hour) * 3600
        + i128::from(f.minute) * 60
        + i128::from(f.second)
        - i128::from(f.offset_secs);
    let ns = secs * 1_000_000_000 + i128::from(f.nanos);
    Some(match i64::try_from(ns) {
        Ok(ns) => IsoValue::Ns(ns),
        Err(_) => IsoValue::OutOfRange { negative: ns < 0 },
    })
}

static TIMESPAN_RE: LazyLock<Regex> = LazyLock::new(|| {
    const NUM: &str = r"(?:\d+(?:\.\d*)?|\.\d+)";
    const SEP: &str = r"\s*(?:[,/]\s*)?";
    let pattern = format!(
        r"(?xi)^\s*
        (?P<sign>[+-])?\s*
        (?:(?P<weeks>{NUM})\s*(?:weeks|week|wks|wk|w){SEP})?
        (?:(?P<days>{NUM})\s*(?:days|day|dys|dy|d){SEP})?
        (?:
            (?:(?:(?P<cd>\d+):)?(?P<ch>\d+):(?P<cm>\d+):(?P<cs>{NUM}))
          | (?:(?P<mm>\d+):(?P<ms>{NUM}))
          | (?::(?P<ss>{NUM}))
          | (?:
              (?:(?P<hours>{NUM})\s*(?:hours|hour|hrs|hr|h){SEP})?
              (?:(?P<mins>{NUM})\s*(?:minutes|minute|mins|min|m){SEP})?
              (?:(?P<secs>{NUM})\s*(?:seconds|second|secs|sec|s))?
            )
        )
        \s*$"
    );
    Regex::new(&pattern).expect("the timespan pattern is a valid regex")
});

/// `num` (digits with an optional fraction) times `factor_secs`, in nanoseconds, computed
/// exactly in decimal and truncated.
fn decimal_to_ns(num: &str, factor_secs: i128) -> Option<i128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    // More than 18 fractional digits cannot change a nanosecond count of any useful span.
    let frac = &frac[..frac.len().min(18)];
    let int: i128 = if int.is_empty() {
        0
    } else {
        int.parse::<i64>().ok()?.into()
    };
    let frac_value: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10i128.pow(u32::try_from(frac.len()).ok()?);
    let ns_factor = factor_secs * 1_000_000_000;
    Some(int * ns_factor + frac_value * ns_factor / scale)
}

/// The timespan expression grammar (shared/spec/api.md §1.8, form 2), in signed nanoseconds.
/// Decimal components are converted exactly (`0:00:03.6` is 3 600 000 000 ns), not through f64.
fn parse_timespan_text(input: &str) -> Option<i128> {
    let caps = TIMESPAN_RE.captures(input)?;
    const PARTS: [(&str, i128); 12] = [
        ("weeks", 604_800),
        ("days", 86_400),
        ("cd", 86_400),
        ("ch", 3600),
        ("cm", 60),
        ("cs", 1),
        ("mm", 60),
        ("ms", 1),
        ("ss", 1),
        ("hours", 3600),
        ("mins", 60),
        ("secs", 1),
    ];
    let mut total: i128 = 0;
    let mut any = false;
    for (name, factor) in PARTS {
        if let Some(m) = caps.name(name) {
            any = true;
            total = total.checked_add(decimal_to_ns(m.as_str(), factor)?)?;
        }
    }
    if !any {
        return None;
    }
    if caps.name("sign").map(|m| m.as_str()) == Some("-") {
        total = -total;
    }
    Some(total)
}

/// Parses a timespan (shared/spec/api.md §1.8) into signed nanoseconds: seconds as a number or
/// numeric string, else a duration expression (`1h30m`, `1 day, 2 hours`, `0:05:00`,
/// `30 days, 0:00:00`). Zero and negative results are returned; callers that need a positive
/// timespan use [`parse_timespan_positive`].
pub fn parse_timespan(input: &TimeInput<'_>) -> Result<i64, TimeError> {
    let secs = match input {
        TimeInput::Number(n) => *n,
        TimeInput::Text(s) => match parse_python_float(s) {
            Some(n) => n,
            None => {
                let ns = parse_timespan_text(s).ok_or(TimeError::UnableToParseTimespan)?;
                return i64::try_from(ns).map_err(|_| TimeError::UnableToParseTimespan);
            }
        },
    };
    if !secs.is_finite() {
        return Err(TimeError::UnableToParseTimespan);
    }
    seconds_to_ns(secs).ok_or(TimeError::UnableToParseTimespan)
}

/// [`parse_timespan`], then [`TimeError::TimespanNotPositive`] unless the result is > 0.
pub fn parse_timespan_positive(input: &TimeInput<'_>) -> Result<i64, TimeError> {
    let ns = parse_timespan(input)?;
    if ns <= 0 {
        return Err(TimeError::TimespanNotPositive);
    }
    Ok(ns)
}

/// Reads a boolean query parameter (shared/spec/api.md §1.6): case-insensitive after trimming,
/// `1 t true on y yes` are true and `0 f false off n no` false; anything else is `None`.
pub fn parse_bool_query(input: &str) -> Option<bool> {
    match input.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn common_shapes_take_the_hand_written_path() {
        for s in [
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05.5Z",
            "2024-01-02t03:04:05,123456789123+05:30",
            "2024-01-02T03:04:05-0700",
            "2024-01-02T03:04:05+01",
        ] {
            let fast = iso_fields_common(s);
            assert!(fast.is_some(), "{s}");
            assert_eq!(fast, iso_fields_pattern(s), "{s}");
        }
        assert_eq!(
            iso_fields_common("2024-01-02T03:04:05.1234567891+05:30")
                .map(|f| (f.nanos, f.offset_secs)),
            Some((123_456_789, 19_800))
        );
        // Left to the pattern: shorter forms, and anything out of the common shape.
        for s in [
            "2024-01-02",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05.",
            "2024-01-02T03:04:05+2400",
        ] {
            assert_eq!(iso_fields_common(s), None, "{s}");
        }
    }

    proptest! {
        /// Whatever the hand-written path reads, the pattern reads the same way.
        #[test]
        fn hand_written_path_agrees_with_the_pattern(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?([Zz]|[+-][0-9]{1,2}(:?[0-9]{1,3})?)?[ x0-9]?",
        ) {
            if let Some(fast) = iso_fields_common(&s) {
                prop_assert_eq!(Some(fast), iso_fields_pattern(&s));
            }
        }

        #[test]
        fn hand_written_path_agrees_on_any_text(s in "\\PC{0,40}") {
            if let Some(fast) = iso_fields_common(&s) {
                prop_assert_eq!(Some(fast), iso_fields_pattern(&s));
            }
        }
    }
}

//! Calendar resampling (shared/spec/engine.md §3.4.2, §6.1.3): year, half-year, quarter, month,
//! and week starting on Sunday, in UTC. Read-side only; used by the single-metric read
//! (`resample=M`), the legacy cross-metric aggregation, and `resample` nodes built with a
//! calendar period.

use std::fmt;

use gnocchi_core::AggregationMethod;
use snafu::ensure;

use crate::aggregates::{OutputPoint, Period};
use crate::engine::{aggregate, group, Op, Series};
use crate::error::CalendarRateResampleSnafu;
use crate::{AggregatedPoint, Result};

const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A calendar resample unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CalendarUnit {
    /// `Y`: calendar year.
    Year,
    /// `H`: half-year (January, July).
    HalfYear,
    /// `Q`: quarter (January, April, July, October).
    Quarter,
    /// `M`: month.
    Month,
    /// `W`: week starting on Sunday.
    Week,
}

impl CalendarUnit {
    /// The unit of a `resample` value, recognised before the timespan parser (api.md §1.8).
    pub fn from_letter(s: &str) -> Option<Self> {
        Some(match s {
            "Y" => CalendarUnit::Year,
            "H" => CalendarUnit::HalfYear,
            "Q" => CalendarUnit::Quarter,
            "M" => CalendarUnit::Month,
            "W" => CalendarUnit::Week,
            _ => return None,
        })
    }

    /// The letter clients see as the granularity of resampled points.
    pub fn letter(self) -> &'static str {
        match self {
            CalendarUnit::Year => "Y",
            CalendarUnit::HalfYear => "H",
            CalendarUnit::Quarter => "Q",
            CalendarUnit::Month => "M",
            CalendarUnit::Week => "W",
        }
    }

    /// The first instant (ns, UTC) of the period containing `ts_ns`.
    pub fn floor(self, ts_ns: i64) -> i64 {
        let days = ts_ns.div_euclid(NS_PER_DAY);
        let start = match self {
            CalendarUnit::Week => {
                // 1970-01-01 was a Thursday: weekday 4 counting from Sunday.
                days - (days + 4).rem_euclid(7)
            }
            _ => {
                let (y, m, _) = civil_from_days(days);
                let first_month = match self {
                    CalendarUnit::Year => 1,
                    CalendarUnit::HalfYear => {
                        if m <= 6 {
                            1
                        } else {
                            7
                        }
                    }
                    CalendarUnit::Quarter => (m - 1) / 3 * 3 + 1,
                    _ => m,
                };
                days_from_civil(y, first_month, 1)
            }
        };
        start.saturating_mul(NS_PER_DAY)
    }
}

impl fmt::Display for CalendarUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// Calendar resample of one series with the carbonara algorithms of `method` (engine.md §6.1.3,
/// §3.5; percentile offsets counted from the start of the series). `rate:` methods are refused
/// ([`crate::Error::CalendarRateResample`], API 400; Gnocchi answers 500).
pub(crate) fn resample_series(
    series: &Series,
    unit: CalendarUnit,
    method: AggregationMethod,
) -> Result<Series> {
    ensure!(!method.rate, CalendarRateResampleSnafu { method });
    let labels: Vec<i64> = series.ts.iter().map(|&t| unit.floor(t)).collect();
    // Every label is a whole number of days, exactly representable in f64, so grouping the
    // labels by one day (epoch-aligned f64 rounding) yields exactly one bucket per label.
    let groups = group(&labels, NS_PER_DAY);
    Ok(aggregate(&groups, &series.values, Op::of(method)))
}

/// Calendar resample of a single-metric read (`GET /v1/metric/<id>/measures?resample=M`).
///
/// `points` are what [`crate::read_measures`] returned for the one granularity asked (with the
/// same `start`/`stop`, no fixed resample). Buckets are labelled with their calendar start; with
/// `start`, buckets before the calendar period containing `start` are left out (engine.md §10.2:
/// Gnocchi answers 500 there; we round `start` down to the calendar period).
pub fn resample_calendar(
    points: &[AggregatedPoint],
    unit: CalendarUnit,
    method: AggregationMethod,
    start_ns: Option<i64>,
) -> Result<Vec<OutputPoint>> {
    let mut series = Series::with_capacity(points.len());
    for p in points {
        series.push(p.timestamp_ns, p.value);
    }
    let out = resample_series(&series, unit, method)?;
    let lo = start_ns.map(|s| unit.floor(s));
    Ok(out
        .ts
        .iter()
        .zip(&out.values)
        .filter(|(t, _)| lo.is_none_or(|lo| **t >= lo))
        .map(|(&timestamp_ns, &value)| OutputPoint {
            timestamp_ns,
            period: Period::Calendar(unit),
            value,
        })
        .collect())
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a (year, month 1–12, day) date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use gnocchi_core::time::{format_timestamp, parse_timestamp, TimeInput};

    use super::*;

    fn ts(s: &str) -> i64 {
        parse_timestamp(&TimeInput::Text(s), 0).expect("valid timestamp")
    }

    fn daily() -> Vec<AggregatedPoint> {
        [
            ("2015-03-01", 10.0),
            ("2015-03-06", 12.0),
            ("2015-04-01", 2.0),
            ("2015-04-06", 4.0),
            ("2015-10-06", 7.0),
            ("2016-01-06", 12.0),
            ("2016-02-06", 4.0),
        ]
        .iter()
        .map(|(d, v)| AggregatedPoint {
            timestamp_ns: ts(d),
            granularity_ns: NS_PER_DAY,
            value: *v,
        })
        .collect()
    }

    fn run(unit: &str, start: Option<&str>) -> Vec<(String, f64)> {
        let unit = CalendarUnit::from_letter(unit).expect("a unit");
        let mean = "mean".parse().expect("mean");
        resample_calendar(&daily(), unit, mean, start.map(ts))
            .expect("resampled")
            .into_iter()
            .map(|p| {
                assert_eq!(p.period, Period::Calendar(unit));
                (format_timestamp(p.timestamp_ns)[..10].to_owned(), p.value)
            })
            .collect()
    }

    fn expect(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(d, v)| ((*d).to_owned(), *v)).collect()
    }

    // engine.md §6.1.3 table / resample-calendar gabbit numbers.
    #[test]
    fn spec_6_1_3_calendar_units() {
        assert_eq!(
            run("Y", None),
            expect(&[("2015-01-01", 7.0), ("2016-01-01", 8.0)])
        );
        assert_eq!(
            run("H", None),
            expect(&[
                ("2015-01-01", 7.0),
                ("2015-07-01", 7.0),
                ("2016-01-01", 8.0)
            ])
        );
        assert_eq!(
            run("Q", None),
            expect(&[
                ("2015-01-01", 11.0),
                ("2015-04-01", 3.0),
                ("2015-10-01", 7.0),
                ("2016-01-01", 8.0)
            ])
        );
        assert_eq!(
            run("M", None),
            expect(&[
                ("2015-03-01", 11.0),
                ("2015-04-01", 3.0),
                ("2015-10-01", 7.0),
                ("2016-01-01", 12.0),
                ("2016-02-01", 4.0)
            ])
        );
        assert_eq!(
            run("W", None),
            expect(&[
                ("2015-03-01", 11.0),
                ("2015-03-29", 2.0),
                ("2015-04-05", 4.0),
                ("2015-10-04", 7.0),
                ("2016-01-03", 12.0),
                ("2016-01-31", 4.0)
            ])
        );
    }

    // engine.md §10.2: calendar resample with start rounds start down (Gnocchi: 500).
    #[test]
    fn spec_10_2_calendar_with_start_rounds_down() {
        assert_eq!(
            run("M", Some("2015-04-03T12:00:00")),
            expect(&[
                ("2015-04-01", 3.0),
                ("2015-10-01", 7.0),
                ("2016-01-01", 12.0),
                ("2016-02-01", 4.0)
            ])
        );
    }

    // engine.md §10.2: calendar resample of rate: is a 400, not a 500.
    #[test]
    fn spec_10_2_calendar_rate_refused() {
        let rate = "rate:mean".parse().expect("rate:mean");
        let err =
            resample_calendar(&daily(), CalendarUnit::Month, rate, None).expect_err("rate refused");
        assert!(matches!(err, crate::Error::CalendarRateResample { .. }));
        assert_eq!(err.kind(), gnocchi_core::ErrorKind::Invalid);
    }

    #[test]
    fn floors() {
        let f = |u, s| format_timestamp(CalendarUnit::floor(u, ts(s)));
        assert_eq!(
            f(CalendarUnit::Week, "2015-04-01T10:00:00"),
            "2015-03-29T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::Week, "2015-03-29T00:00:00"),
            "2015-03-29T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::Week, "1970-01-01T05:00:00"),
            "1969-12-28T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::Quarter, "2016-12-31T23:59:59"),
            "2016-10-01T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::HalfYear, "2016-07-01T00:00:00"),
            "2016-07-01T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::Month, "2016-02-29T13:00:00"),
            "2016-02-01T00:00:00+00:00"
        );
        assert_eq!(
            f(CalendarUnit::Year, "2000-06-15T00:00:00"),
            "2000-01-01T00:00:00+00:00"
        );
        for d in -1000..100_000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}

//! Archive policies, their definition items, aggregation method names and rules
//! (shared/spec/engine.md §1.3, §1.4).

use std::fmt;
use std::str::FromStr;

/// One aggregation method name, e.g. `mean`, `95pct`, `rate:last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregationMethod {
    /// The per-bucket operation.
    pub base: BaseMethod,
    /// `rate:` prefix: aggregate the differences between consecutive points (engine.md §3.6).
    pub rate: bool,
}

/// The per-bucket operations of engine.md §3.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaseMethod {
    /// Arithmetic mean.
    Mean,
    /// Sum.
    Sum,
    /// Last value by time.
    Last,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
    /// Sample standard deviation.
    Std,
    /// Median.
    Median,
    /// First value by time.
    First,
    /// Number of points.
    Count,
    /// Percentile 1–99, linearly interpolated.
    Percentile(u8),
}

impl BaseMethod {
    /// The basic method names other than percentiles, in Gnocchi's order.
    pub const NAMED: [BaseMethod; 9] = [
        BaseMethod::Mean,
        BaseMethod::Sum,
        BaseMethod::Last,
        BaseMethod::Max,
        BaseMethod::Min,
        BaseMethod::Std,
        BaseMethod::Median,
        BaseMethod::First,
        BaseMethod::Count,
    ];
}

impl AggregationMethod {
    /// A method without the `rate:` prefix.
    pub const fn plain(base: BaseMethod) -> Self {
        Self { base, rate: false }
    }

    /// Every valid method name: 108 basic ones, each also with `rate:` (216 in all).
    pub fn all() -> Vec<AggregationMethod> {
        let mut out = Vec::with_capacity(216);
        for rate in [false, true] {
            for base in BaseMethod::NAMED {
                out.push(Self { base, rate });
            }
            for p in 1..=99 {
                out.push(Self {
                    base: BaseMethod::Percentile(p),
                    rate,
                });
            }
        }
        out
    }
}

impl fmt::Display for BaseMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            BaseMethod::Mean => "mean",
            BaseMethod::Sum => "sum",
            BaseMethod::Last => "last",
            BaseMethod::Max => "max",
            BaseMethod::Min => "min",
            BaseMethod::Std => "std",
            BaseMethod::Median => "median",
            BaseMethod::First => "first",
            BaseMethod::Count => "count",
            BaseMethod::Percentile(p) => return write!(f, "{p}pct"),
        };
        f.write_str(name)
    }
}

impl fmt::Display for AggregationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rate {
            f.write_str("rate:")?;
        }
        self.base.fmt(f)
    }
}

/// The name is not one of the 216 valid aggregation methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAggregationMethod(pub String);

impl fmt::Display for UnknownAggregationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown aggregation method {}", self.0)
    }
}

impl std::error::Error for UnknownAggregationMethod {}

impl FromStr for BaseMethod {
    type Err = UnknownAggregationMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownAggregationMethod(s.to_owned());
        Ok(match s {
            "mean" => BaseMethod::Mean,
            "sum" => BaseMethod::Sum,
            "last" => BaseMethod::Last,
            "max" => BaseMethod::Max,
            "min" => BaseMethod::Min,
            "std" => BaseMethod::Std,
            "median" => BaseMethod::Median,
            "first" => BaseMethod::First,
            "count" => BaseMethod::Count,
            _ => {
                let digits = s.strip_suffix("pct").ok_or_else(unknown)?;
                // Only plain decimal 1–99: no sign, no leading zero.
                if digits.is_empty()
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(unknown());
                }
                let p: u8 = digits.parse().map_err(|_| unknown())?;
                if !(1..=99).contains(&p) {
                    return Err(unknown());
                }
                BaseMethod::Percentile(p)
            }
        })
    }
}

impl FromStr for AggregationMethod {
    type Err = UnknownAggregationMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (rate, base) = match s.strip_prefix("rate:") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let base = base
            .parse()
            .map_err(|_| UnknownAggregationMethod(s.to_owned()))?;
        Ok(Self { base, rate })
    }
}

/// One row of a policy's definition: a granularity kept for `points` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePolicyItem {
    /// Bucket width in nanoseconds (> 0).
    pub granularity_ns: i64,
    /// Number of buckets kept; `None` means unbounded retention.
    pub points: Option<u64>,
}

impl ArchivePolicyItem {
    /// `granularity × points` in nanoseconds, `None` when retention is unbounded.
    pub fn timespan_ns(&self) -> Option<i64> {
        self.points
            .map(|p| self.granularity_ns.saturating_mul(p as i64))
    }
}

/// An archive policy as stored: definition, back window and resolved aggregation methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePolicy {
    /// Unique name.
    pub name: String,
    /// Extra coarsest-granularity periods of raw data kept for late measures.
    pub back_window: u64,
    /// The granularities, in the order given at creation.
    pub definition: Vec<ArchivePolicyItem>,
    /// The resolved set of methods metricd computes, sorted.
    pub aggregation_methods: Vec<AggregationMethod>,
}

impl ArchivePolicy {
    /// The largest granularity (Gnocchi's `max_block_size`), in nanoseconds.
    pub fn max_block_size_ns(&self) -> i64 {
        self.definition
            .iter()
            .map(|d| d.granularity_ns)
            .max()
            .unwrap_or(0)
    }

    /// The back window actually applied: one more period when a `rate:` method is kept.
    pub fn effective_back_window(&self) -> u64 {
        if self.aggregation_methods.iter().any(|m| m.rate) {
            self.back_window + 1
        } else {
            self.back_window
        }
    }
}

/// A rule choosing the archive policy of metrics created without one (engine.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePolicyRule {
    /// Unique name.
    pub name: String,
    /// Shell-style pattern matched against the whole metric name.
    pub metric_pattern: String,
    /// The policy given to matching metrics.
    pub archive_policy_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_216_method_names_round_trip() {
        let all = AggregationMethod::all();
        assert_eq!(all.len(), 216);
        for m in all {
            assert_eq!(m.to_string().parse::<AggregationMethod>(), Ok(m));
        }
    }

    #[test]
    fn rejects_bad_percentiles() {
        for bad in [
            "0pct",
            "100pct",
            "05pct",
            "pct",
            "+5pct",
            "rate:",
            "rate:rate:mean",
            "avg",
        ] {
            assert!(bad.parse::<AggregationMethod>().is_err(), "{bad}");
        }
    }
}

//! A narrow, unstable facade over the engine for the criterion benches (`storage/benches`),
//! which link the crate from outside. Not part of the crate's promised surface.

use gnocchi_core::AggregationMethod;

use super::{aggregate, aggregate_rate, floor_to, group, Op, Series};

/// Aggregates sorted points at granularity `g` with `method` as one processing pass would from
/// the first point on; returns the number of buckets produced.
pub fn aggregate_points(ts: &[i64], values: &[f64], g: i64, method: AggregationMethod) -> usize {
    let op = Op::of(method);
    if method.rate {
        let s = Series {
            ts: ts.to_vec(),
            values: values.to_vec(),
        };
        let start = ts.first().map_or(0, |&t| floor_to(t, g));
        aggregate_rate(&s, g, start, op).len()
    } else {
        aggregate(&group(ts, g), values, op).len()
    }
}

/// Aggregates with every method of `methods`, grouping once (as processing does per
/// granularity); returns the total number of buckets produced.
pub fn aggregate_many(ts: &[i64], values: &[f64], g: i64, methods: &[AggregationMethod]) -> usize {
    let groups = group(ts, g);
    methods
        .iter()
        .map(|&m| aggregate(&groups, values, Op::of(m)).len())
        .sum()
}

/// Encodes one split.
pub fn encode_split(key: i64, g: i64, ts: &[i64], values: &[f64]) -> Vec<u8> {
    super::encode_split(
        key,
        g,
        &Series {
            ts: ts.to_vec(),
            values: values.to_vec(),
        },
    )
}

/// Decodes one split; the number of points, `None` if corrupt.
pub fn decode_split(bytes: &[u8], key: i64, g: i64) -> Option<usize> {
    super::decode_split(bytes, key, g).map(|s| s.len())
}

/// Encodes a raw series.
pub fn encode_raw(ts: &[i64], values: &[f64]) -> Vec<u8> {
    super::encode_raw(&Series {
        ts: ts.to_vec(),
        values: values.to_vec(),
    })
}

/// Decodes a raw series; the number of points, `None` if corrupt.
pub fn decode_raw(bytes: &[u8]) -> Option<usize> {
    super::decode_raw(bytes).map(|s| s.len())
}

/// The split key of bucket `t` at granularity `g`.
pub fn split_key(t: i64, g: i64) -> i64 {
    super::split_key(t, g)
}

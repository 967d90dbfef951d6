//! The numeric core: bucketing, aggregation methods, rates, timespan truncation, splits and the
//! split codec (shared/spec/engine.md §3, §4). Pure code over slices of primitives: no I/O.

mod aggregate;
pub mod bench;
pub(crate) mod bits;
mod raw;
mod series;
mod split;
mod values;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod realdata;
#[cfg(test)]
mod tests;

pub(crate) use aggregate::{aggregate, aggregate_rate, group, resample, Op};
pub(crate) use raw::{decode_raw, encode_raw};
pub(crate) use series::Series;
pub(crate) use split::{decode_split, encode_split};

/// Number of bucket slots in one split (engine.md §4.1).
pub const POINTS_PER_SPLIT: i64 = 3600;

/// The start of the bucket of width `g` containing `t`, computed through f64 exactly as Gnocchi
/// does (engine.md §3.4.1): timestamps a few hundred ns before a boundary land in the next bucket.
/// We keep this bit-identical formula on the write and read paths (decision for §10.3).
#[inline]
pub(crate) fn floor_to(t: i64, g: i64) -> i64 {
    let gf = g as f64;
    (gf * ((t as f64) / gf).floor()) as i64
}

/// The key (start) of the split of granularity `g` containing bucket `t` (engine.md §4.1).
#[inline]
pub(crate) fn split_key(t: i64, g: i64) -> i64 {
    floor_to(t, g.saturating_mul(POINTS_PER_SPLIT))
}

/// Orders values as Gnocchi's sort does for ties and medians: numbers ascending, NaN last.
#[inline]
pub(crate) fn cmp_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.partial_cmp(&b).expect("neither value is NaN"),
        (false, true) => std::cmp::Ordering::Less,
        (true, false) => std::cmp::Ordering::Greater,
        (true, true) => std::cmp::Ordering::Equal,
    }
}

//! Property tests: the engine against a naive reference model (BTreeMap buckets, sort-everything
//! methods), and the codecs (round trips, never panicking on arbitrary bytes).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::aggregate::Op;
use super::bits::ByteReader;
use super::values::{decode_values, encode_values};
use super::*;

const S: i64 = 1_000_000_000;
const DAY: i64 = 1_388_534_400 * S;

/// Float equality where NaN equals NaN (−0 equals 0, which the sorts do not distinguish).
pub(crate) fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

pub(crate) fn ops() -> Vec<Op> {
    let mut v = vec![
        Op::Mean,
        Op::Sum,
        Op::Last,
        Op::Max,
        Op::Min,
        Op::Std,
        Op::Median,
        Op::First,
        Op::Count,
    ];
    v.extend([1, 5, 25, 50, 56, 74, 95, 99].map(Op::Percentile));
    v
}

/// The reference value of one bucket (`o` points of the grouped series before it).
pub(crate) fn naive_value(vals: &[f64], o: usize, op: Op) -> Option<f64> {
    let n = vals.len();
    let mut sum = 0.0;
    for v in vals {
        sum += v;
    }
    let mut sorted: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    sorted.extend(vals.iter().filter(|v| v.is_nan()));
    Some(match op {
        Op::Count => n as f64,
        Op::Sum => sum,
        Op::Mean => sum / n as f64,
        Op::First => vals[0],
        Op::Last => vals[n - 1],
        Op::Min => sorted[0],
        Op::Max => {
            if vals.iter().any(|v| v.is_nan()) {
                f64::NAN
            } else {
                sorted[n - 1]
            }
        }
        Op::Std => {
            if n == 1 {
                return None;
            }
            let mean = sum / n as f64;
            let mut ss = 0.0;
            for v in vals {
                ss += (v - mean) * (v - mean);
            }
            (ss / (n as f64 - 1.0)).sqrt()
        }
        Op::Median => {
            if n % 2 == 1 {
                (sorted[n / 2] + sorted[n / 2]) / 2.0
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            }
        }
        Op::Percentile(p) => {
            let r = o as f64 + (n as f64 - 1.0) * (p as f64 / 100.0);
            let (lo, hi) = (r.floor() as usize, r.ceil() as usize);
            if lo == hi {
                sorted[lo - o]
            } else {
                sorted[lo - o] * (hi as f64 - r) + sorted[hi - o] * (r - lo as f64)
            }
        }
    })
}

/// Reference aggregation of a whole grouped series.
pub(crate) fn naive_aggregate(points: &[(i64, f64)], g: i64, op: Op) -> Vec<(i64, f64)> {
    let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for &(t, v) in points {
        buckets.entry(floor_to(t, g)).or_default().push(v);
    }
    let mut o = 0;
    let mut out = Vec::new();
    for (b, vals) in buckets {
        if let Some(v) = naive_value(&vals, o, op) {
            out.push((b, v));
        }
        o += vals.len();
    }
    out
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-50i32..50).prop_map(f64::from),
        4 => (-5000i32..5000).prop_map(|x| f64::from(x) / 100.0),
        3 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// Sorted, deduplicated points over about two hours, ns jitter included.
fn points() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::btree_map(
        prop_oneof![0i64..7200, 0i64..600]
            .prop_flat_map(|s| prop_oneof![Just(s * S), (0i64..S).prop_map(move |j| s * S + j)]),
        value(),
        0..300,
    )
    .prop_map(|m| m.into_iter().map(|(t, v)| (DAY + t, v)).collect())
}

fn granularity() -> impl Strategy<Value = i64> {
    prop::sample::select(vec![S, 5 * S, 7 * S, 60 * S, 90 * S, 300 * S, 3600 * S])
}

/// Decimal series: integer random walks of a drifting step scale (some with a common factor,
/// some near ±2^53) divided by `10^k`.
fn decimal_values() -> impl Strategy<Value = Vec<f64>> {
    let steps = prop::collection::vec((any::<i64>(), 0u32..40), 1..800);
    (steps, 0i32..7, 1i64..6, prop::bool::weighted(0.1)).prop_map(|(steps, k, factor, edge)| {
        let limit = 1i64 << 53;
        let mut x = if edge { limit - 1000 } else { 0 };
        steps
            .iter()
            .map(|&(r, scale)| {
                let step = (r >> 1) % (1i64 << scale) * factor;
                x = (x.wrapping_add(step)).clamp(-limit, limit);
                x as f64 / 10f64.powi(k)
            })
            .collect()
    })
}

fn to_series(points: &[(i64, f64)]) -> Series {
    let mut s = Series::default();
    for &(t, v) in points {
        s.push(t, v);
    }
    s
}

/// Encodes `values`, decodes them from exactly the bytes written and compares bit for bit.
fn values_round_trip(values: &[f64]) -> Result<(), TestCaseError> {
    let mut bytes = Vec::new();
    encode_values(&mut bytes, values);
    let mut back = Vec::new();
    let r = &mut ByteReader::new(&bytes);
    prop_assert!(decode_values(r, values.len(), &mut back).is_some());
    prop_assert!(r.at_end());
    let a: Vec<u64> = back.iter().map(|v| v.to_bits()).collect();
    let b: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    prop_assert_eq!(a, b);
    Ok(())
}

fn assert_same(got: &Series, want: &[(i64, f64)]) -> Result<(), TestCaseError> {
    let got: Vec<(i64, f64)> = got
        .ts
        .iter()
        .copied()
        .zip(got.values.iter().copied())
        .collect();
    prop_assert_eq!(got.len(), want.len(), "{:?} vs {:?}", got, want);
    for (a, b) in got.iter().zip(want) {
        prop_assert!(a.0 == b.0 && same(a.1, b.1), "{:?} vs {:?}", a, b);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn aggregate_matches_reference(pts in points(), g in granularity()) {
        let s = to_series(&pts);
        let groups = group(&s.ts, g);
        for op in ops() {
            let got = aggregate(&groups, &s.values, op);
            assert_same(&got, &naive_aggregate(&pts, g, op))?;
        }
    }

    #[test]
    fn rate_matches_reference(pts in points(), g in granularity(), cut in 0usize..300) {
        let s = to_series(&pts);
        let start_g = floor_to(pts.get(cut.min(pts.len().saturating_sub(1))).map_or(DAY, |p| p.0), g);
        let window: Vec<(i64, f64)> = pts.iter().copied().filter(|p| p.0 >= start_g - g).collect();
        let diffs: Vec<(i64, f64)> = window
            .windows(2)
            .filter(|w| w[1].0 >= start_g)
            .map(|w| (w[1].0, w[1].1 - w[0].1))
            .collect();
        for op in ops() {
            let got = aggregate_rate(&s, g, start_g, op);
            assert_same(&got, &naive_aggregate(&diffs, g, op))?;
        }
    }

    #[test]
    fn resample_matches_reference(pts in points(), g in granularity(), r in granularity()) {
        let s = to_series(&pts);
        let stored = aggregate(&group(&s.ts, g), &s.values, Op::Mean);
        let stored_pts: Vec<(i64, f64)> =
            stored.ts.iter().copied().zip(stored.values.iter().copied()).collect();
        for method in ["mean", "std", "56pct", "rate:max", "rate:median"] {
            let method: gnocchi_core::AggregationMethod = method.parse().expect("valid");
            let op = Op::of(method);
            let input = if method.rate {
                stored_pts.windows(2).map(|w| (w[1].0, w[1].1 - w[0].1)).collect()
            } else {
                stored_pts.clone()
            };
            assert_same(&resample(&stored, r, method), &naive_aggregate(&input, r, op))?;
        }
    }

    #[test]
    fn split_round_trip(
        slots in prop::collection::btree_set(0i64..3600, 0..3600),
        vals in prop::collection::vec(value(), 3600),
        g in granularity(),
    ) {
        let key = split_key(DAY, g);
        let s = Series {
            ts: slots.iter().map(|&i| key + i * g).collect(),
            values: vals[..slots.len()].to_vec(),
        };
        let bytes = encode_split(key, g, &s);
        let back = decode_split(&bytes, key, g).expect("decodes");
        prop_assert_eq!(&back.ts, &s.ts);
        let a: Vec<u64> = back.values.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = s.values.iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn raw_round_trip(pts in points(), bits in prop::collection::vec(any::<u64>(), 300)) {
        // Arbitrary bit patterns too (NaN payloads, subnormals, −0).
        let mut s = to_series(&pts);
        for (v, b) in s.values.iter_mut().zip(&bits).step_by(3) {
            *v = f64::from_bits(*b);
        }
        let bytes = encode_raw(&s);
        let back = decode_raw(&bytes).expect("decodes");
        prop_assert_eq!(&back.ts, &s.ts);
        let a: Vec<u64> = back.values.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = s.values.iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn decimal_values_round_trip(v in decimal_values()) {
        values_round_trip(&v)?;
    }

    #[test]
    fn means_of_decimals_round_trip(v in decimal_values(), w in 1usize..8) {
        // Float means: within a few ulps of a decimal, mostly, not exactly one.
        let means: Vec<f64> = v.chunks(w).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
        values_round_trip(&means)?;
    }

    #[test]
    fn value_decoder_never_panics_on_random_bytes(
        tag in 0u8..4,
        k in 0u8..14,
        n in prop_oneof![1usize..50, 0usize..100_000, Just(usize::MAX)],
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let data: Vec<u8> = [tag, k].into_iter().chain(bytes).collect();
        let mut out = Vec::new();
        if decode_values(&mut ByteReader::new(&data), n, &mut out).is_some() {
            prop_assert_eq!(out.len(), n);
        }
    }

    #[test]
    fn value_decoder_never_panics_on_mutated_rice(
        v in decimal_values(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = Vec::new();
        encode_values(&mut bytes, &v);
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        let mut out = Vec::new();
        if decode_values(&mut ByteReader::new(&bytes), v.len(), &mut out).is_some() {
            prop_assert_eq!(out.len(), v.len());
        }
    }

    #[test]
    fn decoders_never_panic_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_split(&bytes, DAY, 60 * S);
        let _ = decode_raw(&bytes);
        let mut v = bytes.clone();
        if !v.is_empty() {
            v[0] = 1; // valid version, so the decoders go further
        }
        if let Some(s) = decode_split(&v, DAY, 60 * S) {
            prop_assert!(s.ts.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s.ts.len(), s.values.len());
        }
        if let Some(s) = decode_raw(&v) {
            prop_assert!(s.ts.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s.ts.len(), s.values.len());
        }
    }

    #[test]
    fn decoders_never_panic_on_mutated_encodings(
        pts in points(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let g = 60 * S;
        let s = to_series(&pts);
        let agg = aggregate(&group(&s.ts, g), &s.values, Op::Mean);
        let key = agg.first_ts().map_or(DAY, |t| split_key(t, g));
        let mut in_split = agg.clone();
        in_split.retain_range(Some(key), Some(key + 3600 * g));
        for mut bytes in [encode_split(key, g, &in_split), encode_raw(&s)] {
            for (i, b) in &flips {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
            }
            let _ = decode_split(&bytes, key, g);
            let _ = decode_raw(&bytes);
        }
    }
}

//! The worked examples and "Verified" numbers of shared/spec/engine.md §3, and codec figures.

use gnocchi_core::AggregationMethod;

use super::aggregate::{differences, Op};
use super::*;

const S: i64 = 1_000_000_000;
/// 2014-01-01T00:00:00Z.
const DAY: i64 = 1_388_534_400 * S;

fn at(h: i64, m: i64, s: i64) -> i64 {
    DAY + (h * 3600 + m * 60 + s) * S
}

fn m(name: &str) -> AggregationMethod {
    name.parse().expect("valid method")
}

fn series(points: &[(i64, f64)]) -> Series {
    let mut s = Series::default();
    for &(t, v) in points {
        s.push(t, v);
    }
    s
}

/// engine.md §3.5 unit-test data: buckets 12:00, 12:01, 12:02 of one grouped series.
fn worked() -> Series {
    let mut pts = Vec::new();
    for (i, v) in [3.0, 5.0, 2.0, 3.0, 5.0].into_iter().enumerate() {
        pts.push((at(12, 0, 10 * i as i64), v));
    }
    for (i, v) in [8.0, 11.0, 22.0, 10.0, 42.0, 9.0].into_iter().enumerate() {
        pts.push((at(12, 1, 5 * i as i64), v));
    }
    for (i, v) in [4.0, 2.0].into_iter().enumerate() {
        pts.push((at(12, 2, 7 * i as i64 + 3), v));
    }
    series(&pts)
}

fn agg(s: &Series, g: i64, method: &str) -> Vec<f64> {
    let groups = group(&s.ts, g);
    aggregate(&groups, &s.values, Op::of(m(method))).values
}

#[test]
// The figures are the spec's, digit for digit (Python reprs).
#[allow(clippy::excessive_precision, clippy::approx_constant)]
fn worked_example_of_every_method_section_3_5() {
    let s = worked();
    let g = 60 * S;
    let table: [(&str, [f64; 3]); 12] = [
        ("first", [3.0, 8.0, 4.0]),
        ("last", [5.0, 9.0, 2.0]),
        ("count", [5.0, 6.0, 2.0]),
        ("sum", [18.0, 102.0, 6.0]),
        ("mean", [3.6, 17.0, 3.0]),
        ("median", [3.0, 10.5, 3.0]),
        ("50pct", [3.0, 10.5, 3.0]),
        ("56pct", [3.4800000000000004, 10.8, 3.120000000000001]),
        ("min", [2.0, 8.0, 2.0]),
        ("max", [5.0, 42.0, 4.0]),
        (
            "std",
            [1.3416407864998738, 13.266499161421599, 1.4142135623730951],
        ),
        ("99pct", [5.0, 41.0, 3.98]),
    ];
    for (name, expected) in table {
        let got = agg(&s, g, name);
        if name == "99pct" {
            // Not a spec figure: only checks the interpolation lands between the top two ranks.
            assert!(got[1] > 22.0 && got[1] < 42.0, "{got:?}");
            continue;
        }
        assert_eq!(got, expected, "{name}");
    }
    let groups = group(&s.ts, g);
    assert_eq!(
        groups.buckets,
        vec![at(12, 0, 0), at(12, 1, 0), at(12, 2, 0)]
    );
}

#[test]
fn percentile_offset_quirk_section_3_5() {
    // The 12:02 bucket alone (offset 0) gives 3.12, inside the series (offset 11) 3.120000000000001.
    let alone = series(&[(at(12, 2, 3), 4.0), (at(12, 2, 10), 2.0)]);
    assert_eq!(agg(&alone, 60 * S, "56pct"), vec![3.12]);
    assert_eq!(agg(&worked(), 60 * S, "56pct")[2], 3.120000000000001);
}

#[test]
#[allow(clippy::excessive_precision)]
fn small_bucket_examples_section_3_5() {
    let b = |vals: &[f64]| {
        series(
            &vals
                .iter()
                .enumerate()
                .map(|(i, &v)| (at(12, 0, i as i64), v))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(agg(&b(&[3.0, 5.0, 6.0]), 60 * S, "74pct"), vec![5.48]);
    assert_eq!(agg(&b(&[3.0, 5.0, 6.0]), 60 * S, "95pct"), vec![5.9]);
    assert_eq!(agg(&b(&[5.0, 6.0, 9.0]), 60 * S, "95pct"), vec![8.7]);
    assert_eq!(
        agg(&b(&[3.0, 6.0, 5.0]), 60 * S, "std"),
        vec![1.5275252316519465]
    );
    // A one-point bucket has no std at all.
    assert_eq!(agg(&b(&[3.0]), 60 * S, "std"), Vec::<f64>::new());
}

#[test]
fn nan_rules_section_3_5() {
    let s = series(&[
        (at(12, 0, 0), 3.0),
        (at(12, 0, 1), f64::NAN),
        (at(12, 0, 2), 1.0),
    ]);
    let g = 60 * S;
    assert!(agg(&s, g, "sum")[0].is_nan());
    assert!(agg(&s, g, "mean")[0].is_nan());
    assert!(agg(&s, g, "std")[0].is_nan());
    assert!(agg(&s, g, "max")[0].is_nan());
    assert_eq!(agg(&s, g, "min"), vec![1.0]);
    assert_eq!(agg(&s, g, "count"), vec![3.0]);
    assert_eq!(agg(&s, g, "first"), vec![3.0]);
    assert_eq!(agg(&s, g, "median"), vec![3.0]);
    // Sorted [1, 3, NaN]: the top rank reaches NaN, low ranks do not.
    assert!(agg(&s, g, "99pct")[0].is_nan());
    assert_eq!(agg(&s, g, "1pct"), vec![1.04]);
    let all_nan = series(&[(at(12, 0, 0), f64::NAN), (at(12, 0, 1), f64::NAN)]);
    assert!(agg(&all_nan, g, "min")[0].is_nan());
    let inf = series(&[(at(12, 0, 0), f64::INFINITY), (at(12, 0, 1), 1.0)]);
    assert_eq!(agg(&inf, g, "max"), vec![f64::INFINITY]);
    assert_eq!(agg(&inf, g, "mean"), vec![f64::INFINITY]);
}

#[test]
fn rate_mean_unit_example_section_3_6() {
    let raw = series(&[
        (at(12, 0, 0), 50.0),
        (at(12, 0, 4), 55.0),
        (at(12, 1, 2), 65.0),
        (at(12, 1, 14), 66.0),
        (at(12, 1, 24), 70.0),
        (at(12, 2, 4), 83.0),
        (at(12, 2, 35), 92.0),
        (at(12, 2, 42), 103.0),
        (at(12, 3, 2), 105.0),
        (at(12, 3, 22), 5.0),
        (at(12, 3, 42), 7.0),
        (at(12, 4, 9), 23.0),
    ]);
    let g = 60 * S;
    let r = aggregate_rate(&raw, g, at(12, 0, 0), Op::Mean);
    assert_eq!(r.ts, (0..5).map(|i| at(12, i, 0)).collect::<Vec<_>>());
    assert_eq!(r.values, vec![5.0, 5.0, 11.0, -32.0, 16.0]);
}

#[test]
fn rate_predecessor_window_section_3_6() {
    let g = 60 * S;
    // Predecessor 12:00:50 is before 12:02:00 - 60 s: the 12:02 bucket gets no difference.
    let raw = series(&[(at(12, 0, 50), 10.0), (at(12, 2, 10), 20.0)]);
    assert!(aggregate_rate(&raw, g, at(12, 2, 0), Op::Mean).is_empty());
    // Predecessor 12:00:00 is exactly start_g - g: kept.
    let raw = series(&[(at(12, 0, 0), 10.0), (at(12, 1, 30), 20.0)]);
    let r = aggregate_rate(&raw, g, at(12, 1, 0), Op::Mean);
    assert_eq!((r.ts, r.values), (vec![at(12, 1, 0)], vec![10.0]));
    assert_eq!(
        differences(&[1, 2, 4], &[1.0, 4.0, 2.0], None).values,
        vec![3.0, -2.0]
    );
}

#[test]
fn floor_to_uses_f64_section_3_4_1() {
    // …:00:00.999999872 lands in the …:00:01 second (f64 quotient rounds up).
    let t = at(12, 0, 0) + 999_999_872;
    assert_eq!(floor_to(t, S), at(12, 0, 1));
    assert_eq!(floor_to(at(12, 0, 0) + 500_000_000, S), at(12, 0, 0));
    // 7-day buckets start on Thursdays (the epoch); 90 s buckets are multiples of 90 s.
    assert_eq!(floor_to(6 * 86_400 * S, 7 * 86_400 * S), 0);
    assert_eq!(floor_to(at(12, 1, 40), 90 * S), at(12, 1, 30));
    assert_eq!(split_key(1_419_120_000 * S + 1, 300 * S), 1_419_120_000 * S);
}

#[test]
fn timespan_truncation_section_3_7() {
    let mut s = series(&[
        (at(12, 0, 0), 1.0),
        (at(12, 0, 5), 2.0),
        (at(12, 0, 10), 3.0),
        (at(12, 0, 15), 4.0),
    ]);
    s.truncate_to_timespan(Some(10 * S));
    assert_eq!(s.ts, vec![at(12, 0, 10), at(12, 0, 15)]);
}

#[test]
fn resample_examples_section_6_1_2() {
    let s = series(&[
        (at(14, 33, 57), 43.1),
        (at(14, 34, 12), 12.0),
        (at(14, 34, 15), 16.0),
        (at(14, 35, 12), 9.0),
        (at(14, 35, 15), 11.0),
    ]);
    let r = resample(&s, 60 * S, m("mean"));
    assert_eq!(r.ts, vec![at(14, 33, 0), at(14, 34, 0), at(14, 35, 0)]);
    assert_eq!(r.values, vec![43.1, 14.0, 10.0]);

    // Stored 60-s rate:last of i² once a minute: 1, 3, …, 21; resample 300 differentiates again.
    let raw = series(
        &(0..12)
            .map(|i| (at(12, i, 0), (i * i) as f64))
            .collect::<Vec<_>>(),
    );
    let stored = aggregate_rate(&raw, 60 * S, at(12, 0, 0), Op::Last);
    assert_eq!(
        stored.values,
        (1..12).map(|i| (2 * i - 1) as f64).collect::<Vec<_>>()
    );
    let r = resample(&stored, 300 * S, m("rate:last"));
    assert_eq!(r.values, vec![2.0, 2.0, 2.0]);
    let last = aggregate(&group(&raw.ts, 60 * S), &raw.values, Op::Last);
    let r = resample(&last, 300 * S, m("last"));
    assert_eq!(r.values, vec![16.0, 81.0, 121.0]);
}

#[test]
fn op_of_every_method_name() {
    for method in AggregationMethod::all() {
        let op = Op::of(method);
        let name = method.to_string();
        let base = name.strip_prefix("rate:").unwrap_or(&name);
        match op {
            Op::Percentile(p) => assert_eq!(format!("{p}pct"), base),
            other => assert_eq!(format!("{other:?}").to_lowercase(), base),
        }
    }
}

/// A small deterministic generator (xorshift64*), so the figures are reproducible.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of 4 uniforms, centred, unit-ish variance).
    pub(crate) fn normal(&mut self) -> f64 {
        (self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0) * 1.7
    }
}

/// The data shapes of engine.md §4.4, `n` values each.
pub(crate) fn shape(name: &str, n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut x = 100.0f64;
    (0..n)
        .map(|i| match name {
            "constant" => 42.0,
            "random 0/1" => (rng.next_u64() & 1) as f64,
            "counter +1..+5" => {
                x += (1 + rng.next_u64() % 5) as f64;
                x
            }
            "counter 1e12 + 0..1e6" => {
                x = x.max(1e12) + (rng.next_u64() % 1_000_000) as f64;
                x
            }
            "random walk 2 decimals" => {
                x += rng.normal();
                (x * 100.0).round() / 100.0
            }
            "random walk full precision" => {
                x += rng.normal();
                x
            }
            "mean of 5 uniform" => (0..5).map(|_| rng.uniform() * 100.0).sum::<f64>() / 5.0,
            "uniform random" => rng.uniform(),
            _ => i as f64,
        })
        .collect()
}

pub(crate) const SHAPES: [&str; 8] = [
    "constant",
    "random 0/1",
    "counter +1..+5",
    "counter 1e12 + 0..1e6",
    "random walk 2 decimals",
    "random walk full precision",
    "mean of 5 uniform",
    "uniform random",
];

#[test]
fn bytes_per_point_section_4_4() {
    let g = 60 * S;
    let key = split_key(DAY, g);
    // Gnocchi's compressed figures for the same rows (engine.md §4.4).
    let gnocchi = [0.05, 1.62, 4.15, 6.06, 4.34, 8.04, 8.04, 8.04];
    let mut rng = Rng::new(42);
    println!("| data | ours B/pt | Gnocchi B/pt |");
    for (name, theirs) in SHAPES.iter().zip(gnocchi) {
        let values = shape(name, 3600, &mut rng);
        let s = Series {
            ts: (0..3600).map(|i| key + i * g).collect(),
            values,
        };
        let bytes = encode_split(key, g, &s);
        assert_eq!(decode_split(&bytes, key, g).as_ref(), Some(&s));
        let bpp = bytes.len() as f64 / 3600.0;
        println!("| split: {name} | {bpp:.3} | {theirs} |");
        assert!(
            bpp < theirs,
            "{name}: {bpp} B/pt not below Gnocchi's {theirs}"
        );
    }
    // 10 % of slots present.
    let values = shape("random walk 2 decimals", 360, &mut rng);
    let mut slots: Vec<i64> = Vec::new();
    while slots.len() < 360 {
        let s = (rng.next_u64() % 3600) as i64;
        if !slots.contains(&s) {
            slots.push(s);
        }
    }
    slots.sort_unstable();
    let s = Series {
        ts: slots.iter().map(|&i| key + i * g).collect(),
        values,
    };
    let bytes = encode_split(key, g, &s);
    assert_eq!(decode_split(&bytes, key, g).as_ref(), Some(&s));
    let bpp = bytes.len() as f64 / 360.0;
    println!("| split: random walk 2 decimals, 10 % of slots | {bpp:.3} | 6.45 |");
    assert!(bpp < 6.45);

    // Raw buffers.
    for (name, jitter, shape_name, theirs) in [
        (
            "raw: exact 10-s timestamps, 2-dec. walk",
            false,
            "random walk 2 decimals",
            4.44,
        ),
        (
            "raw: jittered ns timestamps, 2-dec. walk",
            true,
            "random walk 2 decimals",
            10.55,
        ),
        (
            "raw: exact 10-s timestamps, constant",
            false,
            "constant",
            0.07,
        ),
    ] {
        let values = shape(shape_name, 3600, &mut rng);
        let ts = (0..3600)
            .map(|i| {
                let j = if jitter {
                    (rng.next_u64() % 1_000_000_000) as i64
                } else {
                    0
                };
                DAY + i * 10 * S + j
            })
            .collect();
        let s = Series { ts, values };
        let bytes = encode_raw(&s);
        assert_eq!(decode_raw(&bytes).as_ref(), Some(&s));
        let bpp = bytes.len() as f64 / 3600.0;
        println!("| {name} | {bpp:.3} | {theirs} |");
        assert!(bpp < theirs, "{name}: {bpp}");
    }
}

#[test]
fn split_layouts_round_trip() {
    let g = 60 * S;
    let key = split_key(DAY, g);
    // Off-grid timestamps use the explicit layout.
    let s = series(&[
        (key + 7, 1.0),
        (key + g * 4000, f64::NAN),
        (key + g * 4000 + 1, -0.0),
    ]);
    let bytes = encode_split(key, g, &s);
    let back = decode_split(&bytes, key, g).expect("decodes");
    assert_eq!(back.ts, s.ts);
    assert_eq!(back.values[0], 1.0);
    assert!(back.values[1].is_nan());
    assert_eq!(back.values[2].to_bits(), (-0.0f64).to_bits());
    // Empty.
    let e = encode_split(key, g, &Series::default());
    assert_eq!(decode_split(&e, key, g), Some(Series::default()));
    // Unknown version and truncation are errors, not panics.
    let full = series(
        &(0..3600)
            .map(|i| (key + i * g, i as f64 * 0.5))
            .collect::<Vec<_>>(),
    );
    let mut bytes = encode_split(key, g, &full);
    for cut in 0..bytes.len() {
        assert_eq!(decode_split(&bytes[..cut], key, g), None, "cut at {cut}");
    }
    bytes[0] = 9;
    assert_eq!(decode_split(&bytes, key, g), None);
}

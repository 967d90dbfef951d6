//! Query serialisation: `gnocchi_storage::measures_json` of a `Measures::Aggregated` and
//! `gnocchi_storage::points_json` of 1440 and 100 000 points (regular 60 s timestamps,
//! random-walk values), in points per second; and the two per-point formatters they use,
//! `gnocchi_core::time::push_timestamp` and `push_python_json_float`, over 100 000 values each,
//! appending into one reused `String`.
//!
//! `cargo bench -p gnocchi-storage --bench render -- --warm-up-time 1 --measurement-time 3`

mod common;

use common::{values, DAY, S};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_core::time::{push_python_json_float, push_timestamp};
use gnocchi_storage::{measures_json, points_json, Measures, OutputPoint, Period};

const G: i64 = 60 * S;

fn points(n: usize) -> Vec<OutputPoint> {
    values("walk-full", n, 11)
        .into_iter()
        .enumerate()
        .map(|(i, value)| OutputPoint {
            timestamp_ns: DAY + i as i64 * G,
            period: Period::Fixed(G),
            value,
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    for n in [1440usize, 100_000] {
        let measures = Measures::Aggregated(points(n));
        let Measures::Aggregated(pts) = &measures else {
            unreachable!()
        };
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("measures_json", n), &measures, |b, m| {
            b.iter(|| measures_json(black_box(m), &[]).len())
        });
        group.bench_with_input(BenchmarkId::new("points_json", n), pts, |b, pts| {
            b.iter(|| points_json(black_box(pts)).len())
        });
    }
    group.finish();
}

fn formatters(c: &mut Criterion) {
    const N: usize = 100_000;
    let ts: Vec<i64> = (0..N as i64).map(|i| DAY + i * G).collect();
    let vs = values("walk-full", N, 13);
    let mut group = c.benchmark_group("format_100k");
    group.throughput(Throughput::Elements(N as u64));
    let mut out = String::with_capacity(N * 32);
    group.bench_function("push_timestamp", |b| {
        b.iter(|| {
            out.clear();
            for &t in black_box(&ts) {
                push_timestamp(&mut out, t);
            }
            out.len()
        })
    });
    group.bench_function("push_python_json_float", |b| {
        b.iter(|| {
            out.clear();
            for &v in black_box(&vs) {
                push_python_json_float(&mut out, v);
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, render, formatters);
criterion_main!(benches);

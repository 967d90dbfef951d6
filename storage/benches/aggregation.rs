//! Aggregation throughput: points per second through grouping and the per-bucket methods.
//!
//! `cargo bench -p gnocchi-storage --bench aggregation -- --warm-up-time 1 --measurement-time 3`

mod common;

use common::{values, DAY, S};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_core::AggregationMethod;
use gnocchi_storage::__bench as engine;

const N: usize = 86_400;

fn methods(names: &[&str]) -> Vec<AggregationMethod> {
    names
        .iter()
        .map(|n| n.parse().expect("valid method"))
        .collect()
}

fn aggregation(c: &mut Criterion) {
    // One day of 1-s measures grouped at 60 s.
    let ts: Vec<i64> = (0..N as i64).map(|i| DAY + i * S).collect();
    let v = values("walk-full", N, 1);
    let g = 60 * S;
    let mut group = c.benchmark_group("aggregate_86400pts_at_60s");
    group.throughput(Throughput::Elements(N as u64));
    for name in [
        "mean",
        "sum",
        "last",
        "max",
        "min",
        "std",
        "count",
        "median",
        "95pct",
        "rate:mean",
    ] {
        let m: AggregationMethod = name.parse().expect("valid method");
        group.bench_with_input(BenchmarkId::from_parameter(name), &m, |b, &m| {
            b.iter(|| engine::aggregate_points(black_box(&ts), black_box(&v), g, m))
        });
    }
    // The six default methods of a policy sharing one grouping, per input point.
    let defaults = methods(&["mean", "min", "max", "sum", "std", "count"]);
    group.bench_function("default-6-methods", |b| {
        b.iter(|| engine::aggregate_many(black_box(&ts), black_box(&v), g, &defaults))
    });
    group.finish();
}

criterion_group!(benches, aggregation);
criterion_main!(benches);

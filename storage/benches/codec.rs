//! Split and raw codec throughput on full 3600-point splits of each data shape.
//!
//! `cargo bench -p gnocchi-storage --bench codec -- --warm-up-time 1 --measurement-time 3`

mod common;

use common::{values, DAY, S, SHAPES};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_storage::__bench as engine;

const N: usize = 3600;

fn codec(c: &mut Criterion) {
    let g = 60 * S;
    let key = engine::split_key(DAY, g);
    let ts: Vec<i64> = (0..N as i64).map(|i| key + i * g).collect();
    let raw_ts: Vec<i64> = (0..N as i64).map(|i| DAY + i * 10 * S).collect();
    let mut group = c.benchmark_group("split_3600pts");
    group.throughput(Throughput::Elements(N as u64));
    for shape in SHAPES {
        let v = values(shape, N, 7);
        let bytes = engine::encode_split(key, g, &ts, &v);
        group.bench_with_input(BenchmarkId::new("encode", shape), &v, |b, v| {
            b.iter(|| engine::encode_split(key, g, black_box(&ts), black_box(v)))
        });
        group.bench_with_input(BenchmarkId::new("decode", shape), &bytes, |b, bytes| {
            b.iter(|| engine::decode_split(black_box(bytes), key, g))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("raw_3600pts");
    group.throughput(Throughput::Elements(N as u64));
    for shape in ["walk-2dec", "walk-full"] {
        let v = values(shape, N, 7);
        let bytes = engine::encode_raw(&raw_ts, &v);
        group.bench_with_input(BenchmarkId::new("encode", shape), &v, |b, v| {
            b.iter(|| engine::encode_raw(black_box(&raw_ts), black_box(v)))
        });
        group.bench_with_input(BenchmarkId::new("decode", shape), &bytes, |b, bytes| {
            b.iter(|| engine::decode_raw(black_box(bytes)))
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);

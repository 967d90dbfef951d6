//! JSON measure-body parsing, in process and without HTTP, indexer or storage: what the
//! handlers of `POST /v1/batch/resources/metrics/measures`, `POST /v1/batch/metrics/measures`
//! and `POST /v1/metric/{id}/measures` do with the body before any lookup (decode, validate,
//! parse timestamps and values), through `gnocchi_api::__bench`. Throughput is in measures.
//!
//! Bodies: a Ceilometer-shaped resources batch (10 resources × 10 metrics × 10 measures), a bulk
//! metrics batch (10 metrics × 144 measures) and a single-metric body of 1000 measures (the
//! handler's borrowed fast path, and the general `Value` path for comparison). Timestamps are
//! ISO 8601 (`2024-01-01T00:01:00+00:00`), values floats.
//!
//! `cargo bench -p gnocchi-api --bench batch_parse -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_api::__bench as api;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200;

/// `n` measures one minute apart from `offset` minutes, random-walk float values.
fn measures(n: usize, offset: usize, seed: u64) -> Value {
    let mut state = seed | 1;
    let mut value = 50.0f64;
    let items = (0..n)
        .map(|i| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            value += r - 0.5;
            let t = START + ((offset + i) as i64) * 60;
            let ts = chrono::DateTime::from_timestamp(t, 0).unwrap();
            json!({
                "timestamp": ts.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                "value": value,
            })
        })
        .collect();
    Value::Array(items)
}

/// 10 resources × 10 metrics (with `archive_policy_name`, as Ceilometer sends) × 10 measures.
fn resources_body() -> Vec<u8> {
    let mut root = Map::new();
    for r in 0..10u64 {
        let mut metrics = Map::new();
        for m in 0..10u64 {
            metrics.insert(
                format!("disk.device.read.bytes.{m}"),
                json!({
                    "archive_policy_name": "ceilometer-low",
                    "measures": measures(10, 1, r * 10 + m + 1),
                }),
            );
        }
        root.insert(
            Uuid::from_u128(0x00c0_ffee_0000 + u128::from(r)).to_string(),
            Value::Object(metrics),
        );
    }
    serde_json::to_vec(&Value::Object(root)).unwrap()
}

/// 10 metrics × 144 measures.
fn metrics_body() -> Vec<u8> {
    let root: Map<String, Value> = (0..10u64)
        .map(|m| {
            let id = Uuid::from_u128(0xbeef_0000 + u128::from(m)).to_string();
            (id, measures(144, 1, m + 1))
        })
        .collect();
    serde_json::to_vec(&Value::Object(root)).unwrap()
}

fn batch_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_parse");

    let body = resources_body();
    assert_eq!(api::parse_resources_batch(&body, "admin:").unwrap(), 1000);
    group.throughput(Throughput::Elements(1000));
    group.bench_with_input(
        BenchmarkId::new("resources_metrics", "10x10x10"),
        &body,
        |b, body| b.iter(|| api::parse_resources_batch(black_box(body), "admin:").unwrap()),
    );
    group.bench_with_input(
        BenchmarkId::new("resources_metrics_general_path", "10x10x10"),
        &body,
        |b, body| b.iter(|| api::parse_resources_batch_general(black_box(body), "admin:").unwrap()),
    );

    let body = metrics_body();
    assert_eq!(api::parse_metrics_batch(&body).unwrap(), 1440);
    group.throughput(Throughput::Elements(1440));
    group.bench_with_input(BenchmarkId::new("metrics", "10x144"), &body, |b, body| {
        b.iter(|| api::parse_metrics_batch(black_box(body)).unwrap())
    });
    group.bench_with_input(
        BenchmarkId::new("metrics_general_path", "10x144"),
        &body,
        |b, body| b.iter(|| api::parse_metrics_batch_general(black_box(body)).unwrap()),
    );

    let body = serde_json::to_vec(&measures(1000, 1, 7)).unwrap();
    assert_eq!(api::parse_metric_measures(&body).unwrap(), 1000);
    group.throughput(Throughput::Elements(1000));
    group.bench_with_input(BenchmarkId::new("metric", "1000"), &body, |b, body| {
        b.iter(|| api::parse_metric_measures(black_box(body)).unwrap())
    });
    group.bench_with_input(
        BenchmarkId::new("metric_general_path", "1000"),
        &body,
        |b, body| b.iter(|| api::parse_metric_measures_general(black_box(body)).unwrap()),
    );
    group.finish();
}

criterion_group!(benches, batch_parse);
criterion_main!(benches);

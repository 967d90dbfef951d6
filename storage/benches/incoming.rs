//! Incoming append: `FileIncoming::add_measures` of one request's batches (100 metrics × 10
//! measures, the Ceilometer shape; and 10 metrics × 144 measures, a bulk push) into a tempdir
//! store created as the storage tests create one (`FileIncoming::upgrade` then `open`, 128
//! sacks), plus `encode_batch` / `decode_batch` of 1440 measures (pure CPU).
//!
//! The append benches measure the real filesystem: each call's batches are written as one pack
//! file, renamed into place, then the call waits for a `syncfs` round shared with concurrent
//! calls. Results therefore depend on the disk and filesystem under the system temp directory
//! (`TMPDIR`), not only on the code. The batches of each iteration are discarded again
//! (`delete_metric`, `commit_sack`, `tidy`; untimed) so the packs do not pile up.
//!
//! `cargo bench -p gnocchi-storage --bench incoming -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{values, DAY, S};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_core::Measure;
use gnocchi_storage::{decode_batch, encode_batch, FileIncoming, Incoming, DEFAULT_SACKS};
use uuid::Uuid;

/// One request's batches: `metrics` metrics of `per_metric` 1-minute random-walk measures.
fn request(metrics: usize, per_metric: usize) -> Vec<(Uuid, Vec<Measure>)> {
    (0..metrics)
        .map(|m| {
            let id = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + m as u128 * 7919);
            let v = values("walk-full", per_metric, m as u64 + 1);
            let ms = v
                .iter()
                .enumerate()
                .map(|(i, &x)| Measure::new(DAY + i as i64 * 60 * S, x))
                .collect();
            (id, ms)
        })
        .collect()
}

fn add_measures(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    FileIncoming::upgrade(dir.path(), DEFAULT_SACKS).unwrap();
    let incoming = FileIncoming::open(dir.path()).unwrap();
    let mut group = c.benchmark_group("incoming_add_measures");
    // Milliseconds per call (a filesystem sync): few samples keep the run short.
    group.sample_size(10);
    for (metrics, per_metric) in [(100, 10), (10, 144)] {
        let batches = request(metrics, per_metric);
        group.throughput(Throughput::Elements((metrics * per_metric) as u64));
        let id = format!("{metrics}x{per_metric}");
        group.bench_with_input(BenchmarkId::from_parameter(id), &batches, |b, batches| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    rt.block_on(incoming.add_measures(black_box(batches)))
                        .unwrap();
                    total += start.elapsed();
                    rt.block_on(async {
                        for (metric, _) in batches {
                            incoming.delete_metric(*metric).await.unwrap();
                        }
                        for sack in 0..DEFAULT_SACKS {
                            incoming.commit_sack(sack).await.unwrap();
                        }
                        incoming.tidy().await.unwrap();
                    });
                }
                total
            })
        });
    }
    group.finish();
}

fn batch_codec(c: &mut Criterion) {
    const N: usize = 1440;
    let (_, measures) = request(1, N).pop().unwrap();
    let bytes = encode_batch(&measures);
    let mut group = c.benchmark_group("incoming_batch_1440");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("encode_batch", |b| {
        b.iter(|| encode_batch(black_box(&measures)))
    });
    let mut out = Vec::with_capacity(N);
    group.bench_function("decode_batch", |b| {
        b.iter(|| {
            out.clear();
            decode_batch(black_box(&bytes), &mut out).unwrap();
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, add_measures, batch_codec);
criterion_main!(benches);

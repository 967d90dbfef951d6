//! One metric-pass of processing (engine.md §3.3, §9: Gnocchi's Python takes ≈3.1 ms for `low`,
//! 11 ms for `medium`, 21 ms for `high` per pass of 60 measures at 10-s spacing), through
//! `process_metric` against an in-memory `AggregateStorage` (no I/O: CPU only).
//!
//! `cargo bench -p gnocchi-storage --bench process -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use common::{values, DAY, S};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem, Measure};
use gnocchi_storage::{process_metric, AggregateStorage, Result, SplitKey};
use uuid::Uuid;

#[derive(Default)]
struct Memory {
    raw: Mutex<HashMap<Uuid, Vec<u8>>>,
    splits: Mutex<BTreeMap<(Uuid, SplitKey), Vec<u8>>>,
}

#[async_trait]
impl AggregateStorage for Memory {
    async fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        Ok(self.raw.lock().expect("not poisoned").get(&metric).cloned())
    }
    async fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        let s = self.splits.lock().expect("not poisoned");
        Ok(s.keys()
            .filter(|(m, k)| {
                *m == metric && k.method == method && k.granularity_ns == granularity_ns
            })
            .map(|(_, k)| *k)
            .collect())
    }
    async fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>> {
        let s = self.splits.lock().expect("not poisoned");
        Ok(keys.iter().map(|k| s.get(&(metric, *k)).cloned()).collect())
    }
    async fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted_splits: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        let mut s = self.splits.lock().expect("not poisoned");
        for k in deleted_splits {
            s.remove(&(metric, k));
        }
        s.extend(splits.into_iter().map(|(k, b)| ((metric, k), b)));
        self.raw.lock().expect("not poisoned").insert(metric, raw);
        Ok(())
    }
    async fn delete_metric(&self, _metric: Uuid) -> Result<()> {
        Ok(())
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

fn policy(name: &str, items: &[(i64, u64)]) -> ArchivePolicy {
    ArchivePolicy {
        name: name.into(),
        back_window: 0,
        definition: items
            .iter()
            .map(|&(g, points)| ArchivePolicyItem {
                granularity_ns: g * S,
                points: Some(points),
            })
            .collect(),
        aggregation_methods: ["mean", "min", "max", "sum", "std", "count"]
            .iter()
            .map(|m| m.parse().expect("valid method"))
            .collect(),
    }
}

fn process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let policies = [
        policy("low", &[(300, 8640)]),
        policy("medium", &[(60, 10080), (3600, 8760)]),
        policy("high", &[(1, 3600), (60, 10080), (3600, 8760)]),
    ];
    let mut group = c.benchmark_group("process_metric_pass_60_measures");
    group.throughput(Throughput::Elements(60));
    for p in &policies {
        let st = Memory::default();
        let id = Uuid::new_v4();
        let v = values("walk-2dec", 10_000_000, 3);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(&p.name), p, |b, p| {
            b.iter(|| {
                let batch: Vec<Measure> = (i..i + 60)
                    .map(|k| Measure::new(DAY + k as i64 * 10 * S, v[k % v.len()]))
                    .collect();
                i += 60;
                rt.block_on(process_metric(&st, p, id, batch))
                    .expect("processes")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, process);
criterion_main!(benches);

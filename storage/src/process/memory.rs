//! An in-memory [`AggregateStorage`], the test fixture of our own trait for engine tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use gnocchi_core::AggregationMethod;
use uuid::Uuid;

use crate::{AggregateStorage, Result, SplitKey};

#[derive(Debug, Default)]
struct Objects {
    raw: Option<Vec<u8>>,
    splits: BTreeMap<SplitKey, Vec<u8>>,
}

/// Objects per metric behind a std mutex (never held across an await).
#[derive(Debug, Default)]
pub(crate) struct MemoryStorage {
    metrics: Mutex<HashMap<Uuid, Objects>>,
}

impl MemoryStorage {
    /// Overwrites one stored split (to plant corrupt bytes).
    pub(crate) fn put_split(&self, metric: Uuid, key: SplitKey, bytes: Vec<u8>) {
        let mut m = self.metrics.lock().expect("not poisoned");
        m.entry(metric).or_default().splits.insert(key, bytes);
    }

    /// All stored split keys of a metric.
    pub(crate) fn split_keys(&self, metric: Uuid) -> Vec<SplitKey> {
        let m = self.metrics.lock().expect("not poisoned");
        m.get(&metric)
            .map(|o| o.splits.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Total bytes of splits stored.
    pub(crate) fn split_bytes(&self, metric: Uuid) -> usize {
        let m = self.metrics.lock().expect("not poisoned");
        m.get(&metric)
            .map(|o| o.splits.values().map(Vec::len).sum())
            .unwrap_or_default()
    }

    /// Overwrites the raw series.
    pub(crate) fn put_raw(&self, metric: Uuid, bytes: Vec<u8>) {
        let mut m = self.metrics.lock().expect("not poisoned");
        m.entry(metric).or_default().raw = Some(bytes);
    }
}

#[async_trait]
impl AggregateStorage for MemoryStorage {
    async fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        let m = self.metrics.lock().expect("not poisoned");
        Ok(m.get(&metric).and_then(|o| o.raw.clone()))
    }

    async fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        let m = self.metrics.lock().expect("not poisoned");
        Ok(m.get(&metric)
            .map(|o| {
                o.splits
                    .keys()
                    .filter(|k| k.method == method && k.granularity_ns == granularity_ns)
                    .copied()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>> {
        let m = self.metrics.lock().expect("not poisoned");
        let o = m.get(&metric);
        Ok(keys
            .iter()
            .map(|k| o.and_then(|o| o.splits.get(k).cloned()))
            .collect())
    }

    async fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted_splits: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        let mut m = self.metrics.lock().expect("not poisoned");
        let o = m.entry(metric).or_default();
        for k in deleted_splits {
            o.splits.remove(&k);
        }
        o.splits.extend(splits);
        o.raw = Some(raw);
        Ok(())
    }

    async fn delete_metric(&self, metric: Uuid) -> Result<()> {
        self.metrics.lock().expect("not poisoned").remove(&metric);
        Ok(())
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

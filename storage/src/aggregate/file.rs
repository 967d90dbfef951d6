//! The file aggregate driver, in one of two layouts recorded at upgrade: packed (format 2, the
//! default; `packed.rs`), or one file per object (format 1, below) for shared network
//! filesystems, where SQLite's write-ahead log cannot work.
//!
//! Format 1: one directory per metric, one file per split and one for the raw series, every
//! file replaced atomically (temporary file, rename) and made durable by one shared filesystem
//! sync per processing pass (`sync`). Layout under the base path (ours, not Gnocchi's; see
//! engine.md §4.6 for theirs):
//!
//! ```text
//! gnocchi-rs-storage.json                   {"format": 1, "subdir_len": N}, written by upgrade
//!                                           ({"format": 2, "subdir_len": N, "shards": S})
//! tmp/                                      temporary files of the layout record (shared with the
//!                                           file incoming store when the base paths match)
//! <h[0:N]>/<h[N:2N]>/<uuid>/raw             the raw ("bound") series
//! <h[0:N]>/<h[N:2N]>/<uuid>/agg_<method>_<granularity ns>/<split start ns>   one split
//! <any of those directories>/<uuid>.tmp     an object being written, renamed within its directory
//! ```
//!
//! `h` is the metric id as 32 lowercase hex digits; at most two fan-out levels of `N` digits each
//! (N = 0: none), which bounds directory sizes without Gnocchi's 16 nested levels for N = 2.
//! `<method>` is the method name with `:` written `-` (`agg_rate-mean_300000000000`).

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use gnocchi_core::AggregationMethod;
use serde::{Deserialize, Serialize};
use snafu::{ensure, OptionExt, ResultExt};
use tracing::warn;
use uuid::Uuid;

use super::packed::{self, Packed};
use super::{AggregateStorage, SplitKey};
use crate::atomic::{blocking, create_dir_durable, io_at, place_file, sweep_tmp, write_atomic};
use crate::error::{CorruptConfigSnafu, InvalidLayoutSnafu, NotInitialisedSnafu};
use crate::group_sync::GroupSync;
use crate::Result;

/// Name of the file recording the layout.
const CONFIG_FILE: &str = "gnocchi-rs-storage.json";
/// Version of the one-file-per-object layout, recorded in the configuration.
const FORMAT_FILES: u32 = 1;
/// Version of the packed layout.
const FORMAT_PACKED: u32 = 2;
/// The largest `file_subdir_len`: two levels of 16 digits use the whole id.
const MAX_SUBDIR_LEN: u32 = 16;
/// Name of the raw series object of a metric.
const RAW: &str = "raw";
/// Temporary files older than this are leftovers of a killed process.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// How often a write retries when a concurrent delete removed a directory it had created. Each
/// retry needs a neighbour's delete to land in a window of a few system calls again; 8 were once
/// used up on a loaded machine by a test that deletes in a tight loop.
const RACE_RETRIES: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
struct Config {
    format: u32,
    subdir_len: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shards: Option<u32>,
}

/// How a new store keeps its objects (`[storage] file_layout`); an existing store keeps the
/// layout it was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileLayout {
    /// Many metrics per SQLite shard file, identical splits stored once (format 2).
    #[default]
    Packed,
    /// One file per split and per raw series (format 1), for shared network filesystems.
    Files,
}

/// The aggregate store on a local (or shared POSIX) filesystem.
#[derive(Debug, Clone)]
pub struct FileStorage {
    inner: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Files(Arc<Layout>),
    Packed(Arc<Packed>),
}

#[derive(Debug)]
struct Layout {
    base: PathBuf,
    tmp: PathBuf,
    subdir_len: usize,
    sync: GroupSync,
    /// Raw series written but not yet in place: `sync` places them once the splits written
    /// before them are durable, so that no raw series is ever durably newer than its splits.
    unplaced_raw: Mutex<HashMap<Uuid, Vec<u8>>>,
    /// Serialises `sync`: a call returns only after the raw series taken by a concurrent call
    /// are in place and durable too.
    syncing: Mutex<()>,
}

impl FileStorage {
    /// Opens an initialised store. Fails with `NotInitialised` when `upgrade` never ran on
    /// `basepath`. Does blocking I/O: call it at start-up or from a blocking context.
    pub fn open(basepath: impl AsRef<Path>) -> Result<Self> {
        let base = basepath.as_ref().to_path_buf();
        let config = read_config(&base)?.context(NotInitialisedSnafu {
            store: "storage",
            path: base.display().to_string(),
        })?;
        let sync = GroupSync::open(&base).with_context(io_at("open storage directory", &base))?;
        if config.format == FORMAT_PACKED {
            let shards = config.shards.unwrap_or(packed::DEFAULT_SHARDS);
            return Ok(Self {
                inner: Backend::Packed(Arc::new(Packed::open(&base, shards, sync)?)),
            });
        }
        let layout = Layout {
            tmp: base.join("tmp"),
            base,
            subdir_len: config.subdir_len as usize,
            sync,
            unplaced_raw: Mutex::default(),
            syncing: Mutex::new(()),
        };
        if let Err(error) = sweep_tmp(&layout.tmp, STALE_TMP_AGE) {
            warn!(path = %layout.tmp.display(), %error, "Could not sweep temporary files.");
        }
        Ok(Self {
            inner: Backend::Files(Arc::new(layout)),
        })
    }

    /// [`upgrade_with`](Self::upgrade_with) the default (packed) layout.
    pub fn upgrade(basepath: impl AsRef<Path>, subdir_len: u32) -> Result<u32> {
        Self::upgrade_with(basepath, subdir_len, FileLayout::default())
    }

    /// Creates the store at `basepath` in `layout` and records it with `subdir_len`
    /// (`[storage] file_subdir_len`) unless a store is already recorded, whose layout and value
    /// are kept (engine.md §2.1). Idempotent; returns the recorded `subdir_len`. Does blocking
    /// I/O.
    pub fn upgrade_with(
        basepath: impl AsRef<Path>,
        subdir_len: u32,
        layout: FileLayout,
    ) -> Result<u32> {
        ensure!(
            subdir_len <= MAX_SUBDIR_LEN,
            InvalidLayoutSnafu {
                what: "file_subdir_len",
                value: i64::from(subdir_len),
                expected: "0 to 16",
            }
        );
        let base = basepath.as_ref();
        let tmp = base.join("tmp");
        create_dir_durable(&tmp).with_context(io_at("create directory", &tmp))?;
        if let Some(existing) = read_config(base)? {
            if existing.format == FORMAT_PACKED {
                let shards = existing.shards.unwrap_or(packed::DEFAULT_SHARDS);
                packed::create(base, shards)?;
            }
            return Ok(existing.subdir_len);
        }
        let config = match layout {
            FileLayout::Files => Config {
                format: FORMAT_FILES,
                subdir_len,
                shards: None,
            },
            FileLayout::Packed => {
                // The shards exist before the record that makes the store usable.
                packed::create(base, packed::DEFAULT_SHARDS)?;
                Config {
                    format: FORMAT_PACKED,
                    subdir_len,
                    shards: Some(packed::DEFAULT_SHARDS),
                }
            }
        };
        let path = base.join(CONFIG_FILE);
        let bytes = serde_json::to_vec(&config).expect("a struct of integers serialises");
        write_atomic(&tmp, &path, &bytes).with_context(io_at("record storage layout", &path))?;
        Ok(subdir_len)
    }

    /// The base path of the store.
    pub fn basepath(&self) -> &Path {
        match &self.inner {
            Backend::Files(layout) => &layout.base,
            Backend::Packed(packed) => packed.base(),
        }
    }
}

/// Reads the recorded configuration; `None` when none is recorded.
fn read_config(base: &Path) -> Result<Option<Config>> {
    let path = base.join(CONFIG_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(io_at("read storage configuration", &path)),
    };
    let config: Config = serde_json::from_slice(&bytes).context(CorruptConfigSnafu {
        store: "storage",
        path: path.display().to_string(),
    })?;
    ensure!(
        config.format == FORMAT_FILES || config.format == FORMAT_PACKED,
        InvalidLayoutSnafu {
            what: "storage layout format",
            value: i64::from(config.format),
            expected: "1 or 2",
        }
    );
    ensure!(
        config.shards.is_none_or(|n| (1..=256).contains(&n)),
        InvalidLayoutSnafu {
            what: "recorded shard count",
            value: i64::from(config.shards.unwrap_or(0)),
            expected: "1 to 256",
        }
    );
    ensure!(
        config.subdir_len <= MAX_SUBDIR_LEN,
        InvalidLayoutSnafu {
            what: "recorded file_subdir_len",
            value: i64::from(config.subdir_len),
            expected: "0 to 16",
        }
    );
    Ok(Some(config))
}

impl Layout {
    /// The fan-out directories of `metric`, outermost first.
    fn fanout(&self, metric: Uuid) -> Vec<PathBuf> {
        let hex = metric.simple().to_string();
        let mut out = Vec::with_capacity(2);
        let mut dir = self.base.clone();
        if self.subdir_len > 0 {
            for level in 0..2 {
                let start = level * self.subdir_len;
                dir = dir.join(&hex[start..start + self.subdir_len]);
                out.push(dir.clone());
            }
        }
        out
    }

    fn metric_dir(&self, metric: Uuid) -> PathBuf {
        let parent = self
            .fanout(metric)
            .pop()
            .unwrap_or_else(|| self.base.clone());
        parent.join(metric.hyphenated().to_string())
    }

    fn series_dir(
        &self,
        metric_dir: &Path,
        method: AggregationMethod,
        granularity: i64,
    ) -> PathBuf {
        let method = method.to_string().replace(':', "-");
        metric_dir.join(format!("agg_{method}_{granularity}"))
    }

    fn split_path(&self, metric_dir: &Path, key: &SplitKey) -> PathBuf {
        self.series_dir(metric_dir, key.method, key.granularity_ns)
            .join(key.start_ns.to_string())
    }

    fn unplaced(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<u8>>> {
        // A map of byte strings replaced whole; a panic elsewhere cannot tear it.
        self.unplaced_raw
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        if let Some(raw) = self.unplaced().get(&metric) {
            return Ok(Some(raw.clone()));
        }
        let path = self.metric_dir(metric).join(RAW);
        read_if_exists(&path).with_context(io_at("read raw series", &path))
    }

    fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        let dir = self.series_dir(&self.metric_dir(metric), method, granularity_ns);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(io_at("list splits", &dir)),
        };
        let mut keys = Vec::new();
        let mut temporary = false;
        for entry in entries {
            let entry = entry.with_context(io_at("list splits", &dir))?;
            let name = entry.file_name();
            let name = name.to_str().unwrap_or_default();
            if let Ok(start_ns) = name.parse() {
                keys.push(SplitKey {
                    method,
                    granularity_ns,
                    start_ns,
                });
            } else {
                temporary |= name.ends_with(".tmp");
            }
        }
        if temporary {
            // Left by a process killed between creating and renaming a split.
            if let Err(error) = sweep_tmp(&dir, STALE_TMP_AGE) {
                warn!(path = %dir.display(), %error, "Could not sweep temporary files.");
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>> {
        let dir = self.metric_dir(metric);
        keys.iter()
            .map(|key| {
                let path = self.split_path(&dir, key);
                read_if_exists(&path).with_context(io_at("read split", &path))
            })
            .collect()
    }

    fn write_metric(
        &self,
        metric: Uuid,
        mut splits: Vec<(SplitKey, Vec<u8>)>,
        deleted: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        let dir = self.metric_dir(metric);
        splits.sort_unstable_by_key(|(key, _)| *key);
        let paths: Vec<PathBuf> = splits
            .iter()
            .map(|(key, _)| self.split_path(&dir, key))
            .collect();
        let files: Vec<(&Path, &[u8])> = paths
            .iter()
            .zip(&splits)
            .map(|(p, (_, bytes))| (p.as_path(), bytes.as_slice()))
            .collect();
        // Nothing is fsynced here: `sync` makes the whole pass durable.
        place_all(&files).with_context(io_at("write metric", &dir))?;

        let written: BTreeSet<SplitKey> = splits.iter().map(|(k, _)| *k).collect();
        for key in deleted.iter().filter(|k| !written.contains(k)) {
            let path = self.split_path(&dir, key);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(io_at("delete split", &path)),
            }
        }
        self.unplaced().insert(metric, raw);
        Ok(())
    }

    /// Makes every write before the call durable: the splits first, then the raw series.
    fn sync(&self) -> Result<()> {
        let _serial = self
            .syncing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.sync
            .sync()
            .with_context(io_at("sync storage", &self.base))?;
        let raws = std::mem::take(&mut *self.unplaced());
        if raws.is_empty() {
            return Ok(());
        }
        let mut raws = raws.into_iter();
        while let Some((metric, raw)) = raws.next() {
            let path = self.metric_dir(metric).join(RAW);
            if let Err(e) = place_all(&[(&path, &raw)]) {
                // Back for the next sync, unless newer: a concurrent caller whose raw series this
                // call took must not see them lost.
                let mut unplaced = self.unplaced();
                for (metric, raw) in std::iter::once((metric, raw)).chain(raws) {
                    unplaced.entry(metric).or_insert(raw);
                }
                return Err(e).with_context(io_at("write raw series", &path));
            }
        }
        self.sync
            .sync()
            .with_context(io_at("sync storage", &self.base))
    }

    fn delete_metric(&self, metric: Uuid) -> Result<()> {
        self.unplaced().remove(&metric);
        let dir = self.metric_dir(metric);
        let mut attempt = 0;
        loop {
            match fs::remove_dir_all(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(_) if attempt < RACE_RETRIES => attempt += 1,
                Err(e) => return Err(e).with_context(io_at("delete metric", &dir)),
            }
        }
        // Empty fan-out directories go too; one still used by another metric stays (the
        // removal fails), and a writer that loses the race recreates it (`write_metric`).
        for fan in self.fanout(metric).iter().rev() {
            if fs::remove_dir(fan).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        read_config(&self.base)?.context(NotInitialisedSnafu {
            store: "storage",
            path: self.base.display().to_string(),
        })?;
        let probe = self
            .tmp
            .join(format!("check-{}.tmp", Uuid::new_v4().simple()));
        File::create(&probe).with_context(io_at("create probe file", &probe))?;
        fs::remove_file(&probe).with_context(io_at("remove probe file", &probe))?;
        Ok(())
    }
}

/// Puts the files in place, creating their directories, without fsyncing. Each temporary file
/// is created in its file's own directory: ext4 then allocates its inode near that directory's,
/// and the rename locks one directory, not a shared temporary one. Retries when a concurrent
/// delete of a metric sharing the fan-out directories removed one.
fn place_all(files: &[(&Path, &[u8])]) -> io::Result<()> {
    let mut attempt = 0;
    loop {
        let result = files.iter().try_for_each(|(path, bytes)| {
            let dir = path.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(dir).and_then(|()| place_file(dir, path, bytes))
        });
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < RACE_RETRIES => {
                attempt += 1;
                // Lets the deleting thread finish its removals before the next attempt.
                std::thread::yield_now();
            }
            result => return result,
        }
    }
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `$work` on the blocking pool against whichever layout the store has.
macro_rules! on_layout {
    ($self:ident, $op:literal, |$store:ident| $work:expr) => {
        match &$self.inner {
            Backend::Files(inner) => {
                let $store = Arc::clone(inner);
                blocking($op, move || $work).await
            }
            Backend::Packed(inner) => {
                let $store = Arc::clone(inner);
                blocking($op, move || $work).await
            }
        }
    };
}

#[async_trait]
impl AggregateStorage for FileStorage {
    async fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        on_layout!(self, "read raw series", |store| store.read_raw(metric))
    }

    async fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        on_layout!(self, "list splits", |store| store.list_splits(
            metric,
            method,
            granularity_ns
        ))
    }

    async fn read_splits(&self, metric: Uuid, keys: &[SplitKey]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        on_layout!(self, "read splits", |store| store
            .read_splits(metric, &keys))
    }

    async fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted_splits: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        on_layout!(self, "write metric", |store| store.write_metric(
            metric,
            splits,
            deleted_splits,
            raw
        ))
    }

    async fn delete_metric(&self, metric: Uuid) -> Result<()> {
        on_layout!(self, "delete metric", |store| store.delete_metric(metric))
    }

    async fn sync(&self) -> Result<()> {
        on_layout!(self, "sync storage", |store| store.sync())
    }

    async fn check(&self) -> Result<()> {
        on_layout!(self, "check storage", |store| store.check())
    }
}

#[cfg(test)]
mod tests {
    use gnocchi_core::ErrorKind;

    use super::*;

    async fn fixture(
        subdir_len: u32,
        layout: FileLayout,
    ) -> (tempfile::TempDir, Arc<dyn AggregateStorage>) {
        let dir = tempfile::tempdir().expect("tempdir");
        FileStorage::upgrade_with(dir.path(), subdir_len, layout).expect("upgrade");
        let storage = FileStorage::open(dir.path()).expect("open");
        (dir, Arc::new(storage))
    }

    mod flat {
        use super::*;
        crate::aggregate_contract_tests!(fixture(0, FileLayout::Files));
    }

    mod fanout {
        use super::*;
        crate::aggregate_contract_tests!(fixture(2, FileLayout::Files));
    }

    mod packed {
        use super::*;
        crate::aggregate_contract_tests!(fixture(2, FileLayout::Packed));
    }

    fn key(method: &str, granularity_ns: i64, start_ns: i64) -> SplitKey {
        SplitKey {
            method: method.parse().unwrap(),
            granularity_ns,
            start_ns,
        }
    }

    /// Pins the documented layout (docs/ and the module docs describe it).
    #[tokio::test]
    async fn objects_live_where_the_layout_says() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 2, FileLayout::Files).unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let metric: Uuid = "0123abcd-0000-4000-8000-000000000001".parse().unwrap();
        let k = key("rate:mean", 300_000_000_000, 1_080_000_000_000_000);
        storage
            .write_metric(metric, vec![(k, b"s".to_vec())], Vec::new(), b"r".to_vec())
            .await
            .unwrap();
        storage.sync().await.unwrap();
        let metric_dir = dir
            .path()
            .join("01/23/0123abcd-0000-4000-8000-000000000001");
        assert_eq!(fs::read(metric_dir.join("raw")).unwrap(), b"r");
        let split = metric_dir.join("agg_rate-mean_300000000000/1080000000000000");
        assert_eq!(fs::read(split).unwrap(), b"s");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

        // Deleting the metric removes the fan-out directories it alone used.
        storage.delete_metric(metric).await.unwrap();
        assert!(!dir.path().join("01").exists());
    }

    /// A fan-out directory shared with another metric survives the deletion of one of them.
    #[tokio::test]
    async fn delete_keeps_shared_fanout_directories() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 1, FileLayout::Files).unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let a: Uuid = "ab000000-0000-4000-8000-000000000001".parse().unwrap();
        let b: Uuid = "ab000000-0000-4000-8000-000000000002".parse().unwrap();
        for m in [a, b] {
            storage
                .write_metric(m, Vec::new(), Vec::new(), b"r".to_vec())
                .await
                .unwrap();
        }
        storage.sync().await.unwrap();
        storage.delete_metric(a).await.unwrap();
        assert_eq!(storage.read_raw(a).await.unwrap(), None);
        assert_eq!(storage.read_raw(b).await.unwrap(), Some(b"r".to_vec()));
        assert!(dir.path().join("a/b").is_dir());
    }

    /// Writes of one metric racing the deletion of another that shares its fan-out
    /// directories (which removes them when it empties them) never fail and lose nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_survive_deletes_of_fanout_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 1, FileLayout::Files).unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let a: Uuid = "cd000000-0000-4000-8000-00000000000a".parse().unwrap();
        let b: Uuid = "cd000000-0000-4000-8000-00000000000b".parse().unwrap();
        let k = key("mean", 1_000_000_000, 0);
        let deleter = {
            let storage = storage.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    storage
                        .write_metric(b, Vec::new(), Vec::new(), Vec::new())
                        .await
                        .unwrap();
                    storage.delete_metric(b).await.unwrap();
                }
            })
        };
        let mut i = 0u32;
        while !deleter.is_finished() {
            // Deleting `a` too makes every write of `a` recreate the shared directories.
            storage.delete_metric(a).await.unwrap();
            let bytes = i.to_le_bytes().to_vec();
            storage
                .write_metric(a, vec![(k, bytes.clone())], Vec::new(), bytes.clone())
                .await
                .unwrap();
            assert_eq!(storage.read_raw(a).await.unwrap(), Some(bytes.clone()));
            assert_eq!(
                storage.read_splits(a, &[k]).await.unwrap(),
                vec![Some(bytes)]
            );
            i += 1;
        }
        deleter.await.unwrap();
    }

    /// A temporary split is never listed; one left by a killed writer long ago is removed by
    /// the next listing of its series, one being written now is kept.
    #[tokio::test]
    async fn temporary_splits_are_not_listed_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 0, FileLayout::Files).unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let metric = Uuid::new_v4();
        let k = key("mean", 300_000_000_000, 0);
        storage
            .write_metric(metric, vec![(k, b"s".to_vec())], Vec::new(), b"r".to_vec())
            .await
            .unwrap();
        let series = dir
            .path()
            .join(metric.hyphenated().to_string())
            .join("agg_mean_300000000000");
        assert_eq!(
            fs::read_dir(&series).unwrap().count(),
            1,
            "renamed in place"
        );
        let (stale, fresh) = (series.join("a1.tmp"), series.join("b2.tmp"));
        for path in [&stale, &fresh] {
            File::create(path).unwrap();
        }
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - STALE_TMP_AGE - Duration::from_secs(60))
            .unwrap();
        let listed = storage
            .list_splits(metric, k.method, k.granularity_ns)
            .await
            .unwrap();
        assert_eq!(listed, vec![k]);
        assert!(!stale.exists());
        assert!(fresh.exists());
    }

    /// Another process sees a metric's new splits at once, and its raw series only once `sync`
    /// made those splits durable: a crash before then replays the measures onto the old raw
    /// series, which a raw series newer than its splits would refuse as too old.
    #[tokio::test]
    async fn raw_series_is_placed_after_the_splits_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 2, FileLayout::Files).unwrap();
        let writer = FileStorage::open(dir.path()).unwrap();
        let other = FileStorage::open(dir.path()).unwrap();
        let metric = Uuid::new_v4();
        let k = key("mean", 300_000_000_000, 0);
        writer
            .write_metric(
                metric,
                vec![(k, b"s1".to_vec())],
                Vec::new(),
                b"r1".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(writer.read_raw(metric).await.unwrap(), Some(b"r1".to_vec()));
        assert_eq!(other.read_raw(metric).await.unwrap(), None);
        assert_eq!(
            other.read_splits(metric, &[k]).await.unwrap(),
            vec![Some(b"s1".to_vec())]
        );
        writer.sync().await.unwrap();
        assert_eq!(other.read_raw(metric).await.unwrap(), Some(b"r1".to_vec()));

        // A second pass: the other handle keeps the previous raw series until the sync.
        writer
            .write_metric(
                metric,
                vec![(k, b"s2".to_vec())],
                Vec::new(),
                b"r2".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(other.read_raw(metric).await.unwrap(), Some(b"r1".to_vec()));
        writer.sync().await.unwrap();
        assert_eq!(other.read_raw(metric).await.unwrap(), Some(b"r2".to_vec()));

        // A deleted metric's unplaced raw series is dropped, not placed by the next sync.
        writer
            .write_metric(metric, Vec::new(), Vec::new(), b"r3".to_vec())
            .await
            .unwrap();
        writer.delete_metric(metric).await.unwrap();
        writer.sync().await.unwrap();
        assert_eq!(other.read_raw(metric).await.unwrap(), None);
        assert_eq!(writer.read_raw(metric).await.unwrap(), None);
    }

    /// The packed layout: another handle sees a pass at once, identical splits share their
    /// bytes, and an idle sync leaves no write-ahead log behind.
    #[tokio::test]
    async fn packed_store_shares_writes_and_folds_its_logs_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade(dir.path(), 2).unwrap();
        let recorded = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(recorded, r#"{"format":2,"subdir_len":2,"shards":8}"#);
        let shard_bytes = |dir: &Path| -> u64 {
            fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
                .map(|p| fs::metadata(p).unwrap().len())
                .sum()
        };
        let empty = shard_bytes(&dir.path().join("aggregates"));
        let writer = FileStorage::open(dir.path()).unwrap();
        let other = FileStorage::open(dir.path()).unwrap();
        let metric = Uuid::new_v4();
        let walk = vec![7u8; 3000];
        let splits: Vec<(SplitKey, Vec<u8>)> = ["mean", "min", "max", "sum"]
            .iter()
            .map(|m| (key(m, 60_000_000_000, 0), walk.clone()))
            .chain([(key("count", 60_000_000_000, 0), b"ones".to_vec())])
            .collect();
        let keys: Vec<SplitKey> = splits.iter().map(|(k, _)| *k).collect();
        writer
            .write_metric(metric, splits.clone(), Vec::new(), b"r".to_vec())
            .await
            .unwrap();
        assert_eq!(other.read_raw(metric).await.unwrap(), Some(b"r".to_vec()));
        let read = other.read_splits(metric, &keys).await.unwrap();
        assert_eq!(
            read,
            splits
                .iter()
                .map(|(_, b)| Some(b.clone()))
                .collect::<Vec<_>>()
        );

        writer.sync().await.unwrap();
        let shards = dir.path().join("aggregates");
        let wal_bytes = || -> u64 {
            fs::read_dir(&shards)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with("-wal"))
                .map(|p| fs::metadata(p).unwrap().len())
                .sum()
        };
        assert!(wal_bytes() > 0, "the pass is in a log");
        // Nothing written since: the next sync folds the logs back into the shards.
        writer.sync().await.unwrap();
        assert_eq!(wal_bytes(), 0);
        // The walk is stored once: one page of rows and at most one more for the bundle.
        let grown = shard_bytes(&shards) - empty;
        assert!(grown <= 2 * 4096, "{grown} bytes");
        assert_eq!(other.read_splits(metric, &keys).await.unwrap(), read);
    }

    /// An idle sync rewrites the shards this handle changed much: pages freed by deletions or
    /// left part-filled by rows that grew go back, and every row reads the same.
    #[tokio::test]
    async fn packed_store_rewrites_changed_shards_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade(dir.path(), 2).unwrap();
        let shards = dir.path().join("aggregates");
        let shard_bytes = || -> u64 {
            fs::read_dir(&shards)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
                .map(|p| fs::metadata(p).unwrap().len())
                .sum()
        };
        let empty = shard_bytes();
        let store = FileStorage::open(dir.path()).unwrap();
        let metrics: Vec<Uuid> = (0..64).map(|_| Uuid::new_v4()).collect();
        let split =
            |i: usize, size: usize| vec![(key("mean", 60_000_000_000, 0), vec![i as u8; size])];
        for size in [1500, 2600] {
            for (i, &m) in metrics.iter().enumerate() {
                store
                    .write_metric(m, split(i, size), Vec::new(), b"r".to_vec())
                    .await
                    .unwrap();
            }
        }
        for &m in &metrics[32..] {
            store.delete_metric(m).await.unwrap();
        }
        store.sync().await.unwrap();
        // Nothing written since: the shards are rewritten and their logs folded.
        store.sync().await.unwrap();
        let live = 32 * 2600;
        let grown = shard_bytes() - empty;
        assert!(
            grown <= live * 5 / 4,
            "{grown} bytes for {live} bytes of rows"
        );
        let keys = [key("mean", 60_000_000_000, 0)];
        for (i, &m) in metrics.iter().enumerate() {
            let expected = (i < 32).then(|| vec![i as u8; 2600]);
            assert_eq!(store.read_splits(m, &keys).await.unwrap(), vec![expected]);
        }
    }

    /// An existing one-file-per-object store keeps its layout when upgraded again.
    #[test]
    fn upgrade_keeps_the_recorded_layout() {
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 1, FileLayout::Files).unwrap();
        FileStorage::upgrade(dir.path(), 2).unwrap();
        let recorded = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(recorded, r#"{"format":1,"subdir_len":1}"#);
        assert!(!dir.path().join("aggregates").exists());
    }

    #[test]
    fn upgrade_records_once_and_open_requires_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileStorage::open(dir.path()).unwrap_err();
        assert!(matches!(err, crate::Error::NotInitialised { .. }), "{err}");
        let err = FileStorage::upgrade_with(dir.path(), 17, FileLayout::Files).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(
            FileStorage::upgrade_with(dir.path(), 0, FileLayout::Files).unwrap(),
            0
        );
        assert_eq!(
            FileStorage::upgrade_with(dir.path(), 2, FileLayout::Files).unwrap(),
            0,
            "recorded value kept"
        );
        let recorded = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(recorded, r#"{"format":1,"subdir_len":0}"#);
        FileStorage::open(dir.path()).unwrap();
    }

    /// Incoming and storage may share one base path (the default): layouts do not collide.
    #[tokio::test]
    async fn shares_a_base_path_with_the_file_incoming_store() {
        use crate::{FileIncoming, Incoming};
        let dir = tempfile::tempdir().unwrap();
        FileStorage::upgrade_with(dir.path(), 0, FileLayout::Files).unwrap();
        FileIncoming::upgrade(dir.path(), 4).unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        let incoming = FileIncoming::open(dir.path()).unwrap();
        let metric = Uuid::new_v4();
        incoming
            .add_measures(&[(metric, vec![gnocchi_core::Measure::new(1, 1.0)])])
            .await
            .unwrap();
        storage
            .write_metric(metric, Vec::new(), Vec::new(), b"r".to_vec())
            .await
            .unwrap();
        storage.check().await.unwrap();
        incoming.check().await.unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (1, 1));
        storage.delete_metric(metric).await.unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (1, 1));
    }
}

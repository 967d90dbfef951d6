//! The packed layout (format 2) of the file aggregate driver: the objects of many metrics share
//! a few SQLite database files ("shards"), so that a metric costs bytes, not a 4 KiB block per
//! split, and one pass rewrites rows instead of allocating inodes.
//!
//! ```text
//! aggregates/<NN>.sqlite     shard NN (two hex digits) of `shards`, in WAL mode
//!   metric(no, id, raw)                      one row per metric: its raw ("bound") series
//!   split(metric, granularity, start,        one row per split key of one granularity, holding
//!         methods, data)                     the splits of every method (a bundle)
//! ```
//!
//! A metric's shard is its id's first two bytes modulo the shard count. A bundle is
//! `varint n`, then per method `varint len, name, varint tag` where tag 0 is followed by
//! `varint len, split bytes` and tag `k + 1` means "the same bytes as entry k": when a bucket
//! holds one measure, mean, min, max and sum are one series, stored once. `methods` is
//! `,name,name,` so that a listing finds a method without reading the bundles.
//!
//! Durability: a metric's splits and raw series change in one transaction, so no raw series is
//! ever newer than its splits. Commits do not wait for the disk (`synchronous = NORMAL`, which in
//! WAL mode keeps the database consistent); `sync` makes every commit durable with one
//! filesystem sync. When a handle has written nothing since its last sync, `sync` folds the
//! write-ahead logs back into the shards and truncates them, so an idle store holds no log.
//! After 10 s without writes, it also rewrites (VACUUMs) each shard it changed by a quarter of
//! the shard's size, as rows that grew in place leave pages part-filled.
//!
//! SQLite's WAL needs shared memory between processes: this layout is for local filesystems;
//! `file_layout = files` (format 1) serves shared network ones.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gnocchi_core::AggregationMethod;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use snafu::ResultExt;
use tracing::debug;
use uuid::Uuid;

use super::SplitKey;
use crate::atomic::{create_dir_durable, io_at};
use crate::engine::bits::{put_prefixed, put_varint, ByteReader};
use crate::error::DatabaseSnafu;
use crate::group_sync::GroupSync;
use crate::Result;

/// The folder of the shards under the base path.
pub(super) const DIR: &str = "aggregates";
/// Shards of a new store: enough that several writers rarely wait on one another.
pub(super) const DEFAULT_SHARDS: u32 = 8;
/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Page cache of the writer connection, in KiB (SQLite's default is 2 MiB). A pass rewrites
/// rows all over the shard, so a bigger cache mostly holds pages already written.
const WRITER_CACHE_KIB: i64 = 512;
/// Page cache of a reader connection, in KiB. The OS caches the file already, and each
/// concurrent query holds a reader: 1 MiB each took a third of the API's memory.
const READER_CACHE_KIB: i64 = 128;
/// Idle reader connections kept per shard.
const POOLED_READERS: usize = 4;
/// Page size of a new shard. A bundle of a few KiB must fit whole in a leaf page when it is
/// smaller than the page, so large pages leave a quarter of each leaf empty; with 1 KiB pages
/// a bundle keeps a small head in its leaf and the rest in full overflow pages, and the file is
/// within about 10% of the bytes it holds (measured in docs/decisions.md).
const PAGE_BYTES: i64 = 1024;
/// A log reset by a checkpoint is truncated to this size.
const WAL_LIMIT_BYTES: i64 = 4 << 20;
/// An idle handle rewrites a shard whole once it has written at least 1/this of the shard's
/// size since it last did: rows that grow in place leave leaf pages part-filled.
const VACUUM_AFTER_SHARE: u64 = 4;
/// How long a handle must have written nothing before it rewrites shards: a scan that finds no
/// work between two busy ones is not idleness, and a rewrite then would delay the next pass.
const VACUUM_AFTER_IDLE: Duration = if cfg!(test) {
    Duration::ZERO
} else {
    Duration::from_secs(10)
};
/// Larger shards are not rewritten when idle: the rewrite holds the shard's write lock and
/// copies the whole file, so other writers would wait on a large one.
const VACUUM_MAX_BYTES: u64 = 64 << 20;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS metric (
        no INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        raw BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS split (
        metric INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start INTEGER NOT NULL,
        methods TEXT NOT NULL,
        data BLOB NOT NULL,
        UNIQUE (metric, granularity, start)
    );
";

/// Creates (or completes) the shards of a store. Idempotent; blocking.
pub(super) fn create(base: &Path, shards: u32) -> Result<()> {
    let dir = base.join(DIR);
    create_dir_durable(&dir).with_context(io_at("create directory", &dir))?;
    for n in 0..shards {
        let path = shard_path(&dir, n);
        let conn = Connection::open(&path).with_context(db_at("create shard", &path))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .with_context(db_at("create shard", &path))?;
        // Only takes effect on a new, empty file: existing shards keep their page size.
        conn.pragma_update(None, "page_size", PAGE_BYTES)
            .with_context(db_at("create shard", &path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .with_context(db_at("create shard", &path))?;
        conn.execute_batch(SCHEMA)
            .with_context(db_at("create shard", &path))?;
    }
    Ok(())
}

fn shard_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:02x}.sqlite"))
}

fn db_at<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(&mut rusqlite::Error) -> DatabaseSnafu<&'static str, String> + 'a {
    move |_| DatabaseSnafu {
        op,
        path: path.display().to_string(),
    }
}

/// An open packed store.
#[derive(Debug)]
pub(super) struct Packed {
    base: PathBuf,
    shards: Vec<Shard>,
    sync: GroupSync,
    /// Serialises `sync`, so that the written flags it takes are covered when it returns; holds
    /// when the last sync with writes to make durable began.
    syncing: Mutex<Instant>,
}

#[derive(Debug)]
struct Shard {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Written by this handle since its last `sync`.
    written: AtomicBool,
    /// Bytes of rows this handle wrote since it last rewrote the shard.
    written_bytes: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Connections and flags stay valid across a panic of another holder.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_connection(path: &Path, cache_kib: i64) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
    Ok(conn)
}

impl Packed {
    /// Opens the shards of an initialised store lazily; blocking.
    pub(super) fn open(base: &Path, shards: u32, sync: GroupSync) -> Result<Self> {
        let dir = base.join(DIR);
        let shards = (0..shards.max(1))
            .map(|n| Shard {
                path: shard_path(&dir, n),
                writer: Mutex::new(None),
                readers: Mutex::new(Vec::new()),
                written: AtomicBool::new(false),
                written_bytes: AtomicU64::new(0),
            })
            .collect();
        Ok(Self {
            base: base.to_path_buf(),
            shards,
            sync,
            syncing: Mutex::new(Instant::now()),
        })
    }

    pub(super) fn base(&self) -> &Path {
        &self.base
    }

    fn shard(&self, metric: Uuid) -> &Shard {
        let b = metric.as_bytes();
        let n = usize::from(u16::from_be_bytes([b[0], b[1]])) % self.shards.len();
        &self.shards[n]
    }

    pub(super) fn read_raw(&self, metric: Uuid) -> Result<Option<Vec<u8>>> {
        let shard = self.shard(metric);
        shard.read("read raw series", |conn| {
            conn.prepare_cached("SELECT raw FROM metric WHERE id = ?1")?
                .query_row([metric.as_bytes()], |row| row.get(0))
                .optional()
        })
    }

    pub(super) fn list_splits(
        &self,
        metric: Uuid,
        method: AggregationMethod,
        granularity_ns: i64,
    ) -> Result<Vec<SplitKey>> {
        let shard = self.shard(metric);
        let needle = format!(",{method},");
        let starts: Vec<i64> = shard.read("list splits", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT s.start FROM split s JOIN metric m ON m.no = s.metric \
                 WHERE m.id = ?1 AND s.granularity = ?2 AND instr(s.methods, ?3) > 0 \
                 ORDER BY s.start",
            )?;
            let rows = stmt
                .query_map(params![metric.as_bytes(), granularity_ns, needle], |row| {
                    row.get(0)
                })?;
            rows.collect()
        })?;
        Ok(starts
            .into_iter()
            .map(|start_ns| SplitKey {
                method,
                granularity_ns,
                start_ns,
            })
            .collect())
    }

    pub(super) fn read_splits(
        &self,
        metric: Uuid,
        keys: &[SplitKey],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let shard = self.shard(metric);
        let bundles: BTreeMap<(i64, i64), Option<Vec<u8>>> = shard.read("read splits", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT s.data FROM split s JOIN metric m ON m.no = s.metric \
                 WHERE m.id = ?1 AND s.granularity = ?2 AND s.start = ?3",
            )?;
            let mut out = BTreeMap::new();
            for key in keys {
                let at = (key.granularity_ns, key.start_ns);
                if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(at) {
                    let data: Option<Vec<u8>> = stmt
                        .query_row(params![metric.as_bytes(), at.0, at.1], |row| row.get(0))
                        .optional()?;
                    slot.insert(data);
                }
            }
            Ok(out)
        })?;
        let mut decoded: BTreeMap<(i64, i64), Bundle> = BTreeMap::new();
        for (at, data) in bundles {
            if let Some(data) = data {
                decoded.insert(
                    at,
                    decode_bundle(&data).ok_or_else(|| corrupt(&shard.path))?,
                );
            }
        }
        Ok(keys
            .iter()
            .map(|key| {
                let name = key.method.to_string();
                decoded
                    .get(&(key.granularity_ns, key.start_ns))
                    .and_then(|entries| entries.iter().find(|(m, _)| *m == name))
                    .map(|(_, bytes)| bytes.clone())
            })
            .collect())
    }

    pub(super) fn write_metric(
        &self,
        metric: Uuid,
        splits: Vec<(SplitKey, Vec<u8>)>,
        deleted: Vec<SplitKey>,
        raw: Vec<u8>,
    ) -> Result<()> {
        // Per split key: the methods written and the methods deleted.
        let mut changes: BTreeMap<(i64, i64), Change> = BTreeMap::new();
        for key in deleted {
            changes
                .entry((key.granularity_ns, key.start_ns))
                .or_default()
                .deleted
                .push(key.method.to_string());
        }
        for (key, bytes) in splits {
            changes
                .entry((key.granularity_ns, key.start_ns))
                .or_default()
                .written
                .push((key.method.to_string(), bytes));
        }
        let shard = self.shard(metric);
        let mut row_bytes = raw.len();
        shard.write("write metric", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let no: i64 = tx
                .prepare_cached(
                    "INSERT INTO metric (id, raw) VALUES (?1, ?2) \
                     ON CONFLICT (id) DO UPDATE SET raw = excluded.raw RETURNING no",
                )?
                .query_row(params![metric.as_bytes(), raw], |row| row.get(0))?;
            for ((granularity, start), change) in changes {
                let existing: Option<Vec<u8>> = tx
                    .prepare_cached(
                        "SELECT data FROM split WHERE metric = ?1 AND granularity = ?2 \
                         AND start = ?3",
                    )?
                    .query_row(params![no, granularity, start], |row| row.get(0))
                    .optional()?;
                let mut entries = match existing {
                    Some(data) => decode_bundle(&data).ok_or(rusqlite::Error::InvalidQuery)?,
                    None => Vec::new(),
                };
                change.apply(&mut entries);
                if entries.is_empty() {
                    tx.prepare_cached(
                        "DELETE FROM split WHERE metric = ?1 AND granularity = ?2 AND start = ?3",
                    )?
                    .execute(params![no, granularity, start])?;
                } else {
                    let methods = methods_column(&entries);
                    let data = encode_bundle(&entries);
                    row_bytes += data.len();
                    tx.prepare_cached(
                        "INSERT INTO split (metric, granularity, start, methods, data) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (metric, granularity, start) \
                         DO UPDATE SET methods = excluded.methods, data = excluded.data",
                    )?
                    .execute(params![
                        no,
                        granularity,
                        start,
                        methods,
                        data
                    ])?;
                }
            }
            tx.commit()
        })?;
        shard
            .written_bytes
            .fetch_add(row_bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn delete_metric(&self, metric: Uuid) -> Result<()> {
        let shard = self.shard(metric);
        shard.write("delete metric", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "DELETE FROM split WHERE metric = (SELECT no FROM metric WHERE id = ?1)",
            )?
            .execute([metric.as_bytes()])?;
            tx.prepare_cached("DELETE FROM metric WHERE id = ?1")?
                .execute([metric.as_bytes()])?;
            tx.commit()
        })
    }

    /// Makes every commit of this handle durable; when there is none, folds the logs back and,
    /// once idle for a while, rewrites the shards that this handle changed much since it last
    /// did.
    pub(super) fn sync(&self) -> Result<()> {
        let mut last_busy = lock(&self.syncing);
        let written: Vec<bool> = self
            .shards
            .iter()
            .map(|s| s.written.swap(false, Ordering::AcqRel))
            .collect();
        if written.iter().any(|&w| w) {
            *last_busy = Instant::now();
            if let Err(e) = self.sync.sync() {
                for (shard, w) in self.shards.iter().zip(written) {
                    shard.written.fetch_or(w, Ordering::AcqRel);
                }
                return Err(e).with_context(io_at("sync storage", &self.base));
            }
            return Ok(());
        }
        let idle = last_busy.elapsed() >= VACUUM_AFTER_IDLE;
        for shard in &self.shards {
            if !(idle && shard.vacuum_if_worthwhile()) {
                shard.truncate_log();
            }
        }
        Ok(())
    }

    pub(super) fn check(&self) -> Result<()> {
        for shard in &self.shards {
            shard.read("check storage", |conn| {
                conn.prepare_cached("SELECT count(*) FROM metric WHERE no = 0")?
                    .query_row([], |row| row.get::<_, i64>(0))
            })?;
        }
        Ok(())
    }
}

fn corrupt(path: &Path) -> crate::Error {
    crate::Error::Io {
        op: "decode split bundle",
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt split bundle"),
    }
}

impl Shard {
    fn read<T>(
        &self,
        op: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                open_connection(&self.path, READER_CACHE_KIB).with_context(db_at(op, &self.path))?
            }
        };
        let out = work(&conn).with_context(db_at(op, &self.path))?;
        let mut readers = lock(&self.readers);
        if readers.len() < POOLED_READERS {
            readers.push(conn);
        }
        Ok(out)
    }

    fn write(
        &self,
        op: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let mut writer = lock(&self.writer);
        if writer.is_none() {
            *writer = Some(
                open_connection(&self.path, WRITER_CACHE_KIB)
                    .with_context(db_at(op, &self.path))?,
            );
        }
        let conn = writer.as_mut().expect("opened above");
        // Flagged before the commit, so that a sync racing it cannot miss it.
        self.written.store(true, Ordering::Release);
        let result = work(conn);
        if result.is_err() {
            // A connection left inside a failed transaction is not reused.
            *writer = None;
        }
        result.with_context(db_at(op, &self.path))
    }

    /// Rewrites the shard whole (VACUUM) and folds the log back when this handle has written
    /// enough of it since it last did, without waiting for other processes; whether it did.
    fn vacuum_if_worthwhile(&self) -> bool {
        let written = self.written_bytes.load(Ordering::Relaxed);
        if written == 0 {
            return false;
        }
        let size = fs::metadata(&self.path).map_or(0, |m| m.len());
        if size > VACUUM_MAX_BYTES || written < size / VACUUM_AFTER_SHARE {
            return false;
        }
        let mut writer = lock(&self.writer);
        let Some(conn) = writer.take().or_else(|| {
            open_connection(&self.path, WRITER_CACHE_KIB)
                .inspect_err(|error| {
                    debug!(path = %self.path.display(), %error, "Cannot open the shard to rewrite it.");
                })
                .ok()
        }) else {
            return false;
        };
        let result = conn.busy_timeout(Duration::ZERO).and_then(|()| {
            conn.execute_batch("VACUUM")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
        });
        match result {
            Ok(_) => {
                self.written_bytes.store(0, Ordering::Relaxed);
                debug!(path = %self.path.display(), before = size, "Shard rewritten while idle.");
            }
            Err(error) => {
                debug!(path = %self.path.display(), %error, "Shard busy, rewritten later.");
            }
        }
        if conn.busy_timeout(BUSY_TIMEOUT).is_ok() {
            *writer = Some(conn);
        }
        true
    }

    /// Folds a non-empty write-ahead log back into the shard and truncates it, without waiting
    /// for other processes: a busy shard is left for the next idle sync.
    fn truncate_log(&self) {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        if fs::metadata(&wal).map_or(true, |m| m.len() == 0) {
            return;
        }
        let mut writer = lock(&self.writer);
        let conn = match writer.take() {
            Some(conn) => conn,
            None => match open_connection(&self.path, WRITER_CACHE_KIB) {
                Ok(conn) => conn,
                Err(error) => {
                    debug!(path = %self.path.display(), %error, "Cannot open the shard to checkpoint it.");
                    return;
                }
            },
        };
        let result = conn.busy_timeout(Duration::ZERO).and_then(|()| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
        });
        if let Err(error) = result {
            debug!(path = %self.path.display(), %error, "Shard busy, its log is folded later.");
        }
        if conn.busy_timeout(BUSY_TIMEOUT).is_ok() {
            *writer = Some(conn);
        }
    }
}

/// A decoded bundle: (method name, split bytes), sorted by name.
type Bundle = Vec<(String, Vec<u8>)>;

/// The changes of one write to one split key's bundle.
#[derive(Default)]
struct Change {
    written: Vec<(String, Vec<u8>)>,
    deleted: Vec<String>,
}

impl Change {
    fn apply(self, entries: &mut Vec<(String, Vec<u8>)>) {
        entries.retain(|(m, _)| !self.deleted.contains(m));
        for (method, bytes) in self.written {
            match entries.iter_mut().find(|(m, _)| *m == method) {
                Some(entry) => entry.1 = bytes,
                None => entries.push((method, bytes)),
            }
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
}

fn methods_column(entries: &[(String, Vec<u8>)]) -> String {
    let mut out = String::from(",");
    for (method, _) in entries {
        out.push_str(method);
        out.push(',');
    }
    out
}

fn encode_bundle(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|(m, b)| m.len() + b.len() + 4).sum());
    put_varint(&mut out, entries.len() as u64);
    for (i, (method, bytes)) in entries.iter().enumerate() {
        put_prefixed(&mut out, method.as_bytes());
        match entries[..i].iter().position(|(_, b)| b == bytes) {
            Some(same) => put_varint(&mut out, same as u64 + 1),
            None => {
                put_varint(&mut out, 0);
                put_prefixed(&mut out, bytes);
            }
        }
    }
    out
}

fn decode_bundle(data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut r = ByteReader::new(data);
    let n = usize::try_from(r.varint()?).ok()?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let method = std::str::from_utf8(r.prefixed()?).ok()?.to_owned();
        let bytes = match r.varint()? {
            0 => r.prefixed()?.to_vec(),
            same => entries.get(usize::try_from(same - 1).ok()?)?.1.clone(),
        };
        entries.push((method, bytes));
    }
    r.at_end().then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_store_identical_splits_once_and_round_trip() {
        let entries = vec![
            ("count".to_owned(), b"ones".to_vec()),
            ("max".to_owned(), b"walk of values".to_vec()),
            ("mean".to_owned(), b"walk of values".to_vec()),
            ("min".to_owned(), b"walk of values".to_vec()),
        ];
        let bundle = encode_bundle(&entries);
        let walk = b"walk of values";
        let copies = bundle.windows(walk.len()).filter(|w| w == walk).count();
        assert_eq!(copies, 1, "identical splits are stored once");
        assert_eq!(decode_bundle(&bundle), Some(entries));
        assert_eq!(decode_bundle(&bundle[..bundle.len() - 1]), None);
        // A reference to a later or missing entry is corrupt, not a panic.
        assert_eq!(decode_bundle(&[1, 1, b'm', 2]), None);
    }

    #[test]
    fn changes_replace_add_and_remove_methods() {
        let mut entries = vec![
            ("max".to_owned(), b"a".to_vec()),
            ("mean".to_owned(), b"b".to_vec()),
        ];
        Change {
            written: vec![
                ("min".to_owned(), b"c".to_vec()),
                ("max".to_owned(), b"d".to_vec()),
            ],
            deleted: vec!["mean".to_owned()],
        }
        .apply(&mut entries);
        assert_eq!(
            entries,
            vec![
                ("max".to_owned(), b"d".to_vec()),
                ("min".to_owned(), b"c".to_vec())
            ]
        );
        assert_eq!(methods_column(&entries), ",max,min,");
    }
}

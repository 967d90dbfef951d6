//! The file incoming driver: one directory per sack, one directory per metric, one file per
//! batch, and one advisory-locked file per sack.
//!
//! Layout under the base path (ours, not Gnocchi's; see engine.md §4.6 for theirs):
//!
//! ```text
//! gnocchi-rs-incoming.json                    {"format": 1, "sacks": S}, written last by upgrade
//! tmp/                                        temporary files of write_atomic (shared with the
//!                                             file aggregate store when the base paths match)
//! locks/incoming<S>-<n>.lock                  flock(2)-ed while a process holds sack n
//! incoming<S>-<n>/<metric uuid>/<ns>_<uuid4>  one batch: 16-byte LE records (engine.md §3.1)
//! incoming<S>-<n>/<metric uuid>/<uuid>.tmp    a batch being written, renamed within the
//!                                             directory (no cross-directory rename lock)
//! quarantine/<metric uuid>_<batch>            batches found truncated, moved aside
//! ```
//!
//! `<ns>` is the 20-digit wall-clock time of the write, so that a directory listing sorted by
//! name gives the batches in arrival order; the uuid makes the name unique.
//!
//! Durability: a call puts each batch in place with a rename (never a torn file for a reader or
//! a killed process) and then waits for one `syncfs` round shared with every concurrent call
//! (`group_sync`), so a 100-metric request costs a share of one filesystem sync instead of 300
//! fsyncs. A machine crash can leave a batch of a call that had not returned truncated or
//! empty: such a batch was never acknowledged to its client, and a length that is not whole
//! records is quarantined by the reader.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fs4::fs_std::FileExt;
use gnocchi_core::Measure;
use serde::{Deserialize, Serialize};
use snafu::{ensure, OptionExt, ResultExt};
use tracing::warn;
use uuid::Uuid;

use super::{decode_batch, encode_batch, sack_name, sack_of, Incoming, PendingBatches, SackLock};
use super::{MAX_SACKS, MEASURE_BYTES};
use crate::atomic::{blocking, create_dir_durable, io_at, place_file, sweep_tmp, write_atomic};
use crate::error::{BlockingTaskSnafu, SackOutOfRangeSnafu};
use crate::error::{CorruptConfigSnafu, InvalidLayoutSnafu, NotInitialisedSnafu};
use crate::group_sync::GroupSync;
use crate::Result;

/// Name of the file recording the layout.
const CONFIG_FILE: &str = "gnocchi-rs-incoming.json";
/// Version of this layout, recorded in the configuration.
const FORMAT: u32 = 1;
/// Temporary files older than this are leftovers of a killed process.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// How often a write retries when a concurrent `ack` removed the metric directory under it.
const RACE_RETRIES: usize = 8;
/// Threads one `add_measures` call writes its batches on: file creation is system-call bound.
const MAX_WRITE_THREADS: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
struct Config {
    format: u32,
    sacks: u32,
}

/// The incoming store on a local (or shared POSIX) filesystem.
#[derive(Debug, Clone)]
pub struct FileIncoming {
    inner: Arc<Layout>,
}

#[derive(Debug)]
struct Layout {
    /// Makes placed batches durable, one filesystem sync per round of concurrent calls.
    sync: GroupSync,
    base: PathBuf,
    tmp: PathBuf,
    locks: PathBuf,
    quarantine: PathBuf,
    sacks: u32,
}

impl FileIncoming {
    /// Opens an initialised store, reading its recorded sack count. Fails with
    /// `NotInitialised` when `upgrade` never ran on `basepath`. Does blocking I/O: call it at
    /// start-up or from a blocking context.
    pub fn open(basepath: impl AsRef<Path>) -> Result<Self> {
        let base = basepath.as_ref().to_path_buf();
        let config = read_config(&base)?.context(NotInitialisedSnafu {
            store: "incoming",
            path: base.display().to_string(),
        })?;
        let layout = Layout::new(base, config.sacks)?;
        if let Err(error) = sweep_tmp(&layout.tmp, STALE_TMP_AGE) {
            warn!(path = %layout.tmp.display(), %error, "Could not sweep temporary files.");
        }
        Ok(Self {
            inner: Arc::new(layout),
        })
    }

    /// Creates the layout at `basepath` and records `sacks` unless a sack count is already
    /// recorded, which is kept (engine.md §2.1). Idempotent; returns the recorded count.
    /// Does blocking I/O.
    pub fn upgrade(basepath: impl AsRef<Path>, sacks: u32) -> Result<u32> {
        ensure!(
            (1..=MAX_SACKS).contains(&sacks),
            InvalidLayoutSnafu {
                what: "sack count",
                value: i64::from(sacks),
                expected: "1 to 65535",
            }
        );
        let base = basepath.as_ref();
        let existing = read_config(base)?;
        let sacks = existing.as_ref().map_or(sacks, |c| c.sacks);
        create_dir_durable(base).with_context(io_at("create directory", base))?;
        let layout = Layout::new(base.to_path_buf(), sacks)?;
        for dir in [&layout.tmp, &layout.locks] {
            create_dir_durable(dir).with_context(io_at("create directory", dir))?;
        }
        for sack in 0..sacks {
            let dir = layout.sack_dir(sack);
            create_dir_durable(&dir).with_context(io_at("create sack directory", &dir))?;
        }
        if existing.is_none() {
            let path = base.join(CONFIG_FILE);
            let bytes = serde_json::to_vec(&Config {
                format: FORMAT,
                sacks,
            })
            .expect("a struct of integers serialises");
            write_atomic(&layout.tmp, &path, &bytes).with_context(io_at("record sacks", &path))?;
        }
        Ok(sacks)
    }

    /// The base path of the store.
    pub fn basepath(&self) -> &Path {
        &self.inner.base
    }
}

/// Reads the recorded configuration; `None` when none is recorded.
fn read_config(base: &Path) -> Result<Option<Config>> {
    let path = base.join(CONFIG_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(io_at("read incoming configuration", &path));
        }
    };
    let config: Config = serde_json::from_slice(&bytes).context(CorruptConfigSnafu {
        store: "incoming",
        path: path.display().to_string(),
    })?;
    ensure!(
        config.format == FORMAT,
        InvalidLayoutSnafu {
            what: "incoming layout format",
            value: i64::from(config.format),
            expected: "1",
        }
    );
    ensure!(
        (1..=MAX_SACKS).contains(&config.sacks),
        InvalidLayoutSnafu {
            what: "recorded sack count",
            value: i64::from(config.sacks),
            expected: "1 to 65535",
        }
    );
    Ok(Some(config))
}

impl Layout {
    /// The layout of an existing base directory.
    fn new(base: PathBuf, sacks: u32) -> Result<Self> {
        let sync = GroupSync::open(&base).with_context(io_at("open incoming directory", &base))?;
        Ok(Self {
            sync,
            tmp: base.join("tmp"),
            locks: base.join("locks"),
            quarantine: base.join("quarantine"),
            base,
            sacks,
        })
    }

    fn sack_dir(&self, sack: u32) -> PathBuf {
        self.base.join(sack_name(self.sacks, sack))
    }

    fn metric_dir(&self, metric: Uuid) -> PathBuf {
        self.sack_dir(sack_of(metric, self.sacks))
            .join(metric.hyphenated().to_string())
    }

    fn check_sack(&self, sack: u32) -> Result<()> {
        ensure!(
            sack < self.sacks,
            SackOutOfRangeSnafu {
                sack,
                sacks: self.sacks
            }
        );
        Ok(())
    }

    /// Puts one batch in place under a fresh name (durable after the next `sync` round),
    /// retrying when a concurrent `ack` removed the (empty) metric directory in between.
    fn place_batch(&self, metric: Uuid, bytes: &[u8]) -> Result<()> {
        let dir = self.metric_dir(metric);
        let path = dir.join(batch_name());
        let mut attempt = 0;
        loop {
            // The sync round that follows makes the new directory entries durable too.
            let placed = fs::create_dir_all(&dir)
                .map_err(|e| (e, "create metric directory"))
                .and_then(|()| place_file(&dir, &path, bytes).map_err(|e| (e, "write batch")));
            match placed {
                Ok(()) => return Ok(()),
                // The directory vanished in between: an `ack` emptied it. `create_dir_all`
                // reports that as AlreadyExists, creating the temporary file as NotFound;
                // nothing was renamed in. Once the temporary exists the directory stays.
                Err((e, _))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
                    ) && attempt < RACE_RETRIES =>
                {
                    attempt += 1;
                }
                Err((e, op)) => return Err(e).with_context(io_at(op, &path)),
            }
        }
    }

    fn sack_backlog(&self, sack: u32) -> Result<Vec<(Uuid, u64)>> {
        let dir = self.sack_dir(sack);
        let mut out = Vec::new();
        for (metric, metric_dir) in list_metrics(&dir)? {
            let n = list_batches(&metric_dir)?.len() as u64;
            if n > 0 {
                out.push((metric, n));
            }
        }
        Ok(out)
    }

    fn read_measures(&self, metric: Uuid) -> Result<PendingBatches> {
        let dir = self.metric_dir(metric);
        let mut pending = PendingBatches::default();
        for name in list_batches(&dir)? {
            let path = dir.join(&name);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                // Acknowledged by a concurrent pass that ignored the sack lock: nothing to do.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(io_at("read batch", &path)),
            };
            if decode_batch(&bytes, &mut pending.measures).is_some() {
                pending.token.push(name);
            } else {
                self.quarantine(metric, &name, &path, &bytes)?;
            }
        }
        Ok(pending)
    }

    /// Moves a batch that is not a whole number of records out of the sack, so it neither
    /// blocks the metric (engine.md §5.8, poison sack) nor is lost without a trace.
    fn quarantine(&self, metric: Uuid, name: &str, path: &Path, bytes: &[u8]) -> Result<()> {
        let target = self.quarantine.join(format!("{metric}_{name}"));
        warn!(
            %metric,
            batch = name,
            len_bytes = bytes.len(),
            quarantine = %target.display(),
            "Skipped an incoming batch whose length is not a multiple of {MEASURE_BYTES} bytes; \
             it is moved to the quarantine directory."
        );
        create_dir_durable(&self.quarantine)
            .with_context(io_at("create quarantine directory", &self.quarantine))?;
        write_atomic(&self.tmp, &target, bytes).with_context(io_at("quarantine batch", &target))?;
        remove_file_if_exists(path).with_context(io_at("remove quarantined batch", path))
    }

    fn ack(&self, metric: Uuid, token: &[String]) -> Result<()> {
        let dir = self.metric_dir(metric);
        for name in token {
            if !is_batch_name(name) {
                warn!(%metric, batch = %name, "Ignored an invalid batch name in an ack token.");
                continue;
            }
            let path = dir.join(name);
            remove_file_if_exists(&path).with_context(io_at("delete batch", &path))?;
        }
        // Fails while batches remain, including one a concurrent add just renamed in; an add
        // that loses the race sees the directory gone and recreates it (`place_batch`).
        let _ = fs::remove_dir(&dir);
        Ok(())
    }

    fn delete_metric(&self, metric: Uuid) -> Result<()> {
        let dir = self.metric_dir(metric);
        let mut attempt = 0;
        loop {
            match fs::remove_dir_all(&dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                // A batch arrived while the tree was being removed: remove it too.
                Err(_) if attempt < RACE_RETRIES => attempt += 1,
                Err(e) => return Err(e).with_context(io_at("delete metric batches", &dir)),
            }
        }
    }

    fn lock_sack(&self, sack: u32, wait: bool) -> Result<Option<File>> {
        self.check_sack(sack)?;
        fs::create_dir_all(&self.locks)
            .with_context(io_at("create lock directory", &self.locks))?;
        let path = self
            .locks
            .join(format!("{}.lock", sack_name(self.sacks, sack)));
        // A fresh open file description per call: flock(2) then excludes other calls of this
        // process as well as other processes.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(io_at("open sack lock", &path))?;
        if wait {
            FileExt::lock_exclusive(&file).with_context(io_at("lock sack", &path))?;
            Ok(Some(file))
        } else {
            let locked =
                FileExt::try_lock_exclusive(&file).with_context(io_at("lock sack", &path))?;
            Ok(locked.then_some(file))
        }
    }

    fn backlog(&self) -> Result<(u64, u64)> {
        let (mut metrics, mut batches) = (0, 0);
        for sack in 0..self.sacks {
            for (_, n) in self.sack_backlog(sack)? {
                metrics += 1;
                batches += n;
            }
        }
        Ok((metrics, batches))
    }

    fn check(&self) -> Result<()> {
        let config = read_config(&self.base)?.context(NotInitialisedSnafu {
            store: "incoming",
            path: self.base.display().to_string(),
        })?;
        ensure!(
            config.sacks == self.sacks,
            InvalidLayoutSnafu {
                what: "recorded sack count (changed since start-up)",
                value: i64::from(config.sacks),
                expected: "the count read at start-up",
            }
        );
        // The temporary directory must accept new files, or no write can succeed.
        let probe = self
            .tmp
            .join(format!("check-{}.tmp", Uuid::new_v4().simple()));
        File::create(&probe).with_context(io_at("create probe file", &probe))?;
        remove_file_if_exists(&probe).with_context(io_at("remove probe file", &probe))?;
        Ok(())
    }
}

/// A unique batch name that sorts in arrival order.
fn batch_name() -> String {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{ns:020}_{}", Uuid::new_v4().simple())
}

/// Whether `name` can be a batch file of ours (and is safe to join to a metric directory).
fn is_batch_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The metric directories of a sack directory (other entries are ignored).
fn list_metrics(sack_dir: &Path) -> Result<Vec<(Uuid, PathBuf)>> {
    let entries = match fs::read_dir(sack_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(io_at("list sack", sack_dir)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(io_at("list sack", sack_dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Only the hyphenated form `metric_dir` produces; anything else is not ours.
        if let Ok(metric) = name.parse::<Uuid>() {
            if metric.hyphenated().to_string() == name {
                out.push((metric, entry.path()));
            }
        }
    }
    Ok(out)
}

/// The batch names of a metric directory, sorted (arrival order); none if it does not exist.
fn list_batches(metric_dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(metric_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(io_at("list batches", metric_dir)),
    };
    let mut names = Vec::new();
    let mut temporaries = false;
    for entry in entries {
        let entry = entry.with_context(io_at("list batches", metric_dir))?;
        let name = entry.file_name();
        match name.to_str() {
            Some(name) if is_batch_name(name) => names.push(name.to_owned()),
            Some(name) => temporaries |= name.ends_with(".tmp"),
            None => {}
        }
    }
    // Leftovers of a process killed mid-write would keep the directory forever.
    if temporaries {
        if let Err(error) = sweep_tmp(metric_dir, STALE_TMP_AGE) {
            warn!(path = %metric_dir.display(), %error, "Could not sweep temporary files.");
        }
    }
    names.sort_unstable();
    Ok(names)
}

fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[async_trait]
impl Incoming for FileIncoming {
    fn sacks(&self) -> u32 {
        self.inner.sacks
    }

    async fn add_measures(&self, batches: &[(Uuid, Vec<Measure>)]) -> Result<()> {
        let encoded: Vec<(Uuid, Vec<u8>)> = batches
            .iter()
            .filter(|(_, ms)| !ms.is_empty())
            .map(|(m, ms)| (*m, encode_batch(ms)))
            .collect();
        if encoded.is_empty() {
            return Ok(());
        }
        // The batches are placed on a few blocking threads (file creation is system calls),
        // then one filesystem sync, shared with concurrent calls, makes them all durable.
        // Every batch is attempted; the first error wins.
        let encoded = Arc::new(encoded);
        let lanes = encoded.len().min(MAX_WRITE_THREADS);
        let writers: Vec<_> = (0..lanes)
            .map(|lane| {
                let (inner, encoded) = (Arc::clone(&self.inner), Arc::clone(&encoded));
                // Spawned here, not on first poll, so that the lanes run at the same time.
                tokio::task::spawn_blocking(move || {
                    encoded
                        .iter()
                        .skip(lane)
                        .step_by(lanes)
                        .try_for_each(|(metric, bytes)| inner.place_batch(*metric, bytes))
                })
            })
            .collect();
        let mut result = Ok(());
        for writer in writers {
            let outcome = writer
                .await
                .context(BlockingTaskSnafu { op: "add measures" });
            if result.is_ok() {
                result = outcome.and_then(|r| r);
            }
        }
        // Synced even after a failure: the batches placed are visible to metricd either way.
        let inner = Arc::clone(&self.inner);
        let synced = blocking("sync incoming", move || {
            inner
                .sync
                .sync()
                .with_context(io_at("sync incoming batches", &inner.base))
        })
        .await;
        result.and(synced)
    }

    async fn sack_backlog(&self, sack: u32) -> Result<Vec<(Uuid, u64)>> {
        self.inner.check_sack(sack)?;
        let inner = Arc::clone(&self.inner);
        blocking("list sack", move || inner.sack_backlog(sack)).await
    }

    async fn read_measures(&self, metric: Uuid) -> Result<PendingBatches> {
        let inner = Arc::clone(&self.inner);
        blocking("read measures", move || inner.read_measures(metric)).await
    }

    async fn ack(&self, metric: Uuid, pending: &PendingBatches) -> Result<()> {
        if pending.token.is_empty() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        let token = pending.token.clone();
        blocking("ack batches", move || inner.ack(metric, &token)).await
    }

    async fn delete_metric(&self, metric: Uuid) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        blocking("delete metric batches", move || inner.delete_metric(metric)).await
    }

    async fn lock_sack(&self, sack: u32, wait: bool) -> Result<Option<SackLock>> {
        let inner = Arc::clone(&self.inner);
        let file = blocking("lock sack", move || inner.lock_sack(sack, wait)).await?;
        // Closing the file (dropping the guard) releases the flock.
        Ok(file.map(|f| SackLock::new(Box::new(f))))
    }

    async fn measures_to_process(&self) -> Result<Vec<(Uuid, u64)>> {
        let inner = Arc::clone(&self.inner);
        blocking("list backlog", move || {
            let mut out = Vec::new();
            for sack in 0..inner.sacks {
                out.extend(inner.sack_backlog(sack)?);
            }
            Ok(out)
        })
        .await
    }

    async fn backlog(&self) -> Result<(u64, u64)> {
        let inner = Arc::clone(&self.inner);
        blocking("count backlog", move || inner.backlog()).await
    }

    async fn check(&self) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        blocking("check incoming", move || inner.check()).await
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use gnocchi_core::ErrorKind;

    use super::*;

    async fn fixture() -> (tempfile::TempDir, Arc<dyn Incoming>) {
        let dir = tempfile::tempdir().expect("tempdir");
        FileIncoming::upgrade(dir.path(), 8).expect("upgrade");
        let incoming = FileIncoming::open(dir.path()).expect("open");
        (dir, Arc::new(incoming))
    }

    crate::incoming_contract_tests!(fixture());

    /// Tells `sack_lock_holder_child` which store to lock, and that it runs as the child.
    const LOCK_CHILD_ENV: &str = "GNOCCHI_TEST_SACK_LOCK_CHILD";
    /// What the child prints once it holds the lock.
    const LOCKED_MARKER: &str = "SACK-3-LOCKED-BY-CHILD";

    fn open_store(sacks: u32) -> (tempfile::TempDir, FileIncoming) {
        let dir = tempfile::tempdir().expect("tempdir");
        FileIncoming::upgrade(dir.path(), sacks).expect("upgrade");
        let incoming = FileIncoming::open(dir.path()).expect("open");
        (dir, incoming)
    }

    /// The child half of `sack_lock_excludes_other_processes`: a no-op unless that test spawned
    /// this binary. Holds sack 3 until its stdin is closed.
    #[test]
    fn sack_lock_holder_child() {
        let Ok(base) = std::env::var(LOCK_CHILD_ENV) else {
            return;
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let incoming = FileIncoming::open(&base).unwrap();
            let lock = incoming.lock_sack(3, false).await.unwrap();
            assert!(lock.is_some(), "sack 3 is free when the child starts");
            // libtest may print the test name on the same line first.
            println!("\n{LOCKED_MARKER}");
            std::io::stdout().flush().unwrap();
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap(); // returns at EOF
            drop(lock);
        });
    }

    /// metricd and the API's refresh run in different processes (ARCHITECTURE.md): a sack lock
    /// held by one process excludes the other, and a waiter gets it once the holder exits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sack_lock_excludes_other_processes() {
        let (dir, incoming) = open_store(8);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "incoming::file::tests::sack_lock_holder_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(LOCK_CHILD_ENV, dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
        // Drains the child's output to the end so that it never writes to a closed pipe.
        let reader = std::thread::spawn(move || {
            let mut locked_tx = Some(locked_tx);
            for line in BufReader::new(stdout).lines() {
                if line.unwrap().contains(LOCKED_MARKER) {
                    if let Some(tx) = locked_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        // The timeout only turns a hang into a failure.
        let reported = tokio::time::timeout(Duration::from_secs(60), locked_rx).await;
        if !matches!(reported, Ok(Ok(()))) {
            let _ = child.kill();
            panic!("the child did not report holding sack 3: {reported:?}");
        }

        assert!(incoming.lock_sack(3, false).await.unwrap().is_none());
        let timed = incoming
            .lock_sack_timeout(3, Duration::from_millis(20))
            .await
            .unwrap();
        assert!(timed.is_none());
        assert!(incoming.lock_sack(2, false).await.unwrap().is_some());

        let waiting = incoming.clone();
        let waiter = tokio::spawn(async move { waiting.lock_sack(3, true).await });
        drop(child.stdin.take()); // EOF: the child releases the lock and exits
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "child failed: {status}");
        reader.join().unwrap();
        let got = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("the waiter gets the lock once the child exited")
            .unwrap()
            .unwrap();
        assert!(got.is_some());
    }

    /// Tells `crash_writer_child` which store to write to, and that it runs as the child.
    const CRASH_CHILD_ENV: &str = "GNOCCHI_TEST_CRASH_WRITER_CHILD";
    /// What the child prints once `add_measures` returned for batch `i`.
    const ADDED_MARKER: &str = "BATCH-DURABLE ";
    /// The metric the crash writer child writes to.
    const CRASH_METRIC: Uuid = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001);
    const CRASH_BATCH_LEN: i64 = 500;

    /// The child half of `kill_during_writes_loses_no_acknowledged_batch`: a no-op unless that
    /// test spawned this binary. Adds batches until killed, reporting each one durable.
    #[test]
    fn crash_writer_child() {
        let Ok(base) = std::env::var(CRASH_CHILD_ENV) else {
            return;
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let incoming = FileIncoming::open(&base).unwrap();
            for i in 0..100_000i64 {
                let batch = (0..CRASH_BATCH_LEN)
                    .map(|k| Measure::new(i * CRASH_BATCH_LEN + k, k as f64))
                    .collect();
                incoming
                    .add_measures(&[(CRASH_METRIC, batch)])
                    .await
                    .unwrap();
                println!("\n{ADDED_MARKER}{i}");
                std::io::stdout().flush().unwrap();
            }
        });
    }

    /// ARCHITECTURE.md: "A killed process loses nothing that was answered 202." A writer killed
    /// with SIGKILL in the middle of its writes leaves every batch it reported durable, whole,
    /// and no torn batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_during_writes_loses_no_acknowledged_batch() {
        let (dir, incoming) = open_store(4);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "incoming::file::tests::crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let killer = tokio::task::spawn_blocking(move || {
            let mut acked = Vec::new();
            let mut killed = false;
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if let Some(i) = line.split(ADDED_MARKER).nth(1) {
                    acked.push(i.trim().parse::<i64>().unwrap());
                    if acked.len() == 40 && !killed {
                        child.kill().unwrap(); // SIGKILL, mid-write most likely
                        killed = true;
                    }
                }
            }
            let status = child.wait().unwrap();
            (acked, killed, status)
        });
        let (acked, killed, status) = tokio::time::timeout(Duration::from_secs(120), killer)
            .await
            .expect("the child reports its writes")
            .unwrap();
        assert!(killed, "the child exited before being killed: {status}");

        let pending = incoming.read_measures(CRASH_METRIC).await.unwrap();
        assert!(
            !dir.path().join("quarantine").exists(),
            "no torn batch was left behind"
        );
        let mut present: Vec<i64> = pending
            .measures
            .iter()
            .map(|m| m.timestamp / CRASH_BATCH_LEN)
            .collect();
        assert_eq!(
            present.len() % CRASH_BATCH_LEN as usize,
            0,
            "only whole batches"
        );
        present.dedup();
        for i in &acked {
            assert!(
                present.contains(i),
                "batch {i} was reported durable but is missing"
            );
        }
        // At most the batch being written when the kill landed is there unreported.
        assert!(present.len() <= acked.len() + 1);
    }

    /// Two opens of one store (two descriptors, as two processes would have) exclude each other.
    #[tokio::test]
    async fn sack_lock_excludes_another_open_of_the_store() {
        let (dir, first) = open_store(4);
        let second = FileIncoming::open(dir.path()).unwrap();
        let held = first.lock_sack(0, false).await.unwrap();
        assert!(held.is_some());
        assert!(second.lock_sack(0, false).await.unwrap().is_none());
        drop(held);
        assert!(second.lock_sack(0, false).await.unwrap().is_some());
    }

    /// A batch that is not a whole number of records (engine.md §5.8) is skipped, moved to the
    /// quarantine directory and no longer counted; the metric's valid batches are read.
    #[tokio::test]
    async fn truncated_batch_is_quarantined_not_fatal() {
        let (dir, incoming) = open_store(4);
        let metric = Uuid::new_v4();
        incoming
            .add_measures(&[(metric, vec![Measure::new(1, 1.0)])])
            .await
            .unwrap();
        let metric_dir = incoming.inner.metric_dir(metric);
        let name = "00000000000000000000_torn";
        let mut torn = File::create(metric_dir.join(name)).unwrap();
        torn.write_all(&[7; 17]).unwrap();
        drop(torn);
        assert_eq!(incoming.backlog().await.unwrap(), (1, 2));

        let pending = incoming.read_measures(metric).await.unwrap();
        assert_eq!(pending.measures, vec![Measure::new(1, 1.0)]);
        assert_eq!(pending.token.len(), 1);
        assert_eq!(incoming.backlog().await.unwrap(), (1, 1));
        let kept = fs::read(
            dir.path()
                .join("quarantine")
                .join(format!("{metric}_{name}")),
        );
        assert_eq!(kept.unwrap(), vec![7; 17]);

        incoming.ack(metric, &pending).await.unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (0, 0));
        assert!(
            !metric_dir.exists(),
            "an emptied metric directory is removed"
        );
    }

    /// A temporary file in a metric directory is never read as a batch; one left by a killed
    /// writer long ago is removed, one being written now is kept.
    #[tokio::test]
    async fn temporary_files_are_not_batches_and_stale_ones_go() {
        let (_dir, incoming) = open_store(4);
        let metric = Uuid::new_v4();
        incoming
            .add_measures(&[(metric, vec![Measure::new(1, 2.0)])])
            .await
            .unwrap();
        let metric_dir = incoming.inner.metric_dir(metric);
        let (stale, fresh) = (metric_dir.join("a1.tmp"), metric_dir.join("b2.tmp"));
        for path in [&stale, &fresh] {
            // 16 bytes: a whole record, which must still not be read.
            File::create(path).unwrap().write_all(&[0; 16]).unwrap();
        }
        let old = SystemTime::now() - STALE_TMP_AGE - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let pending = incoming.read_measures(metric).await.unwrap();
        assert_eq!(pending.measures, vec![Measure::new(1, 2.0)]);
        assert!(!stale.exists(), "stale temporary swept");
        assert!(fresh.exists(), "a write in progress is left alone");
    }

    /// Within one metric the batches are read in the order they were added.
    #[tokio::test]
    async fn batches_read_in_arrival_order() {
        let (_dir, incoming) = open_store(4);
        let metric = Uuid::new_v4();
        for i in 0..20 {
            let batch = vec![Measure::new(i, 0.0), Measure::new(i, 1.0)];
            incoming.add_measures(&[(metric, batch)]).await.unwrap();
        }
        let pending = incoming.read_measures(metric).await.unwrap();
        let ts: Vec<i64> = pending.measures.iter().map(|m| m.timestamp).collect();
        let expected: Vec<i64> = (0..20).flat_map(|i| [i, i]).collect();
        assert_eq!(ts, expected);
    }

    /// Adds racing with read + ack passes (which remove the emptied metric directory) lose no
    /// batch: every measure added is either acknowledged once or still pending.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_and_acks_lose_nothing() {
        let (_dir, incoming) = open_store(2);
        let metric = Uuid::new_v4();
        const ADDS: i64 = 300;
        let adder = {
            let incoming = incoming.clone();
            tokio::spawn(async move {
                for i in 0..ADDS {
                    let batch = vec![Measure::new(i, i as f64)];
                    incoming.add_measures(&[(metric, batch)]).await.unwrap();
                }
            })
        };
        let mut seen = Vec::new();
        while !adder.is_finished() {
            let pending = incoming.read_measures(metric).await.unwrap();
            seen.extend(pending.measures.iter().map(|m| m.timestamp));
            incoming.ack(metric, &pending).await.unwrap();
        }
        adder.await.unwrap();
        let rest = incoming.read_measures(metric).await.unwrap();
        seen.extend(rest.measures.iter().map(|m| m.timestamp));
        seen.sort_unstable();
        assert_eq!(seen, (0..ADDS).collect::<Vec<_>>());
    }

    #[test]
    fn upgrade_records_once_and_open_requires_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileIncoming::open(dir.path()).unwrap_err();
        assert!(matches!(err, crate::Error::NotInitialised { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::Unavailable);

        let err = FileIncoming::upgrade(dir.path(), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let err = FileIncoming::upgrade(dir.path(), 65_536).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);

        assert_eq!(FileIncoming::upgrade(dir.path(), 16).unwrap(), 16);
        // Already recorded: kept (engine.md §2.1), and the layout is complete.
        assert_eq!(FileIncoming::upgrade(dir.path(), 128).unwrap(), 16);
        let incoming = FileIncoming::open(dir.path()).unwrap();
        assert_eq!(incoming.sacks(), 16);
        for sack in 0..16 {
            assert!(dir.path().join(sack_name(16, sack)).is_dir());
        }
        assert!(!dir.path().join(sack_name(128, 0)).exists());
        let recorded = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(recorded, r#"{"format":1,"sacks":16}"#);
    }

    #[tokio::test]
    async fn corrupt_configuration_is_reported() {
        let (dir, incoming) = open_store(4);
        incoming.check().await.unwrap();
        let mut f = File::create(dir.path().join(CONFIG_FILE)).unwrap();
        f.write_all(b"{\"sacks\": ").unwrap();
        drop(f);
        let err = FileIncoming::open(dir.path()).unwrap_err();
        assert!(matches!(err, crate::Error::CorruptConfig { .. }), "{err}");
        assert!(incoming.check().await.is_err());
    }
}

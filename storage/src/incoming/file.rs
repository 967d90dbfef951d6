//! The file incoming driver: one pack file per `add_measures` call, one consumed file and one
//! advisory-locked file per sack.
//!
//! Layout under the base path (ours, not Gnocchi's; see engine.md §4.6 for theirs):
//!
//! ```text
//! gnocchi-rs-incoming.json        {"format": 2, "sacks": S}, written last by upgrade
//! tmp/                            temporary files of write_atomic (shared with the file
//!                                 aggregate store when the base paths match)
//! locks/incoming<S>-<n>.lock      flock(2)-ed while a process holds sack n
//! packs/<ns>_<uuid4>              the batches of one call (packs.rs, pack.rs)
//! consumed/incoming<S>-<n>        what sack n has consumed of the packs (consumed.rs)
//! quarantine/                     batches and packs found torn, moved aside
//! incoming<S>-<n>/<metric>/<ns>_<uuid4>
//!                                 one batch of format 1 (16-byte LE records): still read and
//!                                 acknowledged, never written
//! ```
//!
//! `<ns>` is the 20-digit wall-clock time of the write, so that a listing sorted by name gives
//! the batches in arrival order; the uuid makes the name unique.
//!
//! Durability: a call puts its pack in place with a rename (never a torn file for a reader or a
//! killed process) and then waits for one `syncfs` round shared with every concurrent call
//! (`group_sync`), so a request costs one file creation and a share of one filesystem sync. A
//! machine crash can leave a pack of a call that had not returned truncated: it was never
//! acknowledged to its client, and a pack whose length does not match its header is
//! quarantined by the reader.

mod consumed;
mod pack;
mod packs;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fs4::fs_std::FileExt;
use gnocchi_core::Measure;
use serde::{Deserialize, Serialize};
use snafu::{ensure, OptionExt, ResultExt};
use tracing::warn;
use uuid::Uuid;

use self::packs::{Counts, Packs, TOKEN_PREFIX};
use super::{decode_batch, sack_name, sack_of, Incoming, PendingBatches, SackLock};
use super::{MAX_SACKS, MEASURE_BYTES};
use crate::atomic::{blocking, create_dir_durable, io_at, sweep_tmp, write_atomic};
use crate::error::SackOutOfRangeSnafu;
use crate::error::{CorruptConfigSnafu, InvalidLayoutSnafu, NotInitialisedSnafu};
use crate::group_sync::GroupSync;
use crate::Result;

/// Name of the file recording the layout.
const CONFIG_FILE: &str = "gnocchi-rs-incoming.json";
/// Version of this layout, recorded in the configuration: 2 writes packs; 1 wrote one file per
/// batch, which this version still drains.
const FORMAT: u32 = 2;
/// Temporary files older than this are leftovers of a killed process.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// How often removing a metric's format-1 batches retries when one arrives meanwhile.
const RACE_RETRIES: usize = 8;

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
    packs: Arc<Packs>,
    /// Format-1 batches acknowledged but not yet committed, per sack: deleted by the commit.
    legacy_acked: Mutex<HashMap<u32, Vec<PathBuf>>>,
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
        ensure!(
            config.format == FORMAT,
            InvalidLayoutSnafu {
                what: "incoming layout format (run gnocchi-upgrade)",
                value: i64::from(config.format),
                expected: "2",
            }
        );
        let layout = Layout::new(base, config.sacks)?;
        for dir in [&layout.tmp, layout.packs.dir()] {
            match sweep_tmp(dir, STALE_TMP_AGE) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    warn!(path = %dir.display(), error = %e, "Could not sweep temporary files.");
                }
                _ => {}
            }
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
        // Format 1 becomes 2 in place: its batch files stay where readers still look.
        create_dir_durable(base).with_context(io_at("create directory", base))?;
        let layout = Layout::new(base.to_path_buf(), sacks)?;
        for dir in [&layout.tmp, &layout.locks] {
            create_dir_durable(dir).with_context(io_at("create directory", dir))?;
        }
        layout
            .packs
            .create_dirs()
            .with_context(io_at("create pack directories", base))?;
        if existing.as_ref().is_none_or(|c| c.format < FORMAT) {
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
        (1..=FORMAT).contains(&config.format),
        InvalidLayoutSnafu {
            what: "incoming layout format",
            value: i64::from(config.format),
            expected: "1 or 2",
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
            packs: Arc::new(Packs::new(&base, sacks)),
            legacy_acked: Mutex::default(),
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

    fn sack_backlog(&self, sack: u32) -> Result<Vec<(Uuid, u64)>> {
        let packed = self.packs.sack_backlog(sack)?;
        self.with_format_1(sack, packed)
    }

    /// Adds the format-1 batches of `sack` to the pending counts of its packs.
    fn with_format_1(&self, sack: u32, mut counts: Counts) -> Result<Vec<(Uuid, u64)>> {
        for (metric, metric_dir) in list_metrics(&self.sack_dir(sack))? {
            let n = list_batches(&metric_dir)?.len() as u64;
            if n > 0 {
                *counts.entry(metric).or_insert(0) += n;
            }
        }
        Ok(counts.into_iter().collect())
    }

    fn read_measures(&self, metric: Uuid) -> Result<PendingBatches> {
        let dir = self.metric_dir(metric);
        let mut pending = PendingBatches::default();
        let acked: BTreeSet<PathBuf> = self
            .legacy_lock()
            .get(&sack_of(metric, self.sacks))
            .map(|paths| {
                paths
                    .iter()
                    .filter(|p| p.starts_with(&dir))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for name in list_batches(&dir)? {
            let path = dir.join(&name);
            if acked.contains(&path) {
                continue;
            }
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
        self.packs.read(metric, &mut pending)?;
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
        let packed: Vec<&str> = token
            .iter()
            .filter_map(|t| t.strip_prefix(TOKEN_PREFIX))
            .collect();
        self.packs.ack(metric, &packed);
        if packed.len() == token.len() {
            return Ok(());
        }
        let dir = self.metric_dir(metric);
        let mut paths = Vec::new();
        for name in token.iter().filter(|t| !t.starts_with(TOKEN_PREFIX)) {
            if !is_batch_name(name) {
                warn!(%metric, batch = %name, "Ignored an invalid batch name in an ack token.");
                continue;
            }
            paths.push(dir.join(name));
        }
        self.legacy_lock()
            .entry(sack_of(metric, self.sacks))
            .or_default()
            .extend(paths);
        Ok(())
    }

    fn legacy_lock(&self) -> MutexGuard<'_, HashMap<u32, Vec<PathBuf>>> {
        // A list of paths; a panic elsewhere cannot tear it.
        self.legacy_acked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Commits the pack acks of `sack`, then deletes its acknowledged format-1 batches.
    fn commit_sack(&self, sack: u32) -> Result<()> {
        self.packs.commit(sack)?;
        let paths = self.legacy_lock().remove(&sack).unwrap_or_default();
        let mut dirs = BTreeSet::new();
        for path in &paths {
            remove_file_if_exists(path).with_context(io_at("delete batch", path))?;
            dirs.extend(path.parent().map(Path::to_path_buf));
        }
        for dir in dirs {
            // Fails while batches remain, including one a concurrent add just renamed in; an add
            // that loses the race sees the directory gone and recreates it (`place_batch`).
            let _ = fs::remove_dir(&dir);
        }
        Ok(())
    }

    fn delete_metric(&self, metric: Uuid) -> Result<()> {
        self.packs.delete_metric(metric)?;
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

    /// Every metric with pending batches and its batch count, over all sacks.
    fn measures_to_process(&self) -> Result<Vec<(Uuid, u64)>> {
        let mut out = Vec::new();
        for (sack, packed) in (0..self.sacks).zip(self.packs.backlog()?) {
            out.extend(self.with_format_1(sack, packed)?);
        }
        Ok(out)
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

/// A sack lock of this driver: the flocked file, and the sack's cached records, dropped with it.
struct HeldSack {
    /// Closing the file releases the flock.
    _file: File,
    packs: Arc<Packs>,
    sack: u32,
}

impl Drop for HeldSack {
    fn drop(&mut self) {
        self.packs.release(self.sack);
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

/// The UTF-8 names of the entries of `dir`; none if it does not exist.
fn dir_names(dir: &Path, op: &'static str) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(io_at(op, dir)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(io_at(op, dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// The metric directories of a sack directory (other entries are ignored).
fn list_metrics(sack_dir: &Path) -> Result<Vec<(Uuid, PathBuf)>> {
    let names = dir_names(sack_dir, "list sack")?;
    // Only the hyphenated form `metric_dir` produces; anything else is not ours.
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let metric = name.parse::<Uuid>().ok()?;
            (metric.hyphenated().to_string() == name).then(|| (metric, sack_dir.join(&name)))
        })
        .collect())
}

/// The batch names of a metric directory, sorted (arrival order); none if it does not exist.
fn list_batches(metric_dir: &Path) -> Result<Vec<String>> {
    let (mut names, others): (Vec<String>, Vec<String>) = dir_names(metric_dir, "list batches")?
        .into_iter()
        .partition(|name| is_batch_name(name));
    // Leftovers of a process killed mid-write would keep the directory forever.
    if others.iter().any(|name| name.ends_with(".tmp")) {
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
        let Some(pack) = self.inner.packs.encode(batches)? else {
            return Ok(());
        };
        let inner = Arc::clone(&self.inner);
        blocking("add measures", move || {
            inner.packs.place(&pack)?;
            // One filesystem sync, shared with concurrent calls, makes the pack durable.
            inner
                .sync
                .sync()
                .with_context(io_at("sync incoming pack", &inner.base))
        })
        .await
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
        // Bookkeeping in memory, written by the commit: no file access, so no blocking task.
        self.inner.ack(metric, &pending.token)
    }

    async fn delete_metric(&self, metric: Uuid) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        blocking("delete metric batches", move || inner.delete_metric(metric)).await
    }

    async fn lock_sack(&self, sack: u32, wait: bool) -> Result<Option<SackLock>> {
        let inner = Arc::clone(&self.inner);
        let file = blocking("lock sack", move || inner.lock_sack(sack, wait)).await?;
        Ok(file.map(|file| {
            self.inner.packs.hold(sack);
            SackLock::new(Box::new(HeldSack {
                _file: file,
                packs: Arc::clone(&self.inner.packs),
                sack,
            }))
        }))
    }

    async fn commit_sack(&self, sack: u32) -> Result<()> {
        self.inner.check_sack(sack)?;
        let inner = Arc::clone(&self.inner);
        blocking("commit sack", move || inner.commit_sack(sack)).await
    }

    fn abandon_sack(&self, sack: u32) {
        self.inner.legacy_lock().remove(&sack);
        self.inner.packs.abandon(sack);
    }

    async fn tidy(&self) -> Result<usize> {
        let inner = Arc::clone(&self.inner);
        blocking("delete consumed packs", move || inner.packs.tidy()).await
    }

    async fn measures_to_process(&self) -> Result<Vec<(Uuid, u64)>> {
        let inner = Arc::clone(&self.inner);
        blocking("list backlog", move || inner.measures_to_process()).await
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
    use crate::incoming::encode_batch;

    /// Writes a file as a crash or an older version would have left it.
    fn plant(path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        File::create(path)
            .unwrap()
            .write_all(bytes.as_ref())
            .unwrap();
    }

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

    /// A pack's sack-order layout, metric by metric: the batches of a 100-metric call come back
    /// per metric from one file, and the call wrote exactly one pack.
    #[tokio::test]
    async fn one_call_writes_one_pack() {
        let (dir, incoming) = open_store(8);
        let batches: Vec<(Uuid, Vec<Measure>)> = (0..100u128)
            .map(|i| {
                let ms = (0..10)
                    .map(|k| Measure::new(k, (i * 10) as f64 + k as f64))
                    .collect();
                (Uuid::from_u128(0xabc0_0000 + i * 13), ms)
            })
            .collect();
        incoming.add_measures(&batches).await.unwrap();
        assert_eq!(fs::read_dir(dir.path().join("packs")).unwrap().count(), 1);
        assert_eq!(incoming.backlog().await.unwrap(), (100, 100));
        for (metric, measures) in &batches {
            let pending = incoming.read_measures(*metric).await.unwrap();
            assert_eq!(&pending.measures, measures);
            assert_eq!(pending.token.len(), 1);
        }
    }

    /// A header longer than the first read of a header (300 entries, 8.4 KB) is read whole by
    /// a process that did not write the pack.
    #[tokio::test]
    async fn a_long_header_is_read_whole() {
        let (dir, writer) = open_store(8);
        let batches: Vec<(Uuid, Vec<Measure>)> = (0..300u128)
            .map(|i| {
                (
                    Uuid::from_u128(0xdef0_0000 + i * 7),
                    vec![Measure::new(1, i as f64)],
                )
            })
            .collect();
        writer.add_measures(&batches).await.unwrap();
        let reader = FileIncoming::open(dir.path()).unwrap();
        assert_eq!(reader.backlog().await.unwrap(), (300, 300));
        for (metric, measures) in &batches {
            assert_eq!(
                &reader.read_measures(*metric).await.unwrap().measures,
                measures
            );
        }
    }

    /// A backlog count that serves again (a slow one) shows what other processes did late, and
    /// what this one did (adds, acks, commits) at once.
    #[tokio::test]
    async fn a_reused_backlog_count_follows_this_process_at_once() {
        let (dir, writer) = open_store(4);
        let reader = FileIncoming::open(dir.path()).unwrap();
        reader
            .inner
            .packs
            .reuse_every_count(Duration::from_secs(3600));
        let (a, b, c) = (Uuid::from_u128(4), Uuid::from_u128(5), Uuid::from_u128(8));
        let batch = |v: f64| vec![Measure::new(1, v)];
        writer.add_measures(&[(a, batch(1.0))]).await.unwrap();
        assert_eq!(reader.backlog().await.unwrap(), (1, 1));
        writer.add_measures(&[(b, batch(2.0))]).await.unwrap();
        assert_eq!(
            reader.backlog().await.unwrap(),
            (1, 1),
            "another process's add, late"
        );
        reader.add_measures(&[(c, batch(3.0))]).await.unwrap();
        assert_eq!(
            reader.backlog().await.unwrap(),
            (3, 3),
            "its own add, at once"
        );
        let lock = reader.lock_sack(0, false).await.unwrap().unwrap();
        let pending = reader.read_measures(a).await.unwrap();
        reader.ack(a, &pending).await.unwrap();
        assert_eq!(
            reader.backlog().await.unwrap(),
            (2, 2),
            "its own ack, at once"
        );
        reader.commit_sack(0).await.unwrap();
        drop(lock);
        assert_eq!(reader.backlog().await.unwrap(), (2, 2));
        assert_eq!(writer.backlog().await.unwrap(), (2, 2));
    }

    /// A process whose listing lacks a pack (a smaller window here; a listing made before the
    /// pack arrived alike) keeps what another process committed of it: its commit must not
    /// make those batches pending again.
    #[tokio::test]
    async fn a_commit_keeps_what_others_consumed_of_packs_it_does_not_list() {
        let (dir, wide) = open_store(4);
        let narrow = FileIncoming::open(dir.path()).unwrap();
        narrow.inner.packs.set_header_budget(2);
        let (a, b) = (Uuid::from_u128(4), Uuid::from_u128(8)); // both in sack 0
        for v in [1.0, 2.0] {
            let batch = vec![Measure::new(1, v)];
            wide.add_measures(&[(a, batch.clone()), (b, batch)])
                .await
                .unwrap();
        }
        let lock = wide.lock_sack(0, false).await.unwrap().unwrap();
        let pending = wide.read_measures(a).await.unwrap();
        assert_eq!(pending.measures.len(), 2, "both packs in the wide window");
        wide.ack(a, &pending).await.unwrap();
        wide.commit_sack(0).await.unwrap();
        drop(lock);

        let lock = narrow.lock_sack(0, false).await.unwrap().unwrap();
        let pending = narrow.read_measures(b).await.unwrap();
        assert_eq!(
            pending.measures.len(),
            1,
            "only the oldest pack in the narrow window"
        );
        narrow.ack(b, &pending).await.unwrap();
        narrow.commit_sack(0).await.unwrap();
        drop(lock);

        assert!(wide.read_measures(a).await.unwrap().is_empty());
        assert_eq!(wide.read_measures(b).await.unwrap().measures.len(), 1);
        assert_eq!(wide.backlog().await.unwrap(), (1, 1));
    }

    /// Acks are this handle's until `commit_sack`: another open of the store (another process)
    /// still sees the batches pending, as after a crash, and stops seeing them once committed.
    /// `tidy` deletes a pack only once every sack in it has committed it.
    #[tokio::test]
    async fn acks_reach_other_processes_on_commit_and_tidy_waits_for_every_sack() {
        let (dir, first) = open_store(4);
        let second = FileIncoming::open(dir.path()).unwrap();
        let (a, b) = (Uuid::from_u128(4), Uuid::from_u128(5)); // sacks 0 and 1
        let batch = |v: f64| vec![Measure::new(1, v)];
        first
            .add_measures(&[(a, batch(1.0)), (b, batch(2.0))])
            .await
            .unwrap();
        let lock = first.lock_sack(0, false).await.unwrap().unwrap();
        let pending = first.read_measures(a).await.unwrap();
        first.ack(a, &pending).await.unwrap();
        assert!(first.read_measures(a).await.unwrap().is_empty());
        assert_eq!(second.read_measures(a).await.unwrap().measures, batch(1.0));
        assert_eq!(second.backlog().await.unwrap(), (2, 2));
        first.commit_sack(0).await.unwrap();
        drop(lock);
        assert!(second.read_measures(a).await.unwrap().is_empty());
        assert_eq!(second.backlog().await.unwrap(), (1, 1));

        assert_eq!(
            second.tidy().await.unwrap(),
            0,
            "sack 1 has not consumed it"
        );
        let pending = second.read_measures(b).await.unwrap();
        second.ack(b, &pending).await.unwrap();
        second.commit_sack(1).await.unwrap();
        assert_eq!(first.backlog().await.unwrap(), (0, 0));
        assert_eq!(first.tidy().await.unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path().join("packs")).unwrap().count(), 0);
        // Later commits forget the deleted pack.
        first.add_measures(&[(a, batch(3.0))]).await.unwrap();
        let pending = first.read_measures(a).await.unwrap();
        assert_eq!(pending.measures, batch(3.0));
        first.ack(a, &pending).await.unwrap();
        first.commit_sack(0).await.unwrap();
        let consumed = fs::read_to_string(dir.path().join("consumed").join(sack_name(4, 0)));
        assert_eq!(consumed.unwrap().lines().count(), 1);
    }

    /// While a process holds a sack, its metrics are read from an index built at the first
    /// read: the same batches as a read without the lock, also when the records do not fit the
    /// index's memory budget; a batch added meanwhile is read at the next hold.
    #[tokio::test]
    async fn held_sack_reads_its_index_and_later_batches_next_time() {
        for budget in [None, Some(40)] {
            let (_dir, incoming) = open_store(4);
            if let Some(bytes) = budget {
                incoming.inner.packs.set_index_budget(bytes);
            }
            let (a, b) = (Uuid::from_u128(4), Uuid::from_u128(8)); // both in sack 0
            for i in 0..3 {
                let batch = |v: f64| vec![Measure::new(i, v), Measure::new(i + 10, v)];
                incoming
                    .add_measures(&[(a, batch(1.0)), (b, batch(2.0))])
                    .await
                    .unwrap();
            }
            let (want_a, want_b) = (
                incoming.read_measures(a).await.unwrap(),
                incoming.read_measures(b).await.unwrap(),
            );
            assert_eq!(want_a.measures.len(), 6);

            let lock = incoming.lock_sack(0, false).await.unwrap().unwrap();
            let got_a = incoming.read_measures(a).await.unwrap();
            let late = vec![Measure::new(99, 9.0)];
            incoming.add_measures(&[(b, late.clone())]).await.unwrap();
            let got_b = incoming.read_measures(b).await.unwrap();
            assert_eq!(got_a.measures, want_a.measures, "budget {budget:?}");
            assert_eq!(got_b.measures, want_b.measures, "budget {budget:?}");
            assert_eq!(got_a.token, want_a.token);
            incoming.ack(a, &got_a).await.unwrap();
            incoming.ack(b, &got_b).await.unwrap();
            assert!(incoming.read_measures(a).await.unwrap().is_empty());
            incoming.commit_sack(0).await.unwrap();
            drop(lock);

            let _lock = incoming.lock_sack(0, false).await.unwrap().unwrap();
            assert_eq!(incoming.read_measures(b).await.unwrap().measures, late);
            assert!(incoming.read_measures(a).await.unwrap().is_empty());
            assert_eq!(incoming.backlog().await.unwrap(), (1, 1));
        }
    }

    /// Sacks held at the same time are indexed together at the first read of any of them,
    /// each pack's adjacent runs read in one piece: every metric reads what it would read
    /// unheld, whether its records were loaded, past the budget, or in a sack not held; a
    /// batch added after that first read waits for the next hold.
    #[tokio::test]
    async fn sacks_held_together_read_what_they_read_apart() {
        for budget in [None, Some(40), Some(100)] {
            let (_dir, incoming) = open_store(4);
            if let Some(bytes) = budget {
                incoming.inner.packs.set_index_budget(bytes);
            }
            // Sacks 0, 1, 2, 3, 0 (the uuid modulo the sack count).
            let metrics: Vec<Uuid> = (4..9).map(Uuid::from_u128).collect();
            for i in 0..3 {
                let batches: Vec<_> = metrics
                    .iter()
                    .enumerate()
                    .map(|(n, m)| {
                        (
                            *m,
                            vec![Measure::new(i, n as f64), Measure::new(i + 9, 0.5)],
                        )
                    })
                    .collect();
                incoming.add_measures(&batches).await.unwrap();
            }
            let mut want = Vec::new();
            for m in &metrics {
                want.push(incoming.read_measures(*m).await.unwrap());
            }
            let mut locks = Vec::new();
            for sack in [0, 1, 3] {
                locks.push(incoming.lock_sack(sack, false).await.unwrap().unwrap());
            }
            let first = incoming.read_measures(metrics[0]).await.unwrap();
            let late = vec![Measure::new(99, 9.0)];
            let late_batches: Vec<_> = metrics.iter().map(|m| (*m, late.clone())).collect();
            incoming.add_measures(&late_batches).await.unwrap();
            assert_eq!(first, want[0], "budget {budget:?}");
            for (n, m) in metrics.iter().enumerate().skip(1) {
                let got = incoming.read_measures(*m).await.unwrap();
                if n == 2 {
                    // Sack 2 is not held: read afresh, with the late batch.
                    assert_eq!(got.measures[..6], want[n].measures[..], "budget {budget:?}");
                    assert_eq!(got.measures[6..], late[..]);
                } else {
                    assert_eq!(got, want[n], "metric {n}, budget {budget:?}");
                }
            }
            drop(locks);
            let _lock = incoming.lock_sack(3, false).await.unwrap().unwrap();
            let again = incoming.read_measures(metrics[3]).await.unwrap();
            assert_eq!(again.measures.len(), 7, "the late batch at the next hold");
        }
    }

    /// The backlog walks the headers for several sacks at a time: every sack is counted, the
    /// first and last of a walk too, without the batches committed or acked by this process.
    #[tokio::test]
    async fn backlog_counts_every_sack_across_walks() {
        let (_dir, incoming) = open_store(40);
        // Sacks 0, 15, 16, 17, 39 and 39 (the uuid modulo the sack count).
        let metrics: Vec<Uuid> = [0u128, 15, 16, 17, 39, 79]
            .into_iter()
            .map(Uuid::from_u128)
            .collect();
        for i in 0..2 {
            let batches: Vec<_> = metrics
                .iter()
                .map(|m| (*m, vec![Measure::new(i, 1.0)]))
                .collect();
            incoming.add_measures(&batches).await.unwrap();
        }
        assert_eq!(incoming.backlog().await.unwrap(), (6, 12));
        let lock = incoming.lock_sack(17, false).await.unwrap().unwrap();
        let pending = incoming.read_measures(metrics[3]).await.unwrap();
        incoming.ack(metrics[3], &pending).await.unwrap();
        incoming.commit_sack(17).await.unwrap();
        drop(lock);
        let _lock = incoming.lock_sack(39, false).await.unwrap().unwrap();
        let pending = incoming.read_measures(metrics[5]).await.unwrap();
        incoming.ack(metrics[5], &pending).await.unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (4, 8));
        let mut left: Vec<Uuid> = incoming
            .measures_to_process()
            .await
            .unwrap()
            .into_iter()
            .map(|(m, n)| {
                assert_eq!(n, 2);
                m
            })
            .collect();
        left.sort();
        assert_eq!(left, [metrics[0], metrics[1], metrics[2], metrics[4]]);
    }

    /// Readers see a window of the oldest packs, within the header budget: newer packs are
    /// neither counted nor read (nor their headers kept) until the older ones are consumed and
    /// deleted, and then come in order.
    #[tokio::test]
    async fn a_window_of_the_oldest_packs_slides_as_they_are_consumed() {
        let (_dir, incoming) = open_store(4);
        incoming.inner.packs.set_header_budget(5);
        let (a, b) = (Uuid::from_u128(4), Uuid::from_u128(8)); // both in sack 0
        for i in 0..5 {
            let batch = vec![Measure::new(i, i as f64)];
            incoming
                .add_measures(&[(a, batch.clone()), (b, batch)])
                .await
                .unwrap();
        }
        // The packs this process placed have their headers kept until the next listing.
        assert_eq!(incoming.inner.packs.cached_header_entries(), 10);
        let mut seen = Vec::new();
        for round in 0..3 {
            // Two packs of two entries fit in five; the backlog counts the packs beyond too.
            assert_eq!(incoming.backlog().await.unwrap(), (2, 10 - 4 * round));
            assert!(incoming.inner.packs.cached_header_entries() <= 5);
            assert_eq!(incoming.sack_backlog(0).await.unwrap().len(), 2);
            let lock = incoming.lock_sack(0, false).await.unwrap().unwrap();
            for metric in [a, b] {
                let pending = incoming.read_measures(metric).await.unwrap();
                if metric == a {
                    seen.extend(pending.measures.iter().map(|m| m.timestamp));
                }
                incoming.ack(metric, &pending).await.unwrap();
            }
            incoming.commit_sack(0).await.unwrap();
            drop(lock);
            // Consumed, not yet deleted: the window holds nothing pending, the backlog does.
            if round < 2 {
                assert!(incoming.sack_backlog(0).await.unwrap().is_empty());
                assert_ne!(incoming.backlog().await.unwrap(), (0, 0));
            }
            incoming.tidy().await.unwrap();
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4], "every batch, oldest first");
        assert_eq!(incoming.backlog().await.unwrap(), (0, 0));
    }

    /// A pack whose length does not match its header (a machine crash before the sync) is
    /// moved to the quarantine directory; the other packs are read.
    #[tokio::test]
    async fn torn_pack_is_quarantined_not_fatal() {
        let (dir, incoming) = open_store(4);
        let metric = Uuid::new_v4();
        incoming
            .add_measures(&[(metric, vec![Measure::new(1, 1.0)])])
            .await
            .unwrap();
        let whole = fs::read_dir(dir.path().join("packs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let bytes = fs::read(&whole).unwrap();
        let torn = dir.path().join("packs").join("00000000000000000000_torn");
        plant(&torn, &bytes[..bytes.len() - 3]);

        let pending = incoming.read_measures(metric).await.unwrap();
        assert_eq!(pending.measures, vec![Measure::new(1, 1.0)]);
        assert!(!torn.exists());
        let kept = dir
            .path()
            .join("quarantine")
            .join("pack_00000000000000000000_torn");
        assert_eq!(fs::read(kept).unwrap(), bytes[..bytes.len() - 3]);
        assert_eq!(incoming.backlog().await.unwrap(), (1, 1));
    }

    /// A store of format 1 (one file per batch) is refused until upgraded; then its batches
    /// are read with the new packs, a torn one is quarantined, and acks delete them.
    #[tokio::test]
    async fn format_1_store_is_upgraded_and_drained() {
        let dir = tempfile::tempdir().unwrap();
        let metric = Uuid::from_u128(0x77);
        let metric_dir = dir
            .path()
            .join(sack_name(4, sack_of(metric, 4)))
            .join(metric.hyphenated().to_string());
        fs::create_dir_all(&metric_dir).unwrap();
        plant(dir.path().join(CONFIG_FILE), r#"{"format":1,"sacks":4}"#);
        let old = encode_batch(&[Measure::new(1, 1.0)]);
        plant(metric_dir.join("00000000000000000001_a"), &old);
        plant(metric_dir.join("00000000000000000002_torn"), [7; 17]);
        // Temporary files are never batches.
        plant(metric_dir.join("b2.tmp"), [0; 16]);
        let err = FileIncoming::open(dir.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");

        assert_eq!(FileIncoming::upgrade(dir.path(), 128).unwrap(), 4);
        let incoming = FileIncoming::open(dir.path()).unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (1, 2));
        incoming
            .add_measures(&[(metric, vec![Measure::new(2, 2.0)])])
            .await
            .unwrap();
        let pending = incoming.read_measures(metric).await.unwrap();
        assert_eq!(
            pending.measures,
            vec![Measure::new(1, 1.0), Measure::new(2, 2.0)]
        );
        let kept = fs::read(
            dir.path()
                .join("quarantine")
                .join(format!("{metric}_00000000000000000002_torn")),
        );
        assert_eq!(kept.unwrap(), vec![7; 17]);
        incoming.ack(metric, &pending).await.unwrap();
        // Deleted by the commit, which follows the aggregates' sync; hidden from this handle.
        assert!(metric_dir.join("00000000000000000001_a").exists());
        assert!(incoming.read_measures(metric).await.unwrap().is_empty());
        incoming.commit_sack(sack_of(metric, 4)).await.unwrap();
        assert_eq!(incoming.backlog().await.unwrap(), (0, 0));
        assert!(!metric_dir.join("00000000000000000001_a").exists());
    }

    /// Acks abandoned because the aggregates could not be made durable are forgotten: the
    /// batches, of packs and of format 1, are pending again for this handle, and a later commit
    /// does not consume them.
    #[tokio::test]
    async fn abandoned_acks_leave_batches_pending() {
        let (dir, incoming) = open_store(4);
        let metric = Uuid::from_u128(0x78);
        let sack = sack_of(metric, 4);
        let metric_dir = dir
            .path()
            .join(sack_name(4, sack))
            .join(metric.hyphenated().to_string());
        fs::create_dir_all(&metric_dir).unwrap();
        plant(
            metric_dir.join("00000000000000000001_a"),
            encode_batch(&[Measure::new(1, 1.0)]),
        );
        incoming
            .add_measures(&[(metric, vec![Measure::new(2, 2.0)])])
            .await
            .unwrap();
        let lock = incoming.lock_sack(sack, false).await.unwrap().unwrap();
        let pending = incoming.read_measures(metric).await.unwrap();
        assert_eq!(pending.measures.len(), 2);
        incoming.ack(metric, &pending).await.unwrap();
        assert!(incoming.read_measures(metric).await.unwrap().is_empty());
        incoming.abandon_sack(sack);
        let again = incoming.read_measures(metric).await.unwrap();
        assert_eq!(
            (again.measures, again.token),
            (pending.measures, pending.token)
        );
        incoming.commit_sack(sack).await.unwrap();
        drop(lock);
        let other = FileIncoming::open(dir.path()).unwrap();
        assert_eq!(other.backlog().await.unwrap(), (1, 2));
        assert!(metric_dir.join("00000000000000000001_a").exists());
    }

    /// A temporary pack is never read; one left by a killed writer long ago is removed when a
    /// process opens the store, one being written now is kept.
    #[tokio::test]
    async fn temporary_packs_are_not_read_and_stale_ones_go() {
        let (dir, incoming) = open_store(4);
        let metric = Uuid::new_v4();
        incoming
            .add_measures(&[(metric, vec![Measure::new(1, 2.0)])])
            .await
            .unwrap();
        let packs = dir.path().join("packs");
        let (stale, fresh) = (packs.join("a1.tmp"), packs.join("b2.tmp"));
        for path in [&stale, &fresh] {
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
        let reopened = FileIncoming::open(dir.path()).unwrap();
        assert_eq!(reopened.backlog().await.unwrap(), (1, 1));
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
        for sub in ["packs", "consumed", "locks", "tmp"] {
            assert!(dir.path().join(sub).is_dir(), "{sub}");
        }
        let recorded = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(recorded, r#"{"format":2,"sacks":16}"#);
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

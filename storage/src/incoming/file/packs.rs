//! The packs of a file incoming store, and what each sack has consumed of them.
//!
//! ```text
//! packs/<ns>_<uuid>          one pack per add_measures call (pack.rs), never modified
//! packs/<uuid>.tmp           a pack being written, renamed within the directory
//! consumed/incoming<S>-<n>   what sack n consumed (consumed.rs), rewritten by its lock holder
//! ```
//!
//! An `ack` is recorded in memory; [`Packs::commit`] writes a sack's consumed file once per
//! pass, and [`Packs::tidy`] deletes the packs every sack of theirs has consumed. A process
//! killed between an ack and the commit leaves those batches pending: they are processed again,
//! which re-adds measures already aggregated (engine.md §5.4 allows at-least-once).
//!
//! Each process sees a window of the live packs: the oldest ones, up to [`HEADER_CACHE_ENTRIES`]
//! header entries. It keeps their headers, its acks not yet committed, and, for the sacks it
//! holds the lock of, their consumed files and records (dropped with the lock). Counts and reads
//! cover the window; a newer pack enters it once older ones are consumed and deleted.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gnocchi_core::Measure;
use snafu::ResultExt;
use tracing::warn;
use uuid::Uuid;

use super::consumed::{Consumed, Mark};
use super::pack::{self, Header, ParseError};
use super::{batch_name, dir_names, remove_file_if_exists};
use crate::atomic::{create_dir_durable, io_at, place_file};
use crate::error::InvalidLayoutSnafu;
use crate::incoming::{decode_batch, sack_name, sack_of, PendingBatches};
use crate::Result;

/// Pending batches per metric of a sack.
pub(super) type Counts = HashMap<Uuid, u64, foldhash::fast::RandomState>;
/// Prefix of the `PendingBatches` tokens that name a pack entry (file batch names have no `:`).
pub(super) const TOKEN_PREFIX: &str = "pack:";
/// Records an index of a held sack keeps in memory, at most; the rest is read entry by entry.
const INDEX_RECORD_BYTES: usize = 16 << 20;
/// Bytes read at once when a pack's header is read: the header of a pack of 146 entries, more
/// than Ceilometer's batches of 100 metrics. A larger header takes a second read; 16 KiB per
/// read made counting a backlog past the window mostly copying and zeroing pages.
const HEADER_READ: usize = 4 << 10;
/// Header entries (28 bytes each, one per pending batch) of the packs in the window: the
/// oldest packs, which are read and processed first; newer ones wait, so memory stays bounded
/// whatever the backlog.
const HEADER_CACHE_ENTRIES: usize = 1 << 20;
/// Sacks whose backlog one walk over the headers counts (`/v1/status`).
const SACKS_PER_WALK: u32 = 16;
/// Header entries of the packs this process placed that it keeps until its next listing: the
/// API's own packs, which `/v1/status` would otherwise read back (35 ms for 1,440 packs of 100
/// entries).
const PLACED_HEADER_ENTRIES: usize = 1 << 18;
/// How long a listing of the packs serves again. A metricd scan asks for the live packs
/// several times per sack, for 128 sacks in a row, and each listing read and sorted the whole
/// directory: now one listing serves many sacks. A pack another process adds waits at most
/// this much longer; this process's own adds and deletions list afresh.
const LISTING_REUSE: Duration = Duration::from_millis(50);
/// A listing that took longer serves for this many times what it took (at most
/// [`LISTING_REUSE_MAX`]): with a deep backlog, listing and sorting 32,000 packs took 10-15 ms,
/// and metricd listed once per group of sacks read and again per group committed.
const LISTING_COST_RATIO: u32 = 10;
const LISTING_REUSE_MAX: Duration = Duration::from_secs(1);
/// A count of the whole backlog that took at least [`BACKLOG_REUSE_FROM`] answers again for
/// ten times what it took, at most [`BACKLOG_REUSE_MAX`], unless this process changed the
/// packs or its acks meanwhile. With a backlog past the window a count took 0.2 s, and the
/// kit's `/v1/status` once a second then took a third of a core from a draining metricd.
const BACKLOG_COST_RATIO: u32 = 10;
const BACKLOG_REUSE_FROM: Duration = Duration::from_millis(50);
const BACKLOG_REUSE_MAX: Duration = Duration::from_secs(5);

pub(super) struct Packs {
    dir: PathBuf,
    consumed_dir: PathBuf,
    quarantine: PathBuf,
    sacks: u32,
    state: Mutex<State>,
    /// Bytes of records an index may keep in memory ([`INDEX_RECORD_BYTES`]; tests lower it).
    index_budget: AtomicUsize,
    /// Header entries of the window ([`HEADER_CACHE_ENTRIES`]; tests lower it).
    header_budget: AtomicUsize,
    /// Held while a sack index is built, so that the metrics of a sack read at the same time
    /// build it once.
    loading: Mutex<()>,
}

impl std::fmt::Debug for Packs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packs").field("dir", &self.dir).finish()
    }
}

#[derive(Default)]
struct State {
    /// Headers of the oldest live packs, within the header budget, and of packs this process
    /// placed since the last listing.
    headers: HashMap<Arc<str>, Arc<Header>>,
    /// Entries of `headers`.
    header_entries: usize,
    /// Acks of this process not yet committed, per sack.
    acked: HashMap<u32, Consumed>,
    /// Sacks whose lock this process holds, with their index once a metric was read.
    held: HashMap<u32, Option<SackIndex>>,
    /// The last window, while it serves.
    listed: Option<Reusable<Window>>,
    /// Counts this process's adds and deletions of packs: a listing that one of them may have
    /// missed is not kept.
    changes: u64,
    /// The last count of the whole backlog, while it serves.
    counted: Option<Reusable<Vec<Counts>>>,
    /// Counts this process's changes to what a backlog count sees (packs and acks): a count
    /// that one of them may have missed is not kept.
    edits: u64,
    /// Tests: every count serves again this long, however fast it was.
    #[cfg(test)]
    reuse_every_count: Option<Duration>,
}

/// A listing or a count that answers again for a while, with when it began.
struct Reusable<T> {
    began: Instant,
    serves: Duration,
    value: T,
}

impl<T: Clone> Reusable<T> {
    fn new(began: Instant, serves: Duration, value: T) -> Self {
        Self {
            began,
            serves,
            value,
        }
    }

    /// The value of `slot` while it still serves.
    fn current(slot: &Option<Self>) -> Option<T> {
        slot.as_ref()
            .filter(|r| r.began.elapsed() < r.serves)
            .map(|r| r.value.clone())
    }
}

impl State {
    /// Makes the next window list the directory afresh.
    fn forget_listing(&mut self) {
        self.listed = None;
        self.changes += 1;
        self.forget_count();
    }

    /// Makes the next backlog count afresh.
    fn forget_count(&mut self) {
        self.counted = None;
        self.edits += 1;
    }

    /// How long a count of the backlog that took `took` answers again, if at all.
    fn count_serves(&self, took: Duration) -> Option<Duration> {
        #[cfg(test)]
        if let Some(serves) = self.reuse_every_count {
            return Some(serves);
        }
        (took >= BACKLOG_REUSE_FROM).then(|| (took * BACKLOG_COST_RATIO).min(BACKLOG_REUSE_MAX))
    }
}

/// The pending batches of a held sack, listed when its first metric is read, so that its other
/// metrics are read without listing the packs again. Batches added meanwhile wait for the next
/// hold, as the `Incoming` contract allows.
#[derive(Default)]
struct SackIndex {
    /// Each metric's unconsumed entries in arrival order; removed when acknowledged.
    metrics: HashMap<Uuid, Vec<Located>>,
}

/// Where one entry's records are.
#[derive(Clone)]
struct Located {
    pack: Arc<str>,
    records: Records,
}

#[derive(Clone)]
enum Records {
    /// In the sack's run of the pack, read whole when the index was built.
    Loaded {
        run: Arc<Vec<u8>>,
        at: usize,
        len: usize,
    },
    /// Still in the file (past the memory budget of the index).
    InFile { offset: u64, len: usize },
}

/// What a sack has consumed as this process sees it: its committed file and this process's
/// acks not yet committed.
struct SackConsumed<'a> {
    file: &'a Consumed,
    acked: Option<&'a Consumed>,
}

impl<'a> SackConsumed<'a> {
    /// What is consumed of `pack`'s entries.
    fn of_pack(&self, pack: &str) -> PackConsumed<'a> {
        PackConsumed([
            self.file.of_pack(pack),
            self.acked.and_then(|a| a.of_pack(pack)),
        ])
    }
}

/// What is consumed of one pack's entries: by the committed file, by the acks.
struct PackConsumed<'a>([Option<&'a Mark>; 2]);

impl PackConsumed<'_> {
    fn contains(&self, metric: &Uuid) -> bool {
        self.0.iter().flatten().any(|mark| mark.contains(metric))
    }
}

/// Records read in one piece from a pack: (offset in the file, bytes).
type Chunk = (u64, Arc<Vec<u8>>);

/// The live packs, by name (arrival order).
type Live = Arc<Vec<(Arc<str>, Arc<Header>)>>;

/// The live packs, and the names of the newer packs beyond the window.
type Window = (Live, Arc<Vec<String>>);

impl Packs {
    pub fn new(base: &Path, sacks: u32) -> Self {
        Self {
            dir: base.join("packs"),
            consumed_dir: base.join("consumed"),
            quarantine: base.join("quarantine"),
            sacks,
            state: Mutex::default(),
            loading: Mutex::new(()),
            index_budget: AtomicUsize::new(INDEX_RECORD_BYTES),
            header_budget: AtomicUsize::new(HEADER_CACHE_ENTRIES),
        }
    }

    /// Lowers the memory budget of sack indexes, so that tests reach the entry-by-entry path.
    #[cfg(test)]
    pub fn set_index_budget(&self, bytes: usize) {
        self.index_budget.store(bytes, Ordering::Relaxed);
    }

    /// Lowers the header entries of the window, so that tests reach its end.
    #[cfg(test)]
    pub fn set_header_budget(&self, entries: usize) {
        self.header_budget.store(entries, Ordering::Relaxed);
    }

    /// Makes every backlog count answer again for `serves`, as a slow one would.
    #[cfg(test)]
    pub fn reuse_every_count(&self, serves: Duration) {
        self.lock().reuse_every_count = Some(serves);
    }

    /// Header entries in memory now.
    #[cfg(test)]
    pub fn cached_header_entries(&self) -> usize {
        self.lock().headers.values().map(|h| h.len()).sum()
    }

    /// Creates the directories of the layout (`upgrade`).
    pub fn create_dirs(&self) -> io::Result<()> {
        create_dir_durable(&self.dir)?;
        create_dir_durable(&self.consumed_dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is caches and facts; a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pack of one call's batches; `None` when they are all empty.
    pub fn encode(&self, batches: &[(Uuid, Vec<Measure>)]) -> Result<Option<Vec<u8>>> {
        pack::encode(batches, self.sacks).map_err(|()| {
            InvalidLayoutSnafu {
                what: "measures in one call",
                value: i64::MAX,
                expected: "at most 4294967295",
            }
            .build()
        })
    }

    /// Puts a pack in place under a fresh name; durable after the next sync round. Its header
    /// is kept while the headers kept hold fewer than [`PLACED_HEADER_ENTRIES`] entries, so
    /// that the next listing (`/v1/status`, in the API) need not read it back.
    pub fn place(&self, pack: &[u8]) -> Result<()> {
        let name = batch_name();
        let path = self.dir.join(&name);
        place_file(&self.dir, &path, pack).with_context(io_at("write pack", &path))?;
        let header = Header::parse(pack, pack.len() as u64, self.sacks).ok();
        let mut state = self.lock();
        state.forget_listing();
        if let Some(header) = header {
            if state.header_entries + header.len() <= PLACED_HEADER_ENTRIES {
                state.header_entries += header.len();
                state.headers.insert(name.into(), Arc::new(header));
            }
        }
        Ok(())
    }

    /// The packs in the window, from a listing of the directory: the oldest live packs, in
    /// arrival order, whose headers hold at most the header budget of entries (at least one
    /// pack). Newer packs wait until older ones are consumed and deleted, so that neither the
    /// headers kept nor those read per listing grow with the backlog.
    fn live(&self) -> Result<Live> {
        Ok(self.window()?.0)
    }

    /// [`Self::live`], and the names of the newer packs, beyond the window; from a listing
    /// begun at most [`LISTING_REUSE`] ago, or longer for a listing that was slow to make.
    fn window(&self) -> Result<Window> {
        let changes = {
            let state = self.lock();
            if let Some(window) = Reusable::current(&state.listed) {
                return Ok(window);
            }
            state.changes
        };
        let began = Instant::now();
        let mut names = list_packs(&self.dir)?;
        names.sort_unstable();
        let serves = (began.elapsed() * LISTING_COST_RATIO).clamp(LISTING_REUSE, LISTING_REUSE_MAX);
        let budget = self.header_budget.load(Ordering::Relaxed);
        let mut live = Vec::new();
        let mut entries = 0;
        let mut names = names.into_iter();
        let mut beyond = Vec::new();
        while let Some(name) = names.next() {
            let cached = self
                .lock()
                .headers
                .get_key_value(name.as_str())
                .map(|(n, h)| (Arc::clone(n), Arc::clone(h)));
            let (name, header) = match cached {
                Some(known) => known,
                None => match self.read_header(&name)? {
                    Some(header) => (Arc::<str>::from(name), Arc::new(header)),
                    None => continue,
                },
            };
            if !live.is_empty() && entries + header.len() > budget {
                beyond.push(name.to_string());
                beyond.extend(names);
                break;
            }
            entries += header.len();
            live.push((name, header));
        }
        let mut state = self.lock();
        match (live.first(), live.last()) {
            (Some((first, _)), Some((last, _))) => {
                // Headers of deleted packs inside the window go once the window passes them.
                state
                    .headers
                    .retain(|n, _| (&**first..=&**last).contains(&&**n));
            }
            _ => state.headers.clear(),
        }
        for (name, header) in &live {
            state
                .headers
                .entry(Arc::clone(name))
                .or_insert_with(|| Arc::clone(header));
        }
        state.header_entries = state.headers.values().map(|h| h.len()).sum();
        let window = (Arc::new(live), Arc::new(beyond));
        // Only ever a newer listing: a commit marks whole the packs of its listing that the
        // sack consumed, so it should see every pack the read it commits saw.
        let newer = state.listed.as_ref().is_none_or(|l| l.began < began);
        if state.changes == changes && newer {
            state.listed = Some(Reusable::new(began, serves, window.clone()));
        }
        Ok(window)
    }

    /// Reads a pack's header; `None` when the pack is gone or was torn (then quarantined).
    fn read_header(&self, name: &str) -> Result<Option<Header>> {
        let path = self.dir.join(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(io_at("open pack", &path)),
        };
        let len = file
            .metadata()
            .with_context(io_at("stat pack", &path))?
            .len();
        let mut want = HEADER_READ.min(len as usize).max(pack::PREFIX_BYTES);
        loop {
            let mut prefix = vec![0; want.min(len as usize)];
            file.read_exact_at(&mut prefix, 0)
                .with_context(io_at("read pack header", &path))?;
            match Header::parse(&prefix, len, self.sacks) {
                Ok(header) => return Ok(Some(header)),
                Err(ParseError::Need(n)) if n > prefix.len() && (n as u64) <= len => want = n,
                Err(ParseError::Need(_)) => {
                    self.quarantine(name, &path, "shorter than its header");
                    return Ok(None);
                }
                Err(ParseError::Invalid(why)) => {
                    self.quarantine(name, &path, why);
                    return Ok(None);
                }
            }
        }
    }

    /// Moves a torn pack out of the way, so it neither blocks its sacks nor is lost without a
    /// trace. Best effort: another process may have moved it first.
    #[allow(clippy::disallowed_methods)] // A move lost in a crash is only done again.
    fn quarantine(&self, name: &str, path: &Path, why: &str) {
        let target = self.quarantine.join(format!("pack_{name}"));
        warn!(
            pack = name,
            why,
            quarantine = %target.display(),
            "Skipped an incoming pack that cannot be read; it is moved to the quarantine directory."
        );
        if let Err(error) =
            create_dir_durable(&self.quarantine).and_then(|()| fs::rename(path, &target))
        {
            if error.kind() != io::ErrorKind::NotFound {
                warn!(pack = name, %error, "Cannot quarantine the pack.");
            }
        }
    }

    fn consumed_path(&self, sack: u32) -> PathBuf {
        self.consumed_dir.join(sack_name(self.sacks, sack))
    }

    /// The committed consumed file of `sack` (none yet: nothing consumed), as far as it
    /// concerns the packs of `live` and newer ones.
    fn consumed_file(&self, sack: u32, live: &Live) -> Result<Consumed> {
        let Some((floor, _)) = live.first() else {
            return Ok(Consumed::default());
        };
        let path = self.consumed_path(sack);
        match fs::read(&path) {
            Ok(bytes) => Ok(Consumed::parse_from(
                &String::from_utf8_lossy(&bytes),
                floor,
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Consumed::default()),
            Err(e) => Err(e).with_context(io_at("read consumed file", &path)),
        }
    }

    /// Runs `f` with what `sack` has consumed of the packs of `live` as this process sees it:
    /// the committed file and its own acks (`f` runs under the state lock, so it must not call
    /// back into `self`).
    fn with_consumed<R>(
        &self,
        sack: u32,
        live: &Live,
        f: impl FnOnce(&SackConsumed<'_>) -> R,
    ) -> Result<R> {
        let file = self.consumed_file(sack, live)?;
        let state = self.lock();
        let acked = state.acked.get(&sack);
        Ok(f(&SackConsumed { file: &file, acked }))
    }

    /// Pending batches per metric of `sack`.
    pub fn sack_backlog(&self, sack: u32) -> Result<Counts> {
        let live = self.live()?;
        let mut counts = self.count(&live, sack..sack + 1)?;
        Ok(counts.pop().unwrap_or_default())
    }

    /// Pending batches per metric of every sack: those of the window, and every batch of the
    /// packs beyond it, whose headers are read one at a time and not kept. (No process reads
    /// past its window, so those are pending, but for a process that saw a window a little
    /// further on: an overcount until the next `tidy`, never a backlog reported empty.) A
    /// slow count answers again for a while ([`BACKLOG_COST_RATIO`]): what other processes
    /// did meanwhile shows late, what this one did shows at once.
    pub fn backlog(&self) -> Result<Vec<Counts>> {
        let edits = {
            let state = self.lock();
            if let Some(counts) = Reusable::current(&state.counted) {
                return Ok(counts);
            }
            state.edits
        };
        let began = Instant::now();
        let counts = self.count_backlog()?;
        let mut state = self.lock();
        if let Some(serves) = state.count_serves(began.elapsed()) {
            if state.edits == edits {
                state.counted = Some(Reusable::new(began, serves, counts.clone()));
            }
        }
        Ok(counts)
    }

    fn count_backlog(&self) -> Result<Vec<Counts>> {
        let (live, beyond) = self.window()?;
        // A walk over the headers per [`SACKS_PER_WALK`] sacks, with their consumed files: a
        // walk per sack touched every header 128 times (20 ms for 1,440 packs), and all the
        // files at once held a record per pack and sack during a drain (20 MiB).
        let mut counts = Vec::with_capacity(self.sacks as usize);
        for first in (0..self.sacks).step_by(SACKS_PER_WALK as usize) {
            counts.extend(self.count(&live, first..self.sacks.min(first + SACKS_PER_WALK))?);
        }
        for name in beyond.iter() {
            if let Some(header) = self.read_header(name)? {
                for e in header.entries() {
                    *counts[e.sack as usize].entry(e.metric).or_insert(0) += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Pending batches per metric of each of `sacks`, in one walk over the headers.
    fn count(&self, live: &Live, sacks: Range<u32>) -> Result<Vec<Counts>> {
        let mut counts = vec![Counts::default(); sacks.len()];
        if live.is_empty() {
            return Ok(counts);
        }
        let files = sacks
            .clone()
            .map(|sack| self.consumed_file(sack, live))
            .collect::<Result<Vec<_>>>()?;
        let state = self.lock();
        for (name, header) in live.iter() {
            let entries = header.entries();
            let start = entries.partition_point(|e| e.sack < sacks.start);
            let end = entries.partition_point(|e| e.sack < sacks.end);
            // The entries of a pack come in runs of one sack.
            for run in entries[start..end].chunk_by(|a, b| a.sack == b.sack) {
                let at = (run[0].sack - sacks.start) as usize;
                let consumed = SackConsumed {
                    file: &files[at],
                    acked: state.acked.get(&run[0].sack),
                }
                .of_pack(name);
                for e in run.iter().filter(|e| !consumed.contains(&e.metric)) {
                    *counts[at].entry(e.metric).or_insert(0) += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Appends `metric`'s pending batches, pack after pack in arrival order.
    pub fn read(&self, metric: Uuid, pending: &mut PendingBatches) -> Result<()> {
        let sack = sack_of(metric, self.sacks);
        let located = if self.lock().held.contains_key(&sack) {
            self.index_sack(sack)?;
            let state = self.lock();
            let index = state.held.get(&sack).and_then(Option::as_ref);
            index.and_then(|i| i.metrics.get(&metric).cloned())
        } else {
            Some(self.locate(metric)?)
        };
        for Located { pack, records } in located.unwrap_or_default() {
            match records {
                Records::Loaded { run, at, len } => {
                    decode_batch(&run[at..at + len], &mut pending.measures).expect("whole records");
                }
                Records::InFile { offset, len } => {
                    let path = self.dir.join(&*pack);
                    // Gone: deleted by `tidy`, so consumed by every sack meanwhile.
                    let Some(records) = read_at(&path, offset, len)? else {
                        continue;
                    };
                    decode_batch(&records, &mut pending.measures).expect("whole records");
                }
            }
            pending.token.push(format!("{TOKEN_PREFIX}{pack}"));
        }
        Ok(())
    }

    /// The unconsumed entries of `metric`, from a fresh listing.
    fn locate(&self, metric: Uuid) -> Result<Vec<Located>> {
        let sack = sack_of(metric, self.sacks);
        let live = self.live()?;
        self.with_consumed(sack, &live, |consumed| {
            let mut out = Vec::new();
            for (name, header) in live.iter() {
                let entries = header.sack_entries(sack);
                let Some(e) = entries.iter().find(|e| e.metric == metric) else {
                    continue;
                };
                if !consumed.of_pack(name).contains(&metric) {
                    let (offset, len) = header.entry_span(e);
                    let records = Records::InFile { offset, len };
                    out.push(Located {
                        pack: Arc::clone(name),
                        records,
                    });
                }
            }
            out
        })
    }

    /// Builds the index of held `sack` unless it has one, and with it those of the other held
    /// sacks that have none yet: every unconsumed entry, with the records of those sacks in
    /// each pack read in one piece per stretch of adjacent runs while within the memory budget.
    fn index_sack(&self, sack: u32) -> Result<()> {
        let _loading = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        let mut sacks: Vec<u32> = {
            let state = self.lock();
            if !matches!(state.held.get(&sack), Some(None)) {
                return Ok(());
            }
            let unindexed = state.held.iter().filter(|(_, index)| index.is_none());
            unindexed.map(|(sack, _)| *sack).collect()
        };
        sacks.sort_unstable();
        let live = self.live()?;
        let mut entries = Vec::new();
        // Per pack, the runs of its sacks with unconsumed entries, in sack order.
        let mut runs: Vec<Vec<(u64, usize)>> = vec![Vec::new(); live.len()];
        for &sack in &sacks {
            self.with_consumed(sack, &live, |consumed| {
                for ((name, header), runs) in live.iter().zip(runs.iter_mut()) {
                    let consumed = consumed.of_pack(name);
                    let before = entries.len();
                    for e in header.sack_entries(sack) {
                        if !consumed.contains(&e.metric) {
                            entries.push((e.metric, Arc::clone(name), header.entry_span(e)));
                        }
                    }
                    if entries.len() > before {
                        runs.extend(header.sack_span(sack));
                    }
                }
            })?;
        }
        let mut loaded: HashMap<Arc<str>, Vec<Chunk>> = HashMap::new();
        let mut gone = HashSet::new();
        let mut budget = self.index_budget.load(Ordering::Relaxed);
        'packs: for ((name, _), runs) in live.iter().zip(runs) {
            for (offset, len) in adjacent_stretches(runs) {
                if len > budget {
                    break 'packs;
                }
                match read_at(&self.dir.join(&**name), offset, len)? {
                    Some(run) => {
                        budget -= len;
                        let chunks = loaded.entry(Arc::clone(name)).or_default();
                        chunks.push((offset, Arc::new(run)));
                    }
                    None => {
                        gone.insert(Arc::clone(name));
                        continue 'packs;
                    }
                }
            }
        }
        let mut indexes: HashMap<u32, SackIndex> = HashMap::new();
        for (metric, pack, (offset, len)) in entries {
            if gone.contains(&pack) {
                continue;
            }
            let chunk = loaded.get(&pack).and_then(|chunks| {
                chunks
                    .iter()
                    .find(|(at, run)| (*at..*at + run.len() as u64).contains(&offset))
            });
            let records = match chunk {
                Some((at, run)) => Records::Loaded {
                    run: Arc::clone(run),
                    at: (offset - at) as usize,
                    len,
                },
                None => Records::InFile { offset, len },
            };
            let index = indexes.entry(sack_of(metric, self.sacks)).or_default();
            let located = Located { pack, records };
            index.metrics.entry(metric).or_default().push(located);
        }
        let mut state = self.lock();
        for sack in sacks {
            if let Some(slot @ None) = state.held.get_mut(&sack) {
                *slot = Some(indexes.remove(&sack).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Records that `metric`'s entries named by `tokens` are consumed (committed by
    /// [`Self::commit`]).
    pub fn ack(&self, metric: Uuid, tokens: &[&str]) {
        let sack = sack_of(metric, self.sacks);
        let mut state = self.lock();
        state.forget_count();
        let acked = state.acked.entry(sack).or_default();
        for pack in tokens {
            acked.mark(pack, metric);
        }
        // Everything the index listed for the metric was read, so it is all acknowledged.
        if let Some(Some(index)) = state.held.get_mut(&sack) {
            index.metrics.remove(&metric);
        }
    }

    /// Records every pending entry of `metric` as consumed (committed by [`Self::commit`]).
    pub fn delete_metric(&self, metric: Uuid) -> Result<()> {
        let sack = sack_of(metric, self.sacks);
        let live = self.live()?;
        let packs: Vec<&str> = live
            .iter()
            .filter(|(_, h)| h.sack_entries(sack).iter().any(|e| e.metric == metric))
            .map(|(n, _)| &**n)
            .collect();
        self.ack(metric, &packs);
        Ok(())
    }

    /// Writes what this process acked of `sack` into its consumed file. The caller holds the
    /// sack lock, so no other process rewrites the file meanwhile.
    pub fn commit(&self, sack: u32) -> Result<()> {
        let Some(acked) = self.lock().acked.get(&sack).cloned() else {
            return Ok(());
        };
        let live = self.live()?;
        let path = self.consumed_path(sack);
        // Read afresh: the file is only trusted whole under the lock.
        let mut consumed = self.consumed_file(sack, &live)?;
        consumed.merge(&acked);
        let headers: HashMap<&str, &Header> = live.iter().map(|(n, h)| (&**n, &**h)).collect();
        let newest = live.last().map_or("", |(name, _)| &**name);
        consumed.settle(newest, |pack| {
            headers.get(pack).map(|h| h.sack_entries(sack))
        });
        place_file(&self.consumed_dir, &path, consumed.render().as_bytes())
            .with_context(io_at("write consumed file", &path))?;
        let mut state = self.lock();
        state.forget_count();
        if state.acked.get(&sack) == Some(&acked) {
            state.acked.remove(&sack);
        }
        Ok(())
    }

    /// Deletes the packs that every sack of theirs has consumed; returns how many.
    pub fn tidy(&self) -> Result<usize> {
        let live = self.live()?;
        if live.is_empty() {
            return Ok(0);
        }
        // One consumed file in memory at a time: a pack stays when any of its sacks has not
        // consumed it whole.
        let mut pending = vec![false; live.len()];
        for sack in 0..self.sacks {
            let mut consumed = None;
            for (i, (name, header)) in live.iter().enumerate() {
                if pending[i] || header.sack_span(sack).is_none() {
                    continue;
                }
                let consumed = match &consumed {
                    Some(c) => c,
                    None => consumed.insert(self.consumed_file(sack, &live)?),
                };
                pending[i] = !consumed.has_all(name);
            }
        }
        let mut deleted = 0;
        for ((name, _), pending) in live.iter().zip(pending) {
            if !pending {
                let path = self.dir.join(&**name);
                remove_file_if_exists(&path).with_context(io_at("delete pack", &path))?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            self.lock().forget_listing();
            self.live()?;
        }
        Ok(deleted)
    }

    /// Forgets this process's uncommitted acks of `sack`, and its index, whose entries of acked
    /// metrics are gone: the next read sees those batches pending again.
    pub fn abandon(&self, sack: u32) {
        let mut state = self.lock();
        state.forget_count();
        state.acked.remove(&sack);
        if let Some(index) = state.held.get_mut(&sack) {
            *index = None;
        }
    }

    /// Marks `sack` held by this process: it may keep an index of it until [`Self::release`].
    pub fn hold(&self, sack: u32) {
        self.lock().held.insert(sack, None);
    }

    /// Forgets the index of `sack` (its lock is being released).
    pub fn release(&self, sack: u32) {
        self.lock().held.remove(&sack);
    }
}

/// Whether `name` can be a pack of ours (and is safe to join to the packs directory).
pub(super) fn is_pack_name(name: &str) -> bool {
    super::is_batch_name(name)
}

/// The pack names in `dir` (temporary files and foreign entries are skipped).
fn list_packs(dir: &Path) -> Result<Vec<String>> {
    let mut names = dir_names(dir, "list packs")?;
    names.retain(|name| is_pack_name(name));
    Ok(names)
}

/// The (offset, len) spans, in file order, merged where one ends where the next begins.
fn adjacent_stretches(spans: Vec<(u64, usize)>) -> Vec<(u64, usize)> {
    let mut out: Vec<(u64, usize)> = Vec::with_capacity(spans.len());
    for (offset, len) in spans {
        match out.last_mut() {
            Some((at, n)) if *at + *n as u64 == offset => *n += len,
            _ => out.push((offset, len)),
        }
    }
    out
}

/// `len` bytes at `offset` of the pack at `path`; `None` when the pack is gone.
fn read_at(path: &Path, offset: u64, len: usize) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(io_at("open pack", path)),
    };
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, offset)
        .with_context(io_at("read pack", path))?;
    Ok(Some(bytes))
}

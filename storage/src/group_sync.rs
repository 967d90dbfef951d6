//! Group commit: concurrent writers on one filesystem share each `syncfs(2)`.
//!
//! A writer that has put its files in place (written, renamed, not fsynced) calls
//! [`GroupSync::sync`]; it returns once a filesystem sync that *started after the call* has
//! completed, so everything the writer did before the call is on stable storage. While one sync
//! runs, the writers arriving meanwhile wait and are all covered by the next one: under load
//! the cost is one journal commit per round, not three fsyncs per file.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Shares `syncfs` calls on the filesystem holding one directory among concurrent writers.
#[derive(Debug)]
pub(crate) struct GroupSync {
    /// Any file of the filesystem: `syncfs` acts on the filesystem of the descriptor.
    anchor: File,
    state: Mutex<Rounds>,
    round_done: Condvar,
}

#[derive(Debug, Default)]
struct Rounds {
    /// Number of sync rounds started so far (the current one included).
    started: u64,
    /// The highest round number finished.
    finished: u64,
    /// Whether a round is in progress.
    running: bool,
    /// The latest round that failed, with its error, reported to every writer it covered.
    failed: Option<(u64, io::ErrorKind, String)>,
}

impl GroupSync {
    /// A group sync for the filesystem holding `dir`.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        Ok(Self {
            anchor: File::open(dir)?,
            state: Mutex::new(Rounds::default()),
            round_done: Condvar::new(),
        })
    }

    /// Blocks until everything written to the filesystem before this call is durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let mut rounds = self.lock();
        // Only a round that starts after this point is known to cover this writer's files.
        let needed = rounds.started + 1;
        loop {
            if rounds.finished >= needed {
                return match &rounds.failed {
                    Some((round, kind, message)) if *round >= needed => {
                        Err(io::Error::new(*kind, message.clone()))
                    }
                    _ => Ok(()),
                };
            }
            if rounds.running {
                rounds = self
                    .round_done
                    .wait(rounds)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            // Lead a round: every writer waiting now is covered by it.
            rounds.running = true;
            rounds.started += 1;
            let round = rounds.started;
            drop(rounds);
            let result = rustix::fs::syncfs(&self.anchor).map_err(io::Error::from);
            rounds = self.lock();
            rounds.running = false;
            rounds.finished = round;
            if let Err(e) = &result {
                rounds.failed = Some((round, e.kind(), e.to_string()));
            }
            self.round_done.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Rounds> {
        // The state is a few counters updated together: a panic elsewhere cannot tear it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn concurrent_writers_share_rounds_and_all_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sync = Arc::new(GroupSync::open(dir.path()).expect("open"));
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let (sync, path) = (Arc::clone(&sync), dir.path().join(format!("f{i}")));
                thread::spawn(move || {
                    for round in 0..5 {
                        std::fs::File::create(&path).expect("create");
                        sync.sync().expect("sync");
                        assert!(path.exists(), "file of round {round} visible after sync");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let rounds = sync.lock();
        assert!(!rounds.running);
        assert_eq!(rounds.started, rounds.finished);
        // 80 calls, never more rounds than calls; sharing makes it fewer whenever calls overlap.
        assert!((1..=80).contains(&rounds.finished), "{}", rounds.finished);
        assert!(rounds.failed.is_none());
    }
}

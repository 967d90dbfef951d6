//! One memory budget for all the SQLite connections of a process.

/// Bytes of SQLite memory (page caches, statements) in a process above which SQLite reuses its
/// least recently used cache pages instead of allocating more. A process has a dozen or more
/// connections (the indexer pool, a writer and readers per packed shard), and without a shared
/// budget each cache filled to its own size whatever the others held: 10 MiB of the API's heap
/// after a few seconds of queries. The files stay in the operating system's cache, so a page
/// read again costs a copy, not a disk read (docs/decisions.md).
const SOFT_HEAP_LIMIT: i64 = 4 << 20;

/// Sets [`SOFT_HEAP_LIMIT`] for the process: the limit belongs to the SQLite library, which the
/// indexer and the storage share, so any connection can set it.
pub fn limit_sqlite_memory() -> rusqlite::Result<()> {
    rusqlite::Connection::open_in_memory()?.pragma_update(None, "soft_heap_limit", SOFT_HEAP_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_for_every_connection() {
        limit_sqlite_memory().unwrap();
        let other = rusqlite::Connection::open_in_memory().unwrap();
        let limit: i64 = other
            .query_row("PRAGMA soft_heap_limit", [], |row| row.get(0))
            .unwrap();
        assert_eq!(limit, SOFT_HEAP_LIMIT);
    }
}

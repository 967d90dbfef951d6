//! The tokio runtime of the services.

use std::io;

/// Threads per CPU that run blocking work (storage I/O, aggregation) at once. Each keeps its
/// own allocator cache and may hold a storage connection; tokio's default of 512 let metricd's
/// in-flight metrics start one thread each.
const BLOCKING_THREADS_PER_CPU: usize = 8;

/// A multi-threaded runtime whose blocking pool is bounded by the CPU count.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cpus * BLOCKING_THREADS_PER_CPU)
        .build()
}

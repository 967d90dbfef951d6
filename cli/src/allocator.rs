//! The allocator of the service programs.

/// Declares jemalloc as the program's global allocator, with the tuning of
/// [`JEMALLOC_CONF`](crate::allocator::JEMALLOC_CONF).
///
/// jemalloc returns freed pages to the system; glibc's per-thread arenas kept growing under a
/// sustained load (docs/decisions.md). It also serves the C code linked in (SQLite), whose
/// allocations would otherwise sit in glibc arenas of their own.
#[macro_export]
macro_rules! service_allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

        // jemalloc reads its options from this symbol at start-up (it is built unprefixed, as
        // the process's `malloc`); `MALLOC_CONF` in the environment still overrides them.
        #[allow(unsafe_code, non_upper_case_globals)]
        #[export_name = "malloc_conf"]
        static malloc_conf: &[u8; $crate::allocator::JEMALLOC_CONF.len()] =
            $crate::allocator::JEMALLOC_CONF;
    };
}

/// jemalloc's options, NUL-terminated (the length is checked by the type). One arena instead
/// of four per CPU, and freed pages returned within a second by a background thread rather than
/// after ten seconds on later allocations: the services hold their bursts (a batch body, a
/// query's splits) for milliseconds, and a peak kept for seconds is RSS for nothing. Thread
/// caches keep objects up to 4 KiB instead of 32 KiB: each of the few dozen threads kept
/// several large size classes cached, about 10 MiB per process for no measured speed
/// (docs/decisions.md).
pub const JEMALLOC_CONF: &[u8; 86] =
    b"narenas:1,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:4096\0";

//! The process's memory allocator and its figures.
//!
//! With the default `jemalloc` feature the whole process (server, worker,
//! CLI and the tests that link this crate) allocates through jemalloc, C
//! code's `malloc` included (SQLite's page caches), with its background
//! threads on: they hand freed pages back to the system gradually, where
//! glibc's per-thread arenas kept the peak of a burst (the demo's first-run
//! seeding) for the life of the process. The figures are in
//! docs/benchmarks.md ("Memory: the demo's first-run seeding").

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What the allocator holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes in pages the allocator has handed out (allocated plus
    /// fragmentation inside them).
    pub active: u64,
    /// Bytes of physical memory the allocator maps (what RSS sees).
    pub resident: u64,
}

/// Turns on jemalloc's background purging. Call once at start-up.
pub fn init() {
    #[cfg(feature = "jemalloc")]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("could not start jemalloc's background threads: {e}");
    }
}

/// The allocator's current figures (`None` with the system allocator).
pub fn stats() -> Option<AllocStats> {
    #[cfg(feature = "jemalloc")]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        epoch::advance().ok()?;
        Some(AllocStats {
            allocated: stats::allocated::read().ok()? as u64,
            active: stats::active::read().ok()? as u64,
            resident: stats::resident::read().ok()? as u64,
        })
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        None
    }
}

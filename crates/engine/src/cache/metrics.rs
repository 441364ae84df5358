//! The cache's counters, in one place: each event updates this process's
//! [`CacheStats`] (for `kiln bench` and tests) and the `metrics` facade
//! (rendered by the server's Prometheus recorder; a no-op without one).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counter of lookups that found a usable entry, labelled `language`.
pub const HITS: &str = "code_execution_compile_cache_hits_total";
/// Counter of lookups that did not, labelled `language`.
pub const MISSES: &str = "code_execution_compile_cache_misses_total";
/// Counter of entries removed to stay within the byte budget.
pub const EVICTIONS: &str = "code_execution_compile_cache_evictions_total";
/// Counter of entries found corrupt on read (and removed).
pub const CORRUPT: &str = "code_execution_compile_cache_corrupt_total";
/// Gauge of the bytes of entries on disk, as of the last scan.
pub const BYTES: &str = "code_execution_compile_cache_bytes";

pub fn describe_metrics() {
    ::metrics::describe_counter!(HITS, "Compile steps answered by the compile cache");
    ::metrics::describe_counter!(MISSES, "Compile steps the compile cache could not answer");
    ::metrics::describe_counter!(
        EVICTIONS,
        "Compile cache entries removed to stay within the byte budget"
    );
    ::metrics::describe_counter!(
        CORRUPT,
        "Compile cache entries that failed their hash check (removed)"
    );
    ::metrics::describe_gauge!(
        BYTES,
        ::metrics::Unit::Bytes,
        "Bytes of compile cache entries on disk at the last scan"
    );
}

/// What the cache did, as this process saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub stores: u64,
    pub evictions: u64,
    pub corrupt: u64,
    /// Bytes on disk: the last scan's total plus this process's writes since.
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub(super) struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    evictions: AtomicU64,
    corrupt: AtomicU64,
}

impl Stats {
    pub(super) fn lookup(&self, language: &str, hit: bool) {
        let (name, n) = if hit {
            (HITS, &self.hits)
        } else {
            (MISSES, &self.misses)
        };
        n.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(name, "language" => language.to_string()).increment(1);
    }

    pub(super) fn stored(&self) {
        self.stores.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn evicted(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(EVICTIONS).increment(1);
    }

    pub(super) fn corrupt(&self) {
        self.corrupt.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(CORRUPT).increment(1);
    }

    pub(super) fn snapshot(&self, bytes: u64) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stores: self.stores.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
            bytes,
        }
    }
}

pub(super) fn bytes(total: u64) {
    ::metrics::gauge!(BYTES).set(total as f64);
}

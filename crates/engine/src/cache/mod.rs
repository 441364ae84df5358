//! The compile cache: content-addressed compile results on disk.
//!
//! The key ([`key`]) is a SHA-256 of everything that can change what a
//! compile step produces; the value ([`entry`]) is what that step produced:
//! its exit code, CPU and wall time, peak memory, output, and the files it
//! left in the box's working directory for the run step (how they are
//! collected and put back is `crate::compile`). A hit skips the compile box;
//! the artifacts are written into the run's box as the compiler left them.
//!
//! On disk (under [`CompileCacheConfig::dir`], mode 0700, never bound into a
//! box): `entries/<2 hex>/<64 hex>`, one file per key, and `tmp/`, where an
//! entry is written before it is renamed into place, so a reader sees a whole
//! entry or none; two writers of one key each rename a whole file of the
//! same content, so several processes and nodes may share the directory. An
//! entry is checked against its SHA-256 on every read; one that fails is a
//! miss and is removed. Recency is the file's mtime (refreshed on a hit, at
//! most once a minute); when the bytes on disk go over the budget, the least
//! recently used entries are removed down to 90 % of it. The total is known
//! from a scan of the directory, redone when this process's estimate goes
//! over the budget or it has written a sixteenth of the budget since the
//! last scan (so the writes of other nodes sharing the directory are seen).
//!
//! Only outcomes that depend on the inputs alone are stored: a compile that
//! ended by itself, successfully or with errors, never one a limit or a
//! signal stopped; and a hit whose output is over the submission's output
//! cap is not used (that compile would have been stopped): the output cap is
//! the one compile limit left out of the key.

pub mod entry;
pub mod key;
mod metrics;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub use entry::{Artifact, Entry};
pub use key::{Key, KeyInputs};
pub use metrics::{describe_metrics, CacheStats, BYTES, CORRUPT, EVICTIONS, HITS, MISSES};

use crate::config::CompileCacheConfig;

/// Temporary files older than this are left by a process that died while
/// writing; younger ones may belong to a writer still at work.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// A hit refreshes an entry's mtime only when it is older than this.
const TOUCH_AFTER: Duration = Duration::from_secs(60);

/// The cache directory could not be made ready (the message says why; the
/// I/O error is part of it, not a separate cause).
#[derive(Debug, thiserror::Error)]
#[error("compile cache directory {dir}: {error}")]
pub struct CacheError {
    dir: PathBuf,
    error: std::io::Error,
}

/// One node's handle on a cache directory. Its methods do blocking file
/// I/O: call them from a blocking thread.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
    stats: metrics::Stats,
    /// Bytes on disk at the last scan plus what this process wrote since.
    bytes: AtomicU64,
    written_since_scan: AtomicU64,
    scanned: AtomicBool,
    scanning: Mutex<()>,
    tmp_seq: AtomicU64,
}

impl CompileCache {
    /// Opens (creating) the cache directory.
    pub fn open(cfg: &CompileCacheConfig) -> Result<CompileCache, CacheError> {
        let err = |error| CacheError {
            dir: cfg.dir.clone(),
            error,
        };
        for sub in ["entries", "tmp"] {
            std::fs::create_dir_all(cfg.dir.join(sub)).map_err(err)?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg.dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        Ok(CompileCache {
            dir: cfg.dir.clone(),
            max_bytes: cfg.max_bytes,
            stats: metrics::Stats::default(),
            bytes: AtomicU64::new(0),
            written_since_scan: AtomicU64::new(0),
            scanned: AtomicBool::new(false),
            scanning: Mutex::new(()),
            tmp_seq: AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The largest entry stored: an eighth of the budget, at most 128 MiB.
    pub fn max_entry_bytes(&self) -> u64 {
        (self.max_bytes / 8).min(128 << 20)
    }

    /// Hits, misses, evictions and bytes so far (this process's view).
    pub fn stats(&self) -> CacheStats {
        self.stats.snapshot(self.bytes.load(Ordering::Relaxed))
    }

    fn path_of(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join("entries").join(&hex[..2]).join(hex)
    }

    /// Counts a lookup of `language` as a hit or a miss (the caller decides:
    /// an entry it cannot use is a miss).
    pub fn count(&self, language: &str, hit: bool) {
        self.stats.lookup(language, hit);
    }

    /// The entry of `key`, checked against its hash; a corrupt one is
    /// removed and reads as none.
    pub fn get(&self, key: &Key) -> Option<Entry> {
        let path = self.path_of(key);
        let mut f = File::open(&path).ok()?;
        let meta = f.metadata().ok()?;
        // An entry bigger than this node would store (one written by a node
        // with a larger budget, in a shared directory) is left alone.
        if meta.len() > self.max_entry_bytes() + (8 << 20) {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        if let Err(e) = f.read_to_end(&mut bytes) {
            tracing::warn!(path = %path.display(), error = %e, "reading a compile cache entry");
            return None;
        }
        match Entry::decode(&bytes, key) {
            Ok(entry) => {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_none_or(|age| age > TOUCH_AFTER);
                if old {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(entry)
            }
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "corrupt compile cache entry removed");
                if std::fs::remove_file(&path).is_ok() {
                    self.bytes.fetch_sub(
                        meta.len().min(self.bytes.load(Ordering::Relaxed)),
                        Ordering::Relaxed,
                    );
                }
                self.stats.corrupt();
                None
            }
        }
    }

    /// Stores `entry` under `key` (temporary file, then rename). An entry
    /// over [`CompileCache::max_entry_bytes`] is not stored. Errors are
    /// logged: a cache that cannot write only misses. Returns whether a
    /// [`CompileCache::scan_and_evict`] is due (never scanned yet, over the
    /// budget, or a sixteenth of it written since the last scan), which the
    /// caller runs when it suits it (the engine: after the submission's slot
    /// is free).
    #[must_use = "a due scan keeps the cache within its budget"]
    pub fn put(&self, key: &Key, entry: &Entry) -> bool {
        if entry.payload_len() > self.max_entry_bytes() {
            return false;
        }
        let bytes = entry.encode(key);
        if let Err(e) = self.write(key, &bytes) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "writing a compile cache entry");
            return false;
        }
        let len = bytes.len() as u64;
        let total = self.bytes.fetch_add(len, Ordering::Relaxed) + len;
        let since = self.written_since_scan.fetch_add(len, Ordering::Relaxed) + len;
        self.stats.stored();
        metrics::bytes(total);
        !self.scanned.load(Ordering::Relaxed)
            || total > self.max_bytes
            || since > self.max_bytes / 16
    }

    fn write(&self, key: &Key, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join("tmp").join(format!(
            "{}.{}.{}",
            key.hex(),
            std::process::id(),
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = File::options().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            let dest = self.path_of(key);
            std::fs::create_dir_all(dest.parent().expect("entries/<xx>"))?;
            std::fs::rename(&tmp, &dest)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Lists every entry, removes stale temporary files, and when the total
    /// is over the budget removes the least recently used entries down to
    /// 90 % of it. One scan at a time in this process.
    pub fn scan_and_evict(&self) {
        let Ok(_one) = self.scanning.try_lock() else {
            return;
        };
        self.written_since_scan.store(0, Ordering::Relaxed);
        remove_stale(&self.dir.join("tmp"));
        let mut entries = list_entries(&self.dir.join("entries"));
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        if total > self.max_bytes {
            let target = self.max_bytes / 10 * 9;
            entries.sort_by_key(|e| e.2);
            for (path, len, _) in entries {
                if total <= target {
                    break;
                }
                if std::fs::remove_file(&path).is_ok() {
                    total -= len;
                    self.stats.evicted();
                }
            }
        }
        self.bytes.store(total, Ordering::Relaxed);
        self.scanned.store(true, Ordering::Relaxed);
        metrics::bytes(total);
    }
}

/// (path, bytes, mtime) of every entry file.
fn list_entries(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else {
        return out;
    };
    for shard in shards.flatten() {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.flatten() {
            if let Ok(m) = f.metadata() {
                if m.is_file() {
                    let mtime = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    out.push((f.path(), m.len(), mtime));
                }
            }
        }
    }
    out
}

fn remove_stale(tmp: &Path) {
    let Ok(files) = std::fs::read_dir(tmp) else {
        return;
    };
    for f in files.flatten() {
        let stale = f
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > STALE_TMP);
        if stale {
            let _ = std::fs::remove_file(f.path());
        }
    }
}

#[cfg(test)]
mod tests;

//! Homes made ahead of time, so that a new workspace does not wait for
//! `mkfs.ext4` and `mount` (tens of ms each, and processes to start): for
//! each `disk_mb` of the templates, `warm_homes` workspace directories
//! `<store>/.pool/<disk_mb>-<n>/` are kept with the image formatted and
//! mounted and the home made (owned by root until claimed). Creating a
//! workspace renames one to `<store>/<id>` (a rename keeps the mount below
//! it) and a background task makes the next. The pool starts filling at the
//! first build of a workspace (or [`HomePool::prime`]), so a server that
//! never makes one pays nothing. A server that starts clears the pool a
//! previous one left (unmounting it).

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::disk::Disk;
use crate::error::{Result, WorkspaceError};

pub struct HomePool {
    dir: PathBuf,
    want: usize,
    sizes: Vec<u64>,
    ready: Mutex<HashMap<u64, Vec<PathBuf>>>,
    wake: tokio::sync::Notify,
    seq: AtomicU64,
    filling: AtomicBool,
    closed: AtomicBool,
}

impl HomePool {
    /// Clears what a previous process left in `<store>/.pool` and starts
    /// filling it (`want` homes of each size; none when `want` is 0).
    pub fn start(store_dir: &Path, want: usize, mut sizes: Vec<u64>) -> Result<Arc<HomePool>> {
        let dir = store_dir.join(".pool");
        if dir.exists() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let _ = Disk::of(&e.path()).detach();
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    tracing::warn!(path = %e.path().display(), error = %err, "removing a left-over warm home failed");
                }
            }
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| WorkspaceError::io(format!("create {}", dir.display()), e))?;
        sizes.sort_unstable();
        sizes.dedup();
        let pool = Arc::new(HomePool {
            dir,
            want,
            sizes,
            ready: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
            seq: AtomicU64::new(0),
            filling: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        Ok(pool)
    }

    /// Starts filling the pool (once; nothing when `warm_homes` is 0).
    pub fn prime(self: &Arc<Self>) {
        if self.want > 0 && !self.filling.swap(true, Ordering::SeqCst) {
            tokio::spawn(refill(Arc::downgrade(self)));
        }
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<PathBuf>>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many homes are ready, all sizes together.
    pub fn count(&self) -> usize {
        self.ready().values().map(Vec::len).sum()
    }

    /// Whether every size has all its homes.
    pub fn is_full(&self) -> bool {
        let r = self.ready();
        self.sizes
            .iter()
            .all(|s| r.get(s).map_or(0, Vec::len) >= self.want)
    }

    /// Stops filling and unmounts and removes every ready home (a process
    /// that ends on purpose, like a benchmark). Blocking.
    pub fn clear(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let all: Vec<PathBuf> = self.ready().drain().flat_map(|(_, v)| v).collect();
        for p in all {
            discard(&p);
        }
    }

    /// Moves a ready home of `disk_mb` to `ws_dir` (which must not exist);
    /// false when none is ready (the caller makes one). Blocking (a rename).
    pub fn claim(&self, disk_mb: u64, ws_dir: &Path) -> bool {
        let Some(p) = self.ready().get_mut(&disk_mb).and_then(Vec::pop) else {
            return false;
        };
        self.wake.notify_one();
        match std::fs::rename(&p, ws_dir) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(from = %p.display(), to = %ws_dir.display(), error = %e, "claiming a warm home failed");
                discard(&p);
                false
            }
        }
    }

    /// Makes one home of `disk_mb` in the pool. Blocking.
    fn make(&self, disk_mb: u64) -> Result<PathBuf> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let p = self.dir.join(format!("{disk_mb}-{n}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|e| WorkspaceError::io(format!("create {}", p.display()), e))?;
        Disk::of(&p).attach(disk_mb, 0)?;
        Ok(p)
    }

    /// The size that most needs a home, if any does.
    fn neediest(&self) -> Option<u64> {
        let r = self.ready();
        self.sizes
            .iter()
            .map(|s| (r.get(s).map_or(0, Vec::len), *s))
            .filter(|(have, _)| *have < self.want)
            .min()
            .map(|(_, s)| s)
    }
}

/// Unmounts and removes one warm home.
fn discard(p: &Path) {
    let _ = Disk::of(p).detach();
    let _ = std::fs::remove_dir_all(p);
}

/// Keeps the pool full: makes homes one at a time off the async threads,
/// and sleeps until a claim wakes it.
async fn refill(pool: Weak<HomePool>) {
    loop {
        let Some(p) = pool.upgrade() else { return };
        if p.closed.load(Ordering::SeqCst) {
            return;
        }
        let Some(size) = p.neediest() else {
            // A claim leaves a permit if it comes before this wait.
            p.wake.notified().await;
            continue;
        };
        let maker = p.clone();
        match tokio::task::spawn_blocking(move || maker.make(size)).await {
            Ok(Ok(home)) if p.closed.load(Ordering::SeqCst) => discard(&home),
            Ok(Ok(home)) => p.ready().entry(size).or_default().push(home),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "making a warm home failed; retrying in 5 s");
                drop(p);
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root only (mount): the pool fills, a claim moves a mounted home to
    /// the workspace's directory, and the pool makes the next one.
    #[tokio::test]
    async fn a_claimed_home_arrives_mounted_and_is_replaced() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to mount");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let pool = HomePool::start(d.path(), 1, vec![4]).unwrap();
        pool.prime();
        let wait_full = || async {
            for _ in 0..600 {
                if pool.is_full() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the pool never filled");
        };
        wait_full().await;
        let ws = d.path().join("ws-1");
        assert!(pool.claim(4, &ws));
        assert!(
            !pool.claim(8, &d.path().join("ws-2")),
            "no home of that size"
        );
        let disk = Disk::of(&ws);
        assert!(crate::disk::is_mount_point(&disk.mount));
        assert_eq!(disk.attach(4, 4242).unwrap(), ws.join("disk/home"));
        wait_full().await;
        disk.detach().unwrap();
        // A new pool clears (and unmounts) what the last one left.
        pool.clear();
        assert_eq!(pool.count(), 0);
        drop(pool);
        let again = HomePool::start(d.path(), 0, vec![4]).unwrap();
        assert_eq!(again.count(), 0);
        assert_eq!(
            std::fs::read_dir(d.path().join(".pool")).unwrap().count(),
            0
        );
    }
}

//! Unprivileged uids for boxes: each box runs as its own uid, distinct from
//! every other box alive at the same time, in this process or another Kiln
//! process on the host (an `flock` on a per-uid file is held for the box's life).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Result, SandboxError};

#[derive(Debug)]
pub struct UidPool {
    dir: PathBuf,
    first: u32,
    count: u32,
    cursor: AtomicU32,
}

/// A uid held for one box; released on drop.
#[derive(Debug)]
pub struct UidLease {
    pub uid: u32,
    _lock: Flock<File>,
}

impl UidPool {
    pub fn new(dir: PathBuf, first: u32, count: u32) -> Result<UidPool> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| SandboxError::io(format!("create {}", dir.display()), e))?;
        let start = std::process::id() % count.max(1);
        Ok(UidPool {
            dir,
            first,
            count,
            cursor: AtomicU32::new(start),
        })
    }

    pub fn acquire(&self) -> Result<UidLease> {
        for _ in 0..self.count {
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.count;
            let uid = self.first + i;
            let file = self.open_lock(uid)?;
            if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                return Ok(UidLease { uid, _lock: lock });
            }
        }
        Err(SandboxError::NoUid {
            first: self.first,
            last: self.first + self.count - 1,
        })
    }

    /// Takes exactly `uid` (a workspace keeps one uid for its life), which may
    /// lie outside the pool's range; fails if a live box holds it.
    pub fn acquire_exact(&self, uid: u32) -> Result<UidLease> {
        let file = self.open_lock(uid)?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map(|lock| UidLease { uid, _lock: lock })
            .map_err(|_| SandboxError::UidInUse(uid))
    }

    fn open_lock(&self, uid: u32) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(self.dir.join(format!("{uid}.lock")))
            .map_err(|e| SandboxError::io(format!("open uid lock in {}", self.dir.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_until_released() {
        let d = tempfile::tempdir().unwrap();
        let pool = UidPool::new(d.path().to_path_buf(), 70000, 3).unwrap();
        let a = pool.acquire().unwrap();
        let b = pool.acquire().unwrap();
        let c = pool.acquire().unwrap();
        let mut uids = vec![a.uid, b.uid, c.uid];
        uids.sort();
        assert_eq!(uids, vec![70000, 70001, 70002]);
        assert!(matches!(pool.acquire(), Err(SandboxError::NoUid { .. })));
        let freed = b.uid;
        drop(b);
        assert_eq!(pool.acquire().unwrap().uid, freed);
    }

    #[test]
    fn exact_uids_are_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let pool = UidPool::new(d.path().to_path_buf(), 70000, 3).unwrap();
        let a = pool.acquire_exact(90001).unwrap();
        assert_eq!(a.uid, 90001);
        assert!(matches!(
            pool.acquire_exact(90001),
            Err(SandboxError::UidInUse(90001))
        ));
        let any = pool.acquire().unwrap();
        assert!(matches!(
            pool.acquire_exact(any.uid),
            Err(SandboxError::UidInUse(_))
        ));
        drop(a);
        assert_eq!(pool.acquire_exact(90001).unwrap().uid, 90001);
    }
}

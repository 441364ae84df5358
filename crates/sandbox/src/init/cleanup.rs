//! Exits reaped and reported, and what a run leaves behind freed between
//! one-shot runs: its leftover processes, its `/tmp` and `/dev/shm`, and its
//! SysV IPC objects (see the module header of [`init`](super)).

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{reply, Init};
use crate::protocol::Response;

impl Init {
    /// Reaps every exited child; reports the ones the host started.
    /// Returns whether children remain.
    pub(super) fn reap(&mut self) -> bool {
        loop {
            let (pid, code, signal) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Some(code), None),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, None, Some(sig as i32)),
                Ok(WaitStatus::StillAlive) => return true,
                Err(Errno::EINTR) => continue,
                Err(_) => return false,
                Ok(_) => continue,
            };
            if let Some(r) = self.running.remove(&pid.as_raw()) {
                if r.kill_all_on_exit && self.running.is_empty() {
                    // The run is over: its leftovers die and what they left
                    // in memory is freed before the host hears of the exit
                    // (and sets the next run's limits).
                    self.settle();
                    self.fresh_scratch();
                    self.dirty = false;
                } else if r.kill_all_on_exit {
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                reply(
                    &self.ctl,
                    &Response::Exited {
                        pid: pid.as_raw(),
                        code,
                        signal,
                    },
                    &[],
                    &[],
                );
            }
        }
    }

    /// Before a one-shot exec, with no exec of the host's running: kills and
    /// reaps every leftover process of the last one (orphans are init's
    /// children), so that what they held — open files on the scratch tmpfs,
    /// pipes — is released before it is freed. Bounded: a process that will
    /// not die within two seconds is left to the cgroup.
    pub(super) fn settle(&mut self) {
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.reap() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Before a one-shot exec: what the last program left in memory that no
    /// process holds goes away — a fresh tmpfs on `/tmp` and `/dev/shm` (the
    /// old ones are detached and freed with their last user, all killed by
    /// now), and every SysV IPC object of the box's namespace is removed.
    /// `/box` stays: it holds the submission's files.
    pub(super) fn fresh_scratch(&self) {
        // Free first, allocate after: SysV objects and the old tmpfs mounts
        // go before the new mounts are made.
        remove_sysv_ipc();
        let scratch = [
            (
                "/tmp",
                self.tmp_bytes,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            ),
            (
                "/dev/shm",
                self.shm_bytes,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            ),
        ];
        // Only what holds something: an empty tmpfs holds no memory.
        let detached: Vec<bool> = scratch
            .iter()
            .map(|(dir, _, _)| {
                std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
                    && umount2(*dir, MntFlags::MNT_DETACH).is_ok()
            })
            .collect();
        for ((dir, size, flags), detached) in scratch.iter().zip(detached) {
            if detached {
                let _ = mount(
                    Some("tmpfs"),
                    *dir,
                    Some("tmpfs"),
                    *flags,
                    Some(format!("size={size},mode=1777").as_str()),
                );
            }
        }
    }
}

/// Removes every SysV message queue, shared memory segment and semaphore
/// set of the box's IPC namespace. Walks the kernel's index with `*_INFO` and
/// `*_STAT` (no file to read, nothing allocated: the memory they hold may have
/// filled the box's cgroup, where any allocation of init's would be its last).
fn remove_sysv_ipc() {
    // Linux uapi numbers (x86_64 takes no IPC_64 flag).
    const IPC_RMID: libc::c_long = 0;
    const MSG_STAT: libc::c_long = 11;
    const MSG_INFO: libc::c_long = 12;
    const SHM_STAT: libc::c_long = 13;
    const SHM_INFO: libc::c_long = 14;
    const SEM_STAT: libc::c_long = 18;
    const SEM_INFO: libc::c_long = 19;
    let mut buf = [0u64; 64];
    let p = buf.as_mut_ptr() as libc::c_long;
    // SAFETY: raw *ctl calls with a 512-byte buffer, larger than every struct
    // they fill (msqid64_ds, shmid64_ds, semid64_ds, msginfo, shm_info,
    // seminfo); IPC_RMID takes no buffer.
    unsafe {
        let max = libc::syscall(libc::SYS_msgctl, 0, MSG_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_msgctl, i, MSG_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_msgctl, id, IPC_RMID, 0);
            }
        }
        let max = libc::syscall(libc::SYS_shmctl, 0, SHM_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_shmctl, i, SHM_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_shmctl, id, IPC_RMID, 0);
            }
        }
        let max = libc::syscall(libc::SYS_semctl, 0, 0, SEM_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_semctl, i, 0, SEM_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_semctl, id, 0, IPC_RMID, 0);
            }
        }
    }
}

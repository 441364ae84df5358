//! Reconnecting terminals (like Coder's reconnecting PTY): a shell on a
//! pseudo-terminal in the workspace's box, a ring buffer of its recent
//! output, and any number of attached clients. When the last client goes
//! away the shell is kept for a grace period; a client that comes back with
//! the same reconnect id first gets the buffered output, then the live stream.
//! The terminal is read by its own task that never waits on a client: output
//! goes to the bounded replay ring and a bounded broadcast ([`LIVE_CHUNKS`]).
//!
//! The ring is also kept on disk (`<ws dir>/pty/<reconnect id>`, rewritten
//! at most every [`SAVE_EVERY`] while output comes), so a terminal reopened
//! with its id after the workspace's box was gone (a server restart, a stop
//! and start) starts a new shell below the old one's scrollback. The file
//! goes when the session's grace period ends.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use kiln_sandbox::{PtyProcess, SandboxBox};
use tokio::sync::broadcast;

/// Output chunks (reads of at most 16 KiB) a client of a terminal may fall
/// behind by; one further behind misses output (the server then closes it, and
/// it reconnects to get the replay buffer). So a session holds at most its
/// replay buffer plus this many chunks, whatever its clients do.
pub const LIVE_CHUNKS: usize = 64;

/// How often a terminal's scrollback is written to disk while output comes.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// What a reopened terminal shows between the old scrollback and the new shell.
pub const RESTARTED: &[u8] =
    b"\r\n[kiln: this terminal's shell was restarted; the output above is from before]\r\n";

/// Recent output, at most `cap` bytes.
struct Ring {
    cap: usize,
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Ring {
    fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.chunks.push_back(b);
        while self.len > self.cap {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let extra = self.len - self.cap;
            if front.len() <= extra {
                self.len -= front.len();
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(extra);
                self.len -= extra;
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }
}

struct Shared {
    ring: Ring,
    /// `None` once the program's terminal closed.
    tx: Option<broadcast::Sender<Bytes>>,
}

pub struct PtySession {
    pub id: String,
    pub pid: i32,
    process: PtyProcess,
    boxed: Weak<SandboxBox>,
    shared: Mutex<Shared>,
    attached: AtomicUsize,
    /// Bumped on every attach, so a grace timer knows if someone came back.
    generation: AtomicU64,
    /// Where the scrollback is saved, and whether it changed since.
    save_to: Option<PathBuf>,
    dirty: AtomicBool,
}

/// A client's view of a session: what it missed, then the live stream.
pub struct Attachment {
    pub session: Arc<PtySession>,
    pub replay: Vec<u8>,
    /// `None` when the program already exited (only the replay is left).
    pub live: Option<broadcast::Receiver<Bytes>>,
}

impl PtySession {
    /// Wraps a started terminal and starts reading it; with `save_to`, the
    /// scrollback saved there before (if any) comes first, and the ring is
    /// saved there from now on.
    pub fn start(
        id: String,
        process: PtyProcess,
        boxed: &Arc<SandboxBox>,
        buffer_bytes: usize,
        save_to: Option<PathBuf>,
    ) -> Arc<PtySession> {
        let (tx, _) = broadcast::channel(LIVE_CHUNKS);
        let mut ring = Ring {
            cap: buffer_bytes,
            chunks: VecDeque::new(),
            len: 0,
        };
        if let Some(before) = save_to.as_ref().and_then(|p| std::fs::read(p).ok()) {
            if !before.is_empty() {
                ring.push(Bytes::from(before));
                ring.push(Bytes::from_static(RESTARTED));
            }
        }
        let s = Arc::new(PtySession {
            id,
            pid: process.pid,
            process,
            boxed: Arc::downgrade(boxed),
            shared: Mutex::new(Shared { ring, tx: Some(tx) }),
            attached: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            dirty: AtomicBool::new(save_to.is_some()),
            save_to,
        });
        tokio::spawn(read_loop(Arc::downgrade(&s)));
        if s.save_to.is_some() {
            tokio::spawn(save_loop(Arc::downgrade(&s)));
        }
        s
    }

    /// Writes the scrollback to its file if it changed (a temporary file,
    /// then a rename).
    fn save(&self) {
        let Some(path) = &self.save_to else { return };
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return;
        }
        let bytes = self.lock().ring.snapshot();
        let tmp = path.with_extension("tmp");
        let r = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = r {
            tracing::warn!(path = %path.display(), error = %e, "saving a terminal's scrollback failed");
        }
    }

    /// Removes the saved scrollback (the session is over for good).
    pub fn forget(&self) {
        if let Some(p) = &self.save_to {
            let _ = std::fs::remove_file(p);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_closed(&self) -> bool {
        self.lock().tx.is_none()
    }

    pub fn attached(&self) -> usize {
        self.attached.load(Ordering::SeqCst)
    }

    /// Attaches a client: the buffered output and a receiver of what follows
    /// (taken under one lock, so nothing is lost or repeated in between).
    pub fn attach(self: &Arc<Self>) -> Attachment {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.attached.fetch_add(1, Ordering::SeqCst);
        let g = self.lock();
        Attachment {
            session: self.clone(),
            replay: g.ring.snapshot(),
            live: g.tx.as_ref().map(|t| t.subscribe()),
        }
    }

    /// A client went away. With none left, the shell lives `grace` more
    /// unless a client comes back; then `on_expiry` runs (it kills it).
    pub fn detach(
        self: &Arc<Self>,
        grace: Duration,
        on_expiry: impl FnOnce(&Arc<PtySession>) + Send + 'static,
    ) {
        if self.attached.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let gen = self.generation.load(Ordering::SeqCst);
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if me.attached() == 0 && me.generation.load(Ordering::SeqCst) == gen {
                on_expiry(&me);
            }
        });
    }

    pub async fn write(&self, data: &[u8]) -> std::io::Result<()> {
        self.process.write_all(data).await
    }

    pub async fn resize(&self, rows: u16, cols: u16) {
        if let Some(b) = self.boxed.upgrade() {
            let _ = b.resize(self.pid, rows, cols).await;
        }
    }

    /// Kills the shell's process group (its terminal then closes).
    pub async fn kill(&self) {
        if let Some(b) = self.boxed.upgrade() {
            let _ = b.kill(self.pid).await;
        }
    }
}

async fn read_loop(session: Weak<PtySession>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Some(s) = session.upgrade() else { return };
        // An error reading the terminal ends it like EOF.
        let n = s.process.read(&mut buf).await.unwrap_or_default();
        let mut g = s.lock();
        if n == 0 {
            g.tx = None;
            return;
        }
        let chunk = Bytes::copy_from_slice(&buf[..n]);
        g.ring.push(chunk.clone());
        s.dirty.store(true, Ordering::SeqCst);
        if let Some(tx) = &g.tx {
            let _ = tx.send(chunk);
        }
    }
}

/// Saves the scrollback every [`SAVE_EVERY`] while it changes, and once
/// more when the terminal closed.
async fn save_loop(session: Weak<PtySession>) {
    loop {
        tokio::time::sleep(SAVE_EVERY).await;
        let Some(s) = session.upgrade() else { return };
        let closed = s.is_closed();
        // At most `pty_buffer_bytes`, written to a local file: short.
        s.save();
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_most_recent_bytes() {
        let mut r = Ring {
            cap: 5,
            chunks: VecDeque::new(),
            len: 0,
        };
        r.push(Bytes::from_static(b"abc"));
        r.push(Bytes::from_static(b"def"));
        assert_eq!(r.snapshot(), b"bcdef");
        r.push(Bytes::from_static(b"0123456"));
        assert_eq!(r.snapshot(), b"23456");
        assert_eq!(r.len, 5);
    }
}

//! The host's end of a box's control socket: sends requests, and a reader
//! task routes replies to whoever waits for them (by request id) and exit
//! notices to the exec that started the process (by pid).
//!
//! Every wait on the box has a deadline (the sandbox's `request_timeout`):
//! a request that cannot be sent or gets no answer in time fails with
//! [`SandboxError::Unanswered`], and the box is killed through its cgroup and
//! treated as gone, so nothing waits on a wedged box forever. A request too
//! big for one packet fails with [`SandboxError::TooLarge`] before anything
//! is sent.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, SandboxError};
use crate::protocol::{
    self, Message, Packet, Recv, RecvError, Request, Response, SendError, MAX_EXEC_STRINGS_BYTES,
    MAX_PACKET,
};

/// How a process of the box ended, and when the host learnt it.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub at: Instant,
}

pub(crate) enum Reply {
    Done,
    Failed(String),
    Started {
        pid: i32,
        fds: Vec<OwnedFd>,
        exit: oneshot::Receiver<Exit>,
    },
}

enum Pending {
    Reply(oneshot::Sender<Reply>),
    Chunks(mpsc::UnboundedSender<std::result::Result<Vec<u8>, String>>),
}

#[derive(Default)]
struct State {
    gone: bool,
    pending: HashMap<u64, Pending>,
    exits: HashMap<i32, oneshot::Sender<Exit>>,
}

/// Kills every process of a box (its cgroup), from any thread.
pub(crate) type Killer = Box<dyn Fn() + Send + Sync>;

pub(crate) struct Conn {
    fd: AsyncFd<OwnedFd>,
    state: Mutex<State>,
    next: AtomicU64,
    timeout: Duration,
    killer: Mutex<Option<Arc<Killer>>>,
}

/// The receiving end of a request answered in chunks.
pub(crate) type Chunks = mpsc::UnboundedReceiver<std::result::Result<Vec<u8>, String>>;

fn would_block(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Conn {
    /// `timeout` bounds every wait on the box: sending, and each answer.
    pub fn new(fd: OwnedFd, timeout: Duration) -> Result<Arc<Conn>> {
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)
            .map_err(|e| SandboxError::Channel(format!("F_GETFL: {e}")))?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags))
            .map_err(|e| SandboxError::Channel(format!("F_SETFL: {e}")))?;
        // SAFETY: `fd` is an open socket owned by the AsyncFd for its whole life.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| {
            SandboxError::io("register the control socket with tokio", e.into_parts().1)
        })?;
        Ok(Arc::new(Conn {
            fd,
            state: Mutex::default(),
            next: AtomicU64::new(1),
            timeout,
            killer: Mutex::new(None),
        }))
    }

    /// How the box is killed when it stops answering.
    pub fn set_killer(&self, k: Killer) {
        *self.killer.lock().expect("conn killer lock") = Some(Arc::new(k));
    }

    /// The box did not answer a `kind` request in time: it is killed and
    /// treated as gone (every waiter gets an error), and the error says so.
    pub fn unanswered(&self, kind: &'static str) -> SandboxError {
        tracing::warn!(kind, after = ?self.timeout, "a box did not answer in time; killing it");
        self.mark_gone();
        self.close();
        if let Some(k) = self.killer.lock().expect("conn killer lock").clone() {
            // Killing through the cgroup may take a second; never on the runtime.
            std::thread::spawn(move || k());
        }
        SandboxError::Unanswered {
            kind,
            after: self.timeout,
        }
    }

    fn mark_gone(&self) {
        let mut st = self.state.lock().expect("conn state lock");
        st.gone = true;
        st.pending.clear();
        st.exits.clear();
    }

    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one message, waiting at most the deadline for room in the
    /// socket; refuses a message too big for one packet.
    pub async fn send<T: Message>(&self, msg: &T, payload: &[u8], fds: &[RawFd]) -> Result<()> {
        if self.is_gone() {
            return Err(SandboxError::Gone);
        }
        let sending = async {
            loop {
                let mut guard = self
                    .fd
                    .writable()
                    .await
                    .map_err(|e| SandboxError::io("wait for the control socket", e))?;
                let r = guard.try_io(|inner| {
                    match protocol::send(inner.get_ref().as_fd(), msg, payload, fds) {
                        Err(SendError::Sys(e)) => Err(would_block(e)),
                        other => Ok(other),
                    }
                });
                match r {
                    Ok(Ok(Ok(()))) => return Ok(()),
                    Ok(Ok(Err(SendError::TooLarge { kind, size, limit }))) => {
                        return Err(SandboxError::TooLarge {
                            kind,
                            size,
                            limit,
                            max_strings: MAX_EXEC_STRINGS_BYTES,
                        })
                    }
                    Ok(Ok(Err(SendError::Sys(e)))) => {
                        return Err(SandboxError::Channel(format!("send: {e}")))
                    }
                    Ok(Err(e))
                        if e.raw_os_error() == Some(libc::EPIPE)
                            || e.raw_os_error() == Some(libc::ECONNRESET) =>
                    {
                        return Err(SandboxError::Gone)
                    }
                    Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Ok(Err(e)) => return Err(SandboxError::Channel(format!("send: {e}"))),
                    Err(_would_block) => continue,
                }
            }
        };
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(r) => r,
            Err(_) => Err(self.unanswered(msg.kind())),
        }
    }

    /// Receives one packet (used for the handshake, before the reader runs).
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Option<Packet<Response>>> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| SandboxError::io("wait for the control socket", e))?;
            let r = guard.try_io(|inner| {
                match protocol::recv::<Response>(inner.get_ref().as_fd(), buf) {
                    Err(RecvError::Sys(e)) => Err(would_block(e)),
                    other => Ok(other),
                }
            });
            match r {
                Ok(Ok(Ok(Recv::Packet(p)))) => return Ok(Some(p)),
                Ok(Ok(Ok(Recv::Closed))) => return Ok(None),
                Ok(Ok(Err(e))) => return Err(SandboxError::Channel(e.to_string())),
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(Err(e)) => return Err(SandboxError::Channel(format!("recv: {e}"))),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends a request and waits for its reply, each at most the deadline.
    pub async fn request(
        &self,
        req: u64,
        msg: &Request,
        payload: &[u8],
        fds: &[RawFd],
    ) -> Result<Reply> {
        let (tx, rx) = oneshot::channel();
        self.register(req, Pending::Reply(tx))?;
        if let Err(e) = self.send(msg, payload, fds).await {
            self.unregister(req);
            return Err(e);
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(r) => r.map_err(|_| SandboxError::Gone),
            Err(_) => Err(self.unanswered(msg.kind())),
        }
    }

    /// Sends a request whose answer comes as chunks (read them with
    /// [`Conn::next_chunk`]).
    pub async fn request_chunks(&self, req: u64, msg: &Request) -> Result<Chunks> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.register(req, Pending::Chunks(tx))?;
        if let Err(e) = self.send(msg, &[], &[]).await {
            self.unregister(req);
            return Err(e);
        }
        Ok(rx)
    }

    /// The next chunk of an answer, waiting at most the deadline; `None`
    /// after the last one.
    pub async fn next_chunk(
        &self,
        rx: &mut Chunks,
        kind: &'static str,
    ) -> Result<Option<std::result::Result<Vec<u8>, String>>> {
        match tokio::time::timeout(self.timeout, rx.recv()).await {
            Ok(c) => Ok(c),
            Err(_) => Err(self.unanswered(kind)),
        }
    }

    fn unregister(&self, req: u64) {
        self.state
            .lock()
            .expect("conn state lock")
            .pending
            .remove(&req);
    }

    fn register(&self, req: u64, p: Pending) -> Result<()> {
        let mut st = self.state.lock().expect("conn state lock");
        if st.gone {
            return Err(SandboxError::Gone);
        }
        st.pending.insert(req, p);
        Ok(())
    }

    /// Closes the channel: the box's init sees EOF, kills its processes and exits.
    pub fn close(&self) {
        let _ = nix::sys::socket::shutdown(
            std::os::fd::AsRawFd::as_raw_fd(self.fd.get_ref()),
            nix::sys::socket::Shutdown::Both,
        );
    }

    pub fn is_gone(&self) -> bool {
        self.state.lock().expect("conn state lock").gone
    }

    /// Routes packets until the box goes away.
    pub async fn read_loop(self: Arc<Self>) {
        let mut buf = vec![0u8; MAX_PACKET];
        loop {
            match self.recv_routed(&mut buf).await {
                Ok(Some(p)) => self.dispatch(p),
                // An unreadable answer fails the request it names; the box goes on.
                Err(RecvError::Malformed { req, message }) => self.dispatch_header(
                    Response::Failed {
                        req,
                        message: format!("unreadable answer from the box: {message}"),
                    },
                    Vec::new(),
                    Vec::new(),
                ),
                Ok(None) | Err(RecvError::Sys(_)) => break,
            }
        }
        self.mark_gone();
    }

    async fn recv_routed(
        &self,
        buf: &mut [u8],
    ) -> std::result::Result<Option<Packet<Response>>, RecvError> {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return Err(RecvError::Sys(nix::errno::Errno::EBADF));
            };
            match guard.try_io(|inner| {
                match protocol::recv::<Response>(inner.get_ref().as_fd(), buf) {
                    Err(RecvError::Sys(e)) => Err(would_block(e)),
                    other => Ok(other),
                }
            }) {
                Ok(Ok(Ok(Recv::Packet(p)))) => return Ok(Some(p)),
                Ok(Ok(Ok(Recv::Closed))) => return Ok(None),
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(Err(e)) => {
                    return Err(RecvError::Sys(nix::errno::Errno::from_raw(
                        e.raw_os_error().unwrap_or(libc::EIO),
                    )))
                }
                Err(_would_block) => continue,
            }
        }
    }

    fn dispatch(&self, p: Packet<Response>) {
        self.dispatch_header(p.header, p.payload, p.fds)
    }

    fn dispatch_header(&self, header: Response, payload: Vec<u8>, fds: Vec<OwnedFd>) {
        let mut st = self.state.lock().expect("conn state lock");
        match header {
            Response::Done { req } => reply(&mut st, req, Reply::Done),
            Response::Failed { req, message } => match st.pending.remove(&req) {
                Some(Pending::Reply(tx)) => {
                    let _ = tx.send(Reply::Failed(message));
                }
                Some(Pending::Chunks(tx)) => {
                    let _ = tx.send(Err(message));
                }
                None => {
                    tracing::warn!(req, %message, "box reported a failure for no pending request")
                }
            },
            Response::Started { req, pid } => {
                let (tx, rx) = oneshot::channel();
                st.exits.insert(pid, tx);
                reply(&mut st, req, Reply::Started { pid, fds, exit: rx });
            }
            Response::Exited { pid, code, signal } => {
                if let Some(tx) = st.exits.remove(&pid) {
                    let _ = tx.send(Exit {
                        code,
                        signal,
                        at: Instant::now(),
                    });
                }
            }
            Response::Chunk { req, eof } => {
                if let Some(Pending::Chunks(tx)) = st.pending.get(&req) {
                    let _ = tx.send(Ok(payload));
                }
                if eof {
                    st.pending.remove(&req);
                }
            }
            Response::Ready | Response::SetupFailed { .. } => {}
        }
    }
}

fn reply(st: &mut State, req: u64, r: Reply) {
    if let Some(Pending::Reply(tx)) = st.pending.remove(&req) {
        let _ = tx.send(r);
    }
}

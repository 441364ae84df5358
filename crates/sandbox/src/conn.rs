//! The host's end of a box's control socket: sends requests, and a reader
//! task routes replies to whoever waits for them (by request id) and exit
//! notices to the exec that started the process (by pid).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, SandboxError};
use crate::protocol::{self, Packet, Recv, RecvError, Request, Response, MAX_PACKET};

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
    Started { pid: i32, fds: Vec<OwnedFd>, exit: oneshot::Receiver<Exit> },
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

pub(crate) struct Conn {
    fd: AsyncFd<OwnedFd>,
    state: Mutex<State>,
    next: AtomicU64,
}

fn would_block(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Conn {
    pub fn new(fd: OwnedFd) -> Result<Arc<Conn>> {
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| SandboxError::Channel(format!("F_GETFL: {e}")))?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(|e| SandboxError::Channel(format!("F_SETFL: {e}")))?;
        // SAFETY: `fd` is an open socket owned by the AsyncFd for its whole life.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| SandboxError::io("register the control socket with tokio", e.into_parts().1))?;
        Ok(Arc::new(Conn { fd, state: Mutex::default(), next: AtomicU64::new(1) }))
    }

    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn send<T: serde::Serialize>(&self, msg: &T, payload: &[u8], fds: &[RawFd]) -> Result<()> {
        loop {
            let mut guard = self.fd.writable().await.map_err(|e| SandboxError::io("wait for the control socket", e))?;
            match guard.try_io(|inner| protocol::send(inner.get_ref().as_fd(), msg, payload, fds).map_err(would_block)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EPIPE) || e.raw_os_error() == Some(libc::ECONNRESET) => return Err(SandboxError::Gone),
                Ok(Err(e)) => return Err(SandboxError::Channel(format!("send: {e}"))),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one packet (used for the handshake, before the reader runs).
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Option<Packet<Response>>> {
        loop {
            let mut guard = self.fd.readable().await.map_err(|e| SandboxError::io("wait for the control socket", e))?;
            let r = guard.try_io(|inner| match protocol::recv::<Response>(inner.get_ref().as_fd(), buf) {
                Err(RecvError::Sys(e)) => Err(would_block(e)),
                other => Ok(other),
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

    /// Sends a request and waits for its reply.
    pub async fn request(&self, req: u64, msg: &Request, payload: &[u8], fds: &[RawFd]) -> Result<Reply> {
        let (tx, rx) = oneshot::channel();
        self.register(req, Pending::Reply(tx))?;
        self.send(msg, payload, fds).await?;
        rx.await.map_err(|_| SandboxError::Gone)
    }

    /// Sends a request whose answer comes as chunks.
    pub async fn request_chunks(&self, req: u64, msg: &Request) -> Result<mpsc::UnboundedReceiver<std::result::Result<Vec<u8>, String>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.register(req, Pending::Chunks(tx))?;
        self.send(msg, &[], &[]).await?;
        Ok(rx)
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
        let _ = nix::sys::socket::shutdown(std::os::fd::AsRawFd::as_raw_fd(self.fd.get_ref()), nix::sys::socket::Shutdown::Both);
    }

    pub fn is_gone(&self) -> bool {
        self.state.lock().expect("conn state lock").gone
    }

    /// Routes packets until the box goes away.
    pub async fn read_loop(self: Arc<Self>) {
        let mut buf = vec![0u8; MAX_PACKET];
        while let Ok(Some(p)) = self.recv(&mut buf).await {
            self.dispatch(p);
        }
        let mut st = self.state.lock().expect("conn state lock");
        st.gone = true;
        st.pending.clear();
        st.exits.clear();
    }

    fn dispatch(&self, p: Packet<Response>) {
        let mut st = self.state.lock().expect("conn state lock");
        match p.header {
            Response::Done { req } => reply(&mut st, req, Reply::Done),
            Response::Failed { req, message } => {
                match st.pending.remove(&req) {
                    Some(Pending::Reply(tx)) => {
                        let _ = tx.send(Reply::Failed(message));
                    }
                    Some(Pending::Chunks(tx)) => {
                        let _ = tx.send(Err(message));
                    }
                    None => tracing::warn!(req, %message, "box reported a failure for no pending request"),
                }
            }
            Response::Started { req, pid } => {
                let (tx, rx) = oneshot::channel();
                st.exits.insert(pid, tx);
                reply(&mut st, req, Reply::Started { pid, fds: p.fds, exit: rx });
            }
            Response::Exited { pid, code, signal } => {
                if let Some(tx) = st.exits.remove(&pid) {
                    let _ = tx.send(Exit { code, signal, at: Instant::now() });
                }
            }
            Response::Chunk { req, eof } => {
                if let Some(Pending::Chunks(tx)) = st.pending.get(&req) {
                    let _ = tx.send(Ok(p.payload));
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

//! The wire protocol between the host and a box's init, over a
//! `SOCK_SEQPACKET` socket pair: each packet is a fixed prefix — the request
//! id (`u64`, little-endian; 0 for messages that answer nothing) and the
//! header length (`u32`) — then a JSON header, then raw payload bytes; file
//! descriptors travel as `SCM_RIGHTS`. Packets keep their boundaries, so no
//! stream framing is needed.
//!
//! Every packet is at most [`MAX_PACKET`] bytes: the sender refuses a bigger
//! one ([`SendError::TooLarge`]) before anything is sent, and a receiver that
//! still gets one (or a malformed one) knows which request it was from the
//! prefix, which survives truncation, so it can answer that request.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

/// Largest payload of one packet; bigger files travel in chunks.
pub const CHUNK: usize = 64 * 1024;
/// Largest packet (prefix, header and payload), and the receive buffer of
/// both ends: a header plus one chunk, with room to spare. Stays below the
/// default socket send buffer (`net.core.wmem_default`, 208 KiB).
pub const MAX_PACKET: usize = CHUNK + 64 * 1024;
/// Bytes before the JSON header: request id (`u64`) and header length (`u32`).
pub const PREFIX: usize = 12;
/// An exec (or terminal) request always fits in one packet when its argv,
/// env and cwd hold at most this many bytes together, whatever the bytes are
/// (JSON escapes a control byte as six: `\u0001`), and at most
/// [`MAX_EXEC_STRINGS`] strings. Validation of API requests derives its caps
/// from these two; [`check_exec_size`] gives the exact answer for one request.
pub const MAX_EXEC_STRINGS_BYTES: usize = 16 * 1024;
/// See [`MAX_EXEC_STRINGS_BYTES`].
pub const MAX_EXEC_STRINGS: usize = 1024;
/// Longest failure message init sends back (longer ones are cut).
pub const MAX_MESSAGE: usize = 4096;

/// Messages that belong to a request carry its id, which also travels in the
/// packet's prefix so that a receiver can answer even an unreadable packet.
pub trait Message: Serialize {
    /// The request id, or 0.
    fn req_id(&self) -> u64 {
        0
    }
    /// What kind of message this is, for error messages.
    fn kind(&self) -> &'static str {
        "control"
    }
}

/// Everything the helper needs to build a box, sent as the first packet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxSetup {
    pub root_dir: String,
    pub uid: u32,
    pub gid: u32,
    pub hostname: String,
    /// Files to write the helper's pid into (one per cgroup hierarchy).
    pub cgroup_procs: Vec<String>,
    /// Files each program joins (writes "0" into) before it drops its
    /// privileges: the box's `run` group, where the limits are. The helper
    /// opens them before it leaves the host's mount namespace.
    #[serde(default)]
    pub run_procs: Vec<String>,
    /// Host paths bound read-only at the same path inside (dirs, files or symlinks).
    pub binds: Vec<BindSpec>,
    pub tmp_bytes: u64,
    pub work_bytes: u64,
    pub shm_bytes: u64,
    /// Extra text files to create in the box's read-only root (`/etc/passwd`, …).
    pub files: Vec<(String, String)>,
    /// The working directory inside; the host's file requests are rooted here.
    #[serde(default = "default_work_dir")]
    pub work_dir: String,
    /// A host directory bound read-write at `work_dir` instead of a fresh
    /// tmpfs (a workspace's persistent home). Created by the host under a
    /// root-only parent, so nothing inside the box can swap it for a link.
    #[serde(default)]
    pub work_host: Option<String>,
}

fn default_work_dir() -> String {
    crate::rootfs::WORK_DIR.to_string()
}

impl Message for BoxSetup {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BindSpec {
    pub host: String,
    pub inside: String,
}

/// Resource limits applied to one process tree right before `execve`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Rlimits {
    pub cpu_seconds: Option<u64>,
    pub file_size_bytes: Option<u64>,
    pub open_files: Option<u64>,
    pub stack_bytes: Option<u64>,
    pub address_space_bytes: Option<u64>,
}

/// How the new process's standard streams are connected.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Stdio {
    /// Three descriptors (stdin, stdout, stderr) travel with the request.
    Pipes,
    /// The box opens a pseudo-terminal and sends its master back.
    Pty { rows: u16, cols: u16 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    WriteFile {
        req: u64,
        path: String,
        mode: u32,
        append: bool,
    },
    ReadFile {
        req: u64,
        path: String,
        max_bytes: u64,
        /// Where to start (a range read: the host asks for the next range
        /// only when its client took the last one).
        #[serde(default)]
        offset: u64,
    },
    /// Every entry under the working directory (a [`FileInfo`] list as JSON,
    /// in chunks); fails when there are more than `max_entries`.
    ListFiles { req: u64, max_entries: u32 },
    Exec {
        req: u64,
        argv: Vec<String>,
        env: Vec<String>,
        cwd: String,
        rlimits: Rlimits,
        stdio: Stdio,
        /// Kill every other process of the box when this one exits (one-shot runs).
        kill_all_on_exit: bool,
    },
    /// Kill one exec's process group, or every process of the box.
    Kill { pid: i32, all: bool },
    /// Set the size of an exec's terminal; answered `Done` once it is set,
    /// so what the program reads next sees the new size.
    Resize {
        req: u64,
        pid: i32,
        rows: u16,
        cols: u16,
    },
}

impl Message for Request {
    fn req_id(&self) -> u64 {
        match self {
            Request::WriteFile { req, .. }
            | Request::ReadFile { req, .. }
            | Request::ListFiles { req, .. }
            | Request::Exec { req, .. }
            | Request::Resize { req, .. } => *req,
            Request::Kill { .. } => 0,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Request::WriteFile { .. } => "WriteFile",
            Request::ReadFile { .. } => "ReadFile",
            Request::ListFiles { .. } => "ListFiles",
            Request::Exec { .. } => "Exec",
            Request::Kill { .. } => "Kill",
            Request::Resize { .. } => "Resize",
        }
    }
}

/// One entry of a box's working directory, as [`Request::ListFiles`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the working directory, `/`-separated; a name that is
    /// not UTF-8 is shown with U+FFFD and listed as [`FileKind::Other`].
    pub path: String,
    pub kind: FileKind,
    /// Bytes of a regular file (0 for the rest).
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// What a listed entry is. Symbolic links are listed, never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket, device, or a name that is not UTF-8.
    Other,
}

/// Checks that an exec of `argv` with `env` in `cwd` fits in one packet;
/// the error names the encoded size and the limit.
pub fn check_exec_size(argv: &[String], env: &[String], cwd: &str) -> Result<(), SendError> {
    let probe = Request::Exec {
        req: u64::MAX,
        argv: argv.to_vec(),
        env: env.to_vec(),
        cwd: cwd.to_string(),
        rlimits: Rlimits {
            cpu_seconds: Some(u64::MAX),
            file_size_bytes: Some(u64::MAX),
            open_files: Some(u64::MAX),
            stack_bytes: Some(u64::MAX),
            address_space_bytes: Some(u64::MAX),
        },
        stdio: Stdio::Pty {
            rows: u16::MAX,
            cols: u16::MAX,
        },
        kill_all_on_exit: false,
    };
    encode(&probe, &[]).map(|_| ())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// The box is built; requests may follow.
    Ready,
    /// Building the box failed at `layer`.
    SetupFailed {
        layer: String,
        message: String,
    },
    Done {
        req: u64,
    },
    Failed {
        req: u64,
        message: String,
    },
    /// Exec succeeded (`execve` returned into the program).
    Started {
        req: u64,
        pid: i32,
    },
    /// A file chunk; `eof` on the last one.
    Chunk {
        req: u64,
        eof: bool,
    },
    Exited {
        pid: i32,
        code: Option<i32>,
        signal: Option<i32>,
    },
}

impl Message for Response {
    fn req_id(&self) -> u64 {
        match self {
            Response::Done { req }
            | Response::Failed { req, .. }
            | Response::Started { req, .. }
            | Response::Chunk { req, .. } => *req,
            Response::Ready | Response::SetupFailed { .. } | Response::Exited { .. } => 0,
        }
    }
}

/// Why a packet was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{kind} request of {size} bytes is larger than the {limit}-byte limit of one packet to a box (exec: at most {MAX_EXEC_STRINGS_BYTES} bytes of argv, env and cwd together)")]
    TooLarge {
        kind: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("sendmsg: {0}")]
    Sys(nix::Error),
}

/// The prefix and header of a packet, checked against [`MAX_PACKET`].
fn encode<T: Message>(header: &T, payload: &[u8]) -> Result<Vec<u8>, SendError> {
    let head = serde_json::to_vec(header).expect("protocol headers always serialise");
    let size = PREFIX + head.len() + payload.len();
    if size > MAX_PACKET {
        return Err(SendError::TooLarge {
            kind: header.kind(),
            size,
            limit: MAX_PACKET,
        });
    }
    let mut out = Vec::with_capacity(PREFIX + head.len());
    out.extend_from_slice(&header.req_id().to_le_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    Ok(out)
}

/// Sends one packet (blocking or not, as the socket is); refuses one bigger
/// than [`MAX_PACKET`] without sending anything.
pub fn send<T: Message>(
    sock: BorrowedFd<'_>,
    header: &T,
    payload: &[u8],
    fds: &[RawFd],
) -> Result<(), SendError> {
    let head = encode(header, payload)?;
    let iov = [IoSlice::new(&head), IoSlice::new(payload)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(SendError::Sys)?;
    Ok(())
}

/// One received packet.
pub struct Packet<T> {
    pub header: T,
    pub payload: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// What a receive produced.
pub enum Recv<T> {
    Packet(Packet<T>),
    /// The peer closed its end.
    Closed,
}

/// Receives one packet. Descriptors arrive close-on-exec.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<Recv<T>, RecvError> {
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let cap = buf.len();
    let mut iov = [IoSliceMut::new(buf)];
    // MSG_TRUNC: the result is the packet's real length, even when longer.
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_TRUNC,
    )
    .map_err(RecvError::Sys)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(RecvError::Sys)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: SCM_RIGHTS gave this process a fresh descriptor that
                // nothing else owns; wrapping it makes sure it is closed once.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let size = msg.bytes;
    let truncated = size > cap || msg.flags.contains(MsgFlags::MSG_TRUNC);
    if size == 0 && fds.is_empty() {
        return Ok(Recv::Closed);
    }
    let data = &buf[..size.min(cap)];
    if truncated {
        // The prefix survives truncation: whoever sent it learns which request failed.
        return Err(RecvError::Malformed {
            req: req_of(data),
            message: format!("packet of {size} bytes is larger than the {cap}-byte receive buffer"),
        });
    }
    decode(data, fds).map(Recv::Packet)
}

/// The request id in a packet's prefix (0 when the packet is too short).
fn req_of(data: &[u8]) -> u64 {
    data.get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

fn decode<T: for<'de> Deserialize<'de>>(
    data: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<Packet<T>, RecvError> {
    let req = req_of(data);
    let bad = |message: String| RecvError::Malformed { req, message };
    if data.len() < PREFIX {
        return Err(bad(format!("packet of {} bytes has no prefix", data.len())));
    }
    let len = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes")) as usize;
    let Some(head) = data.get(PREFIX..PREFIX.saturating_add(len)) else {
        return Err(bad(format!("header length {len} exceeds packet")));
    };
    let header = serde_json::from_slice(head).map_err(|e| bad(format!("bad header: {e}")))?;
    Ok(Packet {
        header,
        payload: data[PREFIX + len..].to_vec(),
        fds,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("recvmsg: {0}")]
    Sys(nix::Error),
    /// An unreadable packet; `req` is the id in its prefix (0 if none).
    #[error("malformed packet (request {req}): {message}")]
    Malformed { req: u64, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    #[test]
    fn packets_keep_header_payload_and_fds() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let req = Request::WriteFile {
            req: 7,
            path: "a.txt".into(),
            mode: 0o644,
            append: false,
        };
        send(a.as_fd(), &req, b"hello", &[w.as_raw_fd()]).unwrap();
        let mut buf = vec![0u8; MAX_PACKET];
        let Recv::Packet(p) = recv::<Request>(b.as_fd(), &mut buf).unwrap() else {
            panic!("closed")
        };
        assert!(matches!(p.header, Request::WriteFile { req: 7, ref path, .. } if path == "a.txt"));
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.fds.len(), 1);
        // The received descriptor is the pipe's write end.
        nix::unistd::write(&p.fds[0], b"x").unwrap();
        let mut one = [0u8; 1];
        nix::unistd::read(&r, &mut one).unwrap();
        assert_eq!(&one, b"x");
        drop(a);
        assert!(matches!(
            recv::<Request>(b.as_fd(), &mut buf).unwrap(),
            Recv::Closed
        ));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert!(decode::<Request>(b"\x01", vec![]).is_err());
        let bad = decode::<Request>(b"\x07\0\0\0\0\0\0\0\xff\x00\x00\x00{}", vec![])
            .err()
            .unwrap();
        assert!(matches!(bad, RecvError::Malformed { req: 7, .. }), "{bad}");
        assert!(decode::<Request>(b"\x07\0\0\0\0\0\0\0\x02\x00\x00\x00{}", vec![]).is_err());
    }

    #[test]
    fn oversized_packets_are_refused_by_the_sender_and_named_by_the_receiver() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let req = Request::WriteFile {
            req: 9,
            path: "a".into(),
            mode: 0o644,
            append: false,
        };
        let big = vec![0u8; MAX_PACKET];
        assert!(matches!(
            send(a.as_fd(), &req, &big, &[]),
            Err(SendError::TooLarge {
                kind: "WriteFile",
                limit: MAX_PACKET,
                ..
            })
        ));
        // A receiver with a smaller buffer still learns the request id.
        send(a.as_fd(), &req, &[1u8; 1000], &[]).unwrap();
        let mut small = vec![0u8; 64];
        match recv::<Request>(b.as_fd(), &mut small) {
            Err(RecvError::Malformed { req: 9, message }) => {
                assert!(message.contains("larger than"), "{message}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a truncated packet was accepted"),
        }
    }

    #[test]
    fn any_exec_within_the_documented_caps_fits() {
        // Worst case: every byte a control character (six bytes in JSON), the
        // most strings, and the cwd too.
        let per = MAX_EXEC_STRINGS_BYTES / MAX_EXEC_STRINGS;
        let argv: Vec<String> = (0..MAX_EXEC_STRINGS - 1)
            .map(|_| "\u{1}".repeat(per))
            .collect();
        let used = per * (MAX_EXEC_STRINGS - 1);
        let cwd = "\u{1}".repeat(MAX_EXEC_STRINGS_BYTES - used - 1);
        check_exec_size(&argv, &["\u{1}".into()], &cwd).unwrap();
        // And one long string of control characters too.
        check_exec_size(&["\u{1}".repeat(MAX_EXEC_STRINGS_BYTES)], &[], "/").unwrap();
        // 40 × 4000 bytes (the example) does not fit.
        let args: Vec<String> = (0..40).map(|_| "x".repeat(4000)).collect();
        assert!(matches!(
            check_exec_size(&args, &[], "/box"),
            Err(SendError::TooLarge { kind: "Exec", .. })
        ));
    }
}

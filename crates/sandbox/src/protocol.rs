//! The wire protocol between the host and a box's init, over a
//! `SOCK_SEQPACKET` socket pair: each packet is a little-endian `u32` header
//! length, a JSON header, then raw payload bytes; file descriptors travel as
//! `SCM_RIGHTS`. Packets keep their boundaries, so no stream framing is needed.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

/// Largest payload of one packet; bigger files travel in chunks.
pub const CHUNK: usize = 64 * 1024;
/// Receive buffer: header plus one chunk, with room to spare.
pub const MAX_PACKET: usize = CHUNK + 64 * 1024;

/// Everything the helper needs to build a box, sent as the first packet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxSetup {
    pub root_dir: String,
    pub uid: u32,
    pub gid: u32,
    pub hostname: String,
    /// Files to write the helper's pid into (one per cgroup hierarchy).
    pub cgroup_procs: Vec<String>,
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
    WriteFile { req: u64, path: String, mode: u32, append: bool },
    ReadFile { req: u64, path: String, max_bytes: u64 },
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
    Resize { pid: i32, rows: u16, cols: u16 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// The box is built; requests may follow.
    Ready,
    /// Building the box failed at `layer`.
    SetupFailed { layer: String, message: String },
    Done { req: u64 },
    Failed { req: u64, message: String },
    /// Exec succeeded (`execve` returned into the program).
    Started { req: u64, pid: i32 },
    /// A file chunk; `eof` on the last one.
    Chunk { req: u64, eof: bool },
    Exited { pid: i32, code: Option<i32>, signal: Option<i32> },
}

/// Sends one packet (blocking or not, as the socket is).
pub fn send<T: Serialize>(
    sock: BorrowedFd<'_>,
    header: &T,
    payload: &[u8],
    fds: &[RawFd],
) -> nix::Result<()> {
    let head = serde_json::to_vec(header).expect("protocol headers always serialise");
    let len = (head.len() as u32).to_le_bytes();
    let iov = [IoSlice::new(&len), IoSlice::new(&head), IoSlice::new(payload)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
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
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
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
    let n = msg.bytes;
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    if n == 0 && fds.is_empty() {
        return Ok(Recv::Closed);
    }
    if truncated {
        return Err(RecvError::Malformed("packet larger than the receive buffer".into()));
    }
    decode(&buf[..n], fds).map(Recv::Packet)
}

fn decode<T: for<'de> Deserialize<'de>>(data: &[u8], fds: Vec<OwnedFd>) -> Result<Packet<T>, RecvError> {
    if data.len() < 4 {
        return Err(RecvError::Malformed(format!("packet of {} bytes has no header", data.len())));
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let Some(head) = data.get(4..4 + len) else {
        return Err(RecvError::Malformed(format!("header length {len} exceeds packet")));
    };
    let header = serde_json::from_slice(head)
        .map_err(|e| RecvError::Malformed(format!("bad header: {e}")))?;
    Ok(Packet {
        header,
        payload: data[4 + len..].to_vec(),
        fds,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("recvmsg: {0}")]
    Sys(nix::Error),
    #[error("malformed packet: {0}")]
    Malformed(String),
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
        let req = Request::WriteFile { req: 7, path: "a.txt".into(), mode: 0o644, append: false };
        send(a.as_fd(), &req, b"hello", &[w.as_raw_fd()]).unwrap();
        let mut buf = vec![0u8; MAX_PACKET];
        let Recv::Packet(p) = recv::<Request>(b.as_fd(), &mut buf).unwrap() else { panic!("closed") };
        assert!(matches!(p.header, Request::WriteFile { req: 7, ref path, .. } if path == "a.txt"));
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.fds.len(), 1);
        // The received descriptor is the pipe's write end.
        nix::unistd::write(&p.fds[0], b"x").unwrap();
        let mut one = [0u8; 1];
        nix::unistd::read(&r, &mut one).unwrap();
        assert_eq!(&one, b"x");
        drop(a);
        assert!(matches!(recv::<Request>(b.as_fd(), &mut buf).unwrap(), Recv::Closed));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert!(decode::<Request>(b"\x01", vec![]).is_err());
        assert!(decode::<Request>(b"\xff\x00\x00\x00{}", vec![]).is_err());
        assert!(decode::<Request>(b"\x02\x00\x00\x00{}", vec![]).is_err());
    }
}

//! Packets on the socket: the prefix and JSON header, payload bytes and
//! descriptors (`SCM_RIGHTS`), each at most [`MAX_PACKET`] bytes (see the
//! module header of [`protocol`](super)).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::Deserialize;

use super::{Message, MAX_EXEC_STRINGS_BYTES, MAX_PACKET, PREFIX};

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
pub(super) fn encode<T: Message>(header: &T, payload: &[u8]) -> Result<Vec<u8>, SendError> {
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
    use crate::protocol::Request;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    /// The kind of socket pair host and box talk over.
    fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn packets_keep_header_payload_and_fds() {
        let (a, b) = seqpacket_pair();
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
        let (a, b) = seqpacket_pair();
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
}

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
//!
//! This module holds the messages and the size limits; `wire` sends and
//! receives packets ([`send`], [`recv`]).

use serde::{Deserialize, Serialize};

mod wire;

use wire::encode;
pub use wire::{recv, send, Packet, Recv, RecvError, SendError};

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
    /// The host uid (and gid) of root inside the box: the box gets its own
    /// user namespace (see `userns`). `None`: init stays root on the host.
    #[serde(default)]
    pub root_uid: Option<u32>,
    /// Kiln runs as an unprivileged user: the helper makes the box's user
    /// namespace itself, mapping only that user (to `uid`), before the others.
    #[serde(default)]
    pub rootless: bool,
    /// Host files bound read-only over files of the box's `/proc` once it is
    /// mounted (`inside` is a `/proc/…` path): a workspace's views of its
    /// limits (`/proc/meminfo`, `/proc/cpuinfo`).
    #[serde(default)]
    pub proc_binds: Vec<BindSpec>,
}

/// The working directory of programs inside every box.
pub const WORK_DIR: &str = "/box";

fn default_work_dir() -> String {
    WORK_DIR.to_string()
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
    /// A change to (or a look at) the working directory's tree: answered
    /// `Done` or `Failed`, or, for a listing, chunks of JSON.
    FileOp { req: u64, op: FileOp },
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

/// What a [`Request::FileOp`] does; paths are relative to the working
/// directory and resolved like a file's (never through a symlink).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FileOp {
    /// The entries of one directory (`""`: the working directory), a
    /// [`FileInfo`] list as JSON (paths relative to the working directory);
    /// fails when there are more than `max_entries`.
    ListDir { path: String, max_entries: u32 },
    /// Removes a file, a symlink (not its target) or an empty directory; a
    /// directory with everything in it when `recursive`.
    Remove { path: String, recursive: bool },
    /// Renames `from` to `to` (replacing a file there, never a directory
    /// that is not empty).
    Rename { from: String, to: String },
    /// Makes a directory, owned by the box's user (and its missing parents
    /// with `parents`; an existing directory is fine then).
    MakeDir { path: String, parents: bool },
}

impl Message for Request {
    fn req_id(&self) -> u64 {
        match self {
            Request::WriteFile { req, .. }
            | Request::ReadFile { req, .. }
            | Request::ListFiles { req, .. }
            | Request::FileOp { req, .. }
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
            Request::FileOp { .. } => "FileOp",
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

#[cfg(test)]
mod tests {
    use super::*;

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

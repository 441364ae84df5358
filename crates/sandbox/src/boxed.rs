//! One live box: its control connection, cgroup, uid and helper process.
//! Files go in and out through the box's init (never through host paths);
//! destroying a box closes its channel (init kills everything and exits, the
//! kernel unmounts its tmpfs) and removes its cgroup. Every wait on the box
//! is bounded (see `conn`); one that stops answering is killed through its
//! cgroup and reads as gone ([`SandboxBox::is_alive`] is false).

use std::sync::Arc;
use std::time::Duration;

use crate::cgroup::BoxCgroup;
use crate::conn::{Conn, Reply};
use crate::error::{Result, SandboxError};
use crate::protocol::{FileInfo, FileOp, Message, Request, CHUNK};
use crate::uid::UidLease;

pub struct SandboxBox {
    pub(crate) conn: Arc<Conn>,
    pub(crate) cgroup: Option<BoxCgroup>,
    child: Option<tokio::process::Child>,
    /// The box uid's lease, and the root uid's where the box has its own
    /// user namespace.
    leases: [Option<UidLease>; 2],
    reader: tokio::task::JoinHandle<()>,
}

impl SandboxBox {
    pub(crate) fn new(
        conn: Arc<Conn>,
        child: tokio::process::Child,
        cgroup: BoxCgroup,
        leases: [Option<UidLease>; 2],
    ) -> SandboxBox {
        conn.set_killer(cgroup.killer());
        let reader = tokio::spawn(conn.clone().read_loop());
        SandboxBox {
            conn,
            cgroup: Some(cgroup),
            child: Some(child),
            leases,
            reader,
        }
    }

    /// The uid programs in this box run as.
    pub fn uid(&self) -> u32 {
        self.leases[0].as_ref().map_or(0, |l| l.uid)
    }

    /// The host uid of root inside the box, where it has its own user
    /// namespace (`None`: init is root on the host).
    pub fn root_uid(&self) -> Option<u32> {
        self.leases[1].as_ref().map(|l| l.uid)
    }

    /// Sets the memory and process limits of the whole box (a workspace's
    /// template; one-shot runs set them per exec instead).
    pub fn set_box_limits(&self, memory_bytes: u64, processes: u32) -> Result<()> {
        self.cgroup().set_limits(memory_bytes, processes)
    }

    /// Caps the whole box at `cpus` CPUs (a CFS quota on its cgroup; a
    /// workspace's template).
    pub fn set_cpu_quota(&self, cpus: f64) -> Result<()> {
        self.cgroup().set_cpu_quota(cpus)
    }

    /// Host pids of the box's processes (helper, init, programs), from its
    /// cgroup: for diagnostics and containment tests.
    pub fn host_pids(&self) -> Vec<i32> {
        self.cgroup.as_ref().map(|cg| cg.pids()).unwrap_or_default()
    }

    /// Whether the box's init is still there.
    pub fn is_alive(&self) -> bool {
        !self.conn.is_gone()
    }

    pub(crate) fn cgroup(&self) -> &BoxCgroup {
        self.cgroup.as_ref().expect("present until destroy")
    }

    /// Writes a file under the box's working directory (`/box`), creating
    /// parent directories; the path is relative and never follows symlinks.
    pub async fn write_file(&self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        let mut chunks = data.chunks(CHUNK);
        let first = chunks.next().unwrap_or(&[]);
        self.write_chunk(path, first, mode, false).await?;
        for c in chunks {
            self.write_chunk(path, c, mode, true).await?;
        }
        Ok(())
    }

    /// Writes one part of a file under `/box` (at most [`CHUNK`](crate::protocol::CHUNK)
    /// bytes): the first part creates or truncates it, the next ones `append`.
    pub async fn write_chunk(
        &self,
        path: &str,
        data: &[u8],
        mode: u32,
        append: bool,
    ) -> Result<()> {
        let req = self.conn.next_id();
        let msg = Request::WriteFile {
            req,
            path: path.to_string(),
            mode,
            append,
        };
        match self.conn.request(req, &msg, data, &[]).await? {
            Reply::Done => Ok(()),
            Reply::Failed(m) => Err(SandboxError::Rejected(m)),
            Reply::Started { .. } => Err(SandboxError::Channel(
                "unexpected reply to a file write".into(),
            )),
        }
    }

    /// Reads at most `max_bytes` of a regular file under `/box`.
    pub async fn read_file(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
        self.read_range(path, 0, max_bytes).await
    }

    /// Reads at most `max_bytes` of a regular file under `/box`, from
    /// `offset` (empty at or past the end). The path is resolved again at
    /// each call, as the box user, inside the box.
    pub async fn read_range(&self, path: &str, offset: u64, max_bytes: u64) -> Result<Vec<u8>> {
        let req = self.conn.next_id();
        let msg = Request::ReadFile {
            req,
            path: path.to_string(),
            max_bytes,
            offset,
        };
        let mut rx = self.conn.request_chunks(req, &msg).await?;
        let mut out = Vec::new();
        while let Some(chunk) = self.conn.next_chunk(&mut rx, "ReadFile").await? {
            out.extend_from_slice(&chunk.map_err(SandboxError::Rejected)?);
        }
        if self.conn.is_gone() && out.is_empty() {
            return Err(SandboxError::Gone);
        }
        Ok(out)
    }

    /// Every entry under `/box` (symlinks listed, never followed); fails
    /// when there are more than `max_entries`.
    pub async fn list_files(&self, max_entries: u32) -> Result<Vec<FileInfo>> {
        let req = self.conn.next_id();
        let msg = Request::ListFiles { req, max_entries };
        self.listing(req, &msg).await
    }

    /// The entries of one directory under the working directory (`""`: the
    /// working directory itself), sorted; fails beyond `max_entries`.
    pub async fn list_dir(&self, path: &str, max_entries: u32) -> Result<Vec<FileInfo>> {
        let req = self.conn.next_id();
        let op = FileOp::ListDir {
            path: path.to_string(),
            max_entries,
        };
        self.listing(req, &Request::FileOp { req, op }).await
    }

    /// Removes, renames or makes a directory under the working directory
    /// (see [`FileOp`]; for a listing use [`SandboxBox::list_dir`]).
    pub async fn file_op(&self, op: FileOp) -> Result<()> {
        let req = self.conn.next_id();
        match self
            .conn
            .request(req, &Request::FileOp { req, op }, &[], &[])
            .await?
        {
            Reply::Done => Ok(()),
            Reply::Failed(m) => Err(SandboxError::Rejected(m)),
            Reply::Started { .. } => Err(SandboxError::Channel(
                "unexpected reply to a file operation".into(),
            )),
        }
    }

    /// A JSON listing sent in chunks.
    async fn listing(&self, req: u64, msg: &Request) -> Result<Vec<FileInfo>> {
        let mut rx = self.conn.request_chunks(req, msg).await?;
        let mut json = Vec::new();
        while let Some(chunk) = self.conn.next_chunk(&mut rx, msg.kind()).await? {
            json.extend_from_slice(&chunk.map_err(SandboxError::Rejected)?);
        }
        if self.conn.is_gone() && json.is_empty() {
            return Err(SandboxError::Gone);
        }
        serde_json::from_slice(&json)
            .map_err(|e| SandboxError::Channel(format!("unreadable file listing: {e}")))
    }

    /// Kills every process of the box (the box itself stays usable).
    pub async fn kill_all(&self) -> Result<()> {
        self.conn
            .send(&Request::Kill { pid: 0, all: true }, &[], &[])
            .await
    }

    /// Tears the box down and waits until its processes and cgroup are gone.
    pub async fn destroy(mut self) {
        self.conn.close();
        if let Some(mut child) = self.child.take() {
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_err()
            {
                // init did not exit on EOF: kill through the cgroup.
                if let Some(cg) = self.cgroup.as_ref() {
                    cg.kill_all();
                }
                let _ = child.start_kill();
                // A SIGKILLed child is reaped at once; the bound is a backstop.
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let r = tokio::task::spawn_blocking(move || cg.destroy()).await;
            if let Ok(Err(e)) = r {
                tracing::warn!(error = %e, "removing a box's cgroup failed");
            }
        }
        self.reader.abort();
        self.leases = [None, None];
    }
}

impl Drop for SandboxBox {
    fn drop(&mut self) {
        // A box dropped without `destroy`: close the channel so init kills
        // everything, and remove the cgroup on a plain thread.
        self.conn.close();
        self.reader.abort();
        if let Some(cg) = self.cgroup.take() {
            let leases = std::mem::take(&mut self.leases);
            std::thread::spawn(move || {
                let _ = cg.destroy();
                drop(leases);
            });
        }
    }
}

//! File transfers of a running workspace, streamed with backpressure: a
//! download reads the next range of the file only when its client has taken
//! the last one, an upload writes each part as it arrives, so a transfer
//! holds at most one [`PART`] in memory however large the file and however
//! slow the client. At most [`MAX_TRANSFERS`] run at once per workspace
//! (beyond: `Busy`, 429): four slow clients cannot make the server hold four
//! files, nor a thousand hold a thousand parts.

use std::sync::Arc;

use kiln_sandbox::SandboxBox;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::inside::{file_error, home_relative};
use crate::manager::{Busy, Manager};

/// Bytes per range read or write (one protocol chunk).
pub const PART: usize = kiln_sandbox::protocol::CHUNK;
/// Transfers in flight per workspace (each workspace's entry holds the permits).
pub use crate::manager::MAX_TRANSFERS;

/// A transfer sent part by part (a file, an archive): the server streams
/// any of them the same way.
pub trait Parts: Send + 'static {
    /// The next part; `None` at the end.
    fn next_part(&mut self) -> impl std::future::Future<Output = Result<Option<Vec<u8>>>> + Send;
}

/// A transfer received part by part (a file, an archive).
pub trait Sink: Send {
    /// Takes the next bytes of the body.
    fn take(&mut self, data: &[u8]) -> impl std::future::Future<Output = Result<()>> + Send;
}

impl Parts for Download {
    fn next_part(&mut self) -> impl std::future::Future<Output = Result<Option<Vec<u8>>>> + Send {
        self.next()
    }
}

impl Sink for Upload {
    fn take(&mut self, data: &[u8]) -> impl std::future::Future<Output = Result<()>> + Send {
        self.write(data)
    }
}

/// What every transfer holds: its box, its slot, and the workspace's busy mark.
pub(crate) struct Slot {
    pub(crate) b: Arc<SandboxBox>,
    pub(crate) rel: String,
    pub(crate) path: String,
    _permit: OwnedSemaphorePermit,
    _busy: Busy,
}

/// A download in progress: [`Download::next`] gives the file part by part.
pub struct Download {
    slot: Slot,
    offset: u64,
    max: u64,
    done: bool,
}

/// An upload in progress: [`Upload::write`] each part, then [`Upload::finish`].
pub struct Upload {
    slot: Slot,
    written: u64,
    limit: u64,
    limit_what: String,
}

impl Manager {
    /// A transfer slot on `path` (`rel` to the home), or `Busy`.
    pub(crate) fn slot(&self, owner: &str, id: Uuid, path: &str, rel: &str) -> Result<Slot> {
        let e = self.entry(owner, id)?;
        let rel = rel.to_string();
        let b = e.running_box()?;
        let permit = e.transfers.clone().try_acquire_owned().map_err(|_| {
            WorkspaceError::Busy(format!(
                "this workspace already has {MAX_TRANSFERS} file transfers in flight; retry when one ends"
            ))
        })?;
        Ok(Slot {
            b,
            rel,
            path: path.to_string(),
            _permit: permit,
            _busy: e.busy(),
        })
    }

    /// Starts a download of `path`: refuses now (before any byte is sent) a
    /// file that is missing, refused or larger than `max_file_bytes`.
    pub async fn download(&self, owner: &str, id: Uuid, path: &str) -> Result<Download> {
        let slot = self.slot(owner, id, path, home_relative(path)?)?;
        let max = self.settings.max_file_bytes;
        // One byte at `max`: there is one only when the file is too large.
        let beyond = slot
            .b
            .read_range(&slot.rel, max, 1)
            .await
            .map_err(|err| file_error(path, err))?;
        if !beyond.is_empty() {
            return Err(WorkspaceError::TooLarge(format!(
                "{path} is larger than {max} bytes (workspaces.max_file_bytes)"
            )));
        }
        Ok(Download {
            slot,
            offset: 0,
            max,
            done: false,
        })
    }

    /// Starts an upload to `path` (created or truncated by the first part),
    /// bounded by the template's `disk_mb`.
    pub async fn upload(&self, owner: &str, id: Uuid, path: &str) -> Result<Upload> {
        let template = {
            let e = self.entry(owner, id)?;
            let name = e.snapshot().template;
            self.template(&name)?.disk_mb
        };
        let slot = self.slot(owner, id, path, home_relative(path)?)?;
        Ok(Upload {
            slot,
            written: 0,
            limit: template << 20,
            limit_what: format!("the template's disk_mb {template}"),
        })
    }
}

impl Download {
    /// The next part of the file; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let want = (PART as u64).min(self.max.saturating_sub(self.offset));
        let s = &self.slot;
        let part = if want == 0 {
            Vec::new()
        } else {
            s.b.read_range(&s.rel, self.offset, want)
                .await
                .map_err(|err| file_error(&s.path, err))?
        };
        if part.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.offset += part.len() as u64;
        Ok(Some(part))
    }
}

impl Upload {
    /// Writes the next bytes (any length: sent in parts of at most [`PART`]).
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.written + data.len() as u64 > self.limit {
            return Err(WorkspaceError::TooLarge(format!(
                "{} is larger than {}",
                self.slot.path, self.limit_what
            )));
        }
        for part in data.chunks(PART) {
            let s = &self.slot;
            s.b.write_chunk(&s.rel, part, 0o644, self.written > 0)
                .await
                .map_err(|err| file_error(&s.path, err))?;
            self.written += part.len() as u64;
        }
        Ok(())
    }

    /// Ends the upload (an empty upload makes an empty file); the bytes written.
    pub async fn finish(mut self) -> Result<u64> {
        if self.written == 0 {
            let s = &self.slot;
            s.b.write_chunk(&s.rel, &[], 0o644, false)
                .await
                .map_err(|err| file_error(&s.path, err))?;
        }
        Ok(std::mem::take(&mut self.written))
    }
}

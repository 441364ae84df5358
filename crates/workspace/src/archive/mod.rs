//! Archives of a directory of the home, as tar, streamed both ways and
//! counted as file transfers (at most [`MAX_TRANSFERS`](crate::transfer::MAX_TRANSFERS)
//! per workspace). A download lists one directory at a time and reads each
//! file part by part through the box's init, only when the client took the
//! last part; symlinks and special files are left out (never followed). An
//! upload parses the tar as it arrives and writes each part into the box:
//! regular files and directories only (a link, device or FIFO entry is
//! refused), every path checked by the box like a file upload's (no `..`,
//! no absolute path, no symlink on the way). Either holds one part in
//! memory, whatever the archive's size.

pub mod tar;

use std::collections::VecDeque;

use kiln_sandbox::{FileInfo, FileKind, FileOp};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::files::{dir_relative, MAX_LIST_ENTRIES};
use crate::inside::file_error;
use crate::manager::Manager;
use crate::transfer::{Parts, Sink, Slot, PART};

/// A tar of a directory in progress: [`ArchiveDownload::next`] gives it part by part.
pub struct ArchiveDownload {
    slot: Slot,
    /// Directories still to list (relative to the home).
    dirs: Vec<String>,
    /// Listed entries not sent yet.
    queue: VecDeque<FileInfo>,
    /// The file being sent: its path, size and how much is sent.
    current: Option<(String, u64, u64)>,
    max_file: u64,
    mtime: u64,
    ended: bool,
}

/// What an archive upload wrote.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub directories: u64,
    pub bytes: u64,
}

enum State {
    /// Collecting a header block.
    Header,
    /// Writing a file's data (its path, bytes left, then padding).
    Data { rel: String, left: u64, pad: u64 },
    /// Collecting a long name or PAX records (`pax` true), then padding.
    Name {
        data: Vec<u8>,
        left: u64,
        pad: u64,
        pax: bool,
    },
    /// Skipping data (global PAX records), then padding.
    Skip { left: u64 },
    /// After the end blocks: the rest is ignored.
    End,
}

/// A tar being unpacked into a directory: [`ArchiveUpload::write`] what
/// arrives, then [`ArchiveUpload::finish`].
pub struct ArchiveUpload {
    slot: Slot,
    base: String,
    block: Vec<u8>,
    state: State,
    next_name: Option<String>,
    done: Extracted,
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

impl Manager {
    /// Starts a tar download of a directory of the home (`/home/kiln` included).
    pub async fn download_archive(
        &self,
        owner: &str,
        id: Uuid,
        path: &str,
    ) -> Result<ArchiveDownload> {
        let rel = dir_relative(path)?.to_string();
        let slot = self.slot(owner, id, path, &rel)?;
        // Refused now (before any byte is sent) when it is not a directory.
        let first = slot
            .b
            .list_dir(&rel, MAX_LIST_ENTRIES)
            .await
            .map_err(|err| file_error(path, err))?;
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(ArchiveDownload {
            slot,
            dirs: vec![],
            queue: first.into(),
            current: None,
            max_file: self.settings.max_file_bytes,
            mtime,
            ended: false,
        })
    }

    /// Starts unpacking a tar into a directory of the home (made if missing).
    pub async fn upload_archive(&self, owner: &str, id: Uuid, path: &str) -> Result<ArchiveUpload> {
        let base = dir_relative(path)?.to_string();
        let slot = self.slot(owner, id, path, &base)?;
        if !base.is_empty() {
            let op = FileOp::MakeDir {
                path: base.clone(),
                parents: true,
            };
            slot.b
                .file_op(op)
                .await
                .map_err(|err| file_error(path, err))?;
        }
        Ok(ArchiveUpload {
            slot,
            base,
            block: Vec::with_capacity(tar::BLOCK),
            state: State::Header,
            next_name: None,
            done: Extracted::default(),
        })
    }
}

impl Parts for ArchiveDownload {
    fn next_part(&mut self) -> impl std::future::Future<Output = Result<Option<Vec<u8>>>> + Send {
        self.next()
    }
}

impl Sink for ArchiveUpload {
    fn take(&mut self, data: &[u8]) -> impl std::future::Future<Output = Result<()>> + Send {
        self.write(data)
    }
}

impl ArchiveDownload {
    /// The entry's name in the archive: its path below the directory archived.
    fn name_of(&self, info_path: &str) -> String {
        match self.slot.rel.as_str() {
            "" => info_path.to_string(),
            base => info_path
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(info_path)
                .to_string(),
        }
    }

    /// The next part of the archive; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(part) = self.file_part().await? {
                return Ok(Some(part));
            }
            if let Some(info) = self.queue.pop_front() {
                let name = self.name_of(&info.path);
                match info.kind {
                    FileKind::Dir => {
                        self.dirs.push(info.path.clone());
                        let h = tar::entry_header(&name, true, 0, info.mode, self.mtime);
                        return Ok(Some(h));
                    }
                    FileKind::File if info.size <= self.max_file => {
                        let h = tar::entry_header(&name, false, info.size, info.mode, self.mtime);
                        self.current = Some((info.path, info.size, 0));
                        return Ok(Some(h));
                    }
                    // Too large, a symlink or a special file: left out.
                    _ => continue,
                }
            }
            if let Some(d) = self.dirs.pop() {
                let list = self
                    .slot
                    .b
                    .list_dir(&d, MAX_LIST_ENTRIES)
                    .await
                    .map_err(|err| file_error(&self.slot.path, err))?;
                self.queue.extend(list);
                continue;
            }
            if self.ended {
                return Ok(None);
            }
            self.ended = true;
            return Ok(Some(vec![0u8; 2 * tar::BLOCK]));
        }
    }

    /// The next part of the file being sent (its padding with its last
    /// part); zeros where the file shrank meanwhile.
    async fn file_part(&mut self) -> Result<Option<Vec<u8>>> {
        let Some((rel, size, sent)) = self.current.as_mut() else {
            return Ok(None);
        };
        let want = (PART as u64).min(*size - *sent);
        let mut part = if want == 0 {
            vec![]
        } else {
            self.slot
                .b
                .read_range(rel, *sent, want)
                .await
                .map_err(|err| file_error(&self.slot.path, err))?
        };
        if part.is_empty() && want > 0 {
            part = vec![0u8; want as usize];
        }
        *sent += part.len() as u64;
        if *sent == *size {
            part.resize(part.len() + tar::padding(*size), 0);
            self.current = None;
        }
        Ok(Some(part))
    }
}

impl ArchiveUpload {
    fn bad(&self, m: impl std::fmt::Display) -> WorkspaceError {
        WorkspaceError::invalid("body", format!("the archive for {}: {m}", self.slot.path))
    }

    /// Unpacks the next bytes of the archive.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            data = match &mut self.state {
                State::End => return Ok(()),
                State::Header => {
                    let take = (tar::BLOCK - self.block.len()).min(data.len());
                    self.block.extend_from_slice(&data[..take]);
                    if self.block.len() == tar::BLOCK {
                        let block = std::mem::take(&mut self.block);
                        self.header(&block).await?;
                    }
                    &data[take..]
                }
                State::Data { .. } => self.data(data).await?,
                State::Name { .. } => self.name_data(data)?,
                State::Skip { left } => {
                    let take = (*left).min(data.len() as u64) as usize;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Header;
                    }
                    &data[take..]
                }
            };
        }
        Ok(())
    }

    /// Acts on one header: makes a directory, starts a file, or collects a name.
    async fn header(&mut self, block: &[u8]) -> Result<()> {
        if tar::is_end(block) {
            self.state = State::End;
            return Ok(());
        }
        let h = tar::parse(block).map_err(|m| self.bad(m))?;
        let name = self.next_name.take().unwrap_or(h.name);
        let clean = name.trim_start_matches("./").trim_end_matches('/');
        let rel = join(&self.base, clean);
        let pad = tar::padding(h.size) as u64;
        match h.kind {
            tar::Kind::LongName | tar::Kind::Pax if h.size as usize > tar::MAX_NAME => {
                return Err(self.bad(format!("a name over {} bytes", tar::MAX_NAME)))
            }
            tar::Kind::LongName | tar::Kind::Pax => {
                let pax = h.kind == tar::Kind::Pax;
                self.state = State::Name { data: vec![], left: h.size, pad, pax };
            }
            tar::Kind::GlobalPax => self.state = State::Skip { left: h.size + pad },
            tar::Kind::Refused(t) => {
                return Err(self.bad(format!(
                    "{name:?} is a link, device or FIFO (type {:?}); only files and directories are unpacked",
                    t as char
                )))
            }
            tar::Kind::Dir if clean.is_empty() => {}
            tar::Kind::Dir => {
                let op = FileOp::MakeDir { path: rel, parents: true };
                self.slot.b.file_op(op).await.map_err(|e| file_error(&name, e))?;
                self.done.directories += 1;
            }
            tar::Kind::File => {
                // The first (empty) part creates or truncates it.
                let mode = if h.mode == 0 { 0o644 } else { h.mode & 0o777 };
                self.slot.b.write_chunk(&rel, &[], mode, false).await.map_err(|e| file_error(&name, e))?;
                self.done.files += 1;
                if h.size > 0 {
                    self.state = State::Data { rel, left: h.size, pad };
                }
            }
        }
        Ok(())
    }

    /// Writes file data (at most one part per request), then skips padding.
    async fn data<'a>(&mut self, data: &'a [u8]) -> Result<&'a [u8]> {
        let State::Data { rel, left, pad } = &mut self.state else {
            unreachable!("called in the data state")
        };
        if *left > 0 {
            let take = (*left).min(data.len() as u64).min(PART as u64) as usize;
            self.slot
                .b
                .write_chunk(rel, &data[..take], 0o644, true)
                .await
                .map_err(|e| file_error(&format!("/home/kiln/{rel}"), e))?;
            *left -= take as u64;
            self.done.bytes += take as u64;
            return Ok(&data[take..]);
        }
        let take = (*pad).min(data.len() as u64) as usize;
        *pad -= take as u64;
        if *pad == 0 {
            self.state = State::Header;
        }
        Ok(&data[take..])
    }

    /// Collects a long name or PAX records, then skips their padding.
    fn name_data<'a>(&mut self, data: &'a [u8]) -> Result<&'a [u8]> {
        let State::Name {
            data: buf,
            left,
            pad,
            pax,
        } = &mut self.state
        else {
            unreachable!("called in the name state")
        };
        let take = (*left).min(data.len() as u64) as usize;
        buf.extend_from_slice(&data[..take]);
        *left -= take as u64;
        let mut rest = &data[take..];
        if *left == 0 {
            let skip = (*pad).min(rest.len() as u64) as usize;
            *pad -= skip as u64;
            rest = &rest[skip..];
            if *pad == 0 {
                let name = if *pax {
                    tar::pax_path(buf)
                } else {
                    Some(tar::long_name(buf))
                };
                self.next_name = name;
                self.state = State::Header;
            }
        }
        Ok(rest)
    }

    /// Ends the upload: what was written. A cut-short archive is an error.
    pub fn finish(self) -> Result<Extracted> {
        match self.state {
            State::Header if self.block.is_empty() => Ok(self.done),
            State::End => Ok(self.done),
            _ => Err(self.bad("it ends in the middle of an entry")),
        }
    }
}

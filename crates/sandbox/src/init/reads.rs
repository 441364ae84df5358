//! Answering the host's reads: a file from an offset, or the listing of the
//! working directory, chunk by chunk (init never holds more than a chunk of
//! a file); and its file operations (one directory's listing, remove,
//! rename, make a directory).

use super::{failed, reply, Init};
use crate::files;
use crate::protocol::{FileInfo, FileOp, Response, CHUNK};

impl Init {
    /// Sends a file from `offset`, at most `max_bytes` of it, chunk by chunk.
    pub(super) fn read_file(&self, req: u64, path: &str, max_bytes: u64, offset: u64) {
        match files::open_read(&self.work, path).and_then(|mut f| {
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(offset))
                .map(|_| f)
                .map_err(|e| format!("seek {path:?} to {offset}: {e}"))
        }) {
            // Chunk by chunk: init never holds more than one chunk of a
            // file; an empty chunk marks the end.
            Ok(mut f) => {
                use std::io::Read;
                let mut chunk = vec![0u8; CHUNK];
                let mut left = max_bytes;
                loop {
                    let want = (CHUNK as u64).min(left) as usize;
                    let n = if want == 0 {
                        Ok(0)
                    } else {
                        f.read(&mut chunk[..want])
                    };
                    match n {
                        Ok(0) => {
                            reply(&self.ctl, &Response::Chunk { req, eof: true }, &[], &[]);
                            break;
                        }
                        Ok(n) => {
                            left -= n as u64;
                            reply(
                                &self.ctl,
                                &Response::Chunk { req, eof: false },
                                &chunk[..n],
                                &[],
                            );
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            reply(
                                &self.ctl,
                                &failed(req, format!("read {path:?}: {e}")),
                                &[],
                                &[],
                            );
                            break;
                        }
                    }
                }
            }
            Err(message) => reply(&self.ctl, &failed(req, message), &[], &[]),
        }
    }

    /// Sends the listing of the working directory as JSON, chunk by chunk.
    pub(super) fn list_files(&self, req: u64, max_entries: u32) {
        self.send_listing(req, files::list(&self.work, max_entries as usize));
    }

    /// Does one file operation: a listing is sent as [`Self::list_files`]'s,
    /// the rest answer `Done` or `Failed`.
    pub(super) fn file_op(&self, req: u64, op: FileOp) {
        let w = &self.work;
        let r = match op {
            FileOp::ListDir { path, max_entries } => {
                return self.send_listing(req, files::list_dir(w, &path, max_entries as usize))
            }
            FileOp::Remove { path, recursive } => files::remove(w, &path, recursive),
            FileOp::Rename { from, to } => files::rename(w, &from, &to),
            FileOp::MakeDir { path, parents } => {
                files::make_dir(w, &path, parents, (self.uid, self.gid))
            }
        };
        self.done(req, r);
    }

    fn send_listing(&self, req: u64, listing: Result<Vec<FileInfo>, String>) {
        match listing {
            Ok(list) => {
                let json = serde_json::to_vec(&list).expect("a listing serialises");
                for c in json.chunks(CHUNK) {
                    let header = Response::Chunk { req, eof: false };
                    reply(&self.ctl, &header, c, &[]);
                }
                reply(&self.ctl, &Response::Chunk { req, eof: true }, &[], &[]);
            }
            Err(message) => reply(&self.ctl, &failed(req, message), &[], &[]),
        }
    }
}

//! A cache entry: what one compile step produced (its outcome, its output,
//! and the files it left for the run step), and its on-disk form.
//!
//! On disk: the magic `KILNCC` + format version (8 bytes), the SHA-256 of
//! the body (32 bytes), then the body: the header's length (`u32`, little
//! endian), the header (JSON: the key, the outcome, and the length of each
//! blob), then the blobs — stdout, stderr and each artifact's bytes, in
//! order. A file that does not decode exactly (short, long, another key,
//! another hash) is corrupt.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::{Key, FORMAT_VERSION};

const MAGIC: &[u8; 6] = b"KILNCC";
const HEAD: usize = 8 + 32;
/// Most bytes of the JSON header (paths are at most 1 KiB each, and an
/// entry has at most [`crate::compile::MAX_ARTIFACTS`] of them).
const MAX_HEADER: usize = 8 << 20;

/// A file the compile step left in the box for the run step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the box's working directory.
    pub path: String,
    /// Permission bits as the compiler left them.
    pub mode: u32,
    pub data: Vec<u8>,
}

/// What a compile step produced. Only outcomes that depend on the inputs
/// alone are entries: a compile that ended by itself (exit code 0 or not),
/// never one stopped by a limit or a signal (see [`crate::cache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub exit_code: i32,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_kb: u64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Empty when the compile failed (the run step does not happen).
    pub artifacts: Vec<Artifact>,
    /// Submitted files the compile step deleted.
    pub removed: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: String,
    exit_code: i32,
    cpu_ms: u64,
    wall_ms: u64,
    memory_kb: u64,
    stdout: u64,
    stderr: u64,
    artifacts: Vec<ArtifactHeader>,
    removed: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct ArtifactHeader {
    path: String,
    mode: u32,
    len: u64,
}

impl Entry {
    /// Output and artifact bytes together (what the size of an entry is, closely).
    pub fn payload_len(&self) -> u64 {
        (self.stdout.len()
            + self.stderr.len()
            + self.artifacts.iter().map(|a| a.data.len()).sum::<usize>()) as u64
    }

    /// The file's bytes for `key`.
    pub fn encode(&self, key: &Key) -> Vec<u8> {
        let header = Header {
            key: key.hex(),
            exit_code: self.exit_code,
            cpu_ms: self.cpu_ms,
            wall_ms: self.wall_ms,
            memory_kb: self.memory_kb,
            stdout: self.stdout.len() as u64,
            stderr: self.stderr.len() as u64,
            artifacts: self
                .artifacts
                .iter()
                .map(|a| ArtifactHeader {
                    path: a.path.clone(),
                    mode: a.mode,
                    len: a.data.len() as u64,
                })
                .collect(),
            removed: self.removed.clone(),
        };
        let json = serde_json::to_vec(&header).expect("an entry header serialises");
        let mut body = Vec::with_capacity(4 + json.len() + self.payload_len() as usize);
        body.extend_from_slice(&(json.len() as u32).to_le_bytes());
        body.extend_from_slice(&json);
        body.extend_from_slice(&self.stdout);
        body.extend_from_slice(&self.stderr);
        for a in &self.artifacts {
            body.extend_from_slice(&a.data);
        }
        let mut out = Vec::with_capacity(HEAD + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(FORMAT_VERSION as u16).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&body));
        out.extend_from_slice(&body);
        out
    }

    /// The entry in `bytes`, which must be exactly the one written for `key`.
    pub fn decode(bytes: &[u8], key: &Key) -> Result<Entry, String> {
        if bytes.len() < HEAD + 4 {
            return Err(format!("{} bytes: shorter than any entry", bytes.len()));
        }
        let (head, body) = bytes.split_at(HEAD);
        if &head[..6] != MAGIC || head[6..8] != (FORMAT_VERSION as u16).to_le_bytes() {
            return Err("not an entry of this format version".into());
        }
        if Sha256::digest(body).as_slice() != &head[8..] {
            return Err("its content does not match its hash".into());
        }
        let json_len = u32::from_le_bytes(body[..4].try_into().expect("4 bytes")) as usize;
        if json_len > MAX_HEADER || 4 + json_len > body.len() {
            return Err(format!("header length {json_len} out of bounds"));
        }
        let h: Header = serde_json::from_slice(&body[4..4 + json_len])
            .map_err(|e| format!("unreadable header: {e}"))?;
        if h.key != key.hex() {
            return Err(format!("written for key {}", h.key));
        }
        let mut blobs = &body[4 + json_len..];
        let mut take = |len: u64| -> Result<Vec<u8>, String> {
            if len > blobs.len() as u64 {
                return Err("shorter than its header says".into());
            }
            let (this, rest) = blobs.split_at(len as usize);
            blobs = rest;
            Ok(this.to_vec())
        };
        let stdout = take(h.stdout)?;
        let stderr = take(h.stderr)?;
        let mut artifacts = Vec::with_capacity(h.artifacts.len());
        for a in h.artifacts {
            artifacts.push(Artifact {
                data: take(a.len)?,
                path: a.path,
                mode: a.mode,
            });
        }
        if !blobs.is_empty() {
            return Err(format!("{} bytes after the last blob", blobs.len()));
        }
        Ok(Entry {
            exit_code: h.exit_code,
            cpu_ms: h.cpu_ms,
            wall_ms: h.wall_ms,
            memory_kb: h.memory_kb,
            stdout,
            stderr,
            artifacts,
            removed: h.removed,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(seed: u8) -> Entry {
        Entry {
            exit_code: 0,
            cpu_ms: 40 + seed as u64,
            wall_ms: 50,
            memory_kb: 9000,
            stdout: vec![],
            stderr: b"main.c:1: warning: unused".to_vec(),
            artifacts: vec![
                Artifact {
                    path: "main".into(),
                    mode: 0o755,
                    data: vec![0x7f, b'E', b'L', b'F', seed],
                },
                Artifact {
                    path: "pkg/A.class".into(),
                    mode: 0o644,
                    data: vec![0xca, 0xfe, seed],
                },
            ],
            removed: vec![],
        }
    }

    #[test]
    fn round_trips_and_refuses_every_damage() {
        let key = Key([7; 32]);
        let e = sample(1);
        let bytes = e.encode(&key);
        assert_eq!(Entry::decode(&bytes, &key).unwrap(), e);
        assert!(Entry::decode(&bytes, &Key([8; 32]))
            .unwrap_err()
            .contains("written for key"));
        // Every single flipped byte and every truncation is caught.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(Entry::decode(&bad, &key).is_err(), "flip at {i}");
        }
        for n in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..n], &key).is_err(), "cut at {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Entry::decode(&long, &key).is_err());
    }
}

//! The cache key: SHA-256 over everything that can change what a compile
//! step produces. Each field is tagged and length-prefixed, so no two
//! different sets of inputs encode to the same bytes.

use sha2::{Digest, Sha256};

use crate::types::SourceFile;

/// Bumped whenever the key's fields or the entry format change: old entries
/// then never match (and an old-format file read under a new key is
/// rejected as corrupt by its magic).
pub const FORMAT_VERSION: u32 = 1;

/// A compile step's inputs: the language, the exact toolchain, the command
/// and environment it runs with, the limits and box sizes it runs under, and
/// every file of the submission (not only the compile units: a header or a
/// data file can be `#include`d).
#[derive(Debug, Clone, Copy)]
pub struct KeyInputs<'a> {
    pub language: &'a str,
    /// The toolchain as detected: its version and what identifies its
    /// compiler binary (see `crate::compile::toolchain_id`).
    pub toolchain: &'a str,
    pub argv: &'a [String],
    pub env: &'a [String],
    /// Named numbers the compile runs under (its CPU, wall, memory, process,
    /// file-size, open-file and stack limits, the box's tmpfs sizes); the
    /// output cap is not one of them (see `crate::cache`).
    pub limits: &'a [(&'a str, u64)],
    pub files: &'a [SourceFile],
}

/// A cache key (SHA-256 of the [`KeyInputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    pub fn derive(k: &KeyInputs) -> Key {
        let mut h = Hasher(Sha256::new());
        h.field(b"format", &FORMAT_VERSION.to_le_bytes());
        h.field(b"language", k.language.as_bytes());
        h.field(b"toolchain", k.toolchain.as_bytes());
        h.list(b"argv", k.argv.iter().map(|a| a.as_bytes()));
        h.list(b"env", k.env.iter().map(|e| e.as_bytes()));
        h.count(b"limits", k.limits.len());
        for (name, value) in k.limits {
            h.field(b"limit", name.as_bytes());
            h.field(b"value", &value.to_le_bytes());
        }
        h.count(b"files", k.files.len());
        for f in k.files {
            h.field(b"name", f.name.as_bytes());
            h.field(b"content", f.content.as_bytes());
        }
        Key(h.0.finalize().into())
    }

    /// Lower-case hex, the entry's file name.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

struct Hasher(Sha256);

impl Hasher {
    fn field(&mut self, tag: &[u8], bytes: &[u8]) {
        self.0.update((tag.len() as u64).to_le_bytes());
        self.0.update(tag);
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn count(&mut self, tag: &[u8], n: usize) {
        self.field(tag, &(n as u64).to_le_bytes());
    }

    fn list<'b>(&mut self, tag: &[u8], items: impl ExactSizeIterator<Item = &'b [u8]>) {
        self.count(tag, items.len());
        for item in items {
            self.field(b"item", item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            content: content.into(),
        }
    }

    struct Base {
        argv: Vec<String>,
        env: Vec<String>,
        limits: Vec<(&'static str, u64)>,
        files: Vec<SourceFile>,
    }

    fn base() -> Base {
        Base {
            argv: ["/usr/bin/gcc", "-O2", "-o", "main", "./main.c"]
                .map(String::from)
                .to_vec(),
            env: vec!["PATH=/usr/bin:/bin".into()],
            limits: vec![("cpu_ms", 30_000), ("memory_bytes", 1 << 30)],
            files: vec![
                file("main.c", "int main(){return 0;}"),
                file("util.h", "#pragma once"),
            ],
        }
    }

    type Change = Box<dyn Fn(&mut Base)>;

    fn key_of(b: &Base, language: &str, toolchain: &str) -> Key {
        Key::derive(&KeyInputs {
            language,
            toolchain,
            argv: &b.argv,
            env: &b.env,
            limits: &b.limits,
            files: &b.files,
        })
    }

    #[test]
    fn the_same_inputs_give_the_same_key() {
        let a = key_of(&base(), "c", "gcc 12.2.0");
        assert_eq!(a, key_of(&base(), "c", "gcc 12.2.0"));
        assert_eq!(a.hex().len(), 64);
    }

    /// Any change of a file's name or bytes, the language, the toolchain,
    /// the command, the environment or the limits changes the key.
    #[test]
    fn every_input_changes_the_key() {
        let reference = key_of(&base(), "c", "gcc 12.2.0");
        let mut variants: Vec<Key> = vec![
            key_of(&base(), "cpp", "gcc 12.2.0"),
            key_of(&base(), "c", "gcc 12.3.0"),
        ];
        let changes: Vec<Change> = vec![
            Box::new(|b| b.files[0].content.push(' ')),
            Box::new(|b| b.files[1].content = "#pragma  once".into()),
            Box::new(|b| b.files[0].name = "Main.c".into()),
            Box::new(|b| b.files[1].name = "util.hpp".into()),
            Box::new(|b| b.files.swap(0, 1)),
            Box::new(|b| b.files.push(file("data.txt", ""))),
            Box::new(|b| {
                b.files.pop();
            }),
            Box::new(|b| b.argv[1] = "-O3".into()),
            Box::new(|b| b.argv.push("-lm".into())),
            Box::new(|b| b.env.push("GOFLAGS=-race".into())),
            Box::new(|b| b.limits[0].1 += 1),
            Box::new(|b| b.limits[1].0 = "memory_kb"),
        ];
        for change in &changes {
            let mut b = base();
            change(&mut b);
            variants.push(key_of(&b, "c", "gcc 12.2.0"));
        }
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, reference, "variant {i} kept the key");
        }
        let mut unique = variants.clone();
        unique.sort_by_key(|k| k.0);
        unique.dedup();
        assert_eq!(unique.len(), variants.len(), "two variants collided");
    }

    /// Moving bytes between neighbouring fields changes the key (every
    /// field is length-prefixed).
    #[test]
    fn field_boundaries_are_part_of_the_key() {
        let mut a = base();
        a.files = vec![file("ab", "c")];
        let mut b = base();
        b.files = vec![file("a", "bc")];
        assert_ne!(key_of(&a, "c", "x"), key_of(&b, "c", "x"));
        let mut c = base();
        c.argv = vec!["-O2 -o".into()];
        let mut d = base();
        d.argv = vec!["-O2".into(), "-o".into()];
        assert_ne!(key_of(&c, "c", "x"), key_of(&d, "c", "x"));
    }
}

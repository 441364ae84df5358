//! Compiler speed-ups built once per node ("toolchain assets"): a GCC
//! precompiled header of the standard headers a C++ source includes first
//! ([`pch`]), and a class-data-sharing archive of `javac`'s own classes
//! ([`cds`]). Each is a directory `<kind>-<key>` of the store, bound
//! read-only at [`INSIDE`] in every box; a compile that can use one gets
//! the compiler options that name it.
//!
//! Why a box can trust them: an asset is built by the language's own
//! compiler from Kiln's own inputs (a header listing standard headers, a
//! Java program of Kiln's), never from a submission's bytes or options,
//! as `nobody`, then checked (the compiler must accept it without a word)
//! before it is renamed into place whole and synced; the compiler itself
//! checks it again at every use and falls back to the plain headers when it
//! does not fit (GCC) or starts without it (the JVM).
//!
//! When one is built: a key seen [`BUILD_AFTER`] times (a header list used
//! once is not worth a build), one build at a time, in the background; a
//! failed build is not tried again until the process restarts. The store
//! holds at most `max_bytes`: the least recently used assets that no
//! compile holds go first, and a new asset that still does not fit is
//! dropped. A directory belongs to one process (a lock file): a second
//! process on it runs without assets.
//!
//! Module map: this file, the store; `pch` and `cds`, the recipes; `build`,
//! running a recipe.

mod build;
pub mod cds;
pub mod pch;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kiln_lang::{Accel, Language};
use sha2::{Digest, Sha256};

use crate::types::{SourceFile, Submission};

/// Where the store is bound in every box.
pub const INSIDE: &str = "/kiln/assets";
/// Uses of a key before its asset is built.
pub const BUILD_AFTER: u32 = 2;
/// Keys counted but not built yet, at most (then the counts start over).
const MAX_SEEN: usize = 4096;

/// How to build one asset and use it.
pub struct Recipe {
    /// `pch` or `cds`: the directory's prefix.
    pub kind: &'static str,
    /// SHA-256 (hex) of everything the asset depends on.
    pub key: String,
    /// Files written into the build directory first.
    pub files: Vec<(&'static str, String)>,
    pub steps: Vec<Step>,
    /// The files that make the asset (the rest is removed).
    pub keep: &'static [&'static str],
    /// Compiler options that use it; `{dir}` is its directory in the box.
    pub uses: Vec<String>,
}

/// One command of a recipe, run in the build directory.
pub struct Step {
    pub argv: Vec<String>,
    /// It must print nothing (a check that the asset is accepted).
    pub quiet: bool,
    /// A file it writes, renamed afterwards.
    pub output: Option<(&'static str, &'static str)>,
}

/// A built asset. Compiles hold it while they run: a held asset is never evicted.
pub struct Ready {
    dir_name: String,
    bytes: u64,
    /// Milliseconds since the store opened, at its last use.
    used: AtomicU64,
}

enum Slot {
    Seen(u32),
    Building,
    Ready(Arc<Ready>),
    Failed,
}

/// The asset store of one node.
pub struct Assets {
    dir: PathBuf,
    max_bytes: u64,
    opened: Instant,
    slots: Mutex<HashMap<String, Slot>>,
    builds: tokio::sync::Mutex<()>,
    _lock: File,
}

#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("toolchain assets: {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("toolchain assets: {0} is used by another Kiln process; this one runs without assets (give each process its own directory)")]
    Busy(PathBuf),
}

/// What a compile uses: the compiler options, and the asset held meanwhile.
pub struct Use {
    pub options: Vec<String>,
    pub held: Arc<Ready>,
}

impl Assets {
    /// Opens (creating it, mode 0755) the store in `dir`: finished assets
    /// are ready, leftovers of interrupted builds are removed.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Arc<Assets>, AssetsError> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| AssetsError::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod", dir))?;
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(AssetsError::Busy(dir.to_path_buf()));
        }
        let mut slots = HashMap::new();
        for e in std::fs::read_dir(dir).map_err(io("read", dir))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".build-") || name.starts_with(".trash-") {
                let _ = std::fs::remove_dir_all(e.path());
            } else if let Some((_, key)) = name.split_once('-') {
                let bytes = dir_bytes(&e.path());
                let ready = Ready {
                    dir_name: name.clone(),
                    bytes,
                    used: AtomicU64::new(0),
                };
                slots.insert(key.to_string(), Slot::Ready(Arc::new(ready)));
            }
        }
        Ok(Arc::new(Assets {
            dir: dir.to_path_buf(),
            max_bytes,
            opened: Instant::now(),
            slots: Mutex::new(slots),
            builds: tokio::sync::Mutex::new(()),
            _lock: lock,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Assets being built or waiting to be (a benchmark waits for none).
    pub fn building(&self) -> usize {
        let slots = self.slots.lock().expect("assets lock");
        slots
            .values()
            .filter(|s| matches!(s, Slot::Building))
            .count()
    }

    /// The asset this compile of `sub` in `lang` (compile units `units`)
    /// can use, if it is built; otherwise the use is counted, and the
    /// asset built in the background once it has been asked for enough.
    pub fn for_compile(
        self: &Arc<Self>,
        lang: &Language,
        toolchain: &str,
        sub: &Submission,
        units: &[String],
    ) -> Option<Use> {
        let recipe = match lang.accel {
            Accel::None => return None,
            Accel::JavacCds => cds::recipe(lang, toolchain)?,
            Accel::CxxPch if !sub.compiler_options.is_empty() => return None,
            Accel::CxxPch => {
                let files: Vec<&SourceFile> = units
                    .iter()
                    .filter_map(|u| sub.files.iter().find(|f| &f.name == u))
                    .collect();
                pch::recipe(lang, toolchain, &files)?
            }
        };
        self.lookup(recipe)
    }

    fn lookup(self: &Arc<Self>, recipe: Recipe) -> Option<Use> {
        let mut slots = self.slots.lock().expect("assets lock");
        if slots.len() >= MAX_SEEN {
            slots.retain(|_, s| !matches!(s, Slot::Seen(_)));
        }
        let slot = slots.entry(recipe.key.clone()).or_insert(Slot::Seen(0));
        match slot {
            Slot::Ready(r) => {
                r.used.store(self.now_ms(), Ordering::Relaxed);
                let dir = format!("{INSIDE}/{}", r.dir_name);
                let options = recipe
                    .uses
                    .iter()
                    .map(|u| u.replace("{dir}", &dir))
                    .collect();
                Some(Use {
                    options,
                    held: r.clone(),
                })
            }
            Slot::Building | Slot::Failed => None,
            Slot::Seen(n) => {
                *n += 1;
                if *n >= BUILD_AFTER {
                    *slot = Slot::Building;
                    let me = self.clone();
                    tokio::spawn(async move { me.build(recipe).await });
                }
                None
            }
        }
    }

    async fn build(self: Arc<Self>, recipe: Recipe) {
        let _one_at_a_time = self.builds.lock().await;
        let name = format!("{}-{}", recipe.kind, recipe.key);
        let scratch = self.dir.join(format!(".build-{name}"));
        let _ = std::fs::remove_dir_all(&scratch);
        let started = Instant::now();
        let built = build::run(&scratch, &recipe).await.and_then(|bytes| {
            self.make_room(bytes)?;
            std::fs::rename(&scratch, self.dir.join(&name))
                .map_err(|e| format!("rename {}: {e}", scratch.display()))?;
            Ok(bytes)
        });
        let slot = match built {
            Ok(bytes) => {
                tracing::info!(asset = %name, bytes, secs = started.elapsed().as_secs_f64(), "toolchain asset built");
                Slot::Ready(Arc::new(Ready {
                    dir_name: name,
                    bytes,
                    used: AtomicU64::new(self.now_ms()),
                }))
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                tracing::warn!(asset = %name, error = %e, "toolchain asset not built; compiles go without it");
                Slot::Failed
            }
        };
        self.slots
            .lock()
            .expect("assets lock")
            .insert(recipe.key, slot);
    }

    /// Evicts the least recently used assets no compile holds until `bytes`
    /// more fit; `Err` when they cannot.
    fn make_room(&self, bytes: u64) -> Result<(), String> {
        let mut slots = self.slots.lock().expect("assets lock");
        let mut ready: Vec<(String, Arc<Ready>)> = slots
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Ready(r) => Some((k.clone(), r.clone())),
                _ => None,
            })
            .collect();
        let mut total: u64 = ready.iter().map(|(_, r)| r.bytes).sum();
        ready.sort_by_key(|(_, r)| r.used.load(Ordering::Relaxed));
        for (key, r) in ready {
            if total + bytes <= self.max_bytes {
                break;
            }
            // Held by the map, `ready` and nothing else: no compile uses it.
            if Arc::strong_count(&r) > 2 {
                continue;
            }
            let trash = self.dir.join(format!(".trash-{}", r.dir_name));
            if std::fs::rename(self.dir.join(&r.dir_name), &trash).is_ok() {
                let _ = std::fs::remove_dir_all(&trash);
                slots.remove(&key);
                total -= r.bytes;
            }
        }
        if total + bytes > self.max_bytes {
            return Err(format!(
                "{bytes} bytes do not fit in the store's {} (the assets in use take {total})",
                self.max_bytes
            ));
        }
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }
}

/// Hex SHA-256 of `parts`, each length-prefixed.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;

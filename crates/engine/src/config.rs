//! Engine configuration: concurrency, default and maximum limits, compile
//! limits, input size caps, and how the sandbox is started.
//!
//! The maxima's defaults are the constants below, the one place they are
//! written: [`EngineConfig::default`] (`kiln run`) uses them, and so do the
//! defaults of `kiln serve`'s settings (`kiln_server::config`), from which a
//! server derives its engine's config. The default [`Limits`] of a submission
//! are `Limits::default()`.

use std::path::PathBuf;

use kiln_sandbox::{HelperCommand, SandboxConfig};

use crate::types::Limits;

/// Most bytes of source, all files together.
pub const MAX_SOURCE_BYTES: usize = 256 << 10;
/// Most bytes of stdin, of each test's stdin and of each expected output.
pub const MAX_STDIN_BYTES: usize = 1 << 20;
/// Most test cases in one submission.
pub const MAX_TESTS: usize = 64;
/// Most source files in one submission.
pub const MAX_FILES: usize = 64;
/// The most a submission may ask for: generous for compiled languages,
/// bounded so that one submission cannot hold a worker for long.
pub const MAX_LIMITS: Limits = Limits {
    cpu_time_ms: 20_000,
    wall_time_ms: 40_000,
    memory_kb: 1024 * 1024,
    processes: 256,
    output_bytes: 16 << 20,
};
/// Limits of the compile step (per-language minimums still apply).
pub const COMPILE_LIMITS: Limits = Limits {
    cpu_time_ms: 30_000,
    wall_time_ms: 60_000,
    memory_kb: 1024 * 1024,
    processes: 64,
    output_bytes: 64 << 10,
};

/// Bytes the compile cache may hold on disk by default.
pub const COMPILE_CACHE_BYTES: u64 = 1 << 30;

/// Where compile results are cached and how much they may take (see
/// [`crate::cache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileCacheConfig {
    /// The cache's directory (created, mode 0700); several nodes may share one.
    pub dir: PathBuf,
    /// Bytes of entries on disk before the least recently used are evicted.
    pub max_bytes: u64,
}

/// Bytes the toolchain assets may hold on disk by default (a precompiled
/// `<bits/stdc++.h>` alone is about 120 MB).
pub const TOOLCHAIN_ASSETS_BYTES: u64 = 2 << 30;

/// Where compiler speed-ups are built and kept (see [`crate::assets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetsConfig {
    /// The store's directory (created, mode 0755); one process's own.
    pub dir: PathBuf,
    /// Bytes of assets on disk before the least recently used are evicted.
    pub max_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Boxes running at once; further submissions wait for a slot.
    pub max_boxes: usize,
    /// Boxes built ahead of time, so a run does not wait for namespaces and mounts.
    pub warm_boxes: usize,
    pub default_limits: Limits,
    /// The most a submission may ask for.
    pub max_limits: Limits,
    /// Limits of the compile step (per language minimums still apply).
    pub compile_limits: Limits,
    pub max_source_bytes: usize,
    pub max_stdin_bytes: usize,
    pub max_files: usize,
    pub max_tests: usize,
    /// The compile cache; `None`: every submission is compiled.
    pub compile_cache: Option<CompileCacheConfig>,
    /// Precompiled headers and class-data archives; `None`: compilers start cold.
    pub assets: Option<AssetsConfig>,
    pub helper: HelperCommand,
    pub sandbox: SandboxConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        EngineConfig {
            max_boxes: cpus,
            warm_boxes: 0,
            default_limits: Limits::default(),
            max_limits: MAX_LIMITS,
            compile_limits: COMPILE_LIMITS,
            max_source_bytes: MAX_SOURCE_BYTES,
            max_stdin_bytes: MAX_STDIN_BYTES,
            max_files: MAX_FILES,
            max_tests: MAX_TESTS,
            compile_cache: None,
            assets: None,
            helper: HelperCommand::current_exe(),
            sandbox: SandboxConfig::default(),
        }
    }
}

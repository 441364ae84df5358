//! kiln-engine: compiles and runs a submission in Kiln's sandbox and judges it.
//!
//! Module map:
//! - [`types`]    — submissions, limits, verdicts and reports (the API's vocabulary).
//! - [`engine`]   — the [`Engine`]: box pool, compile once, run each test, verdicts.
//! - [`config`]   — [`EngineConfig`]: concurrency, limits and their maxima.
//! - [`validate`] — checks a submission before it is queued, naming the bad field.
//! - [`judge`]    — from a run's outcome to its verdict; output comparison.
//! - [`cache`]    — the compile cache: keys, entries on disk, LRU, metrics.
//! - [`assets`]   — compiler speed-ups built once per node: a C++ precompiled
//!   header of a source's leading standard includes, a `javac` CDS archive.
//! - `compile`    — the compile step: its plan (what the box is fed and the
//!   key names), which files are its artifacts, its report facts.
//! - `run_step`   — the run step: each test run and judged, one output budget.

pub mod assets;
pub mod cache;
mod compile;
pub mod config;
pub mod engine;
pub mod judge;
mod run_step;
pub mod types;
pub mod validate;

pub use cache::CacheStats;
pub use compile::toolchain_id;
pub use config::{AssetsConfig, CompileCacheConfig, EngineConfig};
pub use engine::{Engine, EngineError, StreamEvent};
pub use kiln_lang::Catalog;
pub use kiln_sandbox::HelperCommand;
pub use types::*;
pub use validate::ValidationError;

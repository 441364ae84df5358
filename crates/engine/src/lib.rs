//! kiln-engine: compiles and runs a submission in Kiln's sandbox and judges it.
//!
//! Module map:
//! - [`types`]    — submissions, limits, verdicts and reports (the API's vocabulary).
//! - [`engine`]   — the [`Engine`]: box pool, compile once, run each test, verdicts.
//! - [`config`]   — [`EngineConfig`]: concurrency, limits and their maxima.
//! - [`validate`] — checks a submission before it is queued, naming the bad field.
//! - [`judge`]    — from a run's outcome to its verdict; output comparison.

pub mod config;
pub mod engine;
pub mod judge;
pub mod types;
pub mod validate;

pub use config::EngineConfig;
pub use engine::{Engine, EngineError, StreamEvent};
pub use kiln_lang::Catalog;
pub use kiln_sandbox::HelperCommand;
pub use types::*;
pub use validate::ValidationError;

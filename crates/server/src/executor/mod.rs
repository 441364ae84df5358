//! What the workers run submissions with. [`Executor`] is the seam between the
//! server and the engine: `kiln_engine::Engine` implements it for real runs, and
//! tests implement it with programs of their own to drive the queue logic.

use async_trait::async_trait;
use bytes::Bytes;
use kiln_engine::{Report, Submission};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A field of a submission the executor refuses, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A chunk of output of an interactive run: the engine's own type, so its
/// stream goes straight to the WebSocket with no task in between (a task
/// that waits on a slow client would hold the run's result, and its slot).
pub type OutputChunk = kiln_engine::StreamEvent;

/// One language as `GET /api/v1/languages` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageInfo {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub compiled: bool,
}

#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Languages this executor can run.
    fn languages(&self) -> Vec<LanguageInfo>;
    /// The file name `source` gets for `language` (e.g. `Main.java`).
    fn source_file_name(&self, language: &str) -> Option<String>;
    /// Checks what only the executor knows before a submission is queued
    /// (its languages); the rest is `kiln_engine::validate::check`.
    fn validate(&self, sub: &Submission) -> Result<(), FieldError>;
    /// Compiles and runs; never fails: Kiln's own failures are `internal_error` reports.
    async fn execute(&self, sub: Submission) -> Report;
    /// Interactive run: stdin as it arrives (closed channel = EOF), output as produced.
    async fn execute_streaming(
        &self,
        sub: Submission,
        stdin: mpsc::Receiver<Bytes>,
        output: mpsc::Sender<OutputChunk>,
    ) -> Report;
    /// How boxes are isolated here (`/health`'s `sandbox`); `None` where
    /// this executor runs no sandbox.
    fn sandbox(&self) -> Option<serde_json::Value> {
        None
    }
}

mod engine;

pub use engine::{engine_config, STREAM_CHUNKS};

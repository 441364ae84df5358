//! [`Executor`] for the real engine: sandboxed compile and run.

use async_trait::async_trait;
use bytes::Bytes;
use kiln_engine::{Engine, EngineConfig, Report, StreamEvent, Submission};
use tokio::sync::mpsc;

use super::{Executor, FieldError, LanguageInfo, OutputChunk};
use crate::config::Config;

/// Output chunks (of at most 64 KiB) in flight between the engine and the
/// WebSocket of an interactive run.
pub const STREAM_CHUNKS: usize = 4;

/// The engine's settings from the server's: one box per worker, the server's
/// limits and input maxima.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        max_boxes: config.workers,
        warm_boxes: config.warm_boxes,
        default_limits: config.default_limits,
        max_limits: config.max_limits,
        max_source_bytes: config.max_source_bytes,
        max_stdin_bytes: config.max_stdin_bytes,
        max_tests: config.max_tests,
        ..EngineConfig::default()
    }
}

#[async_trait]
impl Executor for Engine {
    fn languages(&self) -> Vec<LanguageInfo> {
        self.catalog()
            .available()
            .iter()
            .map(|l| LanguageInfo {
                id: l.id.clone(),
                name: l.name.clone(),
                version: (!l.version.is_empty()).then(|| l.version.clone()),
                compiled: l.is_compiled(),
            })
            .collect()
    }

    fn source_file_name(&self, language: &str) -> Option<String> {
        self.catalog().get(language).map(|l| l.default_file.clone())
    }

    fn validate(&self, sub: &Submission) -> Result<(), FieldError> {
        Engine::validate(self, sub).map_err(|e| FieldError {
            field: e.field,
            message: e.message,
        })
    }

    async fn execute(&self, sub: Submission) -> Report {
        Engine::execute(self, sub).await
    }

    async fn execute_streaming(
        &self,
        sub: Submission,
        stdin: mpsc::Receiver<Bytes>,
        output: mpsc::Sender<OutputChunk>,
    ) -> Report {
        // Bounded (chunks are at most 64 KiB): a slow client slows the program
        // down (see kiln_sandbox::exec); when the client goes away (`output`
        // closes) the events' receiver is dropped, which stops the run.
        let (events_tx, mut events) = mpsc::channel::<StreamEvent>(STREAM_CHUNKS);
        let forward = async move {
            loop {
                let ev = tokio::select! {
                    ev = events.recv() => ev,
                    () = output.closed() => break,
                };
                let Some(ev) = ev else { break };
                let chunk = match ev {
                    StreamEvent::Stdout(b) => OutputChunk::Stdout(b),
                    StreamEvent::Stderr(b) => OutputChunk::Stderr(b),
                };
                if output.send(chunk).await.is_err() {
                    break;
                }
            }
        };
        let (report, ()) = tokio::join!(
            Engine::execute_streaming(self, sub, stdin, events_tx),
            forward
        );
        report
    }
}

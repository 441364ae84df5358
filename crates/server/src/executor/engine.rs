//! [`Executor`] for the real engine: sandboxed compile and run.

use async_trait::async_trait;
use bytes::Bytes;
use kiln_engine::{Engine, EngineConfig, Report, Submission};
use tokio::sync::mpsc;

use super::{Executor, FieldError, LanguageInfo, OutputChunk};
use crate::config::Config;

/// Output chunks (of at most 64 KiB) in flight between the engine and the
/// WebSocket of an interactive run.
pub const STREAM_CHUNKS: usize = 4;

/// The engine's settings from the server's: one box per worker, the server's
/// limits and input maxima.
pub fn engine_config(config: &Config) -> EngineConfig {
    let rules = config.validation_rules();
    EngineConfig {
        max_boxes: config.workers,
        warm_boxes: config.warm_boxes,
        default_limits: config.default_limits,
        max_limits: rules.max_limits,
        max_source_bytes: rules.max_source_bytes,
        max_stdin_bytes: rules.max_stdin_bytes,
        max_files: rules.max_files,
        max_tests: rules.max_tests,
        compile_cache: config.compile_cache.clone(),
        assets: config.assets.clone(),
        ..EngineConfig::default()
    }
}

#[async_trait]
impl Executor for Engine {
    fn sandbox(&self) -> Option<serde_json::Value> {
        self.sandbox_info().map(|i| {
            serde_json::json!({
                "cgroup_version": i.cgroup_version,
                "user_namespaces": i.user_namespaces,
                "rootless": i.rootless,
            })
        })
    }

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

    /// The language only: the server has run the rest of the one validator
    /// (`kiln_engine::validate::check`) with the same maxima.
    fn validate(&self, sub: &Submission) -> Result<(), FieldError> {
        kiln_engine::validate::language(&sub.language, self.catalog()).map_err(|e| FieldError {
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
        // `output` is bounded (chunks are at most 64 KiB): a slow client
        // slows the program down (see kiln_sandbox::exec); when the client
        // goes away its receiver is dropped, which stops the run.
        Engine::execute_streaming(self, sub, stdin, output).await
    }
}

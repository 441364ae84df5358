//! Engine configuration: concurrency, default and maximum limits, compile
//! limits, input size caps, and how the sandbox is started.

use kiln_sandbox::{HelperCommand, SandboxConfig};

use crate::types::Limits;

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
            max_limits: Limits {
                cpu_time_ms: 30_000,
                wall_time_ms: 60_000,
                memory_kb: 2 * 1024 * 1024,
                processes: 256,
                output_bytes: 16 << 20,
            },
            compile_limits: Limits {
                cpu_time_ms: 30_000,
                wall_time_ms: 60_000,
                memory_kb: 1024 * 1024,
                processes: 64,
                output_bytes: 64 << 10,
            },
            max_source_bytes: 1 << 20,
            max_stdin_bytes: 8 << 20,
            max_files: 64,
            max_tests: 100,
            helper: HelperCommand::current_exe(),
            sandbox: SandboxConfig::default(),
        }
    }
}

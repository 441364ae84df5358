//! The results of one test, shaped like Coder's `harness.Results` JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_measure::Percentiles;
use serde::Serialize;
use serde_json::Value;

use super::{percentiles_of, RunResult};
use crate::config::fmt_dur;

/// The JSON of one test (one results file).
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub test: String,
    pub platform: String,
    pub target: String,
    pub started_at: String,
    pub scale: f64,
    pub interrupted: bool,
    pub total_runs: usize,
    pub total_pass: usize,
    pub total_fail: usize,
    /// `total_fail / total_runs` in percent.
    pub error_rate_percent: f64,
    pub elapsed: String,
    pub elapsed_ms: u64,
    /// P50/P95/P99 (ms) of the durations of the passing runs.
    pub duration: Percentiles,
    /// Test-specific figures (template and count, per-endpoint latency, bytes, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
    pub runs: BTreeMap<String, RunResult>,
}

/// Where and how a test ran (the header of its results).
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub platform: String,
    pub target: String,
    pub scale: f64,
}

impl Results {
    pub fn build(
        test: &str,
        info: &RunInfo,
        started_at: String,
        runs: Vec<RunResult>,
        elapsed: Duration,
        interrupted: bool,
    ) -> Self {
        let total_runs = runs.len();
        let total_fail = runs.iter().filter(|r| r.error.is_some()).count();
        let duration = percentiles_of(
            runs.iter()
                .filter(|r| r.error.is_none())
                .map(|r| Duration::from_millis(r.duration_ms)),
        );
        Results {
            test: test.into(),
            platform: info.platform.clone(),
            target: info.target.clone(),
            started_at,
            scale: info.scale,
            interrupted,
            total_runs,
            total_pass: total_runs - total_fail,
            total_fail,
            error_rate_percent: if total_runs == 0 {
                0.0
            } else {
                100.0 * total_fail as f64 / total_runs as f64
            },
            elapsed: fmt_dur(elapsed),
            elapsed_ms: elapsed.as_millis() as u64,
            duration,
            extra: serde_json::Map::new(),
            runs: runs.into_iter().map(|r| (r.full_id.clone(), r)).collect(),
        }
    }

    /// Writes `dir/file` (pretty JSON).
    pub fn write(
        &self,
        dir: &std::path::Path,
        file: &str,
    ) -> Result<(), crate::error::ScaletestError> {
        let path = dir.join(file);
        let text = serde_json::to_string_pretty(self).expect("results serialize");
        std::fs::write(&path, text + "\n")
            .map_err(|source| crate::error::ScaletestError::WriteResults { path, source })
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "{}: {} runs, {} pass, {} fail ({:.2} % errors), elapsed {}, duration P50 {:.0} ms P95 {:.0} ms P99 {:.0} ms",
            self.test, self.total_runs, self.total_pass, self.total_fail, self.error_rate_percent, self.elapsed,
            self.duration.p50_ms, self.duration.p95_ms, self.duration.p99_ms
        )
    }
}

//! The vocabulary shared by every client of the engine: what a submission is,
//! what limits apply, and what a finished run reports. Field names and verdict
//! strings are fixed by PRODUCT.md; the HTTP API serialises these as they are.

use serde::{Deserialize, Serialize};

/// One source file of a program. The first file of a submission is its entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    pub name: String,
    pub content: String,
}

/// One test case: input and, optionally, the expected output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    #[serde(default)]
    pub stdin: String,
    #[serde(default)]
    pub expected_output: Option<String>,
}

/// Resource limits of one run step. Compile steps get their own, larger limits
/// from the engine's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time of all processes of the run, in milliseconds.
    pub cpu_time_ms: u64,
    /// Wall-clock time, in milliseconds.
    pub wall_time_ms: u64,
    /// Peak memory of all processes of the run, in KiB.
    pub memory_kb: u64,
    /// Processes and threads alive at once.
    pub processes: u32,
    /// Bytes of stdout plus stderr kept; more gives `output_limit_exceeded`.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time_ms: 5_000,
            wall_time_ms: 10_000,
            memory_kb: 256 * 1024,
            processes: 64,
            output_bytes: 1024 * 1024,
        }
    }
}

/// A program to compile (when its language needs it) and run against one or
/// more inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub language: String,
    pub files: Vec<SourceFile>,
    #[serde(default)]
    pub stdin: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub expected_output: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    /// When non-empty, the program is compiled once and run once per test;
    /// `stdin` and `expected_output` above are then ignored.
    #[serde(default)]
    pub tests: Vec<TestCase>,
}

/// The verdict of a run, with the exact strings of PRODUCT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Accepted,
    WrongAnswer,
    CompilationError,
    RuntimeError,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    OutputLimitExceeded,
    InternalError,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Accepted => "accepted",
            Status::WrongAnswer => "wrong_answer",
            Status::CompilationError => "compilation_error",
            Status::RuntimeError => "runtime_error",
            Status::TimeLimitExceeded => "time_limit_exceeded",
            Status::MemoryLimitExceeded => "memory_limit_exceeded",
            Status::OutputLimitExceeded => "output_limit_exceeded",
            Status::InternalError => "internal_error",
        }
    }

    /// True for the verdicts a finished submission can have.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown status {s:?}"))
    }
}

/// What one run of the program (one test) produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// CPU time of all processes, in milliseconds.
    pub time_ms: u64,
    pub wall_time_ms: u64,
    /// Peak memory, in KiB.
    pub memory_kb: u64,
    /// Why, for `internal_error` and for limits: a human sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The finished result of a submission. For a single-input submission the
/// top-level fields are those of its one run; with `tests`, they are those of
/// the first failing test (or the last one when all pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    pub compile_output: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: u64,
    pub wall_time_ms: u64,
    pub memory_kb: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-test results, in the order of `Submission::tests`; empty without tests.
    #[serde(default)]
    pub tests: Vec<RunReport>,
}

impl Report {
    /// A report for a submission that could not be run at all.
    pub fn internal_error(message: impl Into<String>) -> Report {
        Report {
            status: Status::InternalError,
            stdout: String::new(),
            stderr: String::new(),
            compile_output: String::new(),
            exit_code: None,
            signal: None,
            time_ms: 0,
            wall_time_ms: 0,
            memory_kb: 0,
            message: Some(message.into()),
            tests: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_round_trip() {
        for s in [
            Status::Queued,
            Status::Running,
            Status::Accepted,
            Status::WrongAnswer,
            Status::CompilationError,
            Status::RuntimeError,
            Status::TimeLimitExceeded,
            Status::MemoryLimitExceeded,
            Status::OutputLimitExceeded,
            Status::InternalError,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("nope".parse::<Status>().is_err());
    }
}

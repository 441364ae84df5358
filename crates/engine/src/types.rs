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
    /// The output budget: bytes of stdout and stderr of every test plus the
    /// compile output, all together; a test that takes the total over it is
    /// `output_limit_exceeded` and the tests after it are not run (see
    /// [`Report`]).
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Extra compiler arguments, one word each (Judge0's `compiler_options`),
    /// placed where the language's compile command takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compiler_options: Vec<String>,
    /// The program's stderr goes to its stdout (Judge0's
    /// `redirect_stderr_to_stdout`): one stream, interleaved as written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merge_stderr: bool,
    /// Lower limits for the compile step than the server's (Piston's
    /// `compile_timeout` and `compile_memory_limit`).
    #[serde(default, skip_serializing_if = "CompileLimits::is_empty")]
    pub compile_limits: CompileLimits,
}

/// Limits a submission asks for its compile step; each at most the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompileLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
}

impl CompileLimits {
    pub fn is_empty(&self) -> bool {
        *self == CompileLimits::default()
    }

    /// The server's compile limits `server`, lowered where this asks.
    pub fn apply(&self, server: Limits) -> Limits {
        Limits {
            cpu_time_ms: self
                .cpu_time_ms
                .map_or(server.cpu_time_ms, |v| v.min(server.cpu_time_ms)),
            wall_time_ms: self
                .wall_time_ms
                .map_or(server.wall_time_ms, |v| v.min(server.wall_time_ms)),
            memory_kb: self
                .memory_kb
                .map_or(server.memory_kb, |v| v.min(server.memory_kb)),
            ..server
        }
    }
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
    /// The exact bytes of `stdout` when it is not valid UTF-8 (`stdout` then
    /// has U+FFFD in place of the invalid bytes); `None` when `stdout` is exact.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64")]
    pub stdout_bytes: Option<Vec<u8>>,
    /// As `stdout_bytes`, for `stderr`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64")]
    pub stderr_bytes: Option<Vec<u8>>,
}

/// The finished result of a submission. For a single-input submission the
/// top-level fields are those of its one run; with `tests`, they are those of
/// the first failing test (or the last one when all pass).
///
/// Output: the compile output and the stdout and stderr of every test share
/// one budget, `limits.output_bytes`. A test that writes more than what is
/// left is stopped and `output_limit_exceeded` (its output is kept up to the
/// budget); the tests after it are not run and are listed as
/// `output_limit_exceeded` with a message saying so. A compiler that writes
/// more than the budget (or than the compile limit's `output_bytes`) is
/// stopped: `compilation_error`. So the output bytes a report holds are at
/// most twice the budget (the top-level copy of one test's), and each text
/// field is the output as UTF-8 with invalid bytes replaced; the exact bytes
/// are kept beside it (`*_bytes`, base64 when serialised) when that was lossy.
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
    /// CPU time of the compile step, in milliseconds; `None` for a language
    /// without one (or when it did not start).
    #[serde(default)]
    pub compile_time_ms: Option<u64>,
    /// Wall-clock time of the compile step, in milliseconds.
    #[serde(default)]
    pub compile_wall_time_ms: Option<u64>,
    /// Whether the compile step's result came from the compile cache (then
    /// no compiler ran for this submission, and `compile_output`,
    /// `compile_time_ms` and `compile_wall_time_ms` are those of the compile
    /// that made the cached entry: the report is the one a compile would
    /// have given); `None` for a language without a compile step.
    #[serde(default)]
    pub compile_cached: Option<bool>,
    /// Exact bytes of `stdout` when the text is lossy (see [`RunReport::stdout_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64")]
    pub stdout_bytes: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64")]
    pub stderr_bytes: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64")]
    pub compile_output_bytes: Option<Vec<u8>>,
    /// Where the submission's time went (filled by the server's worker; `None`
    /// from the engine alone and in results stored before stages existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Stages>,
}

/// Output as text: the string (invalid UTF-8 replaced by U+FFFD) and, when
/// that was lossy, the exact bytes.
pub fn output_text(bytes: Vec<u8>) -> (String, Option<Vec<u8>>) {
    match String::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => {
            let raw = e.into_bytes();
            (String::from_utf8_lossy(&raw).into_owned(), Some(raw))
        }
    }
}

/// The exact bytes of an output field: `raw` when the text is lossy, else the text.
pub fn exact_bytes<'a>(text: &'a str, raw: &'a Option<Vec<u8>>) -> &'a [u8] {
    raw.as_deref().unwrap_or(text.as_bytes())
}

/// Serde for `Option<Vec<u8>>` as an optional base64 string (standard alphabet, padded).
pub mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(t) => base64::engine::general_purpose::STANDARD
                .decode(t)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
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
            compile_time_ms: None,
            compile_wall_time_ms: None,
            compile_cached: None,
            stdout_bytes: None,
            stderr_bytes: None,
            compile_output_bytes: None,
            stages: None,
        }
    }
}

/// Bytes of `s` inside a JSON string (serde_json's escapes: two bytes for
/// `"`, `\\` and the short control escapes, six for other control bytes).
pub fn json_escaped_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

pub mod stages;
pub mod stored;

pub use stages::Stages;

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

    #[test]
    fn lossy_output_keeps_its_exact_bytes_through_json() {
        let (text, raw) = output_text(b"ok\n".to_vec());
        assert_eq!((text.as_str(), raw), ("ok\n", None));
        let bad = vec![b'a', 0xff, 0xfe, b'\x1b', b'b'];
        let (text, raw) = output_text(bad.clone());
        assert_eq!(text, "a\u{fffd}\u{fffd}\u{1b}b");
        assert_eq!(raw.as_deref(), Some(&bad[..]));
        let mut r = Report::internal_error("x");
        r.stdout = text;
        r.stdout_bytes = raw;
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"stdout_bytes\":\"Yf/+G2I=\""), "{json}");
        assert!(!json.contains("stderr_bytes"), "{json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(exact_bytes(&back.stdout, &back.stdout_bytes), &bad[..]);
        // Reports stored before these fields existed still load.
        let old = r#"{"status":"accepted","stdout":"","stderr":"","compile_output":"","exit_code":0,"signal":null,"time_ms":1,"wall_time_ms":1,"memory_kb":1}"#;
        let old: Report = serde_json::from_str(old).unwrap();
        assert_eq!((old.compile_time_ms, old.stdout_bytes), (None, None));
    }
}

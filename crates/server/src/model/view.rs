//! What a client reads back: a submission as the API shows it
//! ([`SubmissionView`]), a finished run's fields ([`ReportView`]), one test's
//! ([`TestView`]), and the [`Encoding`] of their output fields.

use kiln_engine::{exact_bytes, json_escaped_len, Report, RunReport, Status};
use serde::{Deserialize, Serialize};

use super::stream::json_response;

/// How the output fields of a result are written: `text` (the default: UTF-8,
/// invalid bytes replaced by U+FFFD, and `*_lossy: true` says so) or
/// `base64` (the exact bytes, standard alphabet with padding). Asked for with
/// `?encoding=base64` on the result routes and the WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Text,
    Base64,
}

impl Encoding {
    /// An output field in this encoding; `raw` is its exact bytes when the text is lossy.
    pub fn render(self, text: &str, raw: &Option<Vec<u8>>) -> String {
        match self {
            Encoding::Text => text.to_string(),
            Encoding::Base64 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(exact_bytes(text, raw))
            }
        }
    }

    /// As [`Encoding::render`], taking the field (no copy of the text).
    pub fn render_owned(self, text: String, raw: Option<Vec<u8>>) -> String {
        match self {
            Encoding::Text => text,
            Encoding::Base64 => self.render(&text, &raw),
        }
    }

    /// Raw output bytes of a streamed chunk in this encoding.
    pub fn render_bytes(self, data: &[u8]) -> String {
        match self {
            Encoding::Text => String::from_utf8_lossy(data).into_owned(),
            Encoding::Base64 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(data)
            }
        }
    }
}

/// One test's result as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestView {
    pub status: Status,
    pub stdout: String,
    /// The text of `stdout` is not exactly the program's bytes (invalid UTF-8
    /// was replaced); ask for `encoding=base64` to get them.
    #[serde(default)]
    pub stdout_lossy: bool,
    pub stderr: String,
    #[serde(default)]
    pub stderr_lossy: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: u64,
    pub wall_time_ms: u64,
    pub memory_kb: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl TestView {
    /// As [`TestView::new`], taking the report (its text is not copied).
    pub fn from_report(r: RunReport, enc: Encoding) -> TestView {
        TestView {
            status: r.status,
            stdout_lossy: r.stdout_bytes.is_some(),
            stdout: enc.render_owned(r.stdout, r.stdout_bytes),
            stderr_lossy: r.stderr_bytes.is_some(),
            stderr: enc.render_owned(r.stderr, r.stderr_bytes),
            exit_code: r.exit_code,
            signal: r.signal,
            time_ms: r.time_ms,
            wall_time_ms: r.wall_time_ms,
            memory_kb: r.memory_kb,
            message: r.message,
        }
    }

    pub fn new(r: &RunReport, enc: Encoding) -> TestView {
        TestView {
            status: r.status,
            stdout: enc.render(&r.stdout, &r.stdout_bytes),
            stdout_lossy: r.stdout_bytes.is_some(),
            stderr: enc.render(&r.stderr, &r.stderr_bytes),
            stderr_lossy: r.stderr_bytes.is_some(),
            exit_code: r.exit_code,
            signal: r.signal,
            time_ms: r.time_ms,
            wall_time_ms: r.wall_time_ms,
            memory_kb: r.memory_kb,
            message: r.message.clone(),
        }
    }
}

/// A finished run's result fields (the WebSocket's `result` message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportView {
    pub status: Status,
    pub encoding: Encoding,
    pub stdout: String,
    pub stdout_lossy: bool,
    pub stderr: String,
    pub stderr_lossy: bool,
    pub compile_output: String,
    pub compile_output_lossy: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: u64,
    pub wall_time_ms: u64,
    pub memory_kb: u64,
    pub compile_time_ms: Option<u64>,
    pub compile_wall_time_ms: Option<u64>,
    /// Whether the compile step came from the compile cache (`null` without one).
    #[serde(default)]
    pub compile_cached: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub tests: Vec<TestView>,
}

impl ReportView {
    pub fn new(r: &Report, enc: Encoding) -> ReportView {
        ReportView {
            status: r.status,
            encoding: enc,
            stdout: enc.render(&r.stdout, &r.stdout_bytes),
            stdout_lossy: r.stdout_bytes.is_some(),
            stderr: enc.render(&r.stderr, &r.stderr_bytes),
            stderr_lossy: r.stderr_bytes.is_some(),
            compile_output: enc.render(&r.compile_output, &r.compile_output_bytes),
            compile_output_lossy: r.compile_output_bytes.is_some(),
            exit_code: r.exit_code,
            signal: r.signal,
            time_ms: r.time_ms,
            wall_time_ms: r.wall_time_ms,
            memory_kb: r.memory_kb,
            compile_time_ms: r.compile_time_ms,
            compile_wall_time_ms: r.compile_wall_time_ms,
            compile_cached: r.compile_cached,
            message: r.message.clone(),
            tests: r.tests.iter().map(|t| TestView::new(t, enc)).collect(),
        }
    }
}

/// A submission as `GET /api/v1/submissions/{id}` shows it. The output
/// fields (`stdout`, `stderr`, `compile_output`, and those of each test) are
/// in `encoding`; `*_lossy` says when their text is not the exact bytes.
///
/// Size: the output bytes of a result are at most twice the submission's
/// budget `limits.output_bytes` (every test's output within the budget, plus
/// the top-level copy of one test's), so its JSON is at most 12 × the budget
/// in `text` (a control byte is escaped as `\u00XX`, six bytes) and
/// 8/3 × the budget in `base64`, plus under 1 KiB per test.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubmissionView {
    pub id: String,
    pub language: String,
    pub status: Status,
    #[serde(default)]
    pub encoding: Encoding,
    pub stdout: Option<String>,
    #[serde(default)]
    pub stdout_lossy: Option<bool>,
    pub stderr: Option<String>,
    #[serde(default)]
    pub stderr_lossy: Option<bool>,
    pub compile_output: Option<String>,
    #[serde(default)]
    pub compile_output_lossy: Option<bool>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: Option<u64>,
    pub wall_time_ms: Option<u64>,
    pub memory_kb: Option<u64>,
    /// CPU time of the compile step (`null` without one).
    #[serde(default)]
    pub compile_time_ms: Option<u64>,
    #[serde(default)]
    pub compile_wall_time_ms: Option<u64>,
    /// Whether the compile step came from the compile cache (`null` without
    /// one, and while queued or running).
    #[serde(default)]
    pub compile_cached: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub tests: Vec<TestView>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub queue_wait_ms: Option<u64>,
    /// Where its time went, stage by stage (docs/api.md, "Stages"); `null`
    /// until finished.
    #[serde(default)]
    pub stages: Option<kiln_engine::Stages>,
    /// What was submitted, with the limits applied (`?include=input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<kiln_engine::Submission>,
    /// Where its callback stands (`pending`, `delivered`, `failed`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<crate::store::CallbackStatus>,
}

impl SubmissionView {
    pub fn new(rec: &crate::store::SubmissionRecord) -> Self {
        SubmissionView::with_encoding(rec, Encoding::Text)
    }

    /// Bytes of this view as JSON, closely (to size the answer's buffer once:
    /// a result can be many MiB, and a growing buffer would briefly need
    /// one and a half times that).
    pub fn json_len_hint(&self) -> usize {
        let field = |s: &Option<String>| s.as_deref().map_or(0, json_escaped_len);
        let tests: usize = self
            .tests
            .iter()
            .map(|t| {
                400 + json_escaped_len(&t.stdout)
                    + json_escaped_len(&t.stderr)
                    + t.message.as_deref().map_or(0, json_escaped_len)
            })
            .sum();
        let input = self.input.as_ref().map_or(0, |i| {
            let text = i
                .files
                .iter()
                .map(|f| f.content.as_str())
                .chain([i.stdin.as_str(), i.expected_output.as_deref().unwrap_or("")]);
            let tests = i
                .tests
                .iter()
                .flat_map(|t| [t.stdin.as_str(), t.expected_output.as_deref().unwrap_or("")]);
            512 + text.chain(tests).map(json_escaped_len).sum::<usize>()
                + i.args
                    .iter()
                    .map(|a| json_escaped_len(a) + 3)
                    .sum::<usize>()
        });
        1024 + input
            + field(&self.stdout)
            + field(&self.stderr)
            + field(&self.compile_output)
            + field(&self.message)
            + tests
    }

    /// The view as a JSON answer (streamed when large, see [`json_response`]).
    pub fn into_response(self, status: axum::http::StatusCode) -> axum::response::Response {
        let hint = self.json_len_hint();
        json_response(status, self, hint)
    }

    /// As [`SubmissionView::with_encoding`], taking the record: the output
    /// is moved, not copied (a result can be many MiB).
    pub fn from_record(mut rec: crate::store::SubmissionRecord, enc: Encoding) -> Self {
        let Some(r) = rec.report.take() else {
            return SubmissionView::with_encoding(&rec, enc);
        };
        let mut view = SubmissionView::with_encoding(&rec, enc);
        view.stdout_lossy = Some(r.stdout_bytes.is_some());
        view.stdout = Some(enc.render_owned(r.stdout, r.stdout_bytes));
        view.stderr_lossy = Some(r.stderr_bytes.is_some());
        view.stderr = Some(enc.render_owned(r.stderr, r.stderr_bytes));
        view.compile_output_lossy = Some(r.compile_output_bytes.is_some());
        view.compile_output = Some(enc.render_owned(r.compile_output, r.compile_output_bytes));
        view.exit_code = r.exit_code;
        view.signal = r.signal;
        view.time_ms = Some(r.time_ms);
        view.wall_time_ms = Some(r.wall_time_ms);
        view.memory_kb = Some(r.memory_kb);
        view.compile_time_ms = r.compile_time_ms;
        view.compile_wall_time_ms = r.compile_wall_time_ms;
        view.compile_cached = r.compile_cached;
        view.stages = r.stages;
        view.message = r.message;
        view.tests = r
            .tests
            .into_iter()
            .map(|t| TestView::from_report(t, enc))
            .collect();
        view
    }

    pub fn with_encoding(rec: &crate::store::SubmissionRecord, enc: Encoding) -> Self {
        let r: Option<&Report> = rec.report.as_ref();
        SubmissionView {
            id: rec.id.clone(),
            language: rec.submission.language.clone(),
            status: rec.status,
            encoding: enc,
            stdout: r.map(|r| enc.render(&r.stdout, &r.stdout_bytes)),
            stdout_lossy: r.map(|r| r.stdout_bytes.is_some()),
            stderr: r.map(|r| enc.render(&r.stderr, &r.stderr_bytes)),
            stderr_lossy: r.map(|r| r.stderr_bytes.is_some()),
            compile_output: r.map(|r| enc.render(&r.compile_output, &r.compile_output_bytes)),
            compile_output_lossy: r.map(|r| r.compile_output_bytes.is_some()),
            exit_code: r.and_then(|r| r.exit_code),
            signal: r.and_then(|r| r.signal),
            time_ms: r.map(|r| r.time_ms),
            wall_time_ms: r.map(|r| r.wall_time_ms),
            memory_kb: r.map(|r| r.memory_kb),
            compile_time_ms: r.and_then(|r| r.compile_time_ms),
            compile_wall_time_ms: r.and_then(|r| r.compile_wall_time_ms),
            compile_cached: r.and_then(|r| r.compile_cached),
            message: r.and_then(|r| r.message.clone()),
            tests: r
                .map(|r| r.tests.iter().map(|t| TestView::new(t, enc)).collect())
                .unwrap_or_default(),
            created_at: rfc3339(rec.created_at_ms),
            started_at: rec.started_at_ms.map(rfc3339),
            finished_at: rec.finished_at_ms.map(rfc3339),
            queue_wait_ms: rec
                .started_at_ms
                .map(|s| (s - rec.created_at_ms).max(0) as u64),
            stages: r.and_then(|r| r.stages),
            input: None,
            callback: rec.callback.clone(),
        }
    }
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

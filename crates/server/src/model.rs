//! The API's bodies: what a client submits ([`SubmissionRequest`]), how it is
//! checked and turned into an engine [`Submission`] ([`Validator`]), and what a
//! client reads back ([`SubmissionView`]).

use kiln_engine::{
    exact_bytes, json_escaped_len, Report, RunReport, SourceFile, Status, Submission, TestCase,
};
use serde::{Deserialize, Serialize};

use crate::config::{Config, LimitsPatch};
use crate::error::ApiError;
use crate::executor::Executor;

/// `POST /api/v1/submissions` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    pub language: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub files: Option<Vec<SourceFile>>,
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub expected_output: Option<String>,
    #[serde(default)]
    pub limits: Option<LimitsPatch>,
    #[serde(default)]
    pub tests: Option<Vec<TestCase>>,
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Extra compiler arguments, one word each.
    #[serde(default)]
    pub compiler_options: Option<Vec<String>>,
    /// stderr into stdout.
    #[serde(default)]
    pub merge_stderr: Option<bool>,
    /// Lower compile limits than the server's.
    #[serde(default)]
    pub compile_limits: Option<kiln_engine::CompileLimits>,
}

/// `POST /api/v1/submissions/batch` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub submissions: Vec<SubmissionRequest>,
}

/// A request that passed every check: what gets stored and queued.
#[derive(Debug, Clone)]
pub struct ValidSubmission {
    pub submission: Submission,
    pub callback_url: Option<url::Url>,
    /// How the callback is sent (the API dialect that asked for it).
    pub callback_kind: crate::store::CallbackKind,
}

/// Checks requests against the configured maxima and the executor.
pub struct Validator<'a> {
    pub config: &'a Config,
    pub executor: &'a dyn Executor,
}

impl Validator<'_> {
    /// The request's shape (`source` or `files`, the callback's URL), then the
    /// engine's one validator ([`kiln_engine::validate::check`]) with this
    /// server's maxima, then the executor's languages. The callback's address
    /// is checked when it is called (see [`crate::callback::check_url`]).
    pub fn check(
        &self,
        req: SubmissionRequest,
        field_prefix: &str,
    ) -> Result<ValidSubmission, ApiError> {
        let c = self.config;
        let field = |name: &str| format!("{field_prefix}{name}");
        let language = req.language.trim().to_string();
        if language.is_empty() {
            return Err(ApiError::invalid_field(
                &field("language"),
                self.languages_hint("is empty"),
            ));
        }
        let files = match (req.source, req.files) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_field(
                    &field("source"),
                    "give either `source` or `files`, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::invalid_field(
                    &field("source"),
                    "missing: give `source` (a string) or `files` ([{name, content}])",
                ))
            }
            (Some(source), None) => vec![SourceFile {
                name: self
                    .executor
                    .source_file_name(&language)
                    .unwrap_or_else(|| "main".to_string()),
                content: source,
            }],
            (None, Some(files)) => files,
        };
        let callback_url = match req.callback_url {
            None => None,
            Some(u) => Some(
                crate::callback::parse_url(&u)
                    .map_err(|m| ApiError::invalid_field(&field("callback_url"), m))?,
            ),
        };
        let submission = Submission {
            language,
            files,
            stdin: req.stdin.unwrap_or_default(),
            args: req.args.unwrap_or_default(),
            expected_output: req.expected_output,
            limits: req.limits.unwrap_or_default().apply(c.default_limits),
            tests: req.tests.unwrap_or_default(),
            compiler_options: req.compiler_options.unwrap_or_default(),
            merge_stderr: req.merge_stderr.unwrap_or(false),
            compile_limits: req.compile_limits.unwrap_or_default(),
        };
        kiln_engine::validate::check(&submission, &c.validation_rules())
            .map_err(|e| ApiError::invalid_field(&field(&e.field), e.message))?;
        self.executor.validate(&submission).map_err(|e| {
            let message = if e.field == "language" {
                self.languages_hint(&e.message)
            } else {
                e.message
            };
            ApiError::invalid_field(&field(&e.field), message)
        })?;
        Ok(ValidSubmission {
            submission,
            callback_url,
            callback_kind: crate::store::CallbackKind::Kiln,
        })
    }

    fn languages_hint(&self, message: &str) -> String {
        if message.contains("available") {
            return message.to_string();
        }
        let ids: Vec<String> = self
            .executor
            .languages()
            .into_iter()
            .map(|l| l.id)
            .collect();
        format!("{message}; available languages: {}", ids.join(", "))
    }
}

/// `{id, status}`: the answer to an accepted submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub id: String,
    pub status: Status,
}

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
            input: None,
            callback: rec.callback.clone(),
        }
    }
}

/// Answers of at most this many bytes (by the hint) are serialized whole;
/// larger ones are streamed.
const STREAM_ABOVE: usize = 1 << 20;
/// Bytes per chunk of a streamed answer.
const STREAM_CHUNK: usize = 64 * 1024;

/// `value` as a JSON answer. Up to [`STREAM_ABOVE`] bytes (`size_hint`) it is
/// serialized into a buffer sized once; a larger one (a result with megabytes
/// of output) is serialized on a blocking thread in chunks of 64 KiB, each
/// handed to the connection when the client has taken the previous ones, so
/// the server never holds a large answer whole. A client that takes no chunk
/// for [`crate::ws::SEND_STALL`] gets a cut answer.
pub fn json_response<T: Serialize + Send + 'static>(
    status: axum::http::StatusCode,
    value: T,
    size_hint: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    if size_hint <= STREAM_ABOVE {
        let mut buf = Vec::with_capacity(size_hint);
        return match serde_json::to_writer(&mut buf, &value) {
            Ok(()) => (status, json, buf).into_response(),
            Err(e) => ApiError::internal(format!("serializing the answer: {e}")).into_response(),
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            tx,
            buf: Vec::with_capacity(STREAM_CHUNK),
        };
        let done = serde_json::to_writer(&mut w, &value)
            .map_err(std::io::Error::from)
            .and_then(|()| w.send());
        if let Err(e) = done {
            // The body ends in an error: the client sees a cut answer, not a short one.
            let _ = w.tx.try_send(Err(e));
        }
    });
    let chunks =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    (status, json, axum::body::Body::from_stream(chunks)).into_response()
}

/// Hands serialized JSON to a streamed body in chunks.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        use tokio::sync::mpsc::error::TrySendError;
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut chunk = Ok(bytes::Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(STREAM_CHUNK),
        )));
        let start = std::time::Instant::now();
        loop {
            match self.tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(_)) => {
                    return Err(std::io::Error::other("the client went away"))
                }
                Err(TrySendError::Full(c)) => {
                    if start.elapsed() > crate::ws::SEND_STALL {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the client took nothing for too long",
                        ));
                    }
                    chunk = c;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= STREAM_CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

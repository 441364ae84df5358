//! The API's bodies: what a client submits ([`SubmissionRequest`]), how it is
//! checked and turned into an engine [`Submission`] ([`Validator`]), and what a
//! client reads back ([`SubmissionView`]).

use kiln_engine::{Report, RunReport, SourceFile, Status, Submission, TestCase};
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

/// A submission as `GET /api/v1/submissions/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubmissionView {
    pub id: String,
    pub language: String,
    pub status: Status,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub compile_output: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: Option<u64>,
    pub wall_time_ms: Option<u64>,
    pub memory_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub tests: Vec<RunReport>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub queue_wait_ms: Option<u64>,
}

impl SubmissionView {
    pub fn new(rec: &crate::store::SubmissionRecord) -> Self {
        let r: Option<&Report> = rec.report.as_ref();
        SubmissionView {
            id: rec.id.clone(),
            language: rec.submission.language.clone(),
            status: rec.status,
            stdout: r.map(|r| r.stdout.clone()),
            stderr: r.map(|r| r.stderr.clone()),
            compile_output: r.map(|r| r.compile_output.clone()),
            exit_code: r.and_then(|r| r.exit_code),
            signal: r.and_then(|r| r.signal),
            time_ms: r.map(|r| r.time_ms),
            wall_time_ms: r.map(|r| r.wall_time_ms),
            memory_kb: r.map(|r| r.memory_kb),
            message: r.and_then(|r| r.message.clone()),
            tests: r.map(|r| r.tests.clone()).unwrap_or_default(),
            created_at: rfc3339(rec.created_at_ms),
            started_at: rec.started_at_ms.map(rfc3339),
            finished_at: rec.finished_at_ms.map(rfc3339),
            queue_wait_ms: rec
                .started_at_ms
                .map(|s| (s - rec.created_at_ms).max(0) as u64),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

//! The API's bodies: what a client submits ([`SubmissionRequest`]), how it is
//! checked and turned into an engine [`Submission`] ([`Validator`]), and what a
//! client reads back ([`SubmissionView`]).
//!
//! Module map:
//! - this file: the request bodies, [`Validator`], [`Accepted`].
//! - [`view`]: [`SubmissionView`], [`ReportView`], [`TestView`] and the
//!   [`Encoding`] of their output fields.
//! - [`stream`]: [`json_response`], a large answer streamed in chunks.

pub mod stream;
pub mod view;

pub use stream::json_response;
pub(crate) use view::rfc3339;
pub use view::{Encoding, ReportView, SubmissionView, TestView};

use kiln_engine::{SourceFile, Status, Submission, TestCase};
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

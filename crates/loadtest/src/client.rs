//! The HTTP client of Kiln's submission API: hyper 1 with a pooled
//! keep-alive connection set (hyper-util's client), one per run.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::corpus::Pick;
use crate::error::LoadtestError;
use crate::scenario::{SubmitMode, SubmitOptions};
use crate::stats::Outcome;

/// The final statuses of Kiln's API.
const PENDING: &[&str] = &["queued", "running"];

/// A parsed `http://host:port[/prefix]` target.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port` plus any path prefix, without a trailing slash.
    pub base: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, LoadtestError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|_| LoadtestError::BadTarget(url.to_owned()))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(LoadtestError::BadTarget(url.to_owned()));
        }
        Ok(Target {
            base: url.trim_end_matches('/').to_owned(),
        })
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// What one submission gave.
#[derive(Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    /// When the submit call was sent.
    pub sent_at: Instant,
    /// Response time of the submit call (None if it failed at transport level).
    pub submit_latency: Option<Duration>,
    /// The stages of the final result (crate::analysis), when it has them.
    pub stages: Option<crate::analysis::StageSample>,
}

/// A pooled client bound to one target.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: Client<HttpConnector, Full<Bytes>>,
    target: Target,
    auth: Option<HeaderValue>,
}

impl ApiClient {
    pub fn new(target: Target, api_key: Option<&str>, pool_size: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool_size)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let auth = api_key.and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok());
        ApiClient { http, target, auth }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// One request; returns the status and the whole body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut req = Request::builder().method(method).uri(self.target.url(path));
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let resp = self.http.request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    }

    /// The JSON body of a submission for a corpus pick.
    pub fn submission_body(pick: &Pick) -> Bytes {
        let files: Vec<Value> = pick
            .files
            .iter()
            .map(|(n, c)| json!({"name": n, "content": c}))
            .collect();
        let body = json!({
            "language": pick.program.language,
            "files": files,
            "stdin": pick.program.stdin,
            "expected_output": pick.program.expected_output,
        });
        Bytes::from(serde_json::to_vec(&body).expect("json"))
    }

    /// Submits and follows the submission to its final verdict, within
    /// `opts.timeout`; judges the outcome against the program's expected output.
    pub async fn execute(&self, body: Bytes, expected: &str, opts: &SubmitOptions) -> Attempt {
        let sent_at = Instant::now();
        let mut submit_latency = None;
        let mut stages = None;
        let seen = Seen {
            submit_latency: &mut submit_latency,
            stages: &mut stages,
        };
        let fut = self.execute_inner(body, expected, opts, sent_at, seen);
        let outcome = match tokio::time::timeout(opts.timeout, fut).await {
            Ok(o) => o,
            Err(_) => Outcome::Timeout,
        };
        Attempt {
            outcome,
            sent_at,
            submit_latency,
            stages,
        }
    }

    async fn execute_inner(
        &self,
        body: Bytes,
        expected: &str,
        opts: &SubmitOptions,
        sent_at: Instant,
        seen: Seen<'_>,
    ) -> Outcome {
        let path = match opts.mode {
            SubmitMode::Wait => "/api/v1/submissions?wait=true",
            SubmitMode::Poll => "/api/v1/submissions",
        };
        let (status, bytes) = match self.request(Method::POST, path, Some(body)).await {
            Ok(r) => r,
            Err(_) => return Outcome::Transport,
        };
        *seen.submit_latency = Some(sent_at.elapsed());
        let mut doc = match classify_http(status, &bytes) {
            Ok(v) => v,
            Err(o) => return o,
        };
        loop {
            let st = doc.get("status").and_then(Value::as_str).unwrap_or("");
            if !PENDING.contains(&st) && !st.is_empty() {
                *seen.stages = crate::analysis::StageSample::from_result(&doc);
                return judge(&doc, expected);
            }
            let Some(id) = doc.get("id").and_then(Value::as_str).map(str::to_owned) else {
                return Outcome::Transport;
            };
            tokio::time::sleep(opts.poll_interval).await;
            doc = match self
                .request(Method::GET, &format!("/api/v1/submissions/{id}"), None)
                .await
            {
                Ok((s, b)) => match classify_http(s, &b) {
                    Ok(v) => v,
                    Err(o) => return o,
                },
                Err(_) => return Outcome::Transport,
            };
        }
    }
}

/// What a submission's calls saw besides its outcome.
struct Seen<'a> {
    submit_latency: &'a mut Option<Duration>,
    stages: &'a mut Option<crate::analysis::StageSample>,
}

fn classify_http(status: StatusCode, body: &[u8]) -> Result<Value, Outcome> {
    match status.as_u16() {
        200..=299 => serde_json::from_slice(body).map_err(|_| Outcome::Transport),
        c @ (429 | 503) => Err(Outcome::Rejected(c)),
        c => Err(Outcome::HttpError(c)),
    }
}

/// Judges a final result: `accepted` with the expected stdout is a success.
pub fn judge(doc: &Value, expected: &str) -> Outcome {
    match doc.get("status").and_then(Value::as_str).unwrap_or("") {
        "accepted" => {
            let stdout = doc.get("stdout").and_then(Value::as_str).unwrap_or("");
            if stdout.trim_end() == expected.trim_end() {
                Outcome::Success
            } else {
                Outcome::WrongVerdict("accepted_with_wrong_output".into())
            }
        }
        "compilation_error" => Outcome::CompilationError,
        "internal_error" => Outcome::InternalError,
        other => Outcome::WrongVerdict(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging() {
        assert_eq!(
            judge(&json!({"status":"accepted","stdout":"hi\n"}), "hi\n"),
            Outcome::Success
        );
        assert_eq!(
            judge(&json!({"status":"accepted","stdout":"ho\n"}), "hi\n"),
            Outcome::WrongVerdict("accepted_with_wrong_output".into())
        );
        assert_eq!(
            judge(&json!({"status":"wrong_answer"}), "x"),
            Outcome::WrongVerdict("wrong_answer".into())
        );
        assert_eq!(
            judge(&json!({"status":"internal_error"}), "x"),
            Outcome::InternalError
        );
        assert!(Target::parse("https://x").is_err());
        assert_eq!(
            Target::parse("http://127.0.0.1:3000/").unwrap().base,
            "http://127.0.0.1:3000"
        );
    }
}

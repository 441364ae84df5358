//! A test executor and helpers to start a server.
//!
//! The executor runs language `fake`, whose source is a tiny script:
//! `echo` prints stdin; `sleep MS` sleeps then prints stdin; `fail` is a
//! compilation error; `panic` panics; `binary` prints bytes that are not UTF-8; `big` prints 3 MiB of control bytes. `expected_output` gives accepted or wrong_answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use kiln_engine::{Report, RunReport, Status, Submission};
use kiln_server::executor::{FieldError, LanguageInfo, OutputChunk};
use kiln_server::{App, Config, Executor, ServeArgs};
use serde_json::{json, Value};
use tokio::sync::mpsc;

#[derive(Default)]
pub struct FakeExecutor {
    /// How many times each stdin was executed.
    pub runs: Mutex<HashMap<String, u32>>,
}

fn run_report(status: Status, stdout: String) -> RunReport {
    RunReport {
        status,
        stdout,
        stderr: String::new(),
        exit_code: Some(0),
        signal: None,
        time_ms: 1,
        wall_time_ms: 1,
        memory_kb: 1024,
        message: None,
        stdout_bytes: None,
        stderr_bytes: None,
    }
}

fn verdict(stdout: &str, expected: &Option<String>) -> Status {
    match expected {
        Some(e) if e.trim_end() != stdout.trim_end() => Status::WrongAnswer,
        _ => Status::Accepted,
    }
}

fn report_of(runs: Vec<RunReport>, compile_output: String) -> Report {
    let first = runs
        .iter()
        .find(|r| r.status != Status::Accepted)
        .or(runs.last())
        .cloned()
        .expect("one run");
    Report {
        status: first.status,
        stdout: first.stdout,
        stderr: first.stderr,
        compile_output,
        exit_code: first.exit_code,
        signal: first.signal,
        time_ms: first.time_ms,
        wall_time_ms: first.wall_time_ms,
        memory_kb: first.memory_kb,
        message: None,
        tests: if runs.len() > 1 { runs } else { Vec::new() },
        compile_time_ms: None,
        compile_wall_time_ms: None,
        compile_cached: None,
        stdout_bytes: first.stdout_bytes,
        stderr_bytes: first.stderr_bytes,
        compile_output_bytes: None,
        stages: None,
    }
}

#[async_trait]
impl Executor for FakeExecutor {
    fn languages(&self) -> Vec<LanguageInfo> {
        vec![LanguageInfo {
            id: "fake".into(),
            name: "Fake".into(),
            version: None,
            compiled: false,
        }]
    }
    fn source_file_name(&self, _language: &str) -> Option<String> {
        Some("main.fake".into())
    }
    fn validate(&self, sub: &Submission) -> Result<(), FieldError> {
        if sub.language != "fake" {
            return Err(FieldError {
                field: "language".into(),
                message: format!("unknown language {:?}", sub.language),
            });
        }
        Ok(())
    }
    async fn execute(&self, sub: Submission) -> Report {
        let script = sub.files[0].content.trim().to_string();
        *self
            .runs
            .lock()
            .unwrap()
            .entry(sub.stdin.clone())
            .or_default() += 1;
        if script == "panic" {
            panic!("the test executor was asked to panic");
        }
        if script == "fail" {
            let mut r = Report::internal_error("");
            r.status = Status::CompilationError;
            r.message = None;
            r.compile_output = "main.fake:1: syntax error".into();
            return r;
        }
        if script == "binary" {
            // Output that is not UTF-8: a lossy text and the exact bytes.
            let (text, raw) = kiln_engine::output_text(b"a\xffb\x1b[2J".to_vec());
            let mut run = run_report(Status::Accepted, text);
            run.stdout_bytes = raw;
            return report_of(vec![run], String::new());
        }
        if script == "big" {
            // 3 MiB of control bytes: 18 MiB of JSON as text, a streamed answer.
            return report_of(
                vec![run_report(Status::Accepted, "\u{1}".repeat(3 << 20))],
                String::new(),
            );
        }
        if let Some(ms) = script.strip_prefix("sleep ") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        }
        let runs = if sub.tests.is_empty() {
            vec![run_report(
                verdict(&sub.stdin, &sub.expected_output),
                sub.stdin.clone(),
            )]
        } else {
            sub.tests
                .iter()
                .map(|t| run_report(verdict(&t.stdin, &t.expected_output), t.stdin.clone()))
                .collect()
        };
        report_of(runs, String::new())
    }
    async fn execute_streaming(
        &self,
        _sub: Submission,
        mut stdin: mpsc::Receiver<Bytes>,
        output: mpsc::Sender<OutputChunk>,
    ) -> Report {
        let mut all = String::new();
        while let Some(chunk) = stdin.recv().await {
            all.push_str(&String::from_utf8_lossy(&chunk));
            let _ = output.send(OutputChunk::Stdout(chunk)).await;
        }
        let _ = output
            .send(OutputChunk::Stderr(Bytes::from_static(b"done\n")))
            .await;
        report_of(vec![run_report(Status::Accepted, all)], String::new())
    }
}

pub fn args(dir: &std::path::Path) -> ServeArgs {
    let mut a = ServeArgs::default();
    a.api.listen = Some("127.0.0.1:0".parse().unwrap());
    a.api.data_dir = Some(dir.to_path_buf());
    a.jobs.workers = Some(2);
    a.jobs.shutdown_grace_secs = Some(5);
    a
}

pub struct TestServer {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
    pub _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start_with(args: ServeArgs, exec: Arc<FakeExecutor>) -> TestServer {
        let config = Config::resolve(&args).expect("config");
        let app = App::start(config, exec).await.expect("start");
        let base = format!("http://{}", app.addr);
        TestServer {
            app,
            base,
            client: reqwest::Client::new(),
            _dir: None,
        }
    }

    /// A server on a fresh data directory, with `edit` applied to the args.
    pub async fn start(edit: impl FnOnce(&mut ServeArgs)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path());
        edit(&mut a);
        let mut s = Self::start_with(a, Arc::new(FakeExecutor::default())).await;
        s._dir = Some(dir);
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let res = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        split(res).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = split(self.client.get(self.url(path)).send().await.unwrap()).await;
        (s, v)
    }

    /// Polls GET until the submission runs (or 2 s pass: it may be done already).
    pub async fn wait_running(&self, id: &str) {
        for _ in 0..200 {
            if self.get(&format!("/api/v1/submissions/{id}")).await.1["status"] == "running" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls GET until the submission is final (tests only; the server itself waits by notification).
    pub async fn result(&self, id: &str) -> Value {
        for _ in 0..200 {
            let (_, v) = self.get(&format!("/api/v1/submissions/{id}")).await;
            if !matches!(v["status"].as_str(), Some("queued" | "running")) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{id} did not finish");
    }
}

pub async fn split(res: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v, headers)
}

pub fn fake(source: &str, stdin: &str) -> Value {
    json!({ "language": "fake", "source": source, "stdin": stdin })
}

/// Asserts the JSON error shape and returns the code.
pub fn error_code(v: &Value) -> &str {
    assert!(v["error"]["message"].is_string(), "not an error body: {v}");
    v["error"]["code"].as_str().expect("error.code")
}

/// A `fake` submission with id `id-{stdin}`, for tests of the store and queue.
pub fn new_submission(stdin: &str) -> kiln_server::store::NewSubmission {
    let req: kiln_server::model::SubmissionRequest =
        serde_json::from_value(fake("echo", stdin)).unwrap();
    kiln_server::store::NewSubmission {
        id: format!("id-{stdin}"),
        submission: Submission {
            language: req.language,
            files: vec![kiln_engine::SourceFile {
                name: "main.fake".into(),
                content: req.source.unwrap(),
            }],
            stdin: stdin.into(),
            args: vec![],
            expected_output: None,
            limits: Default::default(),
            tests: vec![],
            ..Default::default()
        },
        callback_url: None,
        callback_kind: Default::default(),
        owner: None,
        created_at_ms: kiln_server::now_ms(),
    }
}

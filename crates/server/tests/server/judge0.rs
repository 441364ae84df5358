//! The Judge0 CE 1.13.1 dialect over a real socket: endpoints, `fields`,
//! base64 (Ruby's wrapping), statuses, Judge0's error shapes, X-Auth-Token,
//! and callbacks sent with PUT. The language is the test executor's `fake`,
//! whose Judge0 id comes from `/languages`.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::TestServer;

pub(crate) fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub(crate) fn unb64(v: &Value) -> Vec<u8> {
    let s: String = v
        .as_str()
        .expect("a base64 string")
        .chars()
        .filter(|c| *c != '\n')
        .collect();
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub(crate) async fn fake_id(s: &TestServer) -> u64 {
    let (code, v) = s.get("/languages").await;
    assert_eq!(code, 200, "{v}");
    let list = v.as_array().expect("an array");
    list.iter()
        .find(|l| l["name"] == "Fake")
        .expect("fake listed")["id"]
        .as_u64()
        .unwrap()
}

pub(crate) async fn raw(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut req = s.client.request(method, s.url(path));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Polls `GET /submissions/{token}` until the status is neither 1 nor 2.
pub(crate) async fn finished(s: &TestServer, token: &str, query: &str) -> Value {
    for _ in 0..200 {
        let (code, v) = s.get(&format!("/submissions/{token}?{query}")).await;
        assert_eq!(code, 200, "{v}");
        if !matches!(v["status"]["id"].as_u64(), Some(1 | 2)) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{token} did not finish");
}

#[tokio::test]
async fn info_endpoints_answer_as_judge0() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    assert!(id >= 1000, "Kiln's other languages get ids above Judge0's");

    let (code, v) = s.get("/about").await;
    assert_eq!((code, v["version"].as_str()), (200, Some("1.13.1")));
    assert_eq!(
        raw(&s, reqwest::Method::GET, "/version", None).await,
        (200, "1.13.1".to_string())
    );

    let (_, v) = s.get("/statuses").await;
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 14);
    assert_eq!(list[2], json!({"id": 3, "description": "Accepted"}));
    assert_eq!(
        list[7],
        json!({"id": 8, "description": "Runtime Error (SIGXFSZ)"})
    );

    // Every key the official SDK's Config model requires, with its type.
    let (_, c) = s.get("/config_info").await;
    let bools = [
        "allow_enable_network",
        "allow_enable_per_process_and_thread_memory_limit",
        "allow_enable_per_process_and_thread_time_limit",
        "enable_additional_files",
        "enable_batched_submissions",
        "enable_callbacks",
        "enable_command_line_arguments",
        "enable_compiler_options",
        "enable_network",
        "enable_per_process_and_thread_memory_limit",
        "enable_per_process_and_thread_time_limit",
        "enable_submission_delete",
        "enable_wait_result",
        "maintenance_mode",
        "redirect_stderr_to_stdout",
        "use_docs_as_homepage",
    ];
    let numbers = [
        "callbacks_max_tries",
        "callbacks_timeout",
        "cpu_extra_time",
        "cpu_time_limit",
        "max_cpu_extra_time",
        "max_cpu_time_limit",
        "max_extract_size",
        "max_file_size",
        "max_max_file_size",
        "max_max_processes_and_or_threads",
        "max_memory_limit",
        "max_number_of_runs",
        "max_processes_and_or_threads",
        "max_queue_size",
        "max_stack_limit",
        "max_submission_batch_size",
        "max_wall_time_limit",
        "memory_limit",
        "number_of_runs",
        "stack_limit",
        "submission_cache_duration",
        "wall_time_limit",
    ];
    for k in bools {
        assert!(c[k].is_boolean(), "{k}: {c}");
    }
    for k in numbers {
        assert!(c[k].is_number(), "{k}: {c}");
    }
    assert!(c["allowed_languages_for_compile_options"].is_array());
    assert_eq!(
        c.as_object().unwrap().len(),
        bools.len() + numbers.len() + 1
    );
    assert_eq!(c["cpu_time_limit"], json!(5.0));

    let (_, all) = s.get("/languages/all").await;
    let all = all.as_array().unwrap();
    let python = all.iter().find(|l| l["id"] == 71).expect("71 listed");
    assert_eq!(python["is_archived"], false);
    assert!(all
        .iter()
        .any(|l| l["id"] == 34 && l["is_archived"] == true));
    // Not installed here: not in /languages.
    let (_, active) = s.get("/languages").await;
    assert!(!active.as_array().unwrap().iter().any(|l| l["id"] == 71));

    let (code, l) = s.get(&format!("/languages/{id}")).await;
    assert_eq!(code, 200);
    assert_eq!(l["source_file"], "main.fake");
    assert_eq!(l["compile_cmd"], Value::Null);
    assert_eq!(s.get("/languages/999999").await.0, 404);

    let (code, w) = s.get("/workers").await;
    assert_eq!((code, w[0]["queue"].as_str()), (200, Some("1.13.1")));
    for p in ["/system_info", "/statistics"] {
        assert_eq!(s.get(p).await.0, 200, "{p}");
    }
    for p in ["/isolate", "/license"] {
        let (code, body) = raw(&s, reqwest::Method::GET, p, None).await;
        assert_eq!(code, 200);
        assert!(body.contains("Kiln"), "{p}: {body}");
    }
}

#[tokio::test]
async fn a_submission_runs_and_reads_back_with_fields() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let (code, v, _) = s
        .post("/submissions", json!({"source_code": "echo", "language_id": id, "stdin": "hello\n", "expected_output": "hello"}))
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "only the token: {v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(uuid_version(&token), Some('4'));

    let v = finished(&s, &token, "").await;
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 8, "the default fields: {v}");
    assert_eq!(v["status"], json!({"id": 3, "description": "Accepted"}));
    assert_eq!(v["stdout"], "hello\n");
    assert_eq!(v["stderr"], Value::Null, "empty output is null");
    assert_eq!(v["compile_output"], Value::Null);
    assert_eq!(v["time"], "0.001");
    assert_eq!(v["memory"], 1024);

    let (_, all) = s.get(&format!("/submissions/{token}?fields=*")).await;
    assert_eq!(all["language_id"], id);
    assert_eq!(all["status_id"], 3);
    assert_eq!(all["exit_code"], 0);
    assert_eq!(all["exit_signal"], Value::Null);
    assert_eq!(all["cpu_time_limit"], "5.0");
    assert_eq!(all["wall_time_limit"], "10.0");
    assert!(all["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        all["created_at"].as_str().unwrap().len(),
        "2024-04-03T05:40:51.306Z".len()
    );
    assert_eq!(all["source_code"], "echo");

    let (_, some) = s
        .get(&format!("/submissions/{token}?fields=stdout,status_id"))
        .await;
    assert_eq!(some, json!({"stdout": "hello\n", "status_id": 3}));
    let (code, bad) = s
        .get(&format!("/submissions/{token}?fields=stdout,nope"))
        .await;
    assert_eq!(
        (code, bad),
        (400, json!({"error": "invalid fields: [nope]"}))
    );
    let (code, v) = s
        .get("/submissions/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(
        (code, v),
        (404, json!({"status": 404, "error": "Not Found"}))
    );
}

fn uuid_version(token: &str) -> Option<char> {
    token.split('-').nth(2)?.chars().next()
}

#[tokio::test]
async fn wait_true_answers_201_with_the_verdict() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let (code, v, _) = s
        .post(
            "/submissions?wait=true",
            json!({"source_code": "echo", "language_id": id, "stdin": "a", "expected_output": "b"}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"], json!({"id": 4, "description": "Wrong Answer"}));
    assert!(v["token"].is_string());

    let (code, v, _) = s
        .post(
            "/submissions?wait=true&fields=status,compile_output,time,exit_code",
            json!({"source_code": "fail", "language_id": id.to_string()}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["id"], 6);
    assert_eq!(v["compile_output"], "main.fake:1: syntax error");
    assert_eq!(v["time"], Value::Null, "no run after a compile error");
    assert_eq!(v["exit_code"], Value::Null);
}

#[tokio::test]
async fn base64_in_and_out_with_ruby_line_wrapping() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let stdin = "x".repeat(100);
    let (code, v, _) = s
        .post(
            "/submissions?base64_encoded=true&wait=true&fields=*",
            json!({"source_code": b64(b"echo"), "language_id": id, "stdin": b64(stdin.as_bytes())}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let out = v["stdout"].as_str().unwrap();
    let lines: Vec<&str> = out.split_terminator('\n').collect();
    assert_eq!(lines[0].len(), 60, "Base64.encode64 wraps at 60: {out:?}");
    assert!(out.ends_with('\n'));
    assert_eq!(unb64(&v["stdout"]), stdin.as_bytes());
    assert_eq!(unb64(&v["source_code"]), b"echo");
    assert_eq!(v["source_code"], "ZWNobw==\n");
}

#[tokio::test]
async fn output_that_is_not_utf8_needs_base64() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let (code, v, _) = s
        .post(
            "/submissions?wait=true",
            json!({"source_code": "binary", "language_id": id}),
        )
        .await;
    assert_eq!(code, 201);
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        v["error"],
        "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter"
    );
    let (code, v) = s.get(&format!("/submissions/{token}")).await;
    assert_eq!(code, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("some attributes for this submission"));
    let (code, v) = s.get(&format!("/submissions/batch?tokens={token}")).await;
    assert_eq!(code, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("one or more submissions"));
    // The exact bytes with base64.
    let (code, v) = s
        .get(&format!("/submissions/{token}?base64_encoded=true"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(unb64(&v["stdout"]), b"a\xffb\x1b[2J");
    // Fields without the output are fine as text.
    assert_eq!(
        s.get(&format!("/submissions/{token}?fields=status_id"))
            .await
            .0,
        200
    );
}

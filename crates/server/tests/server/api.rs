//! Every endpoint, happy paths.

use serde_json::json;

use crate::common::{fake, TestServer};

#[tokio::test]
async fn submit_then_get_and_wait() {
    let s = TestServer::start(|_| {}).await;
    let (code, v, _) = s.post("/api/v1/submissions", fake("echo", "hi\n")).await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["status"], "queued");
    let id = v["id"].as_str().unwrap().to_string();
    let r = s.result(&id).await;
    assert_eq!(r["status"], "accepted");
    assert_eq!(r["stdout"], "hi\n");
    assert_eq!(r["language"], "fake");
    for field in [
        "stderr",
        "compile_output",
        "exit_code",
        "signal",
        "time_ms",
        "wall_time_ms",
        "memory_kb",
        "created_at",
        "started_at",
        "finished_at",
        "queue_wait_ms",
        "tests",
    ] {
        assert!(r.get(field).is_some(), "{field} missing in {r}");
    }
    assert!(r["finished_at"].is_string());
    // Every stage, the last two from this process's memory (its worker wrote it).
    for stage in [
        "accept_ms",
        "queue_ms",
        "start_write_ms",
        "compile_ms",
        "run_ms",
        "result_write_ms",
        "notify_ms",
    ] {
        assert!(r["stages"][stage].is_u64(), "{stage} missing in {r}");
    }
    assert_eq!(
        r["queue_wait_ms"].as_u64(),
        Some(
            r["stages"]["accept_ms"].as_u64().unwrap() + r["stages"]["queue_ms"].as_u64().unwrap()
        ),
        "{r}"
    );

    let mut body = fake("echo", "42");
    body["expected_output"] = json!("41");
    let (code, v, _) = s.post("/api/v1/submissions?wait=true", body).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "wrong_answer");

    let (code, v, _) = s
        .post("/api/v1/submissions?wait=true", fake("fail", ""))
        .await;
    assert_eq!(code, 200);
    assert_eq!(v["status"], "compilation_error");
    assert_eq!(v["compile_output"], "main.fake:1: syntax error");
}

#[tokio::test]
async fn wait_is_bounded_by_the_server_maximum() {
    let s = TestServer::start(|a| a.api.max_wait_secs = Some(1)).await;
    let start = std::time::Instant::now();
    let (code, v, _) = s
        .post("/api/v1/submissions?wait=true", fake("sleep 3000", ""))
        .await;
    assert_eq!(code, 202, "{v}");
    assert!(start.elapsed() < std::time::Duration::from_millis(2500));
    assert_eq!(
        s.result(v["id"].as_str().unwrap()).await["status"],
        "accepted"
    );
}

#[tokio::test]
async fn several_tests_get_a_verdict_each() {
    let s = TestServer::start(|_| {}).await;
    let body = json!({
        "language": "fake",
        "files": [{ "name": "main.fake", "content": "echo" }, { "name": "lib.fake", "content": "" }],
        "tests": [
            { "stdin": "1", "expected_output": "1" },
            { "stdin": "2", "expected_output": "3" },
            { "stdin": "3", "expected_output": "3" }
        ]
    });
    let (code, v, _) = s.post("/api/v1/submissions?wait=true", body).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "wrong_answer");
    let verdicts: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["accepted", "wrong_answer", "accepted"]);
}

#[tokio::test]
async fn batch_create_and_get() {
    let s = TestServer::start(|_| {}).await;
    let subs: Vec<_> = (0..5).map(|i| fake("echo", &i.to_string())).collect();
    let (code, v, _) = s
        .post("/api/v1/submissions/batch", json!({ "submissions": subs }))
        .await;
    assert_eq!(code, 202, "{v}");
    let ids: Vec<String> = v["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    for id in &ids {
        s.result(id).await;
    }
    let (code, v) = s
        .get(&format!(
            "/api/v1/submissions/batch?ids={},nope",
            ids.join(",")
        ))
        .await;
    assert_eq!(code, 200, "{v}");
    let list = v["submissions"].as_array().unwrap();
    assert_eq!(list.len(), 6);
    for (i, item) in list[..5].iter().enumerate() {
        assert_eq!(item["id"], ids[i].as_str());
        assert_eq!(item["stdout"], i.to_string());
    }
    assert!(list[5].is_null());

    let too_many: Vec<_> = (0..101).map(|_| fake("echo", "")).collect();
    let (code, v, _) = s
        .post(
            "/api/v1/submissions/batch",
            json!({ "submissions": too_many }),
        )
        .await;
    assert_eq!(code, 400, "{v}");
}

#[tokio::test]
async fn languages_health_metrics_openapi() {
    let s = TestServer::start(|_| {}).await;
    let (code, v) = s.get("/api/v1/languages").await;
    assert_eq!(code, 200);
    assert_eq!(v["languages"][0]["id"], "fake");

    let (code, v) = s.get("/health").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["workers"]["configured"], 2);
    assert_eq!(v["queue"]["capacity"], 1000);

    s.post("/api/v1/submissions?wait=true", fake("echo", "x"))
        .await;
    let (code, text) = s.get("/metrics").await;
    assert_eq!(code, 200);
    let text = text.as_str().unwrap();
    for name in ["code_execution_queue_depth", "code_execution_active_jobs", "code_execution_workers",
        "code_execution_queue_wait_seconds_bucket", "code_execution_stage_seconds_bucket{stage=\"run\"", "code_execution_stage_seconds_bucket{stage=\"result_write\"", "code_execution_job_duration_seconds_bucket{language=\"fake\",status=\"accepted\"",
        "http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/submissions\",status=\"200\""] {
        assert!(text.contains(name), "{name} not in /metrics:\n{text}");
    }

    let (code, v) = s.get("/openapi.json").await;
    assert_eq!(code, 200);
    assert!(v["paths"]["/api/v1/submissions"]["post"].is_object());
}

#[tokio::test]
async fn a_panicking_run_is_an_internal_error_and_the_worker_lives_on() {
    let s = TestServer::start(|a| a.jobs.workers = Some(1)).await;
    let (code, v, _) = s
        .post("/api/v1/submissions?wait=true", fake("panic", ""))
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "internal_error");
    let (code, v, _) = s
        .post("/api/v1/submissions?wait=true", fake("echo", "still here"))
        .await;
    assert_eq!((code, v["stdout"].as_str()), (200, Some("still here")));
    assert_eq!(s.get("/health").await.1["workers"]["alive"], 1);
}

/// Output that is not UTF-8: the text form says it is lossy, and
/// `encoding=base64` gives the exact bytes, on every result route.
#[tokio::test]
async fn output_bytes_are_exact_in_base64_and_flagged_when_lossy() {
    let s = TestServer::start(|_| {}).await;
    let (code, v, _) = s.post("/api/v1/submissions", fake("binary", "")).await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let r = s.result(&id).await;
    assert_eq!(r["encoding"], "text");
    assert_eq!(r["stdout"], "a\u{fffd}b\u{1b}[2J");
    assert_eq!(r["stdout_lossy"], true, "{r}");
    assert_eq!(r["stderr_lossy"], false, "{r}");
    assert!(
        r.get("stdout_bytes").is_none(),
        "the stored form leaked: {r}"
    );
    assert!(r.get("compile_time_ms").is_some(), "{r}");
    // "a\xffb\x1b[2J" in base64.
    let (code, b) = s
        .get(&format!("/api/v1/submissions/{id}?encoding=base64"))
        .await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(
        (b["encoding"].as_str(), b["stdout"].as_str()),
        (Some("base64"), Some("Yf9iG1sySg=="))
    );
    assert_eq!(b["stderr"], "");
    let (_, batch) = s
        .get(&format!(
            "/api/v1/submissions/batch?ids={id}&encoding=base64"
        ))
        .await;
    assert_eq!(batch["submissions"][0]["stdout"], "Yf9iG1sySg==", "{batch}");
    let (code, bad) = s
        .get(&format!("/api/v1/submissions/{id}?encoding=hex"))
        .await;
    assert_eq!(code, 400, "{bad}");
    let (code, w, _) = s
        .post(
            "/api/v1/submissions?wait=true&encoding=base64",
            fake("echo", "hi"),
        )
        .await;
    assert_eq!(code, 200, "{w}");
    assert_eq!(w["stdout"], "aGk=");
}

/// A result of megabytes (3 MiB of control bytes: 18 MiB of JSON as text) is
/// streamed, whole and well-formed, in both encodings and in a batch.
#[tokio::test]
async fn a_large_result_is_streamed_whole() {
    let s = TestServer::start(|_| {}).await;
    let (code, v, _) = s.post("/api/v1/submissions", fake("big", "")).await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let r = s.result(&id).await;
    assert_eq!(r["stdout"].as_str().map(str::len), Some(3 << 20));
    let (_, b) = s
        .get(&format!("/api/v1/submissions/{id}?encoding=base64"))
        .await;
    assert_eq!(b["stdout"].as_str().map(str::len), Some((3 << 20) / 3 * 4));
    let (_, batch) = s
        .get(&format!("/api/v1/submissions/batch?ids={id},{id}"))
        .await;
    assert_eq!(
        batch["submissions"][1]["stdout"].as_str().map(str::len),
        Some(3 << 20)
    );
}

//! Scale-out mode in process: API nodes and worker nodes on a private Redis
//! and PostgreSQL, with the test executor. Redis or PostgreSQL going down makes
//! the API answer 503 (never hang, never 500), and everything recovers by
//! itself; no accepted submission is lost. (The real binaries, the real sandbox
//! and `kill -9` of a worker are in crates/cli/tests/scaleout.rs.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_server::queue::redis::STREAM;
use kiln_server::{App, Config, ServeArgs};
use kiln_testsupport::Services;
use serde_json::Value;

use crate::common::{error_code, fake, FakeExecutor, TestServer};

pub(crate) fn args(c: &Services, workers: usize) -> ServeArgs {
    let mut a = ServeArgs::default();
    a.api.listen = Some("127.0.0.1:0".parse().unwrap());
    a.backend.queue = Some(c.redis.url());
    a.backend.store = Some(c.pg.url());
    a.backend.lease_secs = Some(2);
    a.jobs.workers = Some(workers);
    a.jobs.shutdown_grace_secs = Some(2);
    a
}

/// An API node (no workers).
pub(crate) async fn api(c: &Services) -> TestServer {
    TestServer::start_with(args(c, 0), Arc::new(FakeExecutor::default())).await
}

/// A worker node (`kiln worker`: /health and /metrics only).
pub(crate) async fn worker(c: &Services, workers: usize, edit: impl FnOnce(&mut ServeArgs)) -> App {
    let mut a = args(c, workers);
    edit(&mut a);
    let mut config = Config::resolve(&a).unwrap();
    config.serves_api = false;
    App::start(config, Arc::new(FakeExecutor::default()))
        .await
        .unwrap()
}

/// Polls GET until final, for as long as a recovery may take.
pub(crate) async fn final_result(s: &TestServer, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (code, v) = s.get(&format!("/api/v1/submissions/{id}")).await;
        if code == 200 && !matches!(v["status"].as_str(), Some("queued" | "running")) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{id} not final: {code} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn api_and_worker_nodes_share_the_work_and_wait_true_hears_the_result() {
    let c = Services::start();
    let api = api(&c).await;
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["workers"]["configured"], 0);
    let w1 = worker(&c, 2, |_| {}).await;
    let w2 = worker(&c, 1, |_| {}).await;

    let (code, v, _) = api
        .post("/api/v1/submissions?wait=true", fake("echo", "hello"))
        .await;
    assert_eq!(code, 200, "wait=true must answer with the result: {v}");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["stdout"], "hello");

    let mut ids = Vec::new();
    for i in 0..12 {
        let (code, v, _) = api
            .post("/api/v1/submissions", fake("sleep 20", &format!("job{i}")))
            .await;
        assert_eq!(code, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    for (i, id) in ids.iter().enumerate() {
        let v = final_result(&api, id).await;
        assert_eq!(v["status"], "accepted", "{v}");
        assert_eq!(v["stdout"], format!("job{i}"));
    }

    // A worker node has no public API, only its operational routes.
    let base = format!("http://{}", w1.addr);
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{base}/api/v1/languages"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "code_execution_queue_depth",
        "code_execution_queue_wait_seconds",
        "code_execution_job_duration_seconds",
        "code_execution_workers",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from worker /metrics"
        );
    }
    assert_eq!(c.redis.int(&["XLEN", STREAM]), 0, "every job acknowledged");
    for w in [w1, w2] {
        w.shutdown();
        w.wait().await.unwrap();
    }
}

/// Submits until `down` has made the API refuse with 503; returns the 202'd ids.
async fn submit_until_503(api: &TestServer, tag: &str) -> Vec<String> {
    let mut accepted = Vec::new();
    for i in 0..400 {
        let (code, v, headers) = api
            .post(
                "/api/v1/submissions",
                fake("sleep 10", &format!("{tag}{i}")),
            )
            .await;
        match code {
            202 => accepted.push(v["id"].as_str().unwrap().to_string()),
            503 => {
                assert!(
                    headers.contains_key("retry-after"),
                    "503 without Retry-After: {v}"
                );
                assert!(
                    matches!(error_code(&v), "queue_unavailable" | "store_unavailable"),
                    "{v}"
                );
                return accepted;
            }
            other => panic!("a backend outage must answer 202 or 503, got {other}: {v}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the API never answered 503 while a backend was down");
}

/// Submits until the API accepts again (the backend is back).
async fn submit_until_202(api: &TestServer, tag: &str) -> String {
    let start = Instant::now();
    loop {
        let (code, v, _) = api.post("/api/v1/submissions", fake("echo", tag)).await;
        match code {
            202 => return v["id"].as_str().unwrap().to_string(),
            503 => {}
            other => panic!("during recovery: {other}: {v}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the API did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn outage_loses_nothing(
    stop: impl FnOnce(&mut Services),
    restart: impl FnOnce(&mut Services),
) {
    let mut c = Services::start();
    let api = api(&c).await;
    let worker = worker(&c, 2, |_| {}).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let (code, v, _) = api
            .post("/api/v1/submissions", fake("sleep 30", &format!("pre{i}")))
            .await;
        assert_eq!(code, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    stop(&mut c);
    ids.extend(submit_until_503(&api, "during").await);
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 503, "/health while a backend is down: {health}");
    restart(&mut c);
    ids.push(submit_until_202(&api, "after").await);
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 200, "{health}");
    for id in &ids {
        let v = final_result(&api, id).await;
        assert_eq!(
            v["status"], "accepted",
            "an accepted submission was lost or failed: {v}"
        );
    }
    worker.shutdown();
    worker.wait().await.unwrap();
}

#[tokio::test]
async fn redis_down_api_answers_503_recovers_and_loses_no_accepted_submission() {
    outage_loses_nothing(|c| c.redis.kill(), |c| c.redis.restart()).await;
}

#[tokio::test]
async fn postgres_down_api_answers_503_recovers_and_loses_no_accepted_submission() {
    outage_loses_nothing(|c| c.pg.stop(), |c| c.pg.restart()).await;
}

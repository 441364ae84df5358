//! Backpressure: a full queue answers 503 with Retry-After.

use crate::common::{error_code, fake, TestServer};

#[tokio::test]
async fn full_queue_answers_503_with_retry_after() {
    let s = TestServer::start(|a| {
        a.jobs.workers = Some(1);
        a.api.queue_capacity = Some(2);
    })
    .await;
    // One running, two waiting: the queue is full.
    let (code, first, _) = s.post("/api/v1/submissions", fake("sleep 1500", "a")).await;
    assert_eq!(code, 202);
    s.wait_running(first["id"].as_str().unwrap()).await;
    for stdin in ["b", "c"] {
        let (code, v, _) = s.post("/api/v1/submissions", fake("echo", stdin)).await;
        assert_eq!(code, 202, "{v}");
    }
    let (code, v, headers) = s.post("/api/v1/submissions", fake("echo", "d")).await;
    assert_eq!((code, error_code(&v)), (503, "queue_full"));
    assert!(headers.get("retry-after").is_some());
    // A refused submission was not kept.
    let (_, health) = s.get("/health").await;
    assert_eq!(health["queue"]["depth"], 2);
    assert_eq!(
        s.result(first["id"].as_str().unwrap()).await["status"],
        "accepted"
    );
}

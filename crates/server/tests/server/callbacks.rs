//! callback_url: delivered to a loopback receiver when the config allows it,
//! refused at submit time by default.

use std::sync::Arc;

use axum::routing::post;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::common::{error_code, TestServer};

async fn receiver(fail_first: usize) -> (String, mpsc::Receiver<Value>) {
    let (tx, rx) = mpsc::channel(8);
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(fail_first));
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            let failures = failures.clone();
            async move {
                if failures
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok()
                {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                tx.send(v).await.unwrap();
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

#[tokio::test]
async fn result_is_posted_to_an_allowed_loopback_receiver_with_retries() {
    let s = TestServer::start(|a| a.jobs.allow_private_callbacks = Some(true)).await;
    let (url, mut rx) = receiver(1).await;
    let body = serde_json::json!({ "language": "fake", "source": "echo", "stdin": "cb", "callback_url": url });
    let (code, v, _) = s.post("/api/v1/submissions", body).await;
    assert_eq!(code, 202, "{v}");
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["id"], v["id"]);
    assert_eq!(got["status"], "accepted");
    assert_eq!(got["stdout"], "cb");
}

#[tokio::test]
async fn private_callbacks_are_refused_by_default() {
    let s = TestServer::start(|_| {}).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
        "http://[::1]/",
    ] {
        let body = serde_json::json!({ "language": "fake", "source": "echo", "callback_url": url });
        let (code, v, _) = s.post("/api/v1/submissions", body).await;
        assert_eq!((code, error_code(&v)), (400, "invalid_field"), "{url}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("callback_url"));
    }
}

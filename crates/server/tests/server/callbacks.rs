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

/// What a receiver saw of one request.
#[derive(Debug)]
struct Seen {
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A receiver on `listener` that answers `status` and reports each request.
fn record(listener: tokio::net::TcpListener, status: u16) -> mpsc::Receiver<Seen> {
    let (tx, rx) = mpsc::channel(32);
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx
                        .send(Seen {
                            headers,
                            body: body.to_vec(),
                        })
                        .await;
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    rx
}

/// Polls the submission until its callback is in `state`.
async fn callback_state(s: &TestServer, id: &str, state: &str) -> Value {
    for _ in 0..200 {
        let (_, v) = s.get(&format!("/api/v1/submissions/{id}")).await;
        if v["callback"]["state"] == state {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{id}: callback never {state}");
}

#[tokio::test]
async fn callbacks_are_signed_and_their_outcome_is_recorded() {
    let s = TestServer::start(|a| {
        a.jobs.allow_private_callbacks = Some(true);
        a.jobs.callback_secret = Some("hook-secret".into());
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut rx = record(listener, 200);
    let body = serde_json::json!({ "language": "fake", "source": "echo", "stdin": "signed", "callback_url": url });
    let (code, v, _) = s.post("/api/v1/submissions", body).await;
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let ua = seen.headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("kiln/"), "{ua}");
    assert_eq!(seen.headers["kiln-delivery"], id.as_str());
    let sig = seen.headers["kiln-signature"].to_str().unwrap();
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|r| r.split_once(",v1="))
        .unwrap_or_else(|| panic!("{sig}"));
    let t: u64 = t.parse().unwrap();
    let now = kiln_server::now_ms() as u64 / 1000;
    assert!(now.abs_diff(t) < 60, "stale timestamp {t}");
    assert_eq!(
        kiln_server::callback::signature(b"hook-secret", t, &seen.body),
        sig,
        "the HMAC covers the timestamp and the raw body"
    );
    assert!(v1.len() == 64 && v1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(
        kiln_server::callback::signature(b"other", t, &seen.body),
        sig
    );
    let got: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(got["stdout"], "signed");
    let v = callback_state(&s, &id, "delivered").await;
    assert_eq!(v["callback"]["attempts"], 1, "{v}");
}

#[tokio::test]
async fn a_callback_that_keeps_failing_ends_failed_with_the_reason() {
    let s = TestServer::start(|a| {
        a.jobs.allow_private_callbacks = Some(true);
        a.jobs.callback_retries = Some(1);
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut rx = record(listener, 500);
    let body = serde_json::json!({ "language": "fake", "source": "echo", "callback_url": url });
    let (_, v, _) = s.post("/api/v1/submissions", body).await;
    let id = v["id"].as_str().unwrap().to_string();
    let v = callback_state(&s, &id, "failed").await;
    assert_eq!(v["callback"]["attempts"], 2, "one try and one retry: {v}");
    assert!(
        v["callback"]["last_error"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{v}"
    );
    assert!(rx.recv().await.is_some() && rx.recv().await.is_some());
    assert!(rx.try_recv().is_err(), "no third attempt");
}

#[tokio::test]
async fn a_pending_callback_survives_a_restart_and_is_delivered_after_it() {
    let dir = tempfile::tempdir().unwrap();
    // The receiver is down while the first server runs: its port is closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut a = crate::common::args(dir.path());
    a.jobs.allow_private_callbacks = Some(true);
    a.jobs.callback_retries = Some(20);
    let first =
        TestServer::start_with(a.clone(), Arc::new(crate::common::FakeExecutor::default())).await;
    let body = serde_json::json!({ "language": "fake", "source": "echo", "stdin": "later", "callback_url": url });
    let (_, v, _) = first.post("/api/v1/submissions", body).await;
    let id = v["id"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let (_, v) = first.get(&format!("/api/v1/submissions/{id}")).await;
        if v["callback"]["attempts"].as_u64() >= Some(1) {
            assert_eq!(v["callback"]["state"], "pending", "{v}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.app.shutdown();
    first.app.wait().await.unwrap();
    // The receiver comes up, then Kiln again on the same data directory.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let mut rx = record(listener, 200);
    let second = TestServer::start_with(a, Arc::new(crate::common::FakeExecutor::default())).await;
    let seen = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("the pending callback was lost in the restart")
        .unwrap();
    let got: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["stdout"], "later");
    let v = callback_state(&second, &id, "delivered").await;
    assert!(v["callback"]["attempts"].as_u64().unwrap() >= 2, "{v}");
    // The secret kept in the data directory survived the restart too.
    assert!(dir.path().join("callback-secret").exists());
}

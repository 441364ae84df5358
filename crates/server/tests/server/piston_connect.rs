//! Piston's `/api/v2/connect` WebSocket over a real socket: its messages,
//! stdin, signals and close codes (the HTTP dialect is in `piston.rs`).

use crate::common::{split, TestServer};
use crate::piston::body;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &TestServer) -> Ws {
    let url = format!("ws://{}/api/v2/connect", s.app.addr);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next message: JSON, or `{"close": code}`.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s");
        match m {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(f))) => {
                return json!({"close": f.map(|f| u16::from(f.code))});
            }
            Some(Ok(_)) => {}
            other => return json!({"gone": format!("{other:?}")}),
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

fn init() -> Value {
    json!({"type": "init", "language": "fake", "version": "*", "files": [{"content": "cat"}]})
}

#[tokio::test]
async fn connect_streams_stdin_and_a_signal_ends_the_job() {
    let s = TestServer::start(|_| {}).await;
    let mut ws = connect(&s).await;
    send(&mut ws, init()).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "runtime", "language": "fake", "version": "0.0.0"})
    );
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "stage", "stage": "run"})
    );
    send(
        &mut ws,
        json!({"type": "data", "stream": "stdin", "data": "hello\n"}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "data", "stream": "stdout", "data": "hello\n"})
    );
    send(&mut ws, json!({"type": "signal", "signal": "SIGTERM"})).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "exit", "stage": "run", "code": null, "signal": "SIGKILL"})
    );
    assert_eq!(next(&mut ws).await, json!({"close": 4999}));
    // The slot is free again: a new job starts.
    let mut ws = connect(&s).await;
    send(&mut ws, init()).await;
    assert_eq!(next(&mut ws).await["type"], "runtime");
}

#[tokio::test]
async fn connect_close_codes() {
    let s = TestServer::start(|_| {}).await;
    // 4001: no init within a second.
    let mut ws = connect(&s).await;
    assert_eq!(next(&mut ws).await, json!({"close": 4001}));
    // 4003: data before init.
    let mut ws = connect(&s).await;
    send(
        &mut ws,
        json!({"type": "data", "stream": "stdin", "data": "x"}),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({"close": 4003}));
    // 4002: an error message first.
    let mut ws = connect(&s).await;
    send(
        &mut ws,
        json!({"type": "init", "language": "cobol", "version": "*", "files": [{"content": ""}]}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "error", "message": "cobol-* runtime is unknown"})
    );
    assert_eq!(next(&mut ws).await, json!({"close": 4002}));
    for (msg, code) in [
        (init(), 4000),
        (
            json!({"type": "data", "stream": "stdout", "data": "x"}),
            4004,
        ),
        (json!({"type": "signal", "signal": "SIGNOPE"}), 4005),
    ] {
        let mut ws = connect(&s).await;
        send(&mut ws, init()).await;
        assert_eq!(next(&mut ws).await["type"], "runtime");
        assert_eq!(next(&mut ws).await["type"], "stage");
        send(&mut ws, msg).await;
        assert_eq!(next(&mut ws).await, json!({"close": code}));
    }
}

#[tokio::test]
async fn a_client_that_leaves_does_not_free_the_slot_before_its_run_ends() {
    let s = TestServer::start(|a| a.jobs.workers = Some(1)).await;
    // The one slot: a run of 1.5 s whose client gives up after 200 ms.
    let gone = s
        .client
        .post(s.url("/api/v2/execute"))
        .timeout(Duration::from_millis(200))
        .json(&body("sleep 1500", ""))
        .send()
        .await;
    assert!(gone.is_err(), "the client timed out");
    // The run still holds the slot: an interactive job is refused as busy.
    let mut ws = connect(&s).await;
    send(&mut ws, init()).await;
    let refused = next(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("busy"),
        "{refused}"
    );
    assert_eq!(next(&mut ws).await, json!({"close": 4002}));
    // Once the run is over, the slot is free again.
    let mut started = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut ws = connect(&s).await;
        send(&mut ws, init()).await;
        if next(&mut ws).await["type"] == "runtime" {
            started = true;
            break;
        }
    }
    assert!(started, "the slot came back after the run");
}

#[tokio::test]
async fn kiln_api_keys_guard_the_piston_routes_when_configured() {
    let s = TestServer::start(|a| a.api.api_keys = Some(vec!["k".into()])).await;
    let (status, _) = s.get("/api/v2/runtimes").await;
    assert_eq!(status, 401);
    let res = s
        .client
        .post(s.url("/api/v2/execute"))
        .header("x-api-key", "k")
        .json(&body("echo", "hi"))
        .send()
        .await
        .unwrap();
    let (status, v, _) = split(res).await;
    assert_eq!((status, &v["run"]["stdout"]), (200, &json!("hi\n")), "{v}");
}

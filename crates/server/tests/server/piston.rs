//! The Piston API v2 dialect over a real socket (`/api/v2/…`), with the
//! test executor: runtimes, execute (bodies as Piston's clients send them,
//! Piston's error shapes), packages, and the `/api/v2/connect` WebSocket
//! with its close codes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{split, TestServer};

fn body(source: &str, stdin: &str) -> Value {
    json!({
        "language": "fake", "version": "*",
        "files": [{"content": source}],
        "stdin": stdin, "args": ["1", "2", "3"],
        "compile_timeout": 10000, "run_timeout": 3000,
        "compile_memory_limit": -1, "run_memory_limit": -1
    })
}

/// POSTs `body` as `content_type`, as piston-client (`text/plain`) and
/// piston-rspy (`application/json`) do.
async fn post_as(s: &TestServer, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let res = s
        .client
        .post(s.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, v, _) = split(res).await;
    (status, v)
}

#[tokio::test]
async fn runtimes_is_a_bare_array_with_semver_versions() {
    let s = TestServer::start(|_| {}).await;
    let (status, v) = s.get("/api/v2/runtimes").await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!([{"language": "fake", "version": "0.0.0", "aliases": []}])
    );
}

#[tokio::test]
async fn execute_accepts_json_sent_as_text_plain_and_answers_in_piston_shape() {
    let s = TestServer::start(|_| {}).await;
    let (status, v) = post_as(
        &s,
        "/api/v2/execute",
        "text/plain;charset=UTF-8",
        body("echo", "kiln!").to_string(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["language"], "fake");
    assert_eq!(v["version"], "0.0.0");
    assert!(
        v.get("compile").is_none(),
        "an interpreted runtime has no compile stage: {v}"
    );
    let run = &v["run"];
    // Piston appends the missing trailing newline to stdin.
    assert_eq!(run["stdout"], "kiln!\n");
    assert_eq!(run["stderr"], "");
    assert_eq!(run["output"], "kiln!\n");
    assert_eq!(run["code"], 0);
    assert_eq!(run["signal"], Value::Null);
    assert_eq!(run["status"], Value::Null);
    assert_eq!(run["message"], Value::Null);
    assert_eq!(run["memory"], 1024 * 1024, "memory is in bytes");
    assert!(
        run["cpu_time"].is_u64() && run["wall_time"].is_u64(),
        "{run}"
    );

    let (status, v) = post_as(
        &s,
        "/api/v2/execute",
        "application/json",
        body("echo", "x\n").to_string(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["stdout"], "x\n", "a newline is not doubled");
}

#[tokio::test]
async fn version_selectors_and_aliases_resolve_the_runtime() {
    let s = TestServer::start(|_| {}).await;
    for version in ["*", "0.x", "0.0.0", ">=0", "^0.0.0"] {
        let mut b = body("echo", "");
        b["version"] = json!(version);
        let (status, v, _) = s.post("/api/v2/execute", b).await;
        assert_eq!(status, 200, "{version}: {v}");
    }
    let mut b = body("echo", "");
    b["version"] = json!("1.0.0");
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(
        (status, v),
        (400, json!({"message": "fake-1.0.0 runtime is unknown"}))
    );
    let mut b = body("echo", "");
    b["language"] = json!("cobol");
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(
        (status, v),
        (400, json!({"message": "cobol-* runtime is unknown"}))
    );
}

#[tokio::test]
async fn errors_have_piston_shapes() {
    let s = TestServer::start(|_| {}).await;
    let (status, v, _) = s
        .post("/api/v2/execute", json!({"version": "*", "files": []}))
        .await;
    assert_eq!(
        (status, v),
        (400, json!({"message": "language is required as a string"}))
    );
    let (status, v, _) = s
        .post(
            "/api/v2/execute",
            json!({"language": "fake", "version": "*", "files": [{}]}),
        )
        .await;
    assert_eq!(
        (status, v),
        (
            400,
            json!({"message": "files[0].content is required as a string"})
        )
    );
    let mut b = body("echo", "");
    b["run_timeout"] = json!("soon");
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(
        (status, v),
        (
            400,
            json!({"message": "If specified, run_timeout must be a number"})
        )
    );

    // Not JSON, and not claiming to be: 415; claiming to be: 400.
    let (status, v) = post_as(&s, "/api/v2/execute", "text/plain", "print(1)".into()).await;
    assert_eq!(
        (status, v),
        (
            415,
            json!({"message": "requests must be of type application/json"})
        )
    );
    let (status, v) = post_as(&s, "/api/v2/execute", "application/json", "{".into()).await;
    assert_eq!(status, 400);
    assert!(
        v["message"].as_str().unwrap().starts_with("SyntaxError"),
        "{v}"
    );

    let (status, v) = s.get("/api/v2/nothing").await;
    assert_eq!((status, &v["message"]), (404, &json!("Not Found")));
    // A wrong method is Express's 404 too.
    let (status, v) = s.get("/api/v2/execute").await;
    assert_eq!((status, &v["message"]), (404, &json!("Not Found")), "{v}");
}

#[tokio::test]
async fn kiln_validator_errors_are_named_as_piston_fields() {
    let s = TestServer::start(|_| {}).await;
    // Piston allows sub-directories; Kiln's validator refuses `/` in names.
    let mut b = body("echo", "");
    b["files"] = json!([{"name": "src/main.fake", "content": "echo"}]);
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(status, 400, "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with("files[0].name: ") && m.contains("src/main.fake"),
        "{m}"
    );

    let mut b = body("echo", "");
    b["run_timeout"] = json!(10_000_000);
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(status, 400, "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with("run_timeout cannot exceed the configured limit of "),
        "{m}"
    );

    let mut b = body("echo", "");
    b["run_memory_limit"] = json!(1u64 << 50);
    let (status, v, _) = s.post("/api/v2/execute", b).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("run_memory_limit cannot exceed"),
        "{v}"
    );
}

#[tokio::test]
async fn a_compile_error_is_the_run_stage_too() {
    let s = TestServer::start(|_| {}).await;
    let (status, v, _) = s.post("/api/v2/execute", body("fail", "")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["compile"], v["run"]);
    assert_eq!(v["run"]["stderr"], "main.fake:1: syntax error");
    assert_eq!(v["run"]["status"], "RE");
    assert!(v["run"]["code"].as_i64().unwrap() != 0, "{v}");
}

#[tokio::test]
async fn packages_are_listed_and_not_installed_per_request() {
    let s = TestServer::start(|_| {}).await;
    let (status, v) = s.get("/api/v2/packages").await;
    assert_eq!(
        (status, v),
        (
            200,
            json!([{"language": "fake", "language_version": "0.0.0", "installed": true}])
        )
    );
    let res = s
        .client
        .post(s.url("/api/v2/packages"))
        .json(&json!({"language": "fake", "version": "0.0.0"}))
        .send()
        .await
        .unwrap();
    let (status, v, _) = split(res).await;
    assert_eq!(status, 500);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("install-toolchains.sh"),
        "{v}"
    );
    let res = s
        .client
        .delete(s.url("/api/v2/packages"))
        .json(&json!({"language": "cobol", "version": "1.0.0"}))
        .send()
        .await
        .unwrap();
    let (status, v, _) = split(res).await;
    assert_eq!(
        (status, v),
        (
            404,
            json!({"message": "Requested package cobol-1.0.0 does not exist"})
        )
    );
}

#[tokio::test]
async fn kiln_routes_are_untouched() {
    let s = TestServer::start(|_| {}).await;
    let (status, v) = s.get("/api/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(v["error"]["code"].is_string(), "{v}");
    let (status, _) = s.get("/api/v1/languages").await;
    assert_eq!(status, 200);
}

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

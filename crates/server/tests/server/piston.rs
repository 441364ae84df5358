//! The Piston API v2 dialect over a real socket (`/api/v2/…`), with the
//! test executor: runtimes, execute (bodies as Piston's clients send them,
//! Piston's error shapes), packages, and the `/api/v2/connect` WebSocket
//! with its close codes.

use serde_json::{json, Value};

use crate::common::{split, TestServer};

pub(crate) fn body(source: &str, stdin: &str) -> Value {
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

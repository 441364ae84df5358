//! Bad input gets a 4xx with `{"error":{code,message}}` naming the field.

use serde_json::json;

use crate::common::{error_code, fake, split, TestServer};

#[tokio::test]
async fn bad_bodies_get_json_errors() {
    let s = TestServer::start(|a| {
        a.limits.max_source_bytes = Some(100);
        a.limits.max_stdin_bytes = Some(50);
        a.limits.max_tests = Some(2);
        a.api.max_body_bytes = Some(4096);
        a.limits.max_limits = Some(kiln_server::config::LimitsPatch {
            cpu_time_ms: Some(1000),
            ..Default::default()
        });
        a.limits.default_limits = Some(kiln_server::config::LimitsPatch {
            cpu_time_ms: Some(500),
            ..Default::default()
        });
    })
    .await;
    let url = s.url("/api/v1/submissions");

    let res = s
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    assert_eq!((code, error_code(&v)), (400, "malformed_json"));

    let res = s
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    assert_eq!((code, error_code(&v)), (415, "unsupported_media_type"));

    let res = s
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 10_000])
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    assert_eq!((code, error_code(&v)), (413, "body_too_large"));

    let cases = [
        (
            json!({ "language": "cobol", "source": "x" }),
            "language",
            "available languages: fake",
        ),
        (json!({ "language": "fake" }), "source", "missing"),
        (
            json!({ "language": "fake", "source": "x".repeat(101) }),
            "source",
            "maximum is 100",
        ),
        (
            json!({ "language": "fake", "source": "x", "stdin": "y".repeat(51) }),
            "stdin",
            "maximum is 50",
        ),
        (
            json!({ "language": "fake", "source": "x", "limits": { "cpu_time_ms": 2000 } }),
            "limits.cpu_time_ms",
            "maximum 1000",
        ),
        (
            json!({ "language": "fake", "source": "x", "tests": [{}, {}, {}] }),
            "tests",
            "maximum is 2",
        ),
        (
            json!({ "language": "fake", "files": [{ "name": "../x", "content": "" }] }),
            "files[0].name",
            "plain file name",
        ),
        (
            json!({ "language": "fake", "source": "x", "callback_url": "ftp://x" }),
            "callback_url",
            "scheme",
        ),
    ];
    for (body, field, hint) in cases {
        let (code, v, _) = s.post("/api/v1/submissions", body.clone()).await;
        assert_eq!(code, 400, "{body} → {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(field) && msg.contains(hint),
            "{body} → {msg}"
        );
    }
    let (code, v, _) = s
        .post(
            "/api/v1/submissions",
            json!({ "language": "fake", "source": "x", "bogus": 1 }),
        )
        .await;
    assert_eq!((code, error_code(&v)), (422, "invalid_body"));
    let (code, v, _) = s.post("/api/v1/submissions", json!([1, 2])).await;
    assert_eq!(code, 422, "{v}");
    let (code, v, _) = s
        .post("/api/v1/submissions?wait=maybe", fake("echo", ""))
        .await;
    assert_eq!((code, error_code(&v)), (400, "invalid_query"));
}

#[tokio::test]
async fn unknown_ids_routes_and_methods() {
    let s = TestServer::start(|_| {}).await;
    let (code, v) = s.get("/api/v1/submissions/nope").await;
    assert_eq!((code, error_code(&v)), (404, "not_found"));
    let (code, v) = s.get("/api/v2/nothing").await;
    assert_eq!((code, error_code(&v)), (404, "not_found"));
    let res = s
        .client
        .delete(s.url("/api/v1/submissions/x"))
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    assert_eq!((code, error_code(&v)), (405, "method_not_allowed"));
    let (code, v) = s.get("/api/v1/submissions/batch").await;
    assert_eq!((code, error_code(&v)), (400, "invalid_query"));
    let (code, v) = s.get("/api/v1/run/ws").await;
    assert!((400..500).contains(&code), "{code} {v}");
    error_code(&v);
}

//! Browsers over a real socket: CORS for the allowed origins only (preflight
//! answered), WebSocket upgrades refused from foreign origins, and the
//! `RateLimit-*` headers on limited answers.

use crate::common::{error_code, split, TestServer};

/// A WebSocket handshake on `path`, with `origin` when given.
async fn handshake(s: &TestServer, path: &str, origin: Option<&str>) -> reqwest::Response {
    let mut req = s
        .client
        .get(s.url(path))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

/// The status of a handshake on the interactive run.
async fn upgrade(s: &TestServer, origin: Option<&str>) -> u16 {
    handshake(s, "/api/v1/run/ws", origin)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn cors_answers_only_the_allowed_origins_and_their_preflights() {
    let s = TestServer::start(|a| {
        a.api.cors_origins = Some(vec!["https://console.example".into()]);
    })
    .await;
    let res = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/v1/submissions"))
        .header("origin", "https://console.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://console.example");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .header("origin", "https://console.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://console.example"
    );
    // Allowed origins may open WebSockets too.
    assert_eq!(upgrade(&s, Some("https://console.example")).await, 101);
}

#[tokio::test]
async fn without_origins_there_is_no_cors_and_websockets_are_same_origin_only() {
    let s = TestServer::start(|_| {}).await;
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(
        upgrade(&s, None).await,
        101,
        "non-browser clients send no Origin"
    );
    let own = s.url("");
    assert_eq!(upgrade(&s, Some(own.trim_end_matches('/'))).await, 101);
    let res = handshake(&s, "/api/v1/run/ws", Some("https://evil.example")).await;
    let (code, v, _) = split(res).await;
    assert_eq!((code, error_code(&v)), (403, "forbidden_origin"), "{v}");
    // The workspace terminal and Piston's /connect are WebSockets too.
    for path in [
        "/api/v2/connect",
        "/api/v1/workspaces/00000000-0000-0000-0000-000000000000/pty",
    ] {
        let res = handshake(&s, path, Some("http://attacker.test")).await;
        assert_eq!(res.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn limited_answers_carry_ratelimit_headers() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k".into()]);
        a.api.rate_limit_per_sec = Some(1.0);
        a.api.rate_limit_burst = Some(2);
    })
    .await;
    let get = || {
        s.client
            .get(s.url("/api/v1/languages"))
            .bearer_auth("k")
            .send()
    };
    let res = get().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["ratelimit-limit"], "2");
    assert_eq!(res.headers()["ratelimit-remaining"], "1");
    get().await.unwrap();
    let res = get().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    assert!(res.headers().get("retry-after").is_some());
    assert!(
        res.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Judge0's dialect draws from the same bucket and says so the same way.
    let res = s
        .client
        .get(s.url("/languages"))
        .header("x-auth-token", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("ratelimit-limit").is_some());
}

//! API keys, per-key rate limit and per-key queued cap.

use crate::common::{error_code, fake, split, TestServer};

#[tokio::test]
async fn keys_are_required_except_on_health_and_metrics() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k-one".into(), "k-two".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    let (code, v) = s.get("/api/v1/languages").await;
    assert_eq!((code, error_code(&v)), (401, "unauthorized"));
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .bearer_auth("k-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .post(s.url("/api/v1/submissions"))
        .header("x-api-key", "k-two")
        .json(&fake("echo", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(s.get("/health").await.0, 200);
    assert_eq!(s.get("/metrics").await.0, 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k".into()]);
        a.api.rate_limit_per_sec = Some(1.0);
        a.api.rate_limit_burst = Some(3);
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let res = s
            .client
            .get(s.url("/api/v1/languages"))
            .bearer_auth("k")
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
            let (_, v, _) = split(res).await;
            assert_eq!(error_code(&v), "rate_limited");
        }
    }
    assert_eq!(codes, [200, 200, 200, 429]);
}

#[tokio::test]
async fn queued_submissions_are_capped_per_key() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["a".into(), "b".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
        a.api.max_queued_per_key = Some(2);
        a.jobs.workers = Some(1);
    })
    .await;
    let submit = |key: &'static str| {
        let req = s
            .client
            .post(s.url("/api/v1/submissions"))
            .bearer_auth(key)
            .json(&fake("sleep 1000", key));
        async move { split(req.send().await.unwrap()).await }
    };
    assert_eq!(submit("a").await.0, 202);
    assert_eq!(submit("a").await.0, 202);
    let (code, v, h) = submit("a").await;
    assert_eq!((code, error_code(&v)), (429, "too_many_queued"));
    assert!(h.get("retry-after").is_some());
    assert_eq!(submit("b").await.0, 202, "another key has its own cap");
}
